"""The shared log (issue 13), each figure beside a baseline measured in this same run:

(a) packed bytes per test per run on the log branch: a generated project of ~200 tests (random,
    numpy when installed, parametrized), K signed `pytest --testlog` runs (real subprocesses)
    with the default random base seed and K with one fixed seed (`--testlog-seed`), on the same
    tree. Size = `git pack-objects --revs --stdout --no-reuse-delta` of the branch (what a
    fresh `git gc` would store for it), marginal per run: (tip - first run) / (K-1) / tests.
    Baseline: the same runs in the first format (run.json, timing.json and determinism.json in
    full, rendered from the compact files by with_spec_files; chronicle.ndjson appended;
    timing/timing_summary.json and the README index rewritten), committed and signed by the
    same key on a parallel branch of the same repository and packed the same way.
    Target <= 100 B/test/run with a random seed; the same-seed figure as a fraction of it.
(b) write cost: one 25-test run (files by the recorder's own code), `commit_run` unsigned (and,
    for information, signed with gpg), on a fresh branch and after 100 and 3,000 commits;
    the store is opened for each write as a pytest session's writer does. Median of the
    interleaved writes. The histories are written by commit_run itself (unsigned, packing
    inside the write, so that the packs are the ones the product makes); the measured writes
    run with the default detached packer: its work is not in the write (a write that starts
    it pays the start only), and the next write waits until it is done. Target <= 1.2x at
    3,000 commits.
(c) verify: peak RSS of `git testlog verify` (the largest process, from wait4, and the peak sum
    over its process tree including git cat-file, sampled from /proc) and wall time, at 10
    and 300 signed runs, with and without --deep, and on one run of 100,000 tests (its files
    made by the recorder's code and committed by commit_run; --big-from-pytest records it
    with a real pytest session instead, ~10 minutes). Target <= 300 MB at any size, memory
    not growing with the runs.
(d) 8 concurrent pushers: 8 clones of a bare remote, one writer id and one key each, record a
    run, then all start `git testlog push` at one moment (a barrier); the `git push` calls are
    counted by a `git` wrapper on PATH; then a fresh clone runs `git testlog fetch` and must
    list every run. Baseline: 8 plain `git push` of 8 branches at one moment.

    python benchmarks/bench_log.py [--quick] [--only a,b,c,d] [--keep DIR] [--big-from-pytest]

Everything runs in a throwaway HOME, git config and GNUPGHOME. --quick: tiny sizes, to check
that the script works (its figures mean nothing).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import logfixture as fx  # noqa: E402
from targets import Targets, machine  # noqa: E402

from gitstore.locking import try_lock  # noqa: E402
from gitstore.packing import PACK_EVERY_WRITES, pack_now, still_due  # noqa: E402

from testlog.core import layout, timing_summary  # noqa: E402
from testlog.core.canonical import canonical_json, dumps_normal, sha256_hex  # noqa: E402
from testlog.core.chronicle import TEST_SUITE_EXECUTED, event_line, make_event  # noqa: E402
from testlog.core.layout import (  # noqa: E402
    TRAILER_EVENT,
    TRAILER_EVENT_RECORD,
    TRAILER_EVENT_SHA256,
    TRAILER_SCHEMA,
)
from testlog.store.runs import commit_run, with_spec_files  # noqa: E402
from testlog.store.state import open_log  # noqa: E402

CLI = [sys.executable, "-m", "testlog"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
TARGETS = Targets()


@dataclass(frozen=True)
class Sizes:
    tests: int            # (a) tests in the generated project
    runs: int             # (a) K runs per seed mode
    histories: tuple[int, ...]   # (b) commits before the measured writes (0 = fresh branch)
    writes: int           # (b) measured writes per history
    verify_tests: int     # (c) tests per run
    verify_runs: tuple[int, int]
    big_tests: int        # (c) tests of the one big run
    clones: int           # (d)
    rounds: int           # (d)


FULL = Sizes(200, 10, (0, 100, 3000), 30, 500, (10, 300), 100_000, 8, 3)
QUICK = Sizes(12, 3, (0, 5, 30), 5, 20, (3, 6), 500, 3, 1)


def say(text: str = "") -> None:
    print(text, flush=True)


def check(label: str, value: float, target: float, unit: str = "") -> str:
    return TARGETS.check(label, value, target, unit)


# -- (a) packed bytes per test per run ------------------------------------------------------

def have_numpy() -> bool:
    return subprocess.run([sys.executable, "-c", "import numpy"], capture_output=True).returncode == 0


def generate_project(root: Path, tests: int, numpy: bool) -> None:
    """A quarter random draws, a quarter numpy (or random.gauss without numpy), half plain
    parametrized cases."""
    quarter = max(1, tests // 4)
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_draws.py").write_text(
        "import random\n\n" + "".join(
            f"def test_draw_{i}():\n    assert 0.0 <= random.random() < 1.0\n\n"
            for i in range(quarter)))
    if numpy:
        body = ("import numpy as np\nimport pytest\n\n\n"
                f"@pytest.mark.parametrize('n', range({quarter}))\n"
                "def test_array(n):\n    assert np.random.rand(n % 5 + 1).max() < 1.0\n")
    else:
        body = ("import random\nimport pytest\n\n\n"
                f"@pytest.mark.parametrize('n', range({quarter}))\n"
                "def test_array(n):\n    assert random.gauss(0, 1) < 100\n")
    (root / "tests" / "test_arrays.py").write_text(body)
    (root / "tests" / "test_cases.py").write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('x', range({tests - 2 * quarter}))\n"
        "def test_square(x):\n    assert x * x >= 0\n")


def init_project(root: Path, env: dict[str, str], key: str | None) -> None:
    fx.git(root.parent, "init", "-q", "-b", "main", str(root), env=env)
    fx.git(root, "add", "-A", env=env)
    fx.git(root, "commit", "-q", "-m", "project", env=env)
    if key:
        fx.git(root, "config", "user.signingkey", key, env=env)


def record(project: Path, env: dict[str, str], *args: str, timeout: float = 600) -> float:
    """One `pytest --testlog` run (a real subprocess); its wall time. Fails loudly."""
    start = time.perf_counter()
    proc = subprocess.run([*PYTEST, "--testlog", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "recorded as" not in proc.stdout + proc.stderr:
        raise SystemExit(f"pytest --testlog {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def packed_bytes(repo: Path, rev: str) -> int:
    """Bytes of a pack of everything reachable from `rev`, deltas searched afresh (as git gc)."""
    proc = subprocess.run(["git", "pack-objects", "--revs", "--stdout", "-q", "--no-reuse-delta",
                           "--no-reuse-object"], cwd=repo, input=f"{rev}\n".encode(),
                          capture_output=True, check=True)
    return len(proc.stdout)


def branch_commits(repo: Path, ref: str) -> list[str]:
    return fx.git(repo, "rev-list", "--reverse", ref).split()


def marginal(repo: Path, ref: str, tests: int) -> tuple[float, int, int]:
    """(B per test per run after the first, packed bytes of the first run, of all runs)."""
    commits = branch_commits(repo, ref)
    first, whole = packed_bytes(repo, commits[0]), packed_bytes(repo, commits[-1])
    return (whole - first) / (len(commits) - 1) / tests, first, whole


def commit_files(repo: Path, sha: str) -> dict[str, bytes]:
    """Every file of the commit's tree but the README (for these runs: one run's files)."""
    paths = [p for p in fx.git(repo, "ls-tree", "-r", "--name-only", sha).split()
             if p != layout.INDEX]
    return {p: subprocess.run(["git", "cat-file", "blob", f"{sha}:{p}"], cwd=repo,
                              capture_output=True, check=True).stdout for p in paths}


INDEX_EVENTS = 20        # what the first format's README listed


def first_format_index(events: list[dict[str, Any]]) -> bytes:
    """The branch README of the first format: rewritten by every commit with the last events."""
    rows = "\n".join(f"| {e['timestamp']} | {e['event']} | `{e['artifact']}` | {e['verdict']} |"
                     for e in reversed(events[-INDEX_EVENTS:]))
    return ("# Test log\n\nThis orphan branch is written by git-testlog: every commit is one "
            "recorded event (a test run,\na coverage or benchmark measurement, a replay, a "
            "seal), signed with GPG when a key is set.\n`chronicle.ndjson` lists the events in "
            "commit order; the commit chain is the order of record.\n\n## Latest events\n\n"
            "| timestamp (UTC) | event | artifact | verdict |\n|---|---|---|---|\n"
            f"{rows}\n\n## How to verify\n\n- Signatures: `git log --show-signature <branch>` "
            "or `git verify-commit <sha>`.\n- Everything (signatures by trusted keys, chronicle "
            "hashes, record digests, seals):\n  `git testlog verify --trusted-keys KEYS.asc`.\n"
            "- A sealed bundle without git: `sha256sum -c <manifest>` and `gpg --verify "
            "<zip>.sig <zip>`.\n- Re-execute a run: `git testlog replay <sha>`.\n").encode()


def rewrite_first_format(project: Path, ref: str, target: str, key: str) -> None:
    """The runs of `ref` again on `target`, as the first format committed them."""
    chronicle, events = b"", []
    summary: dict[str, Any] = timing_summary.empty_summary()
    with open_log(project, branch=target, sign_key=key) as store:
        for sha in branch_commits(project, ref):
            entry = store.entry(sha)
            event = json.loads(entry.trailers[TRAILER_EVENT_RECORD])
            compact = commit_files(project, sha)
            files = with_spec_files(compact)
            artifact = event["artifact"]
            del files[artifact]                                   # the .jsonl
            run_json = layout.sibling_path(artifact, "run", "json")
            timing = json.loads(files[layout.sibling_path(artifact, "timing", "json")])
            summary = timing_summary.updated_summary(
                summary, [(t["test_name"], t["duration_ms"]) for t in timing["tests"]])
            old_event = make_event(TEST_SUITE_EXECUTED, run_json, files[run_json],
                                   event["verdict"], event["signature"], event["timestamp"])
            chronicle += event_line(old_event)
            events.append(old_event)
            files[layout.CHRONICLE] = chronicle
            files[layout.TIMING_SUMMARY] = dumps_normal(summary)
            files[layout.INDEX] = first_format_index(events)
            trailers = {k: v for k, v in entry.trailers.items()
                        if k.startswith("Testlog-") and k not in (
                            TRAILER_EVENT_RECORD, "Testlog-Previous-Event", TRAILER_SCHEMA)}
            trailers = {TRAILER_EVENT: TEST_SUITE_EXECUTED, **trailers, TRAILER_SCHEMA: "1",
                        TRAILER_EVENT_SHA256: sha256_hex(canonical_json(old_event))}
            store.write(files, entry.summary, trailers)


def bench_volume(base: Path, env: dict[str, str], sizes: Sizes, key: str) -> None:
    numpy = have_numpy()
    project = base / "volume"
    generate_project(project, sizes.tests, numpy)
    init_project(project, env, key)
    walls = []
    for _ in range(sizes.runs):       # interleaved, so both series see the same day and load
        walls.append(record(project, env))
        walls.append(record(project, env, "--testlog-seed=12345",
                            "--testlog-branch=refs/heads/testlog-same"))
    rewrite_first_format(project, "refs/heads/testlog", "refs/heads/testlog-v1", key)
    rewrite_first_format(project, "refs/heads/testlog-same", "refs/heads/testlog-same-v1", key)
    tests = sizes.tests
    new, new_first, _ = marginal(project, "refs/heads/testlog", tests)
    old, old_first, _ = marginal(project, "refs/heads/testlog-v1", tests)
    same, _, _ = marginal(project, "refs/heads/testlog-same", tests)
    same_old, _, _ = marginal(project, "refs/heads/testlog-same-v1", tests)
    raw = sum(len(d) for d in commit_files(project, "refs/heads/testlog").values())
    raw_old = sum(len(d) for d in commit_files(project, "refs/heads/testlog-v1").values())
    say(f"(a) packed bytes per test per run: {tests} tests ({'random, numpy' if numpy else 'random'}"
        f", parametrized), {sizes.runs} signed runs per series (pytest --testlog, "
        f"median {statistics.median(walls):.1f} s a run); git pack-objects --revs of the "
        "branch, (tip - first run) / runs after the first / tests")
    verdict = check("(a) random seed, compact format", new, 100, " B/test/run")
    say(f"    random seed: compact {new:7.1f} B/test/run, first format {old:7.1f} -> "
        f"ratio {new / old:.3f} (target <= 100 B/test/run) {verdict}")
    say(f"    same seed:   compact {same:7.1f} B/test/run = {same / new:.2f} of the random-seed "
        f"figure; first format {same_old:7.1f} -> ratio {same / same_old:.3f}")
    say(f"    first run alone (packed, README and the tree included): compact {new_first} B, "
        f"first format {old_first} B; one run's files unpacked: compact {raw / tests:.0f} "
        f"B/test, first format {raw_old / tests:.0f} B/test")


# -- (b) write cost -----------------------------------------------------------------------------

SUITES = ("unit", "integration", "e2e", "perf")
RUNS_PER_DAY = 100
FIRST_DAY = date(2025, 10, 1)


def day_start_ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 6, tzinfo=timezone.utc).timestamp()) * 10**9


def packer_done(repo: Path, timeout: float = 300) -> bool:
    """Wait until no packing is due (a detached packer did it); False when it never came."""
    common, state = str(repo / ".git"), str(repo / ".git" / "testlog")
    deadline = time.monotonic() + timeout
    while still_due(common, state, PACK_EVERY_WRITES):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    lock = None
    while lock is None and time.monotonic() < deadline:   # a packer still deleting its packs
        lock = try_lock(os.path.join(state, "pack.lock"))
        if lock is None:
            time.sleep(0.05)
    if lock is not None:
        lock.__exit__(None, None, None)
    return True


def build_history(repo: Path, env: dict[str, str], commits: int, rng: random.Random) -> float:
    """`commits` unsigned 25-test runs written by commit_run itself, packing inside the write;
    the seconds it took."""
    fx.git(repo, "config", "testlog.packInBackground", "false", env=env)
    start = time.perf_counter()
    with open_log(repo, sign_key=False) as store:
        for k in range(commits):
            day = date.fromordinal(FIRST_DAY.toordinal() + k // RUNS_PER_DAY)
            bundle = fx.synthetic_run(25, suite=SUITES[k % len(SUITES)], day=day,
                                      started_ns=day_start_ns(day) + k * 60 * 10**9,
                                      base_seed=1000 + k % len(SUITES), rng=rng)
            commit_run(store, bundle)
    fx.git(repo, "config", "--unset", "testlog.packInBackground", env=env)
    return time.perf_counter() - start


def timed_write(repo: Path, bundle: Any, sign_key: str | bool) -> tuple[float, float, bool]:
    """(seconds of commit_run, seconds with opening and closing the store, whether it started
    the detached packer)."""
    start = time.perf_counter()
    with open_log(repo, sign_key=sign_key) as store:
        begin = time.perf_counter()
        commit_run(store, bundle)
        written = time.perf_counter() - begin
    whole = time.perf_counter() - start
    spawned = still_due(str(repo / ".git"), str(repo / ".git" / "testlog"), PACK_EVERY_WRITES)
    if spawned and not packer_done(repo):
        raise SystemExit(f"the detached packer of {repo} did not finish in 300 s")
    return written, whole, spawned


def bench_writes(base: Path, env: dict[str, str], sizes: Sizes, key: str) -> None:
    rng = random.Random(13)
    repos, built = {}, {}
    for commits in sizes.histories:
        repo = base / f"history-{commits}"
        repo.mkdir()
        (repo / "README").write_text("project\n")
        init_project(repo, env, None)
        built[commits] = build_history(repo, env, commits, rng) if commits else 0.0
        repos[commits] = repo
    last_day = date.fromordinal(FIRST_DAY.toordinal() + max(sizes.histories) // RUNS_PER_DAY + 1)
    bundles = [fx.synthetic_run(25, suite="unit", day=last_day,
                                started_ns=day_start_ns(last_day) + i * 60 * 10**9,
                                base_seed=4242, rng=rng) for i in range(sizes.writes)]
    times: dict[tuple[int, str], list[tuple[float, float]]] = {}
    packers = {c: 0 for c in repos}
    names = list(repos)
    for i in range(sizes.writes):
        order = names[i % len(names):] + names[:i % len(names)]     # who goes first rotates
        for commits in order:
            for mode, sign_key in (("unsigned", False), ("signed", key)):
                written, whole, spawned = timed_write(repos[commits], bundles[i], sign_key)
                times.setdefault((commits, mode), []).append((written, whole))
                packers[commits] += spawned
    pack_s = {}
    for commits, repo in repos.items():
        tip = fx.git(repo, "rev-parse", "refs/heads/testlog").strip()
        start = time.perf_counter()
        pack_now(str(repo / ".git"), str(repo / ".git" / "testlog"), tip)
        pack_s[commits] = time.perf_counter() - start
    say(f"(b) write cost of one 25-test run (commit_run; the store opened per write as the "
        f"writer process does), median of {sizes.writes} interleaved writes per history; "
        "histories written by commit_run (unsigned, packing in the write)")
    fresh = {m: statistics.median(w for w, _ in times[(0, m)]) for m in ("unsigned", "signed")}
    fresh_whole = {m: statistics.median(w for _, w in times[(0, m)]) for m in ("unsigned", "signed")}
    for commits in sizes.histories:
        label = "fresh branch" if commits == 0 else f"after {commits:>5} commits"
        line = []
        for mode in ("unsigned", "signed"):
            write = statistics.median(w for w, _ in times[(commits, mode)])
            whole = statistics.median(w for _, w in times[(commits, mode)])
            line.append(f"{mode} {write * 1000:6.1f} ms ({write / fresh[mode]:.2f}x), "
                        f"with open {whole * 1000:6.1f} ms ({whole / fresh_whole[mode]:.2f}x)")
        built_note = f", history built in {built[commits]:.0f} s" if commits else ""
        say(f"    {label:>20}: {'; '.join(line)}{built_note}")
    top = max(sizes.histories)
    ratio = statistics.median(w for w, _ in times[(top, "unsigned")]) / fresh["unsigned"]
    verdict = check(f"(b) unsigned write after {top} commits / fresh", ratio, 1.2, "x")
    say(f"    unsigned write after {top} commits / fresh branch: {ratio:.2f}x (target <= 1.2x) "
        f"{verdict}")
    say("    detached packers started by the measured writes (waited for before the next "
        f"write, not timed): {', '.join(f'{c}: {n}' for c, n in packers.items())}; one "
        "packing of each branch afterwards (what the packer does, in-process here): "
        + ", ".join(f"{c}: {s:.2f} s" for c, s in pack_s.items()))


# -- (c) verify -----------------------------------------------------------------------------------

def tree_memory_kib(root: int) -> int:
    """Memory of the descendants of `root` (not `root` itself): the sum of their PSS, from
    /proc."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parents[int(name)] = int(stat[stat.rfind(b")") + 2:].split()[1])
    family, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in family:
                family.add(child)
                frontier.append(child)
    return sum(pss_kib(pid) for pid in family)


def pss_kib(pid: int) -> int:
    """A process's proportional set size (pages shared with another process count half each:
    a child between fork and exec does not count its parent's memory twice); its RSS where
    smaps_rollup cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


# The measured command is started by this small launcher, not by the benchmark itself: a
# process's peak RSS (ru_maxrss) keeps the high-water mark of the memory it was forked with
# (Linux records the old mm's peak at exec, vfork and posix_spawn included), so a child of
# this process, which holds the fixtures, would report this process's size, not its own.
LAUNCHER = ("import os, subprocess, sys, time\n"
            "start = time.perf_counter()\n"
            "child = subprocess.Popen(sys.argv[2:])\n"
            "_pid, status, usage = os.wait4(child.pid, 0)\n"
            "child.returncode = os.waitstatus_to_exitcode(status)\n"
            "with open(sys.argv[1], 'w') as out:\n"
            "    out.write(f'{usage.ru_maxrss} {time.perf_counter() - start}')\n"
            "sys.exit(child.returncode)\n")


def measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int, int, str]:
    """(wall s, the command's peak RSS in KiB (wait4: the largest of it and every child it
    waited for), peak sum of PSS over its process tree in KiB (sampled), exit code, output)."""
    out = tempfile.TemporaryFile()
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as usage:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, usage.name, *cmd],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_memory_kib(proc.pid))
                done.wait(0.02)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
        maxrss, wall = usage.read().split()
    out.seek(0)
    return float(wall), int(maxrss), peak[0], code, out.read().decode(errors="replace")


def build_verify_repo(repo: Path, signer: fx.SequoiaSigner, runs: int, tests: int,
                      rng: random.Random) -> None:
    fx.git(repo.parent, "init", "-q", "--bare", str(repo))
    builder = fx.ChainBuilder(repo, signer)
    for k in range(runs):
        day = date.fromordinal(FIRST_DAY.toordinal() + k // 25)
        builder.add_run(fx.synthetic_run(tests, suite=SUITES[k % len(SUITES)], day=day,
                                         started_ns=day_start_ns(day) + k * 600 * 10**9,
                                         base_seed=77 + k % len(SUITES), rng=rng),
                        day_start_ns(day) // 10**9 + k * 600)
    builder.close()
    fx.git(repo, "update-ref", "refs/heads/testlog", builder.commits[-1])
    fx.git(repo, "repack", "-a", "-d", "-f", "-q")        # deltas, as packing would leave them


def verify_once(repo: Path, keys: Path, env: dict[str, str], *extra: str) -> tuple[float, int, int]:
    shutil.rmtree(repo / "testlog" / "verified", ignore_errors=True)
    shutil.rmtree(repo / ".git" / "testlog" / "verified", ignore_errors=True)
    # cwd: the source tree, never a bare repository, whose testlog/ state folder
    # `python -m testlog` would import as the package
    wall, largest, tree, code, out = measured(
        [*CLI, "-C", str(repo), "verify", "--trusted-keys", str(keys), *extra], ROOT, env)
    if code != 0 or "verify: OK" not in out:
        raise SystemExit(f"verify of {repo} failed ({code}):\n{out[-3000:]}")
    return wall, largest, tree


def big_run(base: Path, env: dict[str, str], tests: int, key: str,
            from_pytest: bool) -> tuple[Path, str]:
    """A project with one signed run of `tests` parametrized trivial tests: recorded by a real
    pytest run, or (faster: a real 100,000-test session takes ~10 minutes on a loaded 2-core
    machine) its files made by the recorder's code and committed by commit_run with gpg."""
    project = base / "big"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_big.py").write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('i', range({tests}))\n"
        "def test_big(i):\n    assert i >= 0\n")
    init_project(project, env, key)
    start = time.perf_counter()
    if from_pytest:
        record(project, env, timeout=1800)
        how = "one real signed `pytest --testlog` run"
    else:
        day = datetime.now(timezone.utc).date()
        bundle = fx.synthetic_run(tests, suite="big", day=day, started_ns=time.time_ns(),
                                  base_seed=99, rng=random.Random(99))
        with open_log(project, sign_key=key) as store:
            commit_run(store, bundle)
        how = ("the recorder's RecordBook/run_bundle (30% of the tests moving their RNGs), "
               "committed by commit_run, signed with gpg")
    wall = time.perf_counter() - start
    run_file = next(p for p in fx.git(project, "ls-tree", "-r", "--name-only", "testlog").split()
                    if p.endswith("__run.jsonl"))
    size = int(fx.git(project, "cat-file", "-s", f"testlog:{run_file}"))
    return project, f"made by {how} in {wall:.0f} s; its run file is {size / 1e6:.1f} MB"


def bench_verify(base: Path, env: dict[str, str], sizes: Sizes, key: str,
                 signer: fx.SequoiaSigner, keys: Path, big_from_pytest: bool) -> None:
    rng = random.Random(31)
    results: dict[tuple[int, str], tuple[float, int, int]] = {}
    built = {}
    for runs in sizes.verify_runs:
        repo = base / f"verify-{runs}.git"
        start = time.perf_counter()
        build_verify_repo(repo, signer, runs, sizes.verify_tests, rng)
        built[runs] = time.perf_counter() - start
        for mode, extra in (("default", ()), ("--deep", ("--deep",))):
            results[(runs, mode)] = verify_once(repo, keys, env, *extra)
    project, how = big_run(base, env, sizes.big_tests, key, big_from_pytest)
    for mode, extra in (("default", ()), ("--deep", ("--deep",))):
        results[(-1, mode)] = verify_once(project, keys, env, *extra)
    small, large = sizes.verify_runs
    say(f"(c) git testlog verify (full, signed runs of {sizes.verify_tests} tests made by the "
        f"recorder's code, chains built in process and repacked: {small} runs in "
        f"{built[small]:.0f} s, {large} in {built[large]:.0f} s); memory: peak RSS of the "
        "largest process (wait4, git children included) / peak sum of PSS over the process "
        "tree (verify and its git cat-file processes, /proc every 20 ms)")
    for mode in ("default", "--deep"):
        for runs in (*sizes.verify_runs, -1):
            wall, largest, tree = results[(runs, mode)]
            label = f"{runs} runs" if runs > 0 else f"1 run of {sizes.big_tests} tests"
            peak = max(largest, tree)
            verdict = check(f"(c) verify {mode} peak memory, {label}", peak / 1024, 300, " MB")
            say(f"    {mode:>8} {label:>24}: {wall:6.2f} s, RSS {largest / 1024:6.1f} MB / tree "
                f"{tree / 1024:6.1f} MB (target <= 300 MB) {verdict}")
        growth = max(results[(large, mode)][1:]) / max(results[(small, mode)][1:])
        verdict = check(f"(c) verify {mode} memory {large}/{small} runs", growth, 1.25, "x")
        say(f"    {mode:>8} memory {large}/{small} runs: {growth:.2f}x (target: not growing, "
            f"<= 1.25x) {verdict}; time {results[(large, mode)][0] / results[(small, mode)][0]:.1f}x "
            f"for {large / small:.0f}x the runs")
    say(f"    the {sizes.big_tests}-test run: {how}")


# -- (d) concurrent pushers ---------------------------------------------------------------------

# Started by each pusher: say "ready", wait for the go file, then become the command.
BARRIER = ("import os, sys, time\n"
           "open(sys.argv[1], 'w').close()\n"
           "while not os.path.exists(sys.argv[2]):\n"
           "    time.sleep(0.001)\n"
           "os.execvp(sys.argv[3], sys.argv[3:])\n")


def git_wrapper(directory: Path) -> Path:
    """A `git` that logs each call (its directory and arguments) before running the real one."""
    directory.mkdir(parents=True, exist_ok=True)
    real = shutil.which("git")
    script = directory / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\t%s\\n" "$PWD" "$*" >> "$BENCH_GIT_LOG"\n'
                      f'exec {real} "$@"\n')
    script.chmod(0o755)
    return directory


def at_once(commands: list[tuple[list[str], Path]], env: dict[str, str], gate: Path
            ) -> tuple[float, list[subprocess.CompletedProcess[str]]]:
    """Start every command behind a barrier, release them together: (seconds from the
    release until the last one finished, their results)."""
    shutil.rmtree(gate, ignore_errors=True)
    gate.mkdir()
    procs = []
    for n, (cmd, cwd) in enumerate(commands):
        procs.append(subprocess.Popen([sys.executable, "-c", BARRIER, str(gate / f"ready-{n}"),
                                       str(gate / "go"), *cmd], cwd=cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < len(commands):
        if time.monotonic() > deadline:
            raise SystemExit("the pushers never reached the barrier")
        time.sleep(0.005)
    start = time.perf_counter()
    (gate / "go").touch()
    ends: list[float] = [0.0] * len(procs)
    results: list[subprocess.CompletedProcess[str] | None] = [None] * len(procs)

    def wait(n: int) -> None:
        out, err = procs[n].communicate(timeout=600)
        ends[n] = time.perf_counter()
        results[n] = subprocess.CompletedProcess(procs[n].args, procs[n].returncode, out, err)
    threads = [threading.Thread(target=wait, args=(n,)) for n in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(ends) - start, [r for r in results if r is not None]


def push_calls(log: Path, clones: list[Path]) -> tuple[dict[Path, int], int]:
    """({clone: its `git push` calls}, git processes started in all, from the wrapper's log)."""
    counts, processes = {c: 0 for c in clones}, 0
    if log.exists():
        for line in log.read_text().splitlines():
            cwd, _, args = line.partition("\t")
            words = args.split()
            while words[:1] == ["-c"]:
                words = words[2:]
            owner = next((c for c in clones if cwd == str(c) or cwd.startswith(f"{c}/")), None)
            processes += owner is not None
            if words[:1] == ["push"] and owner is not None:
                counts[owner] += 1
    return counts, processes


def bench_pushers(base: Path, env: dict[str, str], sizes: Sizes) -> None:
    remote = base / "remote.git"
    fx.git(base, "init", "-q", "--bare", str(remote), env=env)
    fx.git(remote, "config", "receive.denyNonFastForwards", "true", env=env)
    seed = base / "seed"
    (seed / "tests").mkdir(parents=True)
    (seed / "tests" / "test_shared.py").write_text(
        "import random\nimport pytest\n\n\n@pytest.mark.parametrize('n', range(10))\n"
        "def test_draw(n):\n    assert random.random() < 2\n")
    init_project(seed, env, None)
    fx.git(seed, "push", "-q", str(remote), "main", env=env)
    clones = []
    for n in range(sizes.clones):
        clone = base / f"clone{n}"
        fx.git(base, "clone", "-q", str(remote), str(clone), env=env)
        key = fx.make_key(env["GNUPGHOME"], name=f"Writer {n}", email=f"w{n}@example.com",
                          fast=True)
        fx.git(clone, "config", "testlog.writer", f"w{n}", env=env)
        fx.git(clone, "config", "user.signingkey", key, env=env)
        clones.append(clone)
    log = base / "git-calls.log"
    wrapped = {**env, "PATH": f"{git_wrapper(base / 'bin')}{os.pathsep}{env['PATH']}",
               "BENCH_GIT_LOG": str(log)}
    rows = []
    for round_ in range(sizes.rounds):
        recorded = [subprocess.Popen([*PYTEST, "--testlog", f"--testlog-seed={round_}"], cwd=c,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True) for c in clones]
        for proc in recorded:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0 or "recorded as" not in out:
                raise SystemExit(f"a clone's pytest --testlog failed:\n{out[-2000:]}")
        log.unlink(missing_ok=True)
        push_s, pushed = at_once([([*CLI, "push"], c) for c in clones], wrapped, base / "gate")
        failed = [p for p in pushed if p.returncode != 0 or not p.stdout.startswith("pushed: ")]
        calls, processes = push_calls(log, clones)
        fresh = base / f"fresh-{round_}"
        start = time.perf_counter()
        fx.git(base, "clone", "-q", str(remote), str(fresh), env=env)
        fetched = subprocess.run([*CLI, "fetch"], cwd=fresh, env=env, capture_output=True,
                                 text=True)
        listed = subprocess.run([*CLI, "log", "--runs", "--json"], cwd=fresh, env=env,
                                capture_output=True, text=True)
        converge = time.perf_counter() - start
        runs = len(listed.stdout.splitlines()) if listed.returncode == 0 else -1
        if fetched.returncode != 0:
            failed.append(fetched)

        # The baseline: a plain commit on a branch of its own in each clone, pushed at once.
        for n, clone in enumerate(clones):
            if round_ == 0:                  # a branch of its own, kept for later rounds
                fx.git(clone, "checkout", "-q", "-b", f"b{n}", env=env)
            (clone / f"note-{n}.txt").write_text(f"round {round_}\n")
            fx.git(clone, "add", "-A", env=env)
            fx.git(clone, "commit", "-q", "-m", f"round {round_}", env=env)
        log.unlink(missing_ok=True)
        plain_s, plain = at_once([(["git", "push", "-q", "origin", f"b{n}"], c)
                                  for n, c in enumerate(clones)], wrapped, base / "gate")
        plain_calls, _ = push_calls(log, clones)
        plain_failed = [p for p in plain if p.returncode != 0]
        plain_fresh = base / f"plain-fresh-{round_}"
        start = time.perf_counter()
        fx.git(base, "clone", "-q", str(remote), str(plain_fresh), env=env)
        branches = fx.git(plain_fresh, "for-each-ref", "refs/remotes/origin/", env=env).splitlines()
        plain_converge = time.perf_counter() - start
        rows.append((push_s, calls, processes, failed, converge, runs, plain_s, plain_calls,
                     plain_failed, plain_converge, len([b for b in branches if "/b" in b])))
    say(f"(d) {sizes.clones} clones push at one moment (a barrier), {sizes.rounds} round(s); "
        "`git push` calls counted by a git wrapper on PATH; 'converged' = the push phase plus "
        "a fresh clone's clone + `git testlog fetch` + `git testlog log --runs`")
    for n, (push_s, calls, processes, failed, converge, runs, plain_s, plain_calls,
            plain_failed, plain_converge, branch_count) in enumerate(rows, 1):
        expected = sizes.clones * n
        attempts = statistics.mean(calls.values())
        say(f"    round {n}: git testlog push: {attempts:.2f} git push per push (max "
            f"{max(calls.values())}; {processes / len(clones):.1f} git processes per push), "
            f"{len(failed)} failed, {push_s:.2f} s for all; fresh clone "
            f"lists {runs}/{expected} runs after {converge:.2f} s -> converged in "
            f"{push_s + converge:.2f} s")
        say(f"             plain git push of {sizes.clones} branches: "
            f"{statistics.mean(plain_calls.values()):.2f} git push per push, {len(plain_failed)} "
            f"failed, {plain_s:.2f} s for all; fresh clone has {branch_count}/{sizes.clones} "
            f"branches after {plain_converge:.2f} s -> {plain_s + plain_converge:.2f} s; "
            f"ratio testlog/plain {(push_s + converge) / (plain_s + plain_converge):.2f}x")
        check(f"(d) round {n}: git push calls per git testlog push", max(calls.values()), 1, "")
        check(f"(d) round {n}: failed pushes or fetch", len(failed), 0, "")
        check(f"(d) round {n}: runs missing on a fresh clone", expected - runs, 0, "")
    worst = max(max(row[1].values()) for row in rows)
    say(f"    attempts per push: at most {worst} (target: 1, every push on its first attempt) "
        f"{'OK' if worst == 1 else 'MISSED'}")


# -- main -----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it works")
    parser.add_argument("--only", default="a,b,c,d", help="which parts (a,b,c,d)")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="work in DIR (must not exist) and leave it behind")
    parser.add_argument("--big-from-pytest", action="store_true",
                        help="(c): record the big run with a real pytest session (slow)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    parts = set(args.only.split(","))
    if not parts <= {"a", "b", "c", "d"}:
        parser.error(f"--only: unknown part in {args.only!r}")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-log-"))
    base.mkdir(parents=True, exist_ok=bool(not args.keep))
    try:
        env = fx.sandbox(base / "sandbox")
        say(f"shared-log benchmarks{' (--quick: sizes too small to mean anything)' if args.quick else ''} "
            f"on {machine()}")
        key = fx.make_key(env["GNUPGHOME"])           # RSA 2048: the usual gpg key
        if "a" in parts:
            bench_volume(base, env, sizes, key)
        if "b" in parts:
            bench_writes(base, env, sizes, key)
        if "c" in parts:
            signer = fx.SequoiaSigner(env["GNUPGHOME"], key)
            keys = fx.export_public(env["GNUPGHOME"], [key], base / "trusted.asc")
            bench_verify(base, env, sizes, key, signer, keys, args.big_from_pytest)
        if "d" in parts:
            bench_pushers(base, env, sizes)
    finally:
        fx.stop_agent(base / "sandbox" / "gnupg")
        if not args.keep:
            for repo in base.glob("history-*"):
                packer_done(repo, timeout=60)
            shutil.rmtree(base, ignore_errors=True)
    return TARGETS.status()


if __name__ == "__main__":
    sys.exit(main())
