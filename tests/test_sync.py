"""push/fetch of the log branch through a real bare remote, never forced."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gnupg
import pytest

from gitstore import Append, GitStoreError, fetch, push

from testlog.cli import main
from testlog.store.events import commit_event
from tests.fixtures import git, make_repo, user_state
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
        clones.append(tmp_path / name)
    return remote, clones[0], clones[1]


def write_run(clone: Path, key: str | bool, name: str) -> str:
    with open_store(clone, sign_key=key) as store:
        return store.write({f"runs/{name}.json": name.encode(),
                            "ledger/coverage.ndjson": Append(json.dumps({"n": name}).encode() + b"\n")},
                           f"run {name}")


def test_push_then_fetch_into_a_fresh_clone(remote_and_clones, gpg_key):
    remote, a, b = remote_and_clones
    write_run(a, gpg_key, "a1")
    with open_store(a, sign_key=gpg_key) as store:
        assert push(store).status == "pushed"
        assert push(store).status == "pushed"          # nothing new: still fine, no force
    with open_store(b, sign_key=False) as store:
        assert fetch(store).status == "created"
        assert store.read("runs/a1.json") == b"a1"
    write_run(a, gpg_key, "a2")
    with open_store(a, sign_key=gpg_key) as store:
        push(store)
    with open_store(b, sign_key=False) as store:
        assert fetch(store).status == "fast-forward"
        assert fetch(store).status == "up-to-date"


def test_rejected_push_rebuilds_local_commits_on_the_remote_tip(remote_and_clones, gpg_key):
    remote, a, b = remote_and_clones
    write_run(a, gpg_key, "a1")
    with open_store(a, sign_key=gpg_key) as store:
        push(store)
    with open_store(b, sign_key=gpg_key) as store:
        fetch(store)
    write_run(a, gpg_key, "a2")
    write_run(b, gpg_key, "b1")
    write_run(b, gpg_key, "b2")
    before = user_state(b)
    with open_store(a, sign_key=gpg_key) as store:
        push(store)
    with open_store(b, sign_key=gpg_key) as store:
        result = push(store)
    assert (result.status, result.rebuilt) == ("pushed", 2)
    assert user_state(b) == before
    shas = git(remote, "rev-list", "testlog").split()
    assert len(shas) == 4
    assert git(remote, "rev-list", "--merges", "testlog") == ""
    for sha in shas:
        git(remote, "verify-commit", sha)
    ledger = git(remote, "show", "testlog:ledger/coverage.ndjson").splitlines()
    assert [json.loads(x)["n"] for x in ledger] == ["a1", "a2", "b1", "b2"]
    files = git(remote, "ls-tree", "-r", "--name-only", "testlog").split()
    assert {"runs/a1.json", "runs/a2.json", "runs/b1.json", "runs/b2.json"} <= set(files)
    git(remote, "fsck", "--strict")


PUSHER = """
import sys
from gitstore import Append, push
from tests.store_helpers import open_store
clone, key, name = sys.argv[1], sys.argv[2], sys.argv[3]
for i in range(5):
    with open_store(clone, sign_key=key) as store:
        store.write({f"runs/{name}{i}.json": b"x", "ledger/l.ndjson": Append(f"{name}{i}\\n".encode())},
                    f"run {name}{i}")
        push(store, attempts=20)
"""


@pytest.mark.slow
def test_two_clones_pushing_at_the_same_time_lose_nothing(remote_and_clones, gpg_key):
    remote, a, b = remote_and_clones
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, str(c), gpg_key, n],
                              stderr=subprocess.PIPE) for c, n in ((a, "a"), (b, "b"))]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    shas = git(remote, "rev-list", "testlog").split()
    assert len(shas) == 10
    assert git(remote, "rev-list", "--merges", "testlog") == ""
    assert all(git(remote, "log", "-1", "--format=%G?", s).strip() == "G" for s in shas)
    lines = git(remote, "show", "testlog:ledger/l.ndjson").split()
    assert sorted(lines) == sorted(f"{n}{i}" for n in "ab" for i in range(5))


def test_fetch_errors_are_one_line(remote_and_clones, capsys):
    remote, a, b = remote_and_clones
    assert main(["-C", str(a), "fetch", "nosuchremote"]) == 1
    assert "no remote named 'nosuchremote'" in capsys.readouterr().err
    assert main(["-C", str(a), "fetch"]) == 1
    assert "has no log branch refs/heads/testlog" in capsys.readouterr().err
    assert main(["-C", str(a), "push"]) == 2        # nothing of the user's to push: input
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: no log branch refs/heads/testlog here")
    assert err.count("\n") == 1


def test_rebuilding_signed_commits_without_a_key_refuses(remote_and_clones, gpg_key):
    remote, a, b = remote_and_clones
    write_run(a, gpg_key, "a1")
    write_run(b, gpg_key, "b1")
    with open_store(a, sign_key=gpg_key) as store:
        push(store)
    with open_store(b, sign_key=False) as store:
        tip = store.tip
        with pytest.raises(GitStoreError, match="needs a signing key"):
            fetch(store)
        assert store.tip == tip


def test_fetch_and_push_by_path_and_relative_remote(remote_and_clones, gpg_key, capsys):
    remote, a, b = remote_and_clones
    write_run(a, gpg_key, "a1")
    assert main(["-C", str(a), "push", str(remote)]) == 0
    assert main(["-C", str(b), "fetch", f"file://{remote}"]) == 0
    assert git(b, "show", "testlog:runs/a1.json") == "a1"
    git(b, "remote", "add", "rel", "../remote.git")
    write_run(b, gpg_key, "b1")
    assert main(["-C", str(b), "push", "rel"]) == 0, capsys.readouterr().err
    assert git(remote, "show", "testlog:runs/b1.json") == "b1"
    assert main(["-C", str(a), "push", str(remote.parent / "missing.git")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: cannot push refs/heads/testlog to ") and \
        err.count("\n") == 1 and "fatal:" in err


def test_configured_branch_is_what_push_and_fetch_move(remote_and_clones, gpg_key):
    remote, a, b = remote_and_clones
    git(a, "config", "testlog.branch", "refs/heads/tl")
    with open_store(a, ref="refs/heads/tl", sign_key=gpg_key) as store:
        store.write({"x": b"1"}, "one")
    assert main(["-C", str(a), "push"]) == 0
    assert git(remote, "rev-parse", "tl") == git(a, "rev-parse", "tl")


def test_a_retention_epoch_is_never_rebuilt_on_the_remote_history(remote_and_clones, gpg_key,
                                                                  capsys):
    remote, a, b = remote_and_clones
    write_run(a, gpg_key, "a1")
    with open_store(a, sign_key=gpg_key) as store:
        push(store)
    with open_store(b, sign_key=gpg_key) as store:
        store.write({"retention/epoch.json": b"{}"}, "RETENTION_EPOCH",
                    {"Testlog-Event": "RETENTION_EPOCH"})
        tip = store.tip
    for command in ("fetch", "push"):
        assert main(["-C", str(b), command]) == 1
        err = capsys.readouterr().err
        assert "restarts at retention epoch" in err and err.count("\n") == 1
        assert git(b, "rev-parse", "testlog").strip() == tip
    assert git(remote, "rev-list", "--count", "testlog").strip() == "1"


def event(clone: Path, key: str, name: str) -> None:
    """A commit `verify` accepts: its artifact and one chronicle event."""
    with open_store(clone, sign_key=key) as store:
        commit_event(store, {f"runs/{name}.json": name.encode()}, event="COVERAGE_RECORDED",
                     artifact=f"runs/{name}.json", verdict="PASS", summary=f"event {name}")


def test_a_rebuilt_verified_tip_is_announced(remote_and_clones, gpg_key, tmp_path, capsys):
    remote, a, b = remote_and_clones
    keys = tmp_path / "trusted.asc"
    keys.write_text(gnupg.GPG().export_keys(gpg_key))
    git(b, "config", "user.signingkey", gpg_key)
    event(a, gpg_key, "a1")
    assert main(["-C", str(a), "push"]) == 0
    assert main(["-C", str(b), "fetch"]) == 0
    event(b, gpg_key, "b1")
    assert main(["-C", str(b), "verify", "--trusted-keys", str(keys)]) == 0
    event(a, gpg_key, "a2")
    assert main(["-C", str(a), "push"]) == 0
    capsys.readouterr()
    assert main(["-C", str(b), "fetch"]) == 0
    out = capsys.readouterr().out
    assert "rebuilt 1 local commit(s)" in out and "--accept-rewrite" in out
    assert main(["-C", str(b), "verify", "--trusted-keys", str(keys), "--accept-rewrite"]) == 0
    capsys.readouterr()
    assert main(["-C", str(b), "push"]) == 0
    assert "note:" not in capsys.readouterr().out
