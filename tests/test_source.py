"""gitstore.source: HEAD, its tree and the dirty diff, without touching the user's repository."""
from __future__ import annotations

from pathlib import Path

from gitstore.source import source_info

from tests.fixtures import git, make_repo, user_state


def test_clean_checkout(repo: Path):
    info = source_info(repo)
    assert info.commit == git(repo, "rev-parse", "HEAD").strip()
    assert info.tree == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert not info.dirty and info.diff == b"" and info.untracked == ()


def test_dirty_diff_holds_staged_and_unstaged_changes_and_applies_on_head(repo: Path, tmp_path: Path):
    (repo / "README.md").write_text("changed\n")
    (repo / "staged.txt").write_text("staged\n")
    (repo / "blob.bin").write_bytes(b"\x00\x01binary")
    git(repo, "add", "staged.txt", "blob.bin")
    (repo / "new.txt").write_text("untracked\n")
    before = user_state(repo)
    info = source_info(repo)
    assert user_state(repo) == before
    assert info.dirty and info.untracked == ("new.txt",)
    assert b"GIT binary patch" in info.diff
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "apply", "--index", "-", input=info.diff)
    for name in ("README.md", "staged.txt", "blob.bin"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes()


def test_unborn_branch_diffs_against_the_empty_tree(tmp_path: Path):
    repo = make_repo(tmp_path / "unborn", {"a.txt": "a\n"}, commit=False)
    git(repo, "add", "a.txt")
    info = source_info(repo)
    assert (info.commit, info.tree) == (None, None)
    assert b"+a" in info.diff and info.dirty


def test_a_subdirectory_sees_the_whole_tree(repo: Path):
    (repo / "sub").mkdir()
    (repo / "sub" / "x.txt").write_text("x\n")
    (repo / "README.md").write_text("changed\n")
    info = source_info(repo / "sub")
    assert info.untracked == ("sub/x.txt",) and b"README.md" in info.diff
