"""Parsing log commits (pure tables) and walking the branch."""
from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.objects import Commit

from gitstore import GitStoreError
from gitstore.history import parse_cat_file_batch, parse_raw_commit, parse_trailers

from tests.fixtures import git
from tests.store_helpers import open_store

TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
P1, P2 = "1" * 40, "2" * 40
SIG = b"-----BEGIN PGP SIGNATURE-----\n\niQEz\n=abcd\n-----END PGP SIGNATURE-----"


def raw_commit(parents: list[str], message: bytes, *, gpgsig: bytes | None = None,
               extra: list[tuple[bytes, bytes]] = ()) -> bytes:
    c = Commit()
    c.tree, c.parents = TREE.encode(), [p.encode() for p in parents]
    c.author = c.committer = b"A U Thor <a@example.com>"
    c.author_time, c.commit_time = 1700000000, 1700000123
    c.author_timezone = c.commit_timezone = 0
    c.message = message
    for key, value in extra:
        c._extra.append((key, value))
    if gpgsig is not None:
        c.gpgsig = gpgsig
    return c.as_raw_string()


@pytest.mark.parametrize("parents", [[], [P1], [P1, P2]])
@pytest.mark.parametrize("signed", [False, True])
def test_parse_matches_dulwich(parents: list[str], signed: bool):
    raw = raw_commit(parents, b"summary line\n\nbody\n\nTestlog-Suite: unit\n",
                     gpgsig=SIG if signed else None,
                     extra=[(b"mergetag", b"object 1\ntype commit\n\nsigned tag")])
    entry = parse_raw_commit("f" * 40, raw)
    reference = Commit.from_string(raw)
    assert entry.parents == tuple(parents)
    assert entry.tree == TREE
    assert entry.timestamp == 1700000123
    assert entry.summary == "summary line"
    assert entry.trailers == {"Testlog-Suite": "unit"}
    assert entry.signature == ("signed" if signed else "unsigned")
    assert entry.gpgsig == (SIG if signed else b"")
    assert entry.payload == reference.raw_without_sig()


def test_parse_a_cat_file_batch_stream_skips_what_is_not_a_commit():
    one, two = raw_commit([], b"one\n"), raw_commit([P1], b"two\n")
    stream = (b"a" * 40 + b" commit %d\n" % len(one) + one + b"\n"
              + b"b" * 40 + b" blob 3\nxyz\n"
              + b"c" * 40 + b" commit %d\n" % len(two) + two + b"\n")
    assert [e.summary for e in parse_cat_file_batch(stream)] == ["one", "two"]


def test_malformed_commit_is_a_clear_error():
    with pytest.raises(GitStoreError, match="commit x+ is malformed"):
        parse_raw_commit("x" * 40, b"tree nothex\nauthor a\n\nmessage\n")


@pytest.mark.parametrize("message, trailers", [
    ("one line", {}),
    ("summary\n\nKey: value", {"Key": "value"}),
    ("summary\n\nA: 1\nB-C: two words\n", {"A": "1", "B-C": "two words"}),
    ("summary\n\nnot a trailer\nKey: value", {}),          # the whole block must be trailers
    ("summary\n\nKey: value\n\nlast paragraph", {}),
    ("Key: value", {}),                                      # a lone line is the summary
    ("summary\n\nBad Key: value", {}),
])
def test_trailers(message: str, trailers: dict[str, str]):
    assert parse_trailers(message) == trailers


def test_history_limit_rev_and_order(repo: Path):
    with open_store(repo, sign_key=False) as store:
        shas = [store.write({f"{n}.txt": b"x"}, f"write {n}", {"N": str(n)}) for n in range(5)]
        assert [e.sha for e in store.history()] == shas[::-1]
        assert [e.summary for e in store.history(limit=2)] == ["write 4", "write 3"]
        assert [e.sha for e in store.history(rev="testlog~3")] == shas[1::-1]
        assert [e.trailers["N"] for e in store.history(rev=shas[2][:8])] == ["2", "1", "0"]
        assert store.history()[0].parents == (shas[3],)
        assert store.history()[-1].parents == ()
    assert git(repo, "log", "--format=%H", "testlog").split() == shas[::-1]


def test_history_starting_at_a_commit_fetched_but_not_yet_on_the_branch_is_refused(repo: Path):
    with open_store(repo, sign_key=False) as store:
        first = store.write({"a": b"1"}, "one")
        tree = git(repo, "rev-parse", f"{first}^{{tree}}").strip()
        elsewhere = git(repo, "commit-tree", tree, "-p", first, "-m", "not on the branch").strip()
        with pytest.raises(GitStoreError, match="is not a commit on the log branch"):
            store.history(rev=elsewhere)
