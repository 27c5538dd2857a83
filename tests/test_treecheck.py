"""The tree check every read of the log branch goes through (gitstore/treecheck.py), on raw
tree objects and on real repositories."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitstore import GitStoreError, path_problem, unsafe_trees
from gitstore.paths import name_problem
from gitstore.treecheck import MAX_DEPTH, tree_problems

from tests.attack_helpers import blob, commit_like, folder, tree_of, with_entries
from tests.fixtures import git
from tests.store_helpers import open_store

SHA = b"\x01" * 20


def tree(*entries: tuple[bytes, bytes]) -> bytes:
    return b"".join(mode + b" " + name + b"\0" + SHA for mode, name in entries)


@pytest.mark.parametrize("mode, name", [
    (b"100644", b"20260101__unit__run.json"), (b"100755", b"run.sh"), (b"40000", b"runs"),
    (b"100644", "café ✓.md".encode()), (b"100644", b".hidden"), (b"100644", b"a..b"),
    (b"100644", b"x" * 255),
    (b"100664", b"old-style"), (b"040000", b"padded"),      # git reads these as file, folder
])
def test_safe_entries(mode: bytes, name: bytes):
    assert tree_problems(tree((mode, name))) == []


@pytest.mark.parametrize("mode, name, problem", [
    (b"40000", b"..", "a '..' segment"), (b"40000", b".", "a '.' segment"),
    (b"100644", b"...", "a '...' segment"), (b"40000", b".git", "a '.git' segment"),
    (b"40000", b".GIT", "a '.GIT' segment"), (b"40000", b".git. ", "a '.git. ' segment"),
    (b"100644", b"", "an empty segment"), (b"100644", b"a/b", "a name with a slash"),
    (b"100644", b"a\\b", "a name with a slash or backslash"),
    (b"100644", b"a\x1b[2Jb", "a name with a control character"),
    (b"100644", b"tab\there", "a name with a control character"),
    (b"100644", b"c1\xc2\x9bx", "a name with a control character"),
    (b"100644", b"\xff", "a name that is not UTF-8"),
    (b"100644", b"\xed\xa0\x80", "a name that is not UTF-8"),        # a surrogate
    (b"100644", b"x" * 256, "a name longer than 255 bytes"),
    (b"120000", b"link", "a symlink where a file or folder is expected"),
    (b"160000", b"sub", "a submodule (gitlink) where a file or folder is expected"),
    (b"170000", b"odd", "an entry of mode 170000"),
])
def test_unsafe_entries(mode: bytes, name: bytes, problem: str):
    found = tree_problems(tree((b"100644", b"fine"), (mode, name)))
    assert [n for n, _ in found] == [name] and problem in found[0][1]


def test_a_malformed_tree_object():
    assert tree_problems(b"100644 name-without-id\0abc") == [(b"", "a malformed tree object")]


def test_write_side_uses_the_same_rule():
    assert path_problem("runs/a.json") is None
    assert path_problem("/abs") == "an absolute path"
    assert path_problem("runs/\x1b.json") == "a name with a control character"
    assert name_problem(b"ok") is None


def crafted_tip(repo: Path, gains: tuple[bytes, bytes, str]) -> str:
    with open_store(repo, sign_key=False) as store:
        store.write({"runs/a.json": b"{}"}, "setup")
        tip = store.tip
    assert tip is not None
    sha = commit_like(repo, tip, with_entries(repo, tree_of(repo, tip), gains), tip)
    git(repo, "update-ref", "refs/heads/testlog", sha)
    return sha


def test_every_read_of_the_store_checks_the_tree(repo: Path):
    sha = crafted_tip(repo, (b"40000", b"..", folder(repo, {b"x": b"1"})))
    with open_store(repo, sign_key=False) as store:
        for read in (lambda: store.read("runs/a.json"), lambda: store.paths(),
                     lambda: store.exists("runs/a.json"), lambda: store.changed_paths(sha)):
            with pytest.raises(GitStoreError, match=r"unsafe tree on the log branch: \.\.: a '\.\.' "):
                read()
        with pytest.raises(GitStoreError, match="unsafe tree"):      # nor is it built on
            store.write({"runs/b.json": b"{}"}, "on top")
    assert git(repo, "rev-parse", "testlog").strip() == sha


def test_nesting_beyond_the_limit(repo: Path):
    inner = folder(repo, {b"x.json": b"{}"})
    for _ in range(MAX_DEPTH + 1):
        inner = with_entries(repo, folder(repo, {}), (b"40000", b"d", inner))
    sha = crafted_tip(repo, (b"40000", b"deep", inner))
    with open_store(repo, sign_key=False) as store, pytest.raises(GitStoreError, match="nested"):
        store.paths()
    assert any("nested more than" in p.problem for p in unsafe_trees(repo, [sha]))


def test_unsafe_trees_reads_only_the_range(repo: Path):
    sha = crafted_tip(repo, (b"120000", b"link", blob(repo, b"/etc")))
    found = unsafe_trees(repo, [sha])
    assert [(p.path, p.problem) for p in found] == [
        ("link", "a symlink where a file or folder is expected")]
    assert unsafe_trees(repo, [sha], [sha]) == []
    assert unsafe_trees(repo, [git(repo, "rev-parse", f"{sha}^").strip()]) == []


def test_something_unsafe_deep_inside_is_refused_every_time(repo: Path):
    """A safe top folder over an unsafe entry further down: refused by every read of every
    store, never remembered as safe because its top was read first."""
    inner = with_entries(repo, folder(repo, {b"x.json": b"{}"}),
                         (b"120000", b"link", blob(repo, b"/etc")))
    crafted_tip(repo, (b"40000", b"deep", inner))
    for _ in range(2):                          # a second store reads what the first kept
        with open_store(repo, sign_key=False) as store:
            for _ in range(2):
                with pytest.raises(GitStoreError, match=r"unsafe tree on the log branch: "
                                                        r"deep/link: a symlink"):
                    store.paths()
    remembered = "".join(p.read_text() for p in (repo / ".git").glob("*/safe-trees"))
    assert tree_of(repo, "testlog") not in remembered


def test_trees_found_safe_are_remembered_for_the_next_store(repo: Path):
    with open_store(repo, sign_key=False) as store:
        store.write({"runs/a.json": b"{}", "ledger/x/2026-12/07.ndjson": b"1\n"}, "one")
        tip = store.tip
    [kept] = list((repo / ".git").glob("*/safe-trees"))
    remembered = kept.read_text().split()
    top = tree_of(repo, tip)
    folders = [git(repo, "rev-parse", f"{tip}:{path}").strip()
               for path in ("runs", "ledger", "ledger/x", "ledger/x/2026-12")]
    assert {top, *folders} <= set(remembered)
    kept.write_text("not an id\n" + "z" * 40 + "\n" + "\n".join(remembered) + "\n")
    with open_store(repo, sign_key=False) as store:     # garbage lines are left out
        assert store.read("runs/a.json") == b"{}"
        assert top.encode() in store.safe_trees and b"z" * 40 not in store.safe_trees
    kept.unlink()
    with open_store(repo, sign_key=False) as store:     # a lost file only costs a walk
        assert store.read("runs/a.json") == b"{}"
    assert top in kept.read_text().split()
