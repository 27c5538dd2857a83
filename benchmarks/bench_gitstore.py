"""gitstore against git itself, measured side by side in this one run (`make perf`).

(a) one commit of 10,000 small files and (b) one commit of a 10 MB file plus 20 small files,
    each vs `git fast-import` writing the same content (target <= 1.2x);
(c) LogStore.history() over 10,000 log commits vs `git log --format=%H` (target <= 5x);
(d) disk per commit after 1,000 commits vs the same repository after `git gc` (target <= 2x).

Everything runs in a throwaway HOME, GNUPGHOME and git config. Times are medians of fresh runs.
"""
from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dulwich.objects import Commit  # noqa: E402
from dulwich.repo import Repo  # noqa: E402
from targets import Targets, machine  # noqa: E402

from gitstore import Append, LogStore  # noqa: E402

from testlog.store.state import open_log  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
IDENT = b"Bench <bench@example.com>"


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          check=True).stdout.decode()


def fresh_repo(base: Path, name: str) -> Path:
    path = base / name
    git(base, "init", "-q", "-b", "main", str(path))
    return path


def fast_import_stream(files: dict[str, bytes], ref: str = "refs/heads/imported") -> bytes:
    parts = [f"commit {ref}\ncommitter Bench <bench@example.com> 1700000000 +0000\n"
             f"data 4\nbulk\n".encode()]
    for path, data in files.items():
        parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    parts.append(b"done\n")
    return b"".join(parts)


TARGETS = Targets()


def report(label: str, ours: float, theirs: float, baseline: str, target: float,
           unit: str = "s") -> None:
    ratio = ours / theirs
    verdict = TARGETS.check(label.strip(), ratio, target)
    print(f"{label}: gitstore {ours:.3f} {unit}, {baseline} {theirs:.3f} {unit} -> "
          f"ratio {ratio:.2f}x (target <= {target}x) {verdict}", flush=True)


def compare_one_commit(base: Path, label: str, files: dict[str, bytes]) -> None:
    stream = fast_import_stream(files)

    def ours(i: int) -> Callable[[], None]:
        repo = fresh_repo(base, f"ours-{label[:3]}-{i}")

        def run() -> None:
            with open_log(repo, sign_key=False) as store:
                store.write(files, "bulk")
        return run

    def theirs(i: int) -> Callable[[], None]:
        repo = fresh_repo(base, f"git-{label[:3]}-{i}")
        return lambda: git(repo, "fast-import", "--quiet", "--done", input=stream)

    # Interleave the two so that load on the machine hits both alike.
    ours_t, theirs_t = [], []
    for i in range(RUNS):
        for make, out in ((ours, ours_t), (theirs, theirs_t)):
            timed = make(i)
            start = time.perf_counter()
            timed()
            out.append(time.perf_counter() - start)
    report(label, statistics.median(ours_t), statistics.median(theirs_t), "git fast-import", 1.2)
    tree_ours = git(base / f"ours-{label[:3]}-0", "rev-parse", "testlog^{tree}").strip()
    tree_git = git(base / f"git-{label[:3]}-0", "rev-parse", "imported^{tree}").strip()
    assert tree_ours == tree_git, "both must write the same tree"


def small_files(count: int) -> dict[str, bytes]:
    rng = random.Random(1)
    return {f"runs/{i // 100:03d}/{i:05d}.json":
            f'{{"test":"t{i}","status":"PASS","duration_ms":{rng.random() * 100:.6f}}}\n'.encode()
            for i in range(count)}


def big_file(size: int) -> bytes:
    rng = random.Random(2)
    line = '{"test":"tests/test_%06d.py::case","seed":%d,"out":%.6f}\n'
    chunks, total, i = [], 0, 0
    while total < size:
        chunk = (line % (i, rng.getrandbits(32), rng.random())).encode()
        chunks.append(chunk)
        total += len(chunk)
        i += 1
    return b"".join(chunks)[:size]


# -- (c) history ------------------------------------------------------------------------------

def history_repo(base: Path, commits: int, signature: bytes) -> Path:
    """`commits` log-like commits, each signature-sized: trees by fast-import, commits by dulwich.

    fast-import cannot write a gpgsig header, and signing 10,000 commits would take minutes, so
    every commit carries the same real (for its own payload) signature block.
    """
    repo = fresh_repo(base, "history")
    stream = []
    for n in range(commits):
        data = f'{{"run":{n}}}\n'.encode()
        stream.append(f"commit refs/heads/trees\ncommitter B <b@e> {1700000000 + n} +0000\n"
                      f"data 2\nx\nM 100644 inline runs/{n // 1000:02d}/{n:05d}.json\n"
                      f"data {len(data)}\n".encode() + data + b"\n")
    git(repo, "fast-import", "--quiet", input=b"".join(stream))
    trees = git(repo, "log", "--reverse", "--format=%T", "trees").split()
    built, parent = [], None
    for n, tree in enumerate(trees):
        c = Commit()
        c.tree, c.parents = tree.encode(), [parent] if parent else []
        c.author = c.committer = IDENT
        c.author_time = c.commit_time = 1700000000 + n
        c.author_timezone = c.commit_timezone = 0
        c.message = (f"TEST_SUITE_EXECUTED unit PASS {n} passed 0 failed\n\n"
                     f"Testlog-Event: TEST_SUITE_EXECUTED\nTestlog-Suite: unit\n"
                     f"Testlog-Source-Commit: {n:040x}\nTestlog-Schema: 1\n").encode()
        c.gpgsig = signature
        built.append(c)
        parent = c.id
    with Repo(str(repo / ".git")) as r:
        r.object_store.add_objects([(c, None) for c in built])
        r.refs[b"refs/heads/testlog"] = parent
    git(repo, "update-ref", "-d", "refs/heads/trees")
    return repo


def real_signature(base: Path, key: str) -> bytes:
    repo = fresh_repo(base, "sig")
    with open_log(repo, sign_key=key) as store:
        sha = store.write({"a": b"1"}, "signed")
        return store.history()[0].gpgsig if store.tip == sha else b""


def compare_history(base: Path, key: str) -> None:
    repo = history_repo(base, 10_000, real_signature(base, key))
    ours_t, git_t = [], []
    with open_log(repo, sign_key=False) as store:
        for _ in range(RUNS):
            start = time.perf_counter()
            entries = store.history()
            ours_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            shas = git(repo, "log", "--format=%H", "testlog").split()
            git_t.append(time.perf_counter() - start)
    assert len(entries) == len(shas) == 10_000 and entries[0].sha == shas[0]
    report("(c) history() of 10,000 signed log commits", statistics.median(ours_t),
           statistics.median(git_t), "git log --format=%H", 5.0)


# -- (d) disk -------------------------------------------------------------------------------

def disk_bytes(objects_dir: Path) -> int:
    """Bytes allocated on disk (whole blocks, as `du`) by every file under objects/."""
    return sum(os.stat(os.path.join(d, n)).st_blocks * 512
               for d, _, names in os.walk(objects_dir) for n in names)


def realistic_write(store: LogStore, n: int, rng: random.Random) -> None:
    run = "".join(f'{{"test":"tests/test_m{t}.py::case","status":"PASS",'
                  f'"duration_ms":{rng.random() * 50:.6f},"seed":{rng.getrandbits(32)}}}\n'
                  for t in range(12)).encode()
    event = (f'{{"event":"TEST_SUITE_EXECUTED","timestamp":"2025-11-01T00:00:{n % 60:02d}Z",'
             f'"hash":"{rng.getrandbits(256):064x}","verdict":"PASS"}}\n').encode()
    readme = "".join(f"- run {m}: PASS\n" for m in range(max(0, n - 20), n + 1)).encode()
    store.write({f"runs/2025110{n % 7}__unit__{n:05d}.json": run,
                 "chronicle.ndjson": Append(event), "README.md": readme},
                f"TEST_SUITE_EXECUTED unit PASS {n}", {"Testlog-Suite": "unit"})


def compare_disk(base: Path) -> None:
    """At 1,000 commits (the target), then every 20 up to 1,100: packing is not continuous,
    so the worst point of the sweep is reported too."""
    repo = fresh_repo(base, "disk")
    rng = random.Random(3)
    ratios, write_time = {}, 0.0
    with open_log(repo, sign_key=False) as store:
        for checkpoint in range(1000, 1101, 20):
            start = time.perf_counter()
            for n in range(store_commits(repo), checkpoint):
                realistic_write(store, n, rng)
            write_time += time.perf_counter() - start
            ratios[checkpoint] = disk_ratio(base, repo, checkpoint)
    ours, packed = ratios[1000]
    report("(d) disk per commit after 1,000 commits", ours, packed, "after git gc", 2.0,
           unit="KiB")
    worst = max(ratios, key=lambda c: ratios[c][0] / ratios[c][1])
    report(f"    worst of 1,000..1,100 commits (at {worst})", *ratios[worst], "after git gc",
           2.0, unit="KiB")
    print(f"    1,100 realistic unsigned writes took {write_time:.1f} s "
          f"({write_time / 1.1:.1f} ms per write, packing included)", flush=True)


def disk_ratio(base: Path, repo: Path, commits: int) -> tuple[float, float]:
    """KiB per commit on disk: the store as it is, and a copy after `git gc`."""
    copy = base / f"disk-gc-{commits}"
    shutil.copytree(repo, copy, symlinks=True)
    git(copy, "gc", "-q", "--prune=now")
    ours = disk_bytes(repo / ".git" / "objects")
    packed = disk_bytes(copy / ".git" / "objects")
    shutil.rmtree(copy)
    return ours / commits / 1024, packed / commits / 1024


def store_commits(repo: Path) -> int:
    out = subprocess.run(["git", "rev-list", "--count", "testlog"], cwd=repo,
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def sandbox(base: Path) -> str:
    """Point HOME, git config and GNUPGHOME at `base`; return a fresh key's fingerprint."""
    import gnupg
    (base / "gnupg").mkdir(mode=0o700)
    config = base / "gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n"
                      "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"
                      # (d) measures the disk right after the writes: pack in the writer.
                      "[testlog]\n\tpackInBackground = false\n")
    os.environ.update(HOME=str(base), GNUPGHOME=str(base / "gnupg"),
                      GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
    gpg = gnupg.GPG(gnupghome=str(base / "gnupg"))
    key = gpg.gen_key(gpg.gen_key_input(name_real="Bench", name_email="bench@example.com",
                                        key_type="RSA", key_length=2048, no_protection=True))
    return key.fingerprint


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-gitstore-") as tmp:
        base = Path(tmp)
        key = sandbox(base)
        try:
            print(f"gitstore benchmarks: median of {RUNS} runs on {machine()}", flush=True)
            compare_one_commit(base, "(a) one commit of 10,000 small files", small_files(10_000))
            big = {"runs/big.json": big_file(10 * 1024 * 1024), **small_files(20)}
            compare_one_commit(base, "(b) one commit of a 10 MB file + 20 small files", big)
            compare_history(base, key)
            compare_disk(base)
        finally:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True)
    return TARGETS.status()


if __name__ == "__main__":
    sys.exit(main())
