"""Bad input gets one clear line, and nothing is written."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitstore import Append, GitStoreError

from tests.fixtures import git, make_repo
from tests.store_helpers import git_dir_files, object_files, open_store
from tests.waiting import wait_until


def written(repo: Path) -> tuple:
    """Everything a write could leave behind: objects, any ref, any file of the git dir."""
    return object_files(repo), git(repo, "for-each-ref"), git_dir_files(repo)


@pytest.fixture
def logged(repo: Path) -> Path:
    """A repo whose log branch holds a file and a directory."""
    with open_store(repo, sign_key=False) as store:
        store.write({"existing.txt": b"1\n", "dir/inner.txt": b"2\n"}, "setup")
    return repo


BAD_WRITES = [
    ({"/abs": b"x"}, "invalid path '/abs'"),
    ({"a//b": b"x"}, "invalid path"),
    ({"a/": b"x"}, "invalid path"),
    ({"": b"x"}, "invalid path"),
    ({"a/../b": b"x"}, "invalid path"),
    ({"..": b"x"}, "invalid path"),
    ({"a/./b": b"x"}, "invalid path"),
    ({".git/config": b"x"}, "invalid path"),
    ({"x/.GIT/y": b"x"}, "invalid path"),
    ({"a\\b": b"x"}, "invalid path"),
    ({"a\0b": b"x"}, "invalid path"),
    ({b"bytes-path": b"x"}, "invalid path"),
    ({"ok.txt": "text, not bytes"}, "must be bytes"),
    ({"ok.txt": Append("text")}, "must be bytes"),
    ({"ok.txt": 5}, "must be bytes"),
    ({"new": b"x", "new/inner": b"y"}, "cannot write both 'new' and 'new/inner'"),
    ({"existing.txt/inner": b"x"}, "'existing.txt' is a file on the log branch"),
    ({"existing.txt/inner": Append(b"x")}, "'existing.txt' is a file on the log branch"),
    ({"dir": b"x"}, "'dir' is a directory on the log branch"),
    ({"dir": Append(b"x")}, "'dir' is a directory on the log branch"),
    ({"dir": None}, "'dir' is a directory on the log branch"),
]


@pytest.mark.parametrize("changes, error", BAD_WRITES, ids=[repr(c)[:40] for c, _ in BAD_WRITES])
def test_bad_write_is_refused_and_nothing_is_written(logged: Path, changes: dict, error: str):
    before = written(logged)
    with open_store(logged, sign_key=False) as store:
        with pytest.raises(GitStoreError, match=error.replace("(", r"\(")) as caught:
            store.write({"fine.txt": b"fine", **changes}, "bad")
    assert "\n" not in str(caught.value)
    assert written(logged) == before


@pytest.mark.parametrize("message, trailers, error", [
    ("", None, "needs a non-empty message"),
    ("\n\n", None, "needs a non-empty message"),
    ("ok", {"Bad Key": "v"}, "invalid trailer 'Bad Key'"),
    ("ok", {"Key:": "v"}, "invalid trailer"),
    ("ok", {"": "v"}, "invalid trailer"),
    ("ok", {"Key": "two\nlines"}, "invalid trailer"),
])
def test_bad_message_or_trailer_is_refused(logged: Path, message: str, trailers, error: str):
    before = written(logged)
    with open_store(logged, sign_key=False) as store, pytest.raises(GitStoreError, match=error):
        store.write({"fine.txt": b"fine"}, message, trailers)
    assert written(logged) == before


def test_not_a_repository_missing_directory_and_a_file(tmp_path: Path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for path, error in [(tmp_path / "plain", "not a git repository: "),
                        (tmp_path / "missing", "not a directory: "),
                        (tmp_path / "file.txt", "not a directory: ")]:
        with pytest.raises(GitStoreError, match=error):
            open_store(path)


@pytest.mark.parametrize("ref", ["bad..name", "refs/heads/x.lock", "", "a b", "refs/heads/x~1",
                                 "HEAD", "refs/heads/HEAD", "-x", "refs/heads/-x"])
def test_invalid_branch_name(repo: Path, ref: str):
    with pytest.raises(GitStoreError, match="invalid log branch name"):
        open_store(repo, ref=ref, sign_key=False)


def test_sha256_repository_is_refused_before_anything_is_written(tmp_path: Path):
    repo = tmp_path / "s256"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(repo))
    before = written(repo)
    with pytest.raises(GitStoreError, match="sha256 object names; the log branch supports SHA-1"):
        open_store(repo, sign_key=False)
    assert written(repo) == before


def test_repository_git_itself_refuses(tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.repositoryformatversion", "1")
    git(repo, "config", "extensions.frobnicate", "yes")
    with pytest.raises(GitStoreError, match="git cannot use the repository at .*frobnicate"):
        open_store(repo, sign_key=False)


@pytest.mark.parametrize("rev, error", [
    ("deadbeef", "unknown revision 'deadbeef'"),
    ("testlog~9", "unknown revision"),
    ("--all", "unknown revision"),
    ("-n", "unknown revision"),
    ("main", "is not a commit on the log branch"),
    ("HEAD", "is not a commit on the log branch"),
])
def test_unknown_or_foreign_revision(logged: Path, rev: str, error: str):
    with open_store(logged, sign_key=False) as store:
        with pytest.raises(GitStoreError, match=error):
            store.read("existing.txt", rev=rev)
        with pytest.raises(GitStoreError, match=error):
            store.history(rev=rev)


def test_reading_what_is_not_there(logged: Path, repo: Path):
    with open_store(logged, sign_key=False) as store:
        with pytest.raises(GitStoreError, match="no file nope.txt at the tip"):
            store.read("nope.txt")
        with pytest.raises(GitStoreError, match="no file dir at"):
            store.read("dir")
        with pytest.raises(GitStoreError, match="give a count of 0 or more"):
            store.history(limit=-1)
        assert store.history(limit=0) == []


def test_no_log_branch_yet(repo: Path):
    with open_store(repo, sign_key=False) as store:
        assert store.history() == []
        with pytest.raises(GitStoreError, match="no log branch refs/heads/testlog here"):
            store.read("a.txt")


# -- signing --------------------------------------------------------------------------------

def test_missing_key_given_or_configured(repo: Path, gpg_key: str):
    with pytest.raises(GitStoreError, match="no secret key 'nobody@nowhere' in the gpg keyring"):
        open_store(repo, sign_key="nobody@nowhere")
    git(repo, "config", "user.signingkey", "DEADBEEFDEADBEEF")
    with pytest.raises(GitStoreError, match="no secret key 'DEADBEEFDEADBEEF'"):
        open_store(repo)


def test_gpg_not_on_path(repo: Path, gpg_key: str, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch):
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(subprocess.check_output(["which", "git"], text=True).strip())
    monkeypatch.setenv("PATH", str(only_git))
    with pytest.raises(GitStoreError, match="gpg program 'gpg' not found .install gnupg"):
        open_store(repo, sign_key=gpg_key)
    with open_store(repo, sign_key=False) as store:      # unsigned writes need no gpg
        store.write({"a": b"1"}, "unsigned")


@pytest.mark.parametrize("program, error", [
    ("/nonexistent/gpg", "gpg program '/nonexistent/gpg' not found"),
    ("/bin/false", "cannot run gpg program '/bin/false'"),
])
def test_gpg_program_that_is_missing_or_not_gpg(repo: Path, gpg_key: str, program: str,
                                                error: str):
    git(repo, "config", "gpg.program", program)
    before = written(repo)
    with pytest.raises(GitStoreError, match=error):
        open_store(repo, sign_key=gpg_key)
    assert written(repo) == before


# -- the CLI ------------------------------------------------------------------------------

CLI = str(Path(sys.executable).parent / "git-testlog")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["git", "testlog", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)


@pytest.mark.parametrize("args, error", [
    (["log"], "no log branch refs/heads/testlog here"),
    (["-C", "{tmp}/plain", "log"], "not a git repository: "),
    (["-C", "{tmp}/missing", "log"], "not a directory: "),
    (["show", "deadbeef"], "unknown revision 'deadbeef'"),
    (["log", "--branch", "bad..name"], "invalid log branch name 'bad..name'"),
    ([], "the following arguments are required: <command>"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["log", "-n", "many"], "argument -n: invalid int value: 'many'"),
    (["log", "-n", "-3"], "give a count of 0 or more"),
    (["show", "a", "b"], "unrecognized arguments: b"),
])
def test_cli_bad_input_is_one_line_and_exit_2(repo: Path, tmp_path: Path, args: list[str],
                                                   error: str):
    (tmp_path / "plain").mkdir()
    if args[:1] in (["show"], ["log"]) and "no log branch" not in error:
        with open_store(repo, sign_key=False) as store:
            store.write({"a.txt": b"1"}, "one")
    before = written(repo)
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args], cwd=repo)
    # usage and input errors of the user's own: argparse's convention, exit 2 (a failed check
    # is 1)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("git-testlog: error: "), proc.stderr
    assert error in lines[0]
    assert written(repo) == before


def test_cli_help_and_version(repo: Path):
    version = run_cli("--version", cwd=repo)
    assert version.returncode == 0 and version.stdout.startswith("git-testlog ")
    for args in (["-h"], ["log", "-h"], ["show", "-h"]):
        shown = run_cli(*args, cwd=repo)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: git testlog")
    direct = subprocess.run([CLI, "--help"], capture_output=True, text=True, cwd=repo)
    assert direct.returncode == 0 and "log" in direct.stdout and "show" in direct.stdout


def test_an_unexpected_bug_keeps_its_traceback(repo: Path):
    """Only user errors become one line: a bug in a command must show where it happened."""
    script = ("import sys, testlog.commands.log as log\n"
              "log.run = lambda args: 1 // 0\n"
              "from testlog.cli import main\n"
              "sys.exit(main(['log']))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ZeroDivisionError" in proc.stderr
    assert "git-testlog: error" not in proc.stderr


def test_ctrl_c_exits_130(repo: Path):
    """A real SIGINT to `git-testlog log` blocked reading the branch (a FIFO stands in for it)."""
    fifo = repo / ".git" / "refs" / "heads" / "testlog"
    os.mkfifo(fifo)
    child = subprocess.Popen([CLI, "log"], cwd=repo, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    opened: list[int] = []

    def reader_opened() -> bool:            # ENXIO until the child opens the FIFO to read it
        assert child.poll() is None, child.communicate()
        try:
            opened.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return False
        return True
    wait_until(reader_opened, "git testlog log opens the FIFO")
    writer = opened[0]
    try:
        child.send_signal(2)
        out, err = child.communicate(timeout=60)
    finally:
        os.close(writer)
    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1] == "git-testlog: interrupted"


def test_unwritable_state_directory_is_one_line(repo: Path):
    (repo / ".git" / "testlog").write_text("a file where the store keeps its lock\n")
    before = written(repo)
    with open_store(repo, sign_key=False) as store:
        with pytest.raises(GitStoreError, match="cannot write to the repository"):
            store.write({"a.txt": b"1"}, "one")
    assert written(repo) == before
