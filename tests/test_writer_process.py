"""The writer process: pytest's process streams outcomes and captures to a child that builds the
records and commits the run. Real pytest subprocesses, real child processes, the branch read
back with git; the in-process writer (TESTLOG_WRITER_PROCESS=0) as the reference."""
from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testlog.store.process import WriterProcess
from testlog.store.writer import RunWriter, WriterSetup
from tests.fixtures import git, make_repo, user_state
from tests.recorder_helpers import (
    BASE_ARGS,
    find,
    pytest_env,
    records_by_name,
    run_data,
    run_pytest,
    show,
    unit_context,
    unit_harvest,
)
from tests.waiting import blocked_reading_a_pipe, gone, wait_until

# 150 tests: more than two batches of 64, with failures, errors, skips and RNG use.
MANY = {"tests/test_many.py": '''\
import random

import numpy as np
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


@pytest.mark.parametrize("n", range(140))
def test_numbers(n, testlog):
    testlog.output("draw", random.random() + float(np.random.rand()))
    assert n % 37 != 36, f"n={n}"


def test_error(broken):
    pass


@pytest.mark.parametrize("n", range(8))
def test_skipped(n):
    pytest.skip("not today")


def test_last(testlog_rng):
    assert testlog_rng.random() < 1.0
'''}
# Records whether pytest's own process loaded dulwich or gnupg, into $LOADED_OUT, as it exits
# (after the clean-up that collects the writer process's answer).
PROBE = {"conftest.py": '''\
import atexit
import json
import os
import sys


def _loaded():
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"dulwich", "gnupg"})
    with open(os.environ["LOADED_OUT"], "w") as handle:
        json.dump(loaded, handle)


def pytest_configure(config):
    atexit.register(_loaded)
'''}
VOLATILE = ("timestamp_start", "timestamp_end", "duration_ms", "signature")


def with_writer_process(repo: Path) -> Path:
    """The writer process on whatever the machine (its default, auto, is off on one CPU)."""
    git(repo, "config", "testlog.writer-process", "true")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return with_writer_process(make_repo(tmp_path / "proj", {**MANY, **PROBE}))


def loaded(tmp_path: Path) -> list[str]:
    return json.loads((tmp_path / "loaded.json").read_text())


def stable(records: dict[str, dict]) -> dict[str, dict]:
    return {name: {k: v for k, v in r.items() if k not in VOLATILE} for name, r in records.items()}


def writer_processes(cwd: Path) -> list[int]:
    """Live writer processes working in `cwd` (Linux /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            where = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"testlog.store.process" in cmdline and Path(where) == cwd:
            found.append(int(pid))
    return found


def test_the_writer_process_commits_and_pytest_never_loads_dulwich(
        repo: Path, sandbox: dict[str, str], tmp_path: Path):
    before = user_state(repo)
    env = pytest_env(sandbox, LOADED_OUT=str(tmp_path / "loaded.json"))
    proc = run_pytest(repo, env, "--testlog", "--testlog-seed=7")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "recorded as" in proc.stdout and "writer process" not in proc.stdout, proc.stdout
    assert loaded(tmp_path) == []
    records = records_by_name(repo)
    assert len(records) == 150
    statuses = [r["status"] for r in records.values()]
    assert (statuses.count("FAIL"), statuses.count("ERROR"), statuses.count("SKIP")) == (3, 1, 8)
    assert sorted(r["order"] for r in records.values()) == list(range(150))
    assert all(r["determinism_check"] == "seeded" and r["rng_state"] for r in records.values())
    assert user_state(repo) == before
    assert writer_processes(repo) == []
    git(repo, "fsck", "--strict")


@pytest.mark.parametrize("writer_process", ["true", "false"])
def test_the_run_line_is_the_last_line_after_pytests_summary(repo: Path, sandbox: dict[str, str],
                                                              writer_process: str):
    git(repo, "config", "testlog.writer-process", writer_process)
    proc = run_pytest(repo, pytest_env(sandbox, LOADED_OUT=os.devnull), "--testlog")
    lines = proc.stdout.rstrip("\n").splitlines()
    assert re.fullmatch(r"testlog: proj FAIL \(138 passed 4 failed\) recorded as [0-9a-f]{10} on "
                        r"refs/heads/testlog \(unsigned\)", lines[-1]), proc.stdout
    assert lines[-2].startswith("3 failed, 138 passed, 8 skipped, 1 error in "), proc.stdout


def test_the_run_line_is_printed_even_when_pytest_ends_in_an_internal_error(
        tmp_path: Path, sandbox: dict[str, str]):
    """pytest skips its terminal-summary hook on an internal error (status 3)."""
    repo = with_writer_process(make_repo(tmp_path / "proj", {
        **TWO_TESTS, "conftest.py": "def pytest_runtest_logfinish(nodeid, location):\n"
                                    "    raise RuntimeError('a broken plugin')\n"}))
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    # An internal error is an ERROR run, the test it cut short counted as not run (issue 15).
    assert re.search(r"\ntestlog: proj ERROR \(1 passed 0 failed 1 not run\) recorded as "
                     r"[0-9a-f]{10} ", proc.stdout), proc.stdout
    assert writer_processes(repo) == []


def test_without_a_terminal_the_run_is_still_written(repo: Path, sandbox: dict[str, str]):
    proc = run_pytest(repo, pytest_env(sandbox, LOADED_OUT=os.devnull), "--testlog",
                      base=("-p", "no:terminal", "-p", "no:randomly", "-p", "no:cacheprovider"))
    assert proc.returncode == 1 and "testlog" not in proc.stdout + proc.stderr
    assert writer_processes(repo) == []          # the answer was waited for, not left behind
    assert len(records_by_name(repo)) == 150


def test_the_in_process_writer_writes_the_same_run(repo: Path, sandbox: dict[str, str],
                                                   tmp_path: Path):
    # LANG=C without coercion: a `python -I` child would add LC_CTYPE to its own environment;
    # the digests must be of the environment pytest saw, in both ways.
    env = pytest_env(sandbox, PYTHONHASHSEED="0", LOADED_OUT=str(tmp_path / "loaded.json"),
                     LANG="C", LC_ALL="", PYTHONCOERCECLOCALE="0")
    child = run_pytest(repo, env, "--testlog", "--testlog-seed=7")
    git(repo, "config", "testlog.writer-process", "false")   # not TESTLOG_*: env is recorded
    here = run_pytest(repo, env, "--testlog", "--testlog-seed=7")
    assert loaded(tmp_path) == ["dulwich"]          # python-gnupg is not used any more
    assert "recorded as" in child.stdout and "recorded as" in here.stdout, here.stdout
    assert stable(records_by_name(repo, "testlog~1")) == stable(records_by_name(repo, "testlog"))
    for path in ("__determinism.json", "__errors.json"):
        first = show(repo, find(repo, path, "testlog~1"), "testlog~1")
        second = show(repo, find(repo, path), "testlog")
        if path == "__errors.json":      # the same errors, told at other times (and with
            first, second = (json.loads(t)["errors"] for t in (first, second))   # other ids)
            for entries in (first, second):
                for entry in entries:
                    del entry["timestamp"], entry["traceback"]
        assert first == second
    assert run_data(repo)["run"]["environment"] == run_data(repo, "testlog~1")["run"]["environment"]


KILLER = {"tests/test_zz_kill.py": '''\
import os
import signal


def test_kill_the_writer(request):
    writer = request.config.pluginmanager.get_plugin("testlog-writer")
    os.kill(writer.process.proc.pid, signal.SIGKILL)
    writer.process.proc.wait()
'''}


def test_a_writer_process_killed_mid_run_loses_nothing(tmp_path: Path, sandbox: dict[str, str]):
    repo = with_writer_process(make_repo(tmp_path / "proj", {**MANY, **KILLER}))
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog", "tests")
    assert proc.returncode == 1
    assert "testlog: the writer process ended with status -9 before answering" in proc.stdout
    assert "recorded as" in proc.stdout, proc.stdout
    records = records_by_name(repo)
    assert len(records) == 151
    assert records["tests/test_zz_kill.py::test_kill_the_writer"]["status"] == "PASS"
    assert writer_processes(repo) == []


def unit_setup(repo: Path) -> WriterSetup:
    """What pytest would settle for an unsigned run of `unit_harvest()` in `repo`."""
    git_dir = str(repo / ".git")
    return WriterSetup(common_dir=git_dir, git_dir=git_dir, work_tree=str(repo),
                       branch="refs/heads/testlog", sign_key=None, no_sign=True, out_dir=None,
                       sign_timeout=60.0,
                       env_key=b"k" * 32, env_key_source="test",
                       environ={**os.environ, "LANG": "C"},     # the sandbox's HOME and git
                       sys_path=list(sys.path), ctx=unit_context())


def write_unit_run(setup: WriterSetup, takes_over: bool,
                   finished_ns: int = 1_761_900_001_000_000_000) -> list[str]:
    """`unit_harvest()` (finished at `finished_ns`) written by a RunWriter in this process."""
    harvest = unit_harvest()
    harvest.finished_ns = finished_ns
    writer = RunWriter(setup, takes_over)
    try:
        writer.start()
        return writer.finish(harvest, None)
    finally:
        writer.close()


def test_a_writer_process_that_fails_answers_with_its_traceback(tmp_path: Path):
    repo = make_repo(tmp_path / "proj", {"t.py": ""})
    process = WriterProcess(unit_setup(repo))
    assert process.send(("tests", ("no outcomes here", [])))     # the child cannot add these
    process.finish((unit_harvest(), None))
    answer = process.result()
    process.close()
    assert answer is not None and answer[0] == "failed", answer
    assert answer[1].startswith("Traceback") and "AttributeError" in answer[1].splitlines()[-1]
    assert process.proc.returncode == 0 and not process.alive
    assert git(repo, "branch", "--list", "testlog") == ""


def test_a_writer_process_answers_with_the_lines_to_print(tmp_path: Path):
    repo = make_repo(tmp_path / "proj", {"t.py": ""})
    process = WriterProcess(unit_setup(repo))
    process.finish((unit_harvest(), None))
    answer = process.result()
    process.close()
    tip = git(repo, "rev-parse", "testlog").strip()
    assert answer == ("done", [f"testlog: unit PASS (3 passed 0 failed) recorded as {tip[:10]} "
                               "on refs/heads/testlog (unsigned)"])
    assert process.proc.returncode == 0


def test_taking_over_a_run_the_writer_process_committed_makes_no_second_commit(tmp_path: Path):
    """The writer process committed, then died before answering: pytest's process, taking the
    run over, finds it at the tip instead of committing it again. Another run it commits."""
    repo = make_repo(tmp_path / "proj", {"t.py": ""})
    setup = unit_setup(repo)

    def commits() -> list[str]:
        return git(repo, "rev-list", "testlog").split()

    [first] = write_unit_run(setup, takes_over=False)
    [taken_over] = write_unit_run(setup, takes_over=True)
    [tip] = commits()
    assert f"recorded as {tip[:10]} on refs/heads/testlog (unsigned)" in first
    assert taken_over.endswith(f"recorded as {tip[:10]} on refs/heads/testlog (committed by the "
                               "writer process before it stopped)"), taken_over
    [other_run] = write_unit_run(setup, takes_over=True, finished_ns=1_761_900_002_000_000_000)
    assert len(commits()) == 2 and "(unsigned)" in other_run
    git(repo, "fsck", "--strict")


def test_taking_over_files_the_writer_process_wrote_leaves_them_as_they_are(tmp_path: Path):
    out = tmp_path / "out"
    setup = dataclasses.replace(unit_setup(make_repo(tmp_path / "proj", {"t.py": ""})),
                                out_dir=str(out))

    [first] = write_unit_run(setup, takes_over=False)
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    [taken_over] = write_unit_run(setup, takes_over=True)
    assert first.endswith(f"files written to {out}")
    assert taken_over.endswith(f"files written to {out} (by the writer process before it "
                               "stopped)"), taken_over
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == written


# A git that kills its caller, the writer process, when asked to pack: packing comes after the
# commit and before the answer (packing in the same process, as the sandbox configures it).
KILLING_GIT = """#!/bin/sh
case " $* " in *" pack-objects "*) kill -9 $PPID; exit 1;; esac
exec {git} "$@"
"""


def test_a_writer_process_that_dies_after_committing_leaves_one_commit(
        tmp_path: Path, sandbox: dict[str, str]):
    repo = with_writer_process(make_repo(tmp_path / "proj", TWO_TESTS))
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "git").write_text(KILLING_GIT.format(git=shutil.which("git")))
    (tools / "git").chmod(0o755)
    (repo / ".git" / "testlog").mkdir()
    (repo / ".git" / "testlog" / "writes-since-pack").write_text("999 0\n")   # packing is due
    env = pytest_env(sandbox, PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")
    proc = run_pytest(repo, env, "--testlog")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tip] = git(repo, "rev-list", "testlog").split()
    assert ("testlog: the writer process ended with status -9 before answering; pytest's "
            "process takes the run over\n") in proc.stdout, proc.stdout
    assert proc.stdout.endswith(f"recorded as {tip[:10]} on refs/heads/testlog (committed by "
                                "the writer process before it stopped)\n"), proc.stdout
    assert len(records_by_name(repo)) == 2
    git(repo, "fsck", "--strict")


def test_no_run_to_write_leaves_no_writer_process(repo: Path, sandbox: dict[str, str],
                                                  tmp_path: Path):
    env = pytest_env(sandbox, LOADED_OUT=str(tmp_path / "loaded.json"))
    proc = run_pytest(repo, env, "--testlog", "-k", "no_such_test")
    assert proc.returncode == 5
    assert "no test ran; nothing recorded" in proc.stdout
    assert writer_processes(repo) == []
    assert git(repo, "branch", "--list", "testlog") == ""


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no", ""])
def test_writer_process_switch_reads_false_words(value: str):
    from testlog.store.writer import writer_process_enabled
    assert writer_process_enabled(value) is False


@pytest.mark.parametrize("value", [True, "1", "true", "yes", "on"])
def test_writer_process_switch_reads_true_words(value: object):
    from testlog.store.writer import writer_process_enabled
    assert writer_process_enabled(value) is True


def test_a_writer_process_setting_that_is_no_word_is_refused_before_any_test(
        repo: Path, sandbox: dict[str, str], tmp_path: Path):
    git(repo, "config", "testlog.writer-process", "sometimes")
    proc = run_pytest(repo, pytest_env(sandbox, LOADED_OUT=str(tmp_path / "loaded.json")),
                      "--testlog")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert ("testlog: writer_process must be auto, true or false, not 'sometimes' "
            "(from git config testlog.*)") in proc.stderr
    assert "passed" not in proc.stdout and "Traceback" not in proc.stderr
    assert git(repo, "branch", "--list", "testlog") == ""


def test_writer_process_auto_follows_the_cpus_pytest_may_use():
    from testlog.cores import usable_cores
    from testlog.store.writer import writer_process_enabled
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert writer_process_enabled("auto") is (len(os.sched_getaffinity(0)) >= 2)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or shutil.which("taskset") is None,
                    reason="needs two CPUs and taskset")
def test_on_one_cpu_pytest_writes_the_run_itself(repo: Path, sandbox: dict[str, str],
                                                 tmp_path: Path):
    git(repo, "config", "--unset", "testlog.writer-process")      # the default: auto
    env = pytest_env(sandbox, LOADED_OUT=str(tmp_path / "loaded.json"))
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "pytest", *BASE_ARGS,
                             "--testlog"], cwd=repo, env=env, capture_output=True, text=True,
                            timeout=300)
    assert "recorded as" in pinned.stdout, pinned.stdout + pinned.stderr
    assert loaded(tmp_path) == ["dulwich"]         # no child: pytest wrote it
    free = run_pytest(repo, env, "--testlog")
    assert "recorded as" in free.stdout
    assert loaded(tmp_path) == []                           # two CPUs: the child wrote it


# -- pieces the writer process builds ahead -------------------------------------------------

@pytest.mark.parametrize("outer, items", [
    ({}, []),
    ({"schema_version": 1}, []),
    ({"schema_version": 1}, [{"b": 1.5, "a": "é"}, {"z": None}]),
    ({"base_seed": 3, "full_states": {"d": "QQ=="}, "session_states": {"python": "x"}},
     [{"test_name": "t::a", "rng_state": {}}]),
])
def test_splice_list_gives_the_bytes_of_encoding_the_whole(outer: dict, items: list):
    from testlog.core.canonical import dumps_normal
    from testlog.core.runfiles import splice_list
    assert splice_list(outer, "tests", [dumps_normal(i) for i in items]) == \
        dumps_normal({**outer, "tests": items})


def test_splice_list_refuses_a_key_that_does_not_close_the_object():
    from testlog.core.runfiles import splice_list
    with pytest.raises(AssertionError):
        splice_list({"zzz": 1}, "tests", [])


XDIST_STATES = {"tests/test_states.py": '''\
import random

import pytest


@pytest.mark.parametrize("n", range(6))
def test_draw(n):
    assert random.random() < 1.0
'''}


def test_xdist_full_states_reach_the_writer_process(tmp_path: Path, sandbox: dict[str, str]):
    repo = with_writer_process(make_repo(tmp_path / "proj", XDIST_STATES))
    env = pytest_env(sandbox, PYTHONHASHSEED="0")
    args = ("--testlog", "--testlog-seed=5", "--testlog-full-state", "-n", "2", "tests")
    child = run_pytest(repo, env, *args)
    git(repo, "config", "testlog.writer-process", "false")
    here = run_pytest(repo, env, *args)
    assert "recorded as" in child.stdout and "recorded as" in here.stdout, child.stdout
    states = [json.loads(show(repo, find(repo, "__determinism.json", rev), rev))["full_states"]
              for rev in ("testlog~1", "testlog")]
    assert states[0] and states[0] == states[1]
    used = {d for r in records_by_name(repo).values()
            for d in [*r["rng_state"].values(), *r["rng_state_after"].values()]}
    assert used <= set(states[0])


TOUCHING = {"tests/test_touch.py": '''\
from pathlib import Path


def test_edits_a_tracked_file():
    path = Path(__file__).parents[1] / "README.md"
    path.write_text(path.read_text() + "edited by a test\\n")
''', "README.md": "hello\n"}


@pytest.mark.parametrize("writer_process", ["true", "false"])
def test_the_source_is_the_tree_as_the_session_started(tmp_path: Path, sandbox: dict[str, str],
                                                        writer_process: str):
    repo = make_repo(tmp_path / "proj", TOUCHING)
    git(repo, "config", "testlog.writer-process", writer_process)
    head = git(repo, "rev-parse", "HEAD").strip()
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog", "tests")
    assert proc.returncode == 0 and "recorded as" in proc.stdout, proc.stdout + proc.stderr
    source = run_data(repo)["run"]["source"]
    assert (source["commit"], source["dirty"]) == (head, False)     # the edit came later
    assert "edited by a test" in (repo / "README.md").read_text()


PATH_ENTRY = {"conftest.py": '''\
import sys
from pathlib import Path

sys.path.insert(0, Path(__file__).parent / "lib")      # a Path, not a str: legal, and common
''', "tests/test_ok.py": "def test_ok():\n    pass\n"}


def test_a_path_object_on_sys_path_does_not_stop_the_writer_process(tmp_path: Path,
                                                                     sandbox: dict[str, str]):
    repo = with_writer_process(make_repo(tmp_path / "proj", PATH_ENTRY))
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recorded as" in proc.stdout and "writer process" not in proc.stdout, proc.stdout
    assert (repo / ".git" / "testlog" / "writer.log").read_bytes() == b""


@pytest.mark.parametrize("writer_process", ["true", "false"])
def test_an_out_dir_that_cannot_be_written_is_one_clear_line(tmp_path: Path,
                                                             sandbox: dict[str, str],
                                                             writer_process: str):
    repo = make_repo(tmp_path / "proj", PATH_ENTRY)
    git(repo, "config", "testlog.writer-process", writer_process)
    (tmp_path / "taken").write_text("a file, not a directory\n")
    proc = run_pytest(repo, pytest_env(sandbox), f"--testlog-out={tmp_path / 'taken'}", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr          # the tests' own status
    assert f"testlog: could not write the files to {tmp_path / 'taken'}: Not a directory" \
        in proc.stdout, proc.stdout
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert "writer process" not in proc.stdout
    assert (tmp_path / "taken").read_text() == "a file, not a directory\n"


# -- Ctrl-C while the writer process signs ---------------------------------------------------

TWO_TESTS = {"tests/test_two.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"}


def slow_signing_repo(tmp_path: Path, gpg_key: str) -> tuple[Path, Path]:
    """A repository whose gpg.program marks that signing started, then signs only once the
    test lets go of a lock (`signing_lock`): the interrupt always lands while signing, however
    slow the machine, and nothing waits on the clock."""
    repo = with_writer_process(make_repo(tmp_path / "proj", TWO_TESTS))
    mark = tmp_path / "signing-started"
    lock = signing_lock(mark)
    lock.touch()
    slow_gpg = tmp_path / "slow-gpg"
    slow_gpg.write_text("#!/bin/sh\ncase \"$*\" in *--detach-sign*|*-sb*)\n"
                        f"    : > '{mark}'\n"
                        f"    flock '{lock}' true\n"
                        "esac\nexec gpg \"$@\"\n")
    slow_gpg.chmod(0o755)
    git(repo, "config", "gpg.program", str(slow_gpg))
    git(repo, "config", "user.signingkey", gpg_key)
    return repo, mark


def signing_lock(mark: Path) -> Path:
    """The file the test holds locked (flock) while the slow gpg.program must wait."""
    return mark.with_name("signing-lock")


def interrupt_while_signing(repo: Path, mark: Path, env: dict[str, str], whole_group: bool,
                            writer_process: bool = True) -> tuple[subprocess.Popen[str], str, str]:
    """Run pytest; once the run is being signed (and, with a writer process, pytest waits for
    its answer), send SIGINT to pytest alone or to its process group (a Ctrl-C in a
    terminal). (pytest, its stdout, its stderr)."""
    with open(signing_lock(mark), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *BASE_ARGS, "--testlog"],
                                cwd=repo, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=whole_group)
        try:
            wait_until(lambda: mark.exists() or proc.poll() is not None,
                       "the writer process starts signing")
            assert mark.exists(), "signing never started"
            if writer_process:
                wait_until(lambda: blocked_reading_a_pipe(proc.pid) or proc.poll() is not None,
                           "pytest waits for the writer process's answer")
            if whole_group:
                os.killpg(proc.pid, signal.SIGINT)
            else:
                proc.send_signal(signal.SIGINT)
            # A gpg that got the signal (the whole group) acts on it before it runs on; one
            # that did not now signs as a slow gpg would.
            fcntl.flock(lock, fcntl.LOCK_UN)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return proc, out, err


def writer_pid(out: str) -> int:
    """The pid in the line pytest prints when a Ctrl-C stops its wait for the writer."""
    found = re.search(r"\ntestlog: interrupted while the writer process \(pid (\d+)\) writes "
                      r"the run; it finishes on its own\n", out)
    assert found, out
    return int(found.group(1))


def wait_gone(pid: int) -> None:
    wait_until(lambda: gone(pid), f"writer process {pid} ends")


def test_ctrl_c_to_pytest_while_the_writer_process_signs_leaves_it_to_commit(
        tmp_path: Path, sandbox: dict[str, str], gpg_key: str):
    repo, mark = slow_signing_repo(tmp_path, gpg_key)
    before = user_state(repo)
    proc, out, err = interrupt_while_signing(repo, mark, pytest_env(sandbox), False)
    assert proc.returncode == 2 and "Traceback" not in err, err     # pytest's "interrupted"
    wait_gone(writer_pid(out))
    git(repo, "verify-commit", "testlog")
    assert sorted(records_by_name(repo)) == ["tests/test_two.py::test_one",
                                             "tests/test_two.py::test_two"]
    assert len(git(repo, "rev-list", "testlog").split()) == 1
    assert not (repo / ".git" / "testlog" / "pending").exists()
    assert user_state(repo) == before


def test_ctrl_c_in_the_terminal_while_signing_keeps_the_run_in_pending(
        tmp_path: Path, sandbox: dict[str, str], gpg_key: str):
    """A terminal's Ctrl-C reaches the whole process group: gpg stops, the commit fails, the
    writer process saves the run to pending, and commit-pending commits it."""
    repo, mark = slow_signing_repo(tmp_path, gpg_key)
    before = user_state(repo)
    proc, out, _err = interrupt_while_signing(repo, mark, pytest_env(sandbox), True)
    assert proc.returncode == 2
    wait_gone(writer_pid(out))
    assert git(repo, "branch", "--list", "testlog") == ""
    [entry] = (repo / ".git" / "testlog" / "pending").iterdir()
    git(repo, "config", "--unset", "gpg.program")
    done = subprocess.run([sys.executable, "-c", "from testlog.cli import entry; entry()", "commit-pending"], cwd=repo,
                          env=pytest_env(sandbox), capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith(f"committed {entry.name} as "), \
        done.stdout + done.stderr
    git(repo, "verify-commit", "testlog")
    assert len(records_by_name(repo)) == 2
    assert user_state(repo) == before


def test_ctrl_c_while_pytests_own_process_signs_says_where_the_run_went(
        tmp_path: Path, sandbox: dict[str, str], gpg_key: str):
    repo, mark = slow_signing_repo(tmp_path, gpg_key)
    git(repo, "config", "testlog.writer-process", "false")
    before = user_state(repo)
    proc, out, err = interrupt_while_signing(repo, mark, pytest_env(sandbox), False,
                                             writer_process=False)
    assert proc.returncode == 2 and "Traceback" not in err, err
    [entry] = (repo / ".git" / "testlog" / "pending").iterdir()
    assert out.endswith("testlog: interrupted while pytest's process wrote the run\n"
                        "testlog: could not commit the run to refs/heads/testlog: interrupted "
                        "while committing\n"
                        f"testlog: saved to {entry}; run `git testlog commit-pending` to commit "
                        "it\n"), out
    assert git(repo, "branch", "--list", "testlog") == ""
    assert user_state(repo) == before
