"""One chain per writer, shared through a real bare remote: push only fast-forwards the writer's
own chain (never retried, rebuilt, re-signed or forced); fetch keeps the chains that continue
ours and, with trusted keys, are signed by them; readers see the union."""
from __future__ import annotations

import json
import os
from pathlib import Path

import gnupg
import pytest

from testlog.cli import main
from testlog.store.events import commit_event
from tests.fixtures import gen_key, git, make_repo, user_state
from tests.store_helpers import open_store


@pytest.fixture
def remote_and_clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(remote, "config", "receive.denyNonFastForwards", "true")
    seed = make_repo(tmp_path / "seed")
    git(seed, "push", "-q", str(remote), "main")
    clones = []
    for name in ("a", "b"):
        git(tmp_path, "clone", "-q", str(remote), name)
        git(tmp_path / name, "config", "testlog.writer", name)
        clones.append(tmp_path / name)
    return remote, clones[0], clones[1]


def event(clone: Path, key: str | bool, name: str) -> str:
    """A commit as git-testlog makes them: its artifact and its event."""
    with open_store(clone, sign_key=key) as store:
        return commit_event(store, {f"runs/{name}.json": name.encode()}, event="COVERAGE_RECORDED",
                            artifact=f"runs/{name}.json", verdict="PASS", summary=f"event {name}")


def remote_chains(remote: Path) -> dict[str, str]:
    out = git(remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/testlog/")
    return dict(line.split() for line in out.splitlines())


def keys_file(tmp_path: Path, *fingerprints: str) -> Path:
    path = tmp_path / "trusted.asc"
    path.write_text(gnupg.GPG().export_keys(list(fingerprints)))
    return path


def test_push_publishes_the_writers_chain_as_a_fast_forward(remote_and_clones, gpg_key, capsys):
    remote, a, b = remote_and_clones
    first = event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push"]) == 0
    assert capsys.readouterr().out == (f"pushed: refs/heads/testlog {first[:10]} as "
                                       "refs/testlog/chains/a on origin\n")
    assert remote_chains(remote) == {"refs/testlog/chains/a": first}
    assert git(remote, "branch", "--list") == "* main\n"      # no branch: no CI run started
    assert main(["-C", str(a), "push"]) == 0
    assert "already there" in capsys.readouterr().out
    second = event(a, gpg_key, "a2")
    assert main(["-C", str(a), "push"]) == 0
    assert remote_chains(remote) == {"refs/testlog/chains/a": second}
    git(remote, "verify-commit", second)


def test_fetch_shows_every_writer_and_nobody_is_re_signed(remote_and_clones, gpg_key, tmp_path,
                                                         capsys):
    remote, a, b = remote_and_clones
    other = gen_key(os.environ["GNUPGHOME"], name="Writer B", email="b@example.com")
    a1 = event(a, gpg_key, "a1")
    b1 = event(b, other, "b1")
    assert main(["-C", str(a), "push"]) == 0 and main(["-C", str(b), "push"]) == 0
    before = user_state(b)
    capsys.readouterr()
    assert main(["-C", str(b), "fetch"]) == 0
    assert capsys.readouterr().out == f"new          a at {a1[:10]}\nup-to-date   b at {b1[:10]}\n"
    assert git(b, "rev-parse", "refs/testlog/chains/a").strip() == a1     # a's own commit
    assert git(b, "rev-parse", "testlog").strip() == b1                    # b's branch: untouched
    assert git(b, "log", "-1", "--format=%GK", a1).strip() in gpg_key
    assert main(["-C", str(b), "log", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {(x["sha"], x["writer"]) for x in lines} == {(a1, "a"), (b1, "b")}
    assert main(["-C", str(b), "show", a1]) == 0                  # any chain's commit resolves
    keys = keys_file(tmp_path, gpg_key, other)
    assert main(["-C", str(b), "verify", "--trusted-keys", str(keys)]) == 0
    out = capsys.readouterr().out
    assert "verify refs/heads/testlog" in out and "verify refs/testlog/chains/a" in out
    assert "2 of 2 chains OK" in out
    assert user_state(b) == before


def test_two_clones_with_one_writer_id_are_told_never_forced(remote_and_clones, gpg_key, capsys):
    remote, a, b = remote_and_clones
    git(b, "config", "testlog.writer", "a")                        # a mistake: b writes as "a"
    a1 = event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push"]) == 0
    event(b, gpg_key, "b1")
    capsys.readouterr()
    assert main(["-C", str(b), "push"]) == 1
    err = capsys.readouterr().err
    assert "another clone writes as 'a'" in err and "testlog.writer" in err
    assert err.count("\n") == 1
    assert remote_chains(remote) == {"refs/testlog/chains/a": a1}        # nothing forced
    assert main(["-C", str(b), "fetch"]) == 1
    assert "grown apart" in capsys.readouterr().err


def test_a_fresh_clone_of_the_same_writer_takes_its_chain_back(remote_and_clones, gpg_key,
                                                              tmp_path, capsys):
    remote, a, b = remote_and_clones
    a1 = event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push"]) == 0
    again = tmp_path / "again"
    git(tmp_path, "clone", "-q", str(remote), str(again))
    git(again, "config", "testlog.writer", "a")
    assert main(["-C", str(again), "fetch"]) == 0
    assert git(again, "rev-parse", "testlog").strip() == a1
    a2 = event(again, gpg_key, "a2")
    assert main(["-C", str(again), "push"]) == 0
    assert remote_chains(remote) == {"refs/testlog/chains/a": a2}


def test_with_trusted_keys_an_unsigned_chain_is_kept_apart(remote_and_clones, gpg_key, tmp_path,
                                                           capsys):
    remote, a, b = remote_and_clones
    event(a, False, "a1")                                          # unsigned: not trusted
    assert main(["-C", str(a), "push"]) == 0
    keys = keys_file(tmp_path, gpg_key)
    capsys.readouterr()
    assert main(["-C", str(b), "fetch", "--trusted-keys", str(keys)]) == 1
    out = capsys.readouterr().err
    assert out.startswith("kept apart   a at ") and "not signed by a trusted key" in out
    assert git(b, "for-each-ref", "refs/testlog/chains/") == ""
    assert "refs/testlog/quarantine/origin/a" in git(b, "for-each-ref", "refs/testlog/")
    assert main(["-C", str(b), "fetch"]) == 0                      # no keys: accepted
    assert git(b, "for-each-ref", "--format=%(refname)", "refs/testlog/chains/").split() \
        == ["refs/testlog/chains/a"]


def test_a_rewritten_chain_is_kept_apart(remote_and_clones, gpg_key, tmp_path, capsys):
    remote, a, b = remote_and_clones
    event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push"]) == 0
    assert main(["-C", str(b), "fetch"]) == 0
    have = git(b, "rev-parse", "refs/testlog/chains/a").strip()
    forged = git(remote, "commit-tree", "-m", "forged", git(remote, "rev-parse",
                                                            "main^{tree}").strip()).strip()
    git(remote, "update-ref", "refs/testlog/chains/a", forged)
    capsys.readouterr()
    assert main(["-C", str(b), "fetch"]) == 1
    assert "does not continue the chain we have" in capsys.readouterr().err
    assert git(b, "rev-parse", "refs/testlog/chains/a").strip() == have


def test_a_first_format_remote_branch_is_read_as_one_more_chain(remote_and_clones, gpg_key,
                                                                capsys):
    remote, a, b = remote_and_clones
    legacy = event(a, gpg_key, "old")
    git(a, "push", "-q", "origin", "testlog")                     # what the first version did
    assert main(["-C", str(b), "fetch"]) == 0
    assert git(b, "rev-parse", "refs/testlog/legacy/origin").strip() == legacy
    capsys.readouterr()
    assert main(["-C", str(b), "log"]) == 0
    assert legacy[:10] in capsys.readouterr().out


def test_fetch_and_push_errors_are_one_line(remote_and_clones, capsys):
    remote, a, b = remote_and_clones
    assert main(["-C", str(a), "fetch", "nosuchremote"]) == 1
    assert "no remote named 'nosuchremote'" in capsys.readouterr().err
    assert main(["-C", str(a), "fetch"]) == 0
    assert capsys.readouterr().out == "origin has no chains\n"
    assert main(["-C", str(a), "push"]) == 2        # nothing of the user's to push: input
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: no log branch refs/heads/testlog here")
    assert err.count("\n") == 1
    assert main(["-C", str(a), "fetch", "--writer", "a/b"]) == 2
    assert "--writer 'a/b'" in capsys.readouterr().err
    git(a, "config", "testlog.writer", "bad/id")
    assert main(["-C", str(a), "push"]) == 2
    assert "invalid writer id 'bad/id'" in capsys.readouterr().err


def test_push_and_fetch_by_path_and_relative_remote(remote_and_clones, gpg_key, capsys):
    remote, a, b = remote_and_clones
    a1 = event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push", str(remote)]) == 0
    assert main(["-C", str(b), "fetch", f"file://{remote}", "--writer", "a"]) == 0
    assert git(b, "rev-parse", "refs/testlog/chains/a").strip() == a1
    git(b, "remote", "add", "rel", "../remote.git")
    b1 = event(b, gpg_key, "b1")
    assert main(["-C", str(b), "push", "rel"]) == 0, capsys.readouterr().err
    assert remote_chains(remote)["refs/testlog/chains/b"] == b1
    assert main(["-C", str(a), "push", str(remote.parent / "missing.git")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: cannot push to ") and \
        err.count("\n") == 1 and "fatal:" in err


def test_a_retention_epoch_is_published_only_deliberately(remote_and_clones, gpg_key, capsys):
    remote, a, b = remote_and_clones
    first = event(b, gpg_key, "b1")
    assert main(["-C", str(b), "push"]) == 0
    with open_store(b, sign_key=gpg_key) as store:
        store.write({"retention/epoch.json": b"{}"}, "RETENTION_EPOCH",
                    {"Testlog-Event": "RETENTION_EPOCH"})
    git(b, "update-ref", "refs/heads/testlog", git(b, "commit-tree", "-m", "RETENTION_EPOCH\n\n"
        "Testlog-Event: RETENTION_EPOCH", git(b, "rev-parse", "testlog^{tree}").strip()).strip())
    capsys.readouterr()
    assert main(["-C", str(b), "push"]) == 1
    err = capsys.readouterr().err
    assert "retention epoch" in err and "--force-with-lease" in err and err.count("\n") == 1
    assert remote_chains(remote) == {"refs/testlog/chains/b": first}
