"""The gates' prestarted interpreter (gates.warmpython): it runs `python -m pytest ARGS` as a
fresh process would, is taken only by the run it was started for, and never outlives the
command. Real interpreters, real pytest runs, real `git testlog` processes."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testlog.cores import usable_cores
from testlog.gates.childenv import base_env, child_env
from testlog.gates.pytest_run import run_pytest
from testlog.gates.warmpython import (
    Starter,
    WarmPython,
    discard_early,
    start_early,
    take_early,
)
from tests.fixtures import git, make_repo
from tests.gate_repos import BIN, module, mono_repo

TWO_CORES = usable_cores() >= 2
needs_two_cores = pytest.mark.skipif(not TWO_CORES, reason="nothing is prestarted on one core")

# What a test can see of the process it runs in, written where the test names.
OBSERVE = """\
import inspect, json, os, sys


def test_observe():
    main = sys.modules["__main__"]
    seen = {{
        "argv": sys.argv[1:], "argv0": os.path.basename(sys.argv[0]),
        "argv0_dir": os.path.basename(os.path.dirname(sys.argv[0])),
        "path": sys.path, "cwd": os.getcwd(),
        "main_spec": main.__spec__.name if main.__spec__ else None,
        "main_file": os.path.basename(getattr(main, "__file__", "") or ""),
        "stdin": os.read(0, 64).decode(),
        "stdin_is_null": os.path.samestat(os.fstat(0), os.stat(os.devnull)),
        "environ": {{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}},
        "dont_write_bytecode": sys.flags.dont_write_bytecode,
        "orig_argv_has_c": "-c" in sys.orig_argv,
        "stack_depth": len(inspect.stack()),
    }}
    with open({out!r}, "w") as handle:
        json.dump(seen, handle)
"""


def project(tmp_path: Path, out: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_observe.py").write_text(OBSERVE.format(out=str(out)))
    return root


def observe(root: Path, out: Path, starter: Starter | None) -> tuple[dict, str]:
    scratch = root.parent / "scratch"
    scratch.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    run = run_pytest(argv, str(root), child_env(str(scratch)), None, starter)
    assert run.status == "passed", run.tail
    seen = json.loads(out.read_text())
    return seen, run.tail.splitlines()[-1].split(" in ")[0]


def test_a_prestarted_interpreter_runs_pytest_as_a_fresh_one_would(tmp_path: Path):
    """Prestarted, or started at once the same way (one core, or a run the
    prestarted one was not for): what the tests see is what a plain `python -m pytest` shows."""
    out = tmp_path / "seen.json"
    root = project(tmp_path, out)
    fresh, fresh_tail = observe(root, out, None)
    started_now, now_tail = observe(root, out, Starter())
    warm = WarmPython(sys.executable, str(root), base_env())
    try:
        prestarted, warm_tail = observe(root, out, Starter(warm))
    finally:
        warm.close()
    assert [seen.pop("orig_argv_has_c") for seen in (fresh, started_now, prestarted)] == \
        [False, True, True]
    depths = [seen.pop("stack_depth") for seen in (fresh, started_now, prestarted)]
    assert depths[1] == depths[2] == depths[0] + 1          # the runner's own frame
    assert prestarted == started_now == fresh
    assert fresh["argv0"] == "__main__.py" and fresh["argv0_dir"] == "pytest"
    assert str(root) in fresh["path"] and fresh["stdin"] == "" and fresh["stdin_is_null"]
    assert fresh["environ"]["COVERAGE_FILE"].endswith(".coverage")
    assert warm_tail == now_tail == fresh_tail == "1 passed"


# What a test process does on its way out, after pytest returned: an atexit handler (it notes
# which module is __main__ then), a weakref.finalize (run by atexit), a finalizer that module
# teardown triggers (it keeps `open`: the builtins may be gone by then), and two that only the
# collection of garbage cycles at exit runs: a cycle's __del__, and a buffered file that a
# cycle holds open (what it wrote reaches the disk only then).
ON_EXIT = """\
import atexit, os, sys, weakref


class Closer:
    def __del__(self, open=open):
        open({out!r} + ".teardown", "w").write("del")


class Cyclic:
    def __init__(self):
        self.me = self

    def __del__(self, open=open):
        open({out!r} + ".cycle", "w").write("cycle")


class Report:
    def __init__(self, path):
        self.handle = open(path, "w")
        self.on_result = self.record

    def record(self, text):
        self.handle.write(text)


class Owner:
    pass


def at_exit():
    main = os.path.basename(getattr(sys.modules["__main__"], "__file__", None) or "none")
    open({out!r} + ".atexit", "w").write(main)


OWNER = Owner()
KEPT = Closer()
Cyclic()
REPORT = Report({out!r} + ".report")
weakref.finalize(OWNER, lambda: open({out!r} + ".finalize", "w").write("finalize"))
atexit.register(at_exit)


def test_fails():
    REPORT.on_result("written")
    assert False
"""


def test_a_prestarted_run_exits_as_a_fresh_one_does(tmp_path: Path):
    """Its heap is frozen once pytest is imported (the run and its exit collect less), but the
    exit status, the atexit handlers (with pytest's __main__) and every finalizer, those of
    garbage cycles included, are those of a plain `python -m pytest`."""
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    seen = {}
    for name in ("fresh", "started-now", "prestarted"):
        out = tmp_path / name
        (root / "tests" / "test_exit.py").write_text(ON_EXIT.format(out=str(out)))
        starter = None if name == "fresh" else Starter(
            WarmPython(sys.executable, str(root), base_env()) if name == "prestarted" else None)
        try:
            run = run_pytest(argv, str(root), child_env(str(scratch)), None, starter)
        finally:
            if starter:
                starter.close()
        seen[name] = (run.status, {path.name.split(".")[1]: path.read_text()
                                   for path in tmp_path.glob(f"{name}.*")})
    assert seen["prestarted"] == seen["started-now"] == seen["fresh"] == \
        ("failed", {"atexit": "__main__.py", "finalize": "finalize", "teardown": "del",
                    "cycle": "cycle", "report": "written"})


def test_an_interpreter_without_gc_freeze_runs_as_before(tmp_path: Path):
    """PyPy has no gc.freeze: the run ends as it would have, with pytest's exit status."""
    root = project(tmp_path, tmp_path / "seen.json")
    no_freeze = tmp_path / "no_freeze"
    no_freeze.mkdir()
    (no_freeze / "sitecustomize.py").write_text("import gc\ndel gc.freeze\n")
    env = {**base_env(), "PYTHONPATH": str(no_freeze)}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    run = run_pytest(argv, str(root), {**env, "COVERAGE_FILE": str(scratch / ".coverage")},
                     None, Starter())
    assert (run.status, run.tail.splitlines()[-1].split(" in ")[0]) == ("passed", "1 passed")
    assert "Traceback" not in run.tail


def test_a_start_up_that_does_not_answer_is_tried_once_per_command(tmp_path: Path):
    """A start-up hook that prints before the runner can say ok: that run, and every later one
    in the same interpreter, folder and environment, starts plainly, without a second try."""
    root = project(tmp_path, tmp_path / "seen.json")
    hook = tmp_path / "hook"
    hook.mkdir()
    starts = tmp_path / "starts"
    (hook / "sitecustomize.py").write_text(
        f"open({str(starts)!r}, 'a').write('start\\n')\nprint('hello from sitecustomize')\n")
    env = {**base_env(), "PYTHONPATH": str(hook)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    for _ in range(2):
        run = run_pytest(argv, str(root), env, None, Starter())
        assert run.status == "passed", run.tail
    assert starts.read_text().count("start") == 3        # tried, then two plain runs


def test_only_the_run_it_was_started_for_takes_it(tmp_path: Path):
    root = project(tmp_path, tmp_path / "seen.json")
    argv = [sys.executable, "-m", "pytest", "tests"]
    env = base_env()
    others = [
        ([sys.executable, "-m", "pytest", "tests"], str(tmp_path), env),          # elsewhere
        ([sys.executable, "-m", "pytest", "tests"], str(root), {**env, "X": "1"}),   # env
        (["/usr/bin/python3", "-m", "pytest", "tests"], str(root), env),        # interpreter
        ([sys.executable, "-c", "pass"], str(root), env),                          # not pytest
    ]
    for other_argv, cwd, other_env in others:
        warm = WarmPython(sys.executable, str(root), env)
        process = warm._proc
        assert warm.take(other_argv, cwd, other_env) is None
        assert process is not None and process.returncode is not None   # killed, reaped
        assert warm.take(argv, str(root), env) is None                   # taken once
    warm = WarmPython(sys.executable, str(root), env)
    assert warm.matches(argv, str(root), {**env, "COVERAGE_FILE": "/elsewhere/.coverage"})
    warm.close()


def test_an_interpreter_that_cannot_import_pytest_is_not_used(tmp_path: Path):
    """A broken pytest on the path: the prestarted process says so and is stopped; the fresh
    run reports the failure as it always did."""
    root = project(tmp_path, tmp_path / "seen.json")
    broken = tmp_path / "broken"
    (broken / "pytest").mkdir(parents=True)
    (broken / "pytest" / "__init__.py").write_text("raise ImportError('no pytest here')\n")
    env = {**base_env(), "PYTHONPATH": str(broken)}
    warm = WarmPython(sys.executable, str(root), env)
    process = warm._proc
    assert warm.take([sys.executable, "-m", "pytest", "tests"], str(root), env) is None
    assert process is not None and process.returncode is not None


def test_an_unused_one_is_stopped_and_never_outlives_its_owner(tmp_path: Path):
    root = project(tmp_path, tmp_path / "seen.json")
    start_early(sys.executable, str(root), base_env())
    early = take_early()
    if not TWO_CORES:
        assert early is None
        return
    assert early is not None and take_early() is None
    process = early._proc
    early.close()
    assert process is not None and process.returncode is not None
    start_early(sys.executable, str(root), base_env())
    again = take_early()
    assert again is not None
    start_early(sys.executable, str(root), base_env())   # the one not taken is discarded
    discard_early()
    assert take_early() is None
    again.close()


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_nothing_is_prestarted_on_one_core(tmp_path: Path):
    """Where the imports could not overlap anything, a push with nothing to test would only
    wait for them: the tests start when they are due."""
    code = ("import sys\nfrom testlog.gates.childenv import base_env\n"
            "from testlog.gates.warmpython import start_early, take_early\n"
            "start_early(sys.executable, sys.argv[1], base_env())\nprint(take_early())")
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code, str(tmp_path)],
                          capture_output=True, text=True, check=True)
    assert done.stdout == "None\n"


def warm_processes(cwd: Path) -> list[int]:
    """Processes (of anyone's) running the prestart code in `cwd`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            where = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"warm " in cmdline and where == os.path.realpath(cwd):
            found.append(int(entry))
    return found


def gate_repo(tmp_path: Path, out: Path) -> Path:
    test = OBSERVE.format(out=str(out)) + "\n\nfrom alpha.code import double, triple\n\n\n" \
        "def test_it():\n    assert double(2) == 4 and triple(1) == 3\n"
    escaped = test.replace("{", "{{").replace("}", "}}")      # module() formats it
    return mono_repo(tmp_path / "repo", module("alpha", "L3", test=escaped))


def git_testlog(repo: Path, *args: str, taskset: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    env.pop("VIRTUAL_ENV", None)
    prefix = ["taskset", "-c", "0"] if taskset else []
    return subprocess.run([*prefix, "git", "testlog", *args], cwd=repo, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_git_testlog_cov_measures_the_same_in_a_prestarted_interpreter(
        tmp_path: Path, sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """`git testlog cov` through the console script: on two cores the tests run in the
    prestarted interpreter, on one (taskset) in one started when the tests are due (the same
    start-up: `-c`); the same coverage either way, and no prestarted process is left behind."""
    out = tmp_path / "seen.json"
    repo = gate_repo(tmp_path, out)
    for name, value in sandbox.items():
        monkeypatch.setenv(name, value)
    fresh = git_testlog(repo, "cov", "--all", "--no-cache", "--json", taskset=True)
    assert fresh.returncode == 0, fresh.stderr
    fresh_seen = json.loads(out.read_text())
    warm = git_testlog(repo, "cov", "--all", "--no-cache", "--json")
    assert warm.returncode == 0, warm.stderr
    warm_seen = json.loads(out.read_text())
    assert fresh_seen["orig_argv_has_c"] and warm_seen["orig_argv_has_c"]
    coverage = [json.loads(r.stdout)["modules"][0]["coverage"] for r in (fresh, warm)]
    assert coverage[0] == coverage[1] == 100.0
    for seen in (fresh_seen, warm_seen):
        seen.pop("orig_argv_has_c")
        seen["environ"].pop("COVERAGE_FILE")
        # Each command has a scratch folder of its own: the report and storage paths differ.
        seen["argv"] = [re.sub(r"/\S*git-testlog-[^/]+", "<scratch>", a) for a in seen["argv"]]
    assert warm_seen == fresh_seen
    assert warm_processes(repo) == []


@pytest.mark.parametrize("args", [["cov", "--bogus"], ["hook", "pre-push", "origin"],
                                  ["cov", "--all"], ["gate", "--all", "-h"]])
def test_a_command_that_runs_no_tests_leaves_no_prestarted_process(
        tmp_path: Path, sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        args: list[str]):
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    for name, value in sandbox.items():
        monkeypatch.setenv(name, value)
    done = git_testlog(repo, *args)
    assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr
    assert warm_processes(repo) == []


def test_a_start_up_hook_that_reads_stdin_leaves_the_run_to_a_fresh_interpreter(
        tmp_path: Path):
    """A sitecustomize that reads stdin at start-up takes the request meant for the prestarted
    interpreter: that one says so and ends, and the fresh run (stdin at end of file) runs the
    tests as before. No timeout: nothing waits for what never comes."""
    out = tmp_path / "seen.json"
    root = project(tmp_path, out)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("import sys\nsys.stdin.read()\n")
    env = {**base_env(), "PYTHONPATH": str(hook)}
    warm = WarmPython(sys.executable, str(root), env)
    process = warm._proc
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    run = run_pytest(argv, str(root), {**env, "COVERAGE_FILE": str(scratch / ".coverage")},
                     None, Starter(warm))
    assert run.status == "passed", run.tail
    assert process is not None and process.returncode is not None
    assert not json.loads(out.read_text())["orig_argv_has_c"]       # the fresh one ran them


@pytest.mark.parametrize("where", ["environment", "git config"])
def test_prestart_false_runs_the_tests_in_a_fresh_interpreter(tmp_path: Path, where: str,
                                                              monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "seen.json"
    repo = gate_repo(tmp_path, out)
    if where == "environment":
        monkeypatch.setenv("TESTLOG_PRESTART", "false")
    else:
        git(repo, "config", "testlog.prestart", "no")
    done = git_testlog(repo, "cov", "--all", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert not json.loads(out.read_text())["orig_argv_has_c"]
    assert warm_processes(repo) == []


def test_a_prestart_setting_that_is_no_truth_value_is_one_line_and_exit_2(tmp_path: Path):
    repo = gate_repo(tmp_path, tmp_path / "seen.json")
    git(repo, "config", "testlog.prestart", "sometimes")
    done = git_testlog(repo, "cov", "--all", "--no-cache")
    assert done.returncode == 2
    assert done.stderr == ("git-testlog: error: prestart must be true or false, not "
                           "'sometimes' (from git config testlog.*)\n")
    assert warm_processes(repo) == []
