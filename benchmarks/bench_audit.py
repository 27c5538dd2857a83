"""Audit benchmark: `git testlog verify` of 10,000 signed commits (target <= 20 s) and of 100 new
commits after a verified tip (target <= 2 s), beside baselines measured in the same run:
a `git log --format=%H` walk of the same commits, and `git verify-commit` on a sample,
extrapolated to the same number of commits.

The branch is built exactly as commit_event writes it (run file, summary, chronicle line,
README index, Testlog-* trailers with the event digest), but fast: objects go straight into
one pack (each chronicle version stored as a tiny delta of the one before) and commits are
signed in process with pysequoia (~3 ms) instead of a gpg process (~14 ms). gpg itself checks
those signatures in the baseline. The repository is cached in the temp dir between runs
(`--rebuild` makes a new one).

Run: .venv/bin/python benchmarks/bench_audit.py [--rebuild]
"""
from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import gnupg
import pysequoia
from dulwich.objects import DEFAULT_OBJECT_FORMAT, Commit, Tree
from dulwich.pack import OFS_DELTA, pack_object_header, write_pack_index

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import machine  # noqa: E402

from gitstore.commits import compose_message  # noqa: E402

from testlog.core import layout  # noqa: E402
from testlog.core.canonical import canonical_json, signed_record  # noqa: E402
from testlog.core.chronicle import event_line, make_event  # noqa: E402
from testlog.store.events import INDEX_EVENTS, event_trailers, render_index  # noqa: E402

N_FULL, N_NEW = 10_000, 100
SUITES = ("unit", "integration", "e2e", "perf")
RUNS_PER_DAY = 100                    # a busy CI: 25 runs of each suite a day
FULL_EVERY = 50                       # chronicle delta chains stay short, as git would pack them
VERSION = "v1"
CACHE = Path(tempfile.gettempdir()) / f"git-testlog-bench-audit-{VERSION}-{N_FULL}-{N_NEW}"
BASE_TIME = 1_760_000_000
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=check, env=GIT_ENV)


# -- the fixture ------------------------------------------------------------------------------

def make_key(home: Path) -> tuple[str, pysequoia.Tsk]:
    home.mkdir(mode=0o700, parents=True)
    gpg = gnupg.GPG(gnupghome=str(home))
    key = gpg.gen_key(gpg.gen_key_input(name_real="Bench Signer", name_email="bench@example.com",
                                        key_type="RSA", key_length=2048, no_protection=True))
    secret = gpg.export_keys(key.fingerprint, secret=True, passphrase="", expect_passphrase=False)
    if not secret:
        raise SystemExit(f"gpg exported no secret key from {home}")
    (home.parent / "trusted.asc").write_text(gpg.export_keys(key.fingerprint))
    return key.fingerprint, pysequoia.Tsk.from_bytes(secret.encode())


def run_commit_files(k: int) -> tuple[str, str, bytes, bytes, str]:
    """(suite, day stamp, run.json bytes, summary bytes, time) of the k-th run."""
    suite = SUITES[k % len(SUITES)]
    stamp = time.strftime("%Y%m%d", time.gmtime(BASE_TIME + (k // RUNS_PER_DAY) * 86400))
    records = [signed_record({"test_name": f"tests/test_{suite}.py::test_{i}", "status": "PASS",
                              "seed": k * 10 + i, "duration_ms": 1.5 + i, "order": i})
               for i in range(5)]
    run = canonical_json({"schema_version": 1, "run": {"suite": suite, "base_seed": k},
                          "records": records})
    summary = canonical_json({"suite": suite, "passed": 5, "failed": 0})
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TIME + k * 60))
    return suite, stamp, run, summary, moment


def chronicle_ids(final: bytes, ends: list[int]) -> list[bytes]:
    """Blob ids of every prefix of the chronicle (the fixture's unavoidable O(n^2) hashing)."""
    view = memoryview(final)

    def blob_id(end: int) -> bytes:
        digest = hashlib.sha1(b"blob %d\0" % end)
        digest.update(view[:end])
        return digest.digest()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(blob_id, ends, chunksize=64))


def delta_append(base_size: int, addition: bytes) -> bytes:
    """A git delta: copy the whole base, insert `addition`."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)
    cmd, size_bytes = 0x80, bytearray()
    for shift, flag in ((0, 0x10), (8, 0x20), (16, 0x40)):
        if (base_size >> shift) & 0xFF:
            cmd |= flag
            size_bytes.append((base_size >> shift) & 0xFF)
    ops = bytearray([cmd]) + size_bytes
    for start in range(0, len(addition), 127):
        chunk = addition[start:start + 127]
        ops += bytes([len(chunk)]) + chunk
    return varint(base_size) + varint(base_size + len(addition)) + bytes(ops)


class PackWriter:
    """Objects appended to one pack file; the index is written at the end."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "wb")
        self.file.write(b"PACK" + struct.pack(">II", 2, 0))      # count patched in close()
        self.entries: list[tuple[bytes, int, int]] = []
        self.offsets: dict[bytes, int] = {}

    def add(self, sha: bytes, type_num: int, data: bytes, base: bytes | None = None) -> None:
        offset = self.file.tell()
        if base is None:
            header = pack_object_header(type_num, None, len(data), DEFAULT_OBJECT_FORMAT)
        else:
            header = pack_object_header(OFS_DELTA, offset - self.offsets[base], len(data),
                                        DEFAULT_OBJECT_FORMAT)
        body = bytes(header) + zlib.compress(data, 1)
        self.file.write(body)
        self.entries.append((sha, offset, zlib.crc32(body)))
        self.offsets[sha] = offset

    def close(self, index_path: Path) -> None:
        self.file.seek(8)
        self.file.write(struct.pack(">I", len(self.entries)))
        self.file.close()
        data = Path(self.file.name).read_bytes()
        checksum = hashlib.sha1(data).digest()
        with open(self.file.name, "ab") as handle:
            handle.write(checksum)
        with open(index_path, "wb") as handle:
            write_pack_index(handle, sorted(self.entries), checksum, version=2)


def add_object(pack: PackWriter, obj) -> bytes:
    sha = bytes.fromhex(obj.id.decode())
    if sha not in pack.offsets:
        pack.add(sha, obj.type_num, obj.as_raw_string())
    return obj.id


@dataclass
class History:
    """What the fixture's commits will hold, computed up front (events do not depend on shas)."""
    files: list[tuple[str, str, bytes, bytes]]     # suite, day stamp, run.json, summary
    events: list[dict]
    lines: list[bytes]
    ends: list[int]                                # chronicle size after each commit

    @property
    def chronicle(self) -> bytes:
        return b"".join(self.lines)


def plan_history(total: int, label: str) -> History:
    history = History([], [], [], [])
    for k in range(total):
        suite, stamp, run, summary, moment = run_commit_files(k)
        event = make_event("TEST_SUITE_EXECUTED", f"runs/{stamp}__{suite}__run.json", run,
                           "PASS", label, timestamp=moment)
        history.files.append((suite, stamp, run, summary))
        history.events.append(event)
        history.lines.append(event_line(event))
        history.ends.append((history.ends[-1] if history.ends else 0) + len(history.lines[-1]))
    return history


def signed_commit(k: int, tree: bytes, parent: bytes | None, suite: str, event: dict,
                  signer) -> Commit:
    """The commit commit_event would make (same message and trailers), signed in process."""
    commit = Commit()
    commit.tree, commit.parents = tree, [parent] if parent else []
    commit.author = commit.committer = b"Bench Signer <bench@example.com>"
    commit.author_time = commit.commit_time = BASE_TIME + k * 60
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = compose_message(f"TEST_SUITE_EXECUTED {suite} PASS 5 passed 0 failed",
                                     event_trailers(event, {"Testlog-Suite": suite}))
    commit.gpgsig = pysequoia.sign(signer, commit.as_raw_string(),
                                   mode=pysequoia.SignatureMode.DETACHED).rstrip(b"\n")
    return commit


def add_chronicle(pack: PackWriter, history: History, ids: list[bytes], k: int) -> None:
    if k % FULL_EVERY == 0:
        pack.add(ids[k], 3, history.chronicle[:history.ends[k]])
    else:
        pack.add(ids[k], 3, delta_append(history.ends[k - 1], history.lines[k]), base=ids[k - 1])


def write_commits(pack: PackWriter, history: History, ids: list[bytes], signer) -> list[str]:
    runs, summaries, parent, shas = Tree(), Tree(), None, []
    for k, (suite, stamp, run, summary) in enumerate(history.files):
        runs.add(f"{stamp}__{suite}__run.json".encode(), 0o100644, blob_of(pack, run))
        summaries.add(f"{stamp}__{suite}__summary.json".encode(), 0o100644, blob_of(pack, summary))
        add_chronicle(pack, history, ids, k)
        shown = history.events[max(0, k + 1 - INDEX_EVENTS):k + 1]
        root = Tree()
        root.add(layout.INDEX.encode(), 0o100644, blob_of(pack, render_index(shown).encode()))
        root.add(layout.CHRONICLE.encode(), 0o100644, ids[k].hex().encode())
        root.add(b"runs", 0o040000, add_object(pack, runs))
        root.add(b"summaries", 0o040000, add_object(pack, summaries))
        add_object(pack, root)
        parent = add_object(pack, signed_commit(k, root.id, parent, suite, history.events[k], signer))
        shas.append(parent.decode())
    return shas


def stop_agent(home: Path) -> None:
    """gpg starts an agent per GNUPGHOME; stop it before that home is deleted or left behind."""
    if home.exists():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True)


def build_fixture(target: Path) -> dict[str, str]:
    if target.exists():
        stop_agent(target / "gnupg")
        shutil.rmtree(target)
    repo = target / "repo"
    git(target.parent, "init", "-q", "--bare", str(repo))
    fingerprint, tsk = make_key(target / "gnupg")
    t0 = time.time()
    history = plan_history(N_FULL + N_NEW, f"gpg:{fingerprint}")
    ids = chronicle_ids(history.chronicle, history.ends)
    print(f"  fixture: chronicle prefixes hashed in {time.time() - t0:.1f} s", flush=True)
    pack_path = repo / "objects" / "pack" / "pack-bench.pack"
    pack = PackWriter(pack_path)
    stop_agent(target / "gnupg")
    shas = write_commits(pack, history, ids, tsk.signer())
    pack.close(pack_path.with_suffix(".idx"))
    print(f"  fixture: {len(shas)} signed commits built in {time.time() - t0:.1f} s", flush=True)
    fixture = {"repo": str(repo), "gnupg": str(target / "gnupg"), "fingerprint": fingerprint,
               "keys": str(target / "trusted.asc"), "full_tip": shas[N_FULL - 1], "tip": shas[-1]}
    (target / "fixture.txt").write_text("".join(f"{k}={v}\n" for k, v in fixture.items()))
    return fixture


def blob_of(pack: PackWriter, data: bytes) -> bytes:
    sha = hashlib.sha1(b"blob %d\0" % len(data) + data).digest()
    if sha not in pack.offsets:
        pack.add(sha, 3, data)
    return sha.hex().encode()


def fixture(rebuild: bool) -> dict[str, str]:
    marker = CACHE / "fixture.txt"
    if marker.exists() and not rebuild:
        print(f"  fixture: reusing {CACHE}", flush=True)
        return dict(line.split("=", 1) for line in marker.read_text().splitlines())
    return build_fixture(CACHE)


# -- the measurements -------------------------------------------------------------------------

def timed(fn, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def testlog_verify(fx: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    env = {**GIT_ENV, "GNUPGHOME": fx["gnupg"]}
    return subprocess.run([sys.executable, "-c", "from testlog.cli import entry; entry()", "-C",
                           fx["repo"], "verify", "--trusted-keys", fx["keys"], *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)


def verify_commit_ms(fx: dict[str, str], shas: list[str]) -> float:
    env = {**GIT_ENV, "GNUPGHOME": fx["gnupg"]}
    start = time.perf_counter()
    for sha in shas:
        subprocess.run(["git", "verify-commit", sha], cwd=fx["repo"], env=env,
                       capture_output=True, check=True)
    return (time.perf_counter() - start) / len(shas) * 1000


def main() -> int:
    fx = fixture("--rebuild" in sys.argv)
    repo = Path(fx["repo"])
    git(repo, "update-ref", "refs/heads/testlog", fx["full_tip"])
    state = repo / "testlog" / "verified"
    shutil.rmtree(state, ignore_errors=True)
    walk = timed(lambda: git(repo, "log", "--format=%H", "refs/heads/testlog"), repeat=3)
    sample = git(repo, "rev-list", "refs/heads/testlog").stdout.decode().split()[::200][:50]
    per_commit = verify_commit_ms(fx, sample)

    result = None

    def full() -> None:
        nonlocal result
        shutil.rmtree(state, ignore_errors=True)
        result = testlog_verify(fx)
    full_s = timed(full)
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])
        return 1
    git(repo, "update-ref", "refs/heads/testlog", fx["tip"])      # 100 commits arrive
    start = time.perf_counter()
    incremental = testlog_verify(fx, "--since", "last")
    incr_s = time.perf_counter() - start
    if incremental.returncode != 0 or "incremental after" not in incremental.stdout:
        print(incremental.stdout[-2000:], incremental.stderr[-2000:])
        return 1

    gpg_full = per_commit * N_FULL / 1000
    gpg_incr = per_commit * N_NEW / 1000
    print(f"  machine: {machine()}")
    print(f"  baseline git log --format=%H walk of {N_FULL} commits: {walk:.2f} s")
    print(f"  baseline git verify-commit: {per_commit:.1f} ms/commit on {len(sample)} commits "
          f"-> {gpg_full:.1f} s for {N_FULL}, {gpg_incr:.2f} s for {N_NEW} (extrapolated)")
    print(f"  git testlog verify, full, {N_FULL} signed commits: {full_s:.2f} s "
          f"(target <= 20 s; {gpg_full / full_s:.1f}x faster than verify-commit each; "
          f"{full_s / walk:.0f}x the bare walk)")
    print(f"  git testlog verify --since last, {N_NEW} new commits: {incr_s:.2f} s "
          f"(target <= 2 s; verify-commit each: {gpg_incr:.2f} s)")
    stop_agent(Path(fx["gnupg"]))
    ok = full_s <= 20 and incr_s <= 2
    print(f"  targets {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
