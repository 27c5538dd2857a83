"""Every repository shape: the log branch is written, and nothing of the user's moves."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitstore import Append

from tests.fixtures import git, make_repo, user_state
from tests.store_helpers import (
    assert_linear,
    fsck,
    git_dir_files,
    install_hooks,
    open_store,
    settle,
)


@dataclass
class Shape:
    open_at: Path                       # where LogStore.open is called
    trees: list[Path] = field(default_factory=list)   # working trees whose state must not move
    checks: list[Callable[[], None]] = field(default_factory=list)


def plain(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo")
    return Shape(repo, [repo])


def bare(tmp: Path) -> Shape:
    source = make_repo(tmp / "source")
    git(tmp, "clone", "-q", "--bare", str(source), str(tmp / "bare.git"))
    return Shape(tmp / "bare.git")


def linked_worktree(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo")
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp / "wt"))
    (tmp / "wt" / "wip.txt").write_text("work in progress\n")
    return Shape(tmp / "wt", [repo, tmp / "wt"])


def detached_head(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo")
    (repo / "README.md").write_text("second\n")
    git(repo, "commit", "-qam", "second")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    return Shape(repo, [repo], [lambda: _assert(git(repo, "symbolic-ref", "-q", "HEAD",
                                                     check=False) == "")])


def _conflicting_branches(tmp: Path) -> Path:
    repo = make_repo(tmp / "repo", {"f.txt": "base\n"})
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "f.txt").write_text("topic\n")
    git(repo, "commit", "-qam", "topic change")
    git(repo, "checkout", "-q", "main")
    (repo / "f.txt").write_text("main\n")
    git(repo, "commit", "-qam", "main change")
    return repo


def mid_rebase(tmp: Path) -> Shape:
    repo = _conflicting_branches(tmp)
    git(repo, "checkout", "-q", "topic")
    assert git(repo, "rebase", "main", check=False) is not None
    git_dir = repo / ".git"
    assert (git_dir / "rebase-merge").is_dir() and (git_dir / "REBASE_HEAD").exists()
    return Shape(repo, [repo], [lambda: git(repo, "rebase", "--abort"),
                                lambda: _assert(git(repo, "rev-parse", "--abbrev-ref", "HEAD")
                                                .strip() == "topic")])


def mid_merge(tmp: Path) -> Shape:
    repo = _conflicting_branches(tmp)
    git(repo, "merge", "topic", check=False)
    assert (repo / ".git" / "MERGE_HEAD").exists()
    return Shape(repo, [repo], [lambda: git(repo, "merge", "--abort")])


def dirty_and_staged(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo", {"README.md": "hello\n", "src/a.py": "x = 1\n"})
    (repo / "README.md").write_text("changed, not staged\n")
    (repo / "src" / "a.py").write_text("x = 2\n")
    git(repo, "add", "src/a.py")
    (repo / "src" / "a.py").write_text("x = 3\n")          # staged and changed again
    (repo / "new.txt").write_text("staged new file\n")
    git(repo, "add", "new.txt")
    (repo / "untracked.txt").write_text("u\n")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "ignored.log").write_text("ignored\n")
    return Shape(repo, [repo])


def unborn_main(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo", {"a.txt": "a\n", "b.txt": "b\n"}, commit=False)
    git(repo, "add", "a.txt")
    return Shape(repo, [repo], [
        lambda: _assert(git(repo, "rev-parse", "-q", "--verify", "HEAD", check=False) == ""),
        lambda: _assert(git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main")])


def subfolder(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo", {"pkg/sub/mod.py": "x = 1\n"})
    return Shape(repo / "pkg" / "sub", [repo])


def inside_git_dir(tmp: Path) -> Shape:
    repo = make_repo(tmp / "repo")
    return Shape(repo / ".git" / "refs", [repo])


def separate_git_dir(tmp: Path) -> Shape:
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", "--separate-git-dir", str(tmp / "elsewhere.git"))
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "initial")
    return Shape(repo, [repo])


def _assert(condition: bool) -> None:
    assert condition


SHAPES = {f.__name__: f for f in (plain, bare, linked_worktree, detached_head, mid_rebase,
                                   mid_merge, dirty_and_staged, unborn_main, subfolder,
                                   inside_git_dir, separate_git_dir)}


def write_three(at: Path, key: str) -> list[str]:
    with open_store(at, sign_key=key) as store:
        shas = [
            store.write({"runs/one.json": b'{"n":1}\n', "ledger/c.ndjson": Append(b"1\n")},
                        "first", {"Testlog-Suite": "unit"}),
            store.write({"runs/two.json": b'{"n":2}\n', "ledger/c.ndjson": Append(b"2\n")},
                        "second"),
            store.write({"runs/one.json": None}, "third"),
        ]
        assert store.read("ledger/c.ndjson") == b"1\n2\n"
        assert store.read("runs/one.json", rev=shas[0][:10]) == b'{"n":1}\n'
        assert store.paths() == ["ledger/c.ndjson", "runs/two.json"]
        entries = store.history(verify_signatures=True)
    assert [e.sha for e in entries] == shas[::-1]
    assert [e.summary for e in entries] == ["third", "second", "first"]
    assert entries[-1].trailers == {"Testlog-Suite": "unit"}
    assert [e.signature for e in entries] == ["good"] * 3
    return shas


@pytest.mark.parametrize("shape", SHAPES)
def test_log_branch_in_every_repo_shape(shape: str, tmp_path: Path, gpg_key: str):
    built = SHAPES[shape](tmp_path)
    for tree in built.trees:
        settle(tree)
    markers = tmp_path / "hook-markers"
    markers.mkdir()
    install_hooks(built.open_at, markers)
    before = ({str(t): user_state(t) for t in built.trees}, git_dir_files(built.open_at))

    shas = write_three(built.open_at, gpg_key)

    assert list(markers.iterdir()) == [], "a git hook ran"
    after = ({str(t): user_state(t) for t in built.trees}, git_dir_files(built.open_at))
    assert after == before
    fsck(built.open_at)
    assert assert_linear(built.open_at, 3) == shas[::-1]
    for sha in shas:
        git(built.open_at, "verify-commit", sha)
    shown = git(built.open_at, "log", "--show-signature", "testlog")
    assert shown.count("Good signature from") == 3
    assert git(built.open_at, "show", "testlog:ledger/c.ndjson") == "1\n2\n"
    for check in built.checks:
        check()


def test_git_variables_inherited_from_a_hook_do_not_redirect_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run from another repository's hook: GIT_DIR and GIT_INDEX_FILE point at that one."""
    target, other = make_repo(tmp_path / "target"), make_repo(tmp_path / "other")
    settle(other)
    before = user_state(other), git_dir_files(other)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    with open_store(target, sign_key=False) as store:
        sha = store.write({"a.txt": b"1"}, "one")
        assert store.work_tree == str(target)
    for name in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        monkeypatch.delenv(name)
    assert git(target, "rev-parse", "testlog").strip() == sha
    assert git(other, "rev-parse", "-q", "--verify", "testlog", check=False) == ""
    assert (user_state(other), git_dir_files(other)) == before
