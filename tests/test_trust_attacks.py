"""Attacks on a shared log, read side: crafted log commits (git plumbing) pushed with plain git
to the attacker's chain on a bare remote (`refs/testlog/chains/attacker`), to a chain named
like the victim's own, or to the remote's log branch of the first format. `git testlog fetch`
refuses such a chain in one line and updates nothing (no ref is created, not even one kept
apart); a victim who took one with plain `git fetch` gets one line from every reader, and
nothing is written outside the destination (the victim's home and clone are hashed before and
after)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from tests.attack_helpers import (
    CHAIN,
    LEGACY,
    Shared,
    blob,
    commit_like,
    files_state,
    folder,
    home_state,
    one_line,
    refs_of,
    shared_log,
    tree_of,
    with_entries,
)
from tests.audit_helpers import keys_file, other_key, record_run  # noqa: F401 (fixtures)
from tests.fixtures import git
from tests.replay_support import cli
from tests.store_helpers import open_store

DAY = date(2026, 1, 5)
VICTIMS_OWN = "refs/testlog/chains/victim"        # the chain the victim's push would publish


@pytest.fixture
def shared(tmp_path: Path, gpg_key: str) -> Shared:
    """A log with two runs on the attacker's chain, fetched by the victim through git testlog."""
    shared = shared_log(tmp_path)
    with open_store(shared.attacker, sign_key=gpg_key) as store:
        record_run(store, DAY, "unit")
        record_run(store, DAY, "unit", {"tests/test_a.py::test_one": "PASS"}, seed=2)
    assert cli("-C", str(shared.attacker), "push")[0] == 0
    assert cli("-C", str(shared.victim), "fetch")[0] == 0
    assert git(shared.victim, "rev-parse", CHAIN).strip() == \
        git(shared.attacker, "rev-parse", "testlog").strip()
    return shared


def nested(repo: Path, depth: int) -> str:
    tree = folder(repo, {b"x.json": b"{}"})
    for _ in range(depth):
        tree = with_entries(repo, folder(repo, {}), (b"40000", b"d", tree))
    return tree


# name -> what the crafted root tree gains (mode, name, id), given the attacker's clone
UNSAFE: dict[str, Callable[[Path], tuple[bytes, bytes, str]]] = {
    "dotdot": lambda r: (b"40000", b"..", folder(r, {b"pwned.txt": b"escaped\n"})),
    "dot": lambda r: (b"40000", b".", folder(r, {b"pwned.txt": b"x"})),
    "dotgit": lambda r: (b"40000", b".git", folder(r, {b"config": b"[core]\n\tfsmonitor = touch MARKER\n"})),
    "dotgit-windows": lambda r: (b"40000", b".GIT.", folder(r, {b"config": b"x"})),
    "symlink": lambda r: (b"120000", b"link", blob(r, b"/etc")),
    "submodule": lambda r: (b"160000", b"sub", "1" * 40),
    "escape-sequence": lambda r: (b"100644", b"runs\x1b]0;owned\x07.json", blob(r, b"{}")),
    "not-utf8": lambda r: (b"100644", b"\xff\xfe.json", blob(r, b"{}")),
    "slash-in-name": lambda r: (b"100644", b"a/../../x", blob(r, b"x")),
    "backslash": lambda r: (b"100644", b"..\\..\\x", blob(r, b"x")),
    "too-deep": lambda r: (b"40000", b"deep", nested(r, 40)),
}


def crafted(shared: Shared, gains: tuple[bytes, bytes, str], ref: str = CHAIN) -> str:
    """A commit on the attacker chain's tip: the tip's tree plus one entry, the tip's message;
    pushed to the remote's `ref`."""
    repo = shared.attacker
    tip = shared.remote_tip()
    sha = commit_like(repo, tip, with_entries(repo, tree_of(repo, tip), gains), tip)
    shared.push(sha, ref)
    return sha


def refused_line(err: str, writer: str, sha: str) -> str:
    """fetch's one line (stderr) for a chain it refuses whole."""
    assert err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err, err
    assert err.startswith(f"refused      {writer} at {sha[:10]}: its history holds an unsafe "
                          "entry, "), err
    assert err.endswith("; nothing was updated\n"), err
    return err


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_fetch_refuses_unsafe_history_and_updates_nothing(shared: Shared, kind: str):
    """New model: the chain is refused (exit 1, one line on stderr) and no ref is created or
    moved, none kept apart in quarantine either: there is nothing safe to look at."""
    sha = crafted(shared, UNSAFE[kind](shared.attacker))
    before = refs_of(shared.victim), files_state(shared.victim)
    code, out, err = cli("-C", str(shared.victim), "fetch")
    assert code == 1 and out == "", out
    refused_line(err, "attacker", sha)
    assert (refs_of(shared.victim), files_state(shared.victim)) == before


@pytest.mark.parametrize("kind", ["dotdot", "dotgit", "symlink"])
def test_fetch_refuses_unsafe_history_on_the_own_chain(shared: Shared, kind: str):
    """Pushed under the victim's own writer id, the chain would fast-forward the victim's own
    log branch: refused in one line, the branch not created."""
    crafted(shared, UNSAFE[kind](shared.attacker), VICTIMS_OWN)
    before = refs_of(shared.victim), files_state(shared.victim)
    code, out, err = cli("-C", str(shared.victim), "fetch")
    assert code == 1, out
    assert "refusing the remote's chain victim (this clone's own): its history holds an " \
           "unsafe entry" in one_line(err) and "nothing was updated" in err
    assert (refs_of(shared.victim), files_state(shared.victim)) == before
    assert git(shared.victim, "rev-parse", "--verify", "-q", "testlog", check=False) == ""


def test_fetch_refuses_an_unsafe_log_branch_of_the_first_format(shared: Shared):
    """A remote's refs/heads/testlog is read as a legacy chain: refused alike."""
    sha = crafted(shared, UNSAFE["dotdot"](shared.attacker), LEGACY)
    before = refs_of(shared.victim)
    code, out, err = cli("-C", str(shared.victim), "fetch")
    assert code == 1 and "up-to-date   attacker" in out
    refused_line(err, "legacy:origin", sha)
    assert refs_of(shared.victim) == before


def test_fetch_names_the_entry_escaped(shared: Shared):
    sha = crafted(shared, UNSAFE["escape-sequence"](shared.attacker))
    code, _out, err = cli("-C", str(shared.victim), "fetch")
    assert code == 1 and "runs\\x1b]0;owned\\x07.json: a name with a control character" in \
        refused_line(err, "attacker", sha)


def test_a_safe_history_is_still_fetched(shared: Shared):
    with open_store(shared.attacker, sign_key=False) as store:
        record_run(store, DAY, "more")
    assert cli("-C", str(shared.attacker), "push")[0] == 0
    code, out, _ = cli("-C", str(shared.victim), "fetch")
    assert code == 0 and "fast-forward attacker" in out


@pytest.mark.parametrize("refspec", [
    None,                                                       # git's default refspec
    "+refs/testlog/chains/*:refs/remotes/origin/chains/*",     # a namespace of the user's
])
def test_history_a_plain_git_fetch_brought_is_checked_again(shared: Shared, refspec):
    """Commits a plain `git fetch` brought (the objects are here, a ref of the user's names
    them) are not trusted: git testlog fetch still checks everything the chain here lacks."""
    ref = LEGACY if refspec is None else CHAIN
    if refspec is None:                         # the first format's branch: fetched by default
        honest = shared.remote_tip()
        shared.push(honest, LEGACY)
        assert cli("-C", str(shared.victim), "fetch")[0] == 0
    sha = crafted(shared, UNSAFE["dotdot"](shared.attacker), ref)
    git(shared.victim, "fetch", "-q", "origin", *([refspec] if refspec else []))
    git(shared.victim, "cat-file", "-e", sha)                  # here, named by a ref
    before = refs_of(shared.victim)
    code, _out, err = cli("-C", str(shared.victim), "fetch")
    assert code == 1
    refused_line(err, "legacy:origin" if refspec is None else "attacker", sha)
    assert refs_of(shared.victim) == before


# -- a victim who took the crafted commit with plain git ----------------------------------------

@pytest.fixture
def taken(shared: Shared, gpg_key: str) -> tuple[Shared, str]:
    """The victim holds, on the attacker's chain, a run commit whose tree has `..` (and
    `runs/..`) entries: taken with plain `git fetch` to where git testlog fetch keeps it. The
    victim has a run of its own that day (a seal of the day reads every chain)."""
    with open_store(shared.victim, sign_key=gpg_key) as store:
        record_run(store, DAY, "mine")
    repo = shared.attacker
    sha = crafted(shared, UNSAFE["dotdot"](repo))
    runs = git(repo, "rev-parse", f"{sha}:runs").strip()
    inner = with_entries(repo, runs, (b"40000", b"..", folder(repo, {b"pwned-too.txt": b"x"})))
    sha = commit_like(repo, sha, with_entries(repo, tree_of(repo, sha), (b"40000", b"runs", inner)),
                      git(repo, "rev-parse", f"{sha}^").strip())
    shared.push(sha)
    assert shared.bypass_fetch() == sha
    return shared, sha


def assert_untouched(shared: Shared, tmp_path: Path, run: Callable[[], None]) -> None:
    before = home_state(), files_state(tmp_path, skip=(".git", "origin.git"))
    run()
    after = home_state(), files_state(tmp_path, skip=(".git", "origin.git"))
    assert after == before
    assert not list(tmp_path.rglob("pwned*"))


def test_export_writes_nothing_outside_its_directory(taken, tmp_path: Path):
    shared, sha = taken
    out = tmp_path / "victim-exports" / "run"
    out.parent.mkdir()

    def export() -> None:
        code, stdout, err = cli("-C", str(shared.victim), "export", sha, "-o", str(out))
        assert code == 1 and stdout == "" and "unsafe tree on the log branch" in one_line(err)
    assert_untouched(shared, tmp_path, export)
    assert not out.exists() and list(out.parent.iterdir()) == []
    assert not (tmp_path / "victim-exports" / "pwned.txt").exists()


@pytest.mark.parametrize("argv", [
    ["show", "{sha}"], ["show", "{sha}", "--json"], ["compare", "{sha}", "{sha}"],
    ["replay", "{sha}", "--no-sign", "--python", sys.executable],
    ["seal", "--date", DAY.isoformat(), "--sign-key", "{key}"],
], ids=lambda a: a[0] + ("-json" if "--json" in a else ""))
def test_every_reader_refuses_it_in_one_line(taken, tmp_path: Path, gpg_key: str, argv):
    shared, sha = taken
    tip = refs_of(shared.victim)

    def read() -> None:
        code, out, err = cli("-C", str(shared.victim),
                             *[a.format(sha=sha, key=gpg_key) for a in argv])
        assert code == 1 and out == "", out
        assert "unsafe tree on the log branch" in one_line(err)
        assert "'..' segment" in err
    assert_untouched(shared, tmp_path, read)
    assert refs_of(shared.victim) == tip          # seal committed nothing


def test_verify_fails_the_unsafe_trees(taken, keys_file: Path):
    shared, sha = taken
    code, out, err = cli("-C", str(shared.victim), "verify", "--trusted-keys", str(keys_file))
    assert code == 1 and err == ""
    assert f"FAIL {sha[:12]} ..: unsafe entry: a '..' segment" in out
    assert f"FAIL {sha[:12]} runs/..: unsafe entry: a '..' segment" in out
    assert "\x1b" not in out


def test_log_still_lists_it(taken):
    shared, sha = taken
    code, out, _ = cli("-C", str(shared.victim), "log")
    assert code == 0 and sha[:10] in out
