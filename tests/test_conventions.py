"""Conventions users of git and pytest expect: `help [CMD]`, one metavar per option, the same
signing options on every command that signs, output an ASCII-only terminal can show, NO_COLOR,
and environment notes without what git itself set."""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testlog.cli import build_parser, main
from testlog.replay.environment import env_var_note
from testlog.store.environment import environment_blocks
from tests.fixtures import make_repo
from tests.recorder_helpers import pytest_env, run_pytest

# push and fetch move chains as they are: they never build or sign a commit.
SIGNING = {"commit-pending", "replay", "hunt", "cov", "gate", "bench", "hook", "seal", "prune"}
RUNS = {"test_a.py": """\
import random


def test_caf\u00e9(testlog):
    testlog.output("x", random.random())


def test_fail():
    assert 0.5 == 0.25
"""}


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


def subparsers() -> dict[str, argparse.ArgumentParser]:
    return build_parser().parse_args(["help"]).parsers


def test_help_explains_the_tool_and_each_command(capsys: pytest.CaptureFixture[str]):
    assert main(["help"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("usage: git testlog ")
    for name in subparsers():
        assert name in listing
    assert main(["help", "seal"]) == 0
    assert capsys.readouterr().out == subparsers()["seal"].format_help()
    code, out = cli("help", "sael")
    assert code == 2
    assert out == ("git-testlog: error: no command 'sael' (the commands: log, show, "
                   "commit-pending, replay, compare, flaky, history, hunt, site, push, fetch, cov, "
                   "gate, bench, hook, verify, seal, export, prune, help)\n")


def test_one_metavar_per_option():
    seen: dict[str, set[str]] = {}
    for parser in subparsers().values():
        for action in parser._actions:
            if action.option_strings and action.nargs != 0:
                metavar = str(action.metavar or action.dest.upper())
                for option in action.option_strings:
                    seen.setdefault(option, set()).add(metavar)
    # --since means "after this point": a log commit where commits are walked (verify, seal),
    # a date where history is cut by time (fetch); one metavar each, nothing else differs.
    assert {o: m for o, m in seen.items() if len(m) > 1} == {"--since": {"REV", "DATE"}}
    assert seen["--sign-key"] == {"KEY"} and seen["--branch"] == {"REF"}


def test_every_command_that_signs_takes_the_same_signing_options():
    for name, parser in subparsers().items():
        options = {o for a in parser._actions for o in a.option_strings}
        assert ("--sign-key" in options) == (name in SIGNING), name
        # A seal is its detached signature: there is no unsigned seal.
        assert ("--no-sign" in options) == (name in SIGNING - {"seal"}), name
    code, out = cli("cov", "--all", "--sign-key", "K", "--no-sign")
    assert code == 2 and "not allowed with argument" in out


# -- an ASCII-only terminal ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, sandbox: dict[str, str]) -> Path:
    """Two unsigned runs of a suite with a failing test and a test named `test_café`."""
    repo = make_repo(tmp_path_factory.mktemp("ascii") / "proj", RUNS)
    env = pytest_env(sandbox)
    for seed in ("1", "2"):
        proc = run_pytest(repo, env, "--testlog", "--testlog-no-sign", f"--testlog-seed={seed}")
        assert "recorded as" in proc.stdout, proc.stdout + proc.stderr
    return repo


def ascii_env(sandbox: dict[str, str], **extra: str) -> dict[str, str]:
    bin_dir = os.path.dirname(sys.executable)        # git finds git-testlog there
    return pytest_env(sandbox, LANG="C", LC_ALL="C", PYTHONIOENCODING="ascii",
                      PATH=bin_dir + os.pathsep + os.environ["PATH"], **extra)


def git_testlog(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """`git testlog ...` through git itself, as a user runs it (git sets GIT_EXEC_PATH)."""
    return subprocess.run(["git", "testlog", *args], cwd=repo, env=env, capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("args,code", [
    (["log"], 0), (["log", "--runs", "--json"], 0), (["show"], 0), (["show", "--json"], 0),
    (["compare", "testlog~1", "testlog"], 0), (["verify"], 0), (["help", "compare"], 0),
    (["commit-pending", "--list"], 0), (["export", "testlog", "-o", "exported"], 0),
    (["show", "no-such-rev"], 2),          # an unknown revision is the user's input
])
def test_commands_print_ascii_on_an_ascii_terminal(recorded: Path, sandbox: dict[str, str],
                                                   tmp_path: Path, args: list[str], code: int):
    args = [str(tmp_path / a) if a == "exported" else a for a in args]
    proc = git_testlog(recorded, ascii_env(sandbox), *args)
    text = proc.stdout + proc.stderr
    assert proc.returncode == code, text.decode(errors="replace")
    text.decode("ascii")                      # nothing but ASCII reached the terminal
    assert b"Traceback" not in text and b"UnicodeEncodeError" not in text


def test_compare_and_replay_say_it_in_ascii(recorded: Path, sandbox: dict[str, str]):
    env = ascii_env(sandbox)
    compare = git_testlog(recorded, env, "compare", "testlog~1", "testlog")
    out = compare.stdout.decode("ascii")
    assert compare.returncode == 0, out + compare.stderr.decode(errors="replace")
    assert " -> " in out and "test_caf\\xe9" in out and "max delta" in out
    replay = git_testlog(recorded, env, "replay", "--no-sign", "testlog")
    out = replay.stdout.decode("ascii") + replay.stderr.decode("ascii")
    assert replay.returncode == 0, out
    assert "  OK verified " in out and "REPLAY_VERIFIED: 2 of 2 tests verified" in out
    # git set GIT_EXEC_PATH (and its exec path first on PATH) for `git testlog`: no note of it.
    notes = [line for line in out.splitlines() if "environment variables" in line]
    assert not any("GIT_EXEC_PATH" in n or "PATH" in n.split(": ", 1)[-1].split(", ")
                   for n in notes), notes


def test_git_and_the_shell_settings_are_no_environment_change():
    plain = {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "_": "/usr/bin/pytest"}
    under_git = {**plain, "PATH": "/usr/lib/git-core:/usr/bin:/bin", "_": "/usr/bin/git",
                 "GIT_EXEC_PATH": "/usr/lib/git-core", "GIT_PREFIX": ""}
    key = b"k" * 32
    recorded = environment_blocks(plain, key, "test")[1]
    replayed = environment_blocks(under_git, key, "test")[1]
    assert env_var_note(recorded, replayed) is None
    moved = environment_blocks({**plain, "PATH": "/opt/bin:/usr/bin:/bin"}, key, "test")[1]
    assert env_var_note(recorded, moved) == "environment variables changed: PATH"
    # what a replay sets for its tests (its bytecode cache, the hash seed) is not the user's
    replay_own = environment_blocks({**plain, "PYTHONPYCACHEPREFIX": "/tmp/r/bytecode",
                                     "PYTHONHASHSEED": "17"}, key, "test")[1]
    assert env_var_note(recorded, replay_own) is None


# -- colour ------------------------------------------------------------------------------------

def test_no_color_is_honoured(tmp_path: Path, sandbox: dict[str, str]):
    repo = make_repo(tmp_path / "proj", {"test_one.py": "def test_one():\n    pass\n"})
    coloured = run_pytest(repo, pytest_env(sandbox, FORCE_COLOR="1"), "--testlog",
                          "--testlog-no-sign")
    line = coloured.stdout.splitlines()[-1]
    assert "recorded as" in line and "\x1b[" in line         # the test can see colour
    plain = run_pytest(repo, pytest_env(sandbox, FORCE_COLOR="1", NO_COLOR="1"), "--testlog",
                       "--testlog-no-sign")
    assert "recorded as" in plain.stdout and "\x1b[" not in plain.stdout
    shown = git_testlog(repo, ascii_env(sandbox, FORCE_COLOR="1"), "log")
    assert shown.returncode == 0 and b"\x1b[" not in shown.stdout   # the CLI never colours
