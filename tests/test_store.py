"""The LogStore façade against real git and gpg."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitstore import Append, GitStoreError

from tests.fixtures import git, user_state
from tests.store_helpers import open_store


def test_first_write_is_an_orphan_root_and_later_writes_chain(repo: Path):
    with open_store(repo, sign_key=False) as store:
        first = store.write({"runs/a.json": b"{}"}, "first")
        second = store.write({"runs/b.json": b"[]"}, "second")
    assert git(repo, "rev-list", "--parents", "-n1", first).split() == [first]
    assert git(repo, "rev-list", "--parents", "-n1", second).split() == [second, first]
    assert git(repo, "merge-base", "main", "testlog", check=False) == ""


def test_put_append_delete_and_read_back(repo: Path):
    with open_store(repo, sign_key=False) as store:
        store.write({"ledger/c.ndjson": Append(b"1\n"), "old.txt": b"x"}, "one")
        sha = store.write({"ledger/c.ndjson": Append(b"2\n"), "old.txt": None}, "two")
        assert store.read("ledger/c.ndjson") == b"1\n2\n"
        assert store.paths() == ["ledger/c.ndjson"]
        assert store.read("old.txt", rev="testlog~1") == b"x"
        assert store.read("ledger/c.ndjson", rev=sha[:8]) == b"1\n2\n"
    assert git(repo, "show", "testlog:ledger/c.ndjson") == "1\n2\n"


def test_signed_commits_pass_stock_git_verify_commit(repo: Path, gpg_key: str):
    with open_store(repo, sign_key=gpg_key) as store:
        store.write({"a": b"1"}, "one", {"Testlog-Suite": "unit"})
        store.write({"b": b"2"}, "two")
        entries = store.history(verify_signatures=True)
    for rev in ("testlog", "testlog~1"):
        git(repo, "verify-commit", rev)
    assert [e.signature for e in entries] == ["good", "good"]
    assert entries[1].trailers == {"Testlog-Suite": "unit"}
    assert git(repo, "log", "--format=%G?", "testlog").split() == ["G", "G"]


def test_user_signingkey_is_used_when_no_key_given(repo: Path, gpg_key: str):
    git(repo, "config", "user.signingkey", gpg_key)
    with open_store(repo) as store:
        store.write({"a": b"1"}, "one")
    git(repo, "verify-commit", "testlog")


def test_user_state_untouched_with_dirty_tree_and_staged_changes(repo: Path):
    (repo / "README.md").write_text("changed\n")
    (repo / "staged.txt").write_text("s\n")
    git(repo, "add", "staged.txt")
    (repo / "untracked.txt").write_text("u\n")
    before = user_state(repo)
    with open_store(repo, sign_key=False) as store:
        for i in range(3):
            store.write({f"runs/{i}.json": b"{}"}, f"write {i}")
    assert user_state(repo) == before
    git(repo, "fsck", "--strict")


@pytest.mark.parametrize("path", ["/abs", "a//b", "a/../b", ".git/x", "a/./b", "", "a/", "x/.GIT/y"])
def test_bad_paths_are_refused_and_nothing_is_written(repo: Path, path: str):
    with open_store(repo, sign_key=False) as store:
        with pytest.raises(GitStoreError, match="invalid path"):
            store.write({"ok.txt": b"1", path: b"x"}, "bad")
        assert store.tip is None


def test_not_a_repository(tmp_path: Path):
    with pytest.raises(GitStoreError, match="not a git repository"):
        open_store(tmp_path)


def test_unknown_rev_and_rev_off_the_branch(repo: Path):
    with open_store(repo, sign_key=False) as store:
        store.write({"a": b"1"}, "one")
        with pytest.raises(GitStoreError, match="unknown revision"):
            store.read("a", rev="deadbeef")
        with pytest.raises(GitStoreError, match="not a commit on the log branch"):
            store.read("a", rev="main")


def test_unknown_signing_key_is_a_clear_error(repo: Path, gpg_key: str):
    with pytest.raises(GitStoreError, match="no secret key 'nobody@nowhere'"):
        open_store(repo, sign_key="nobody@nowhere")


@pytest.mark.parametrize("checkout", ["main", "testlog"])
def test_a_checked_out_branch_is_never_written(repo: Path, checkout: str):
    with open_store(repo, sign_key=False) as store:
        store.write({"a": b"1"}, "one")
    git(repo, "checkout", "-q", checkout)
    before = user_state(repo)
    ref = f"refs/heads/{checkout}"
    with open_store(repo, ref=ref, sign_key=False) as store:
        tip = store.tip
        with pytest.raises(GitStoreError, match=f"{ref} is checked out in"):
            store.write({"b": b"2"}, "two")
        assert store.tip == tip
    assert user_state(repo) == before
