"""A shared log as an attacker uses it: a bare remote anyone may push to (git's defaults), an
attacker's clone that crafts log commits with git plumbing (`hash-object --literally`,
`mktree`, `commit-tree`) and pushes them with plain `git push` to its chain on the remote
(`refs/testlog/chains/attacker`: one chain per writer), and a victim's clone that takes them
with `git testlog fetch`, or with plain `git fetch` (no check of ours).

Nothing here uses git-testlog to write what the attacker writes: only git's own tools (the
event a commit carries in its `Testlog-Event-Record` trailer, and the digest of its parent's
that `Testlog-Previous-Event` names, are computed here as anyone can).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testlog.core import schema
from testlog.core.canonical import canonical_json
from testlog.core.layout import (
    TRAILER_EVENT,
    TRAILER_EVENT_RECORD,
    TRAILER_PREVIOUS_EVENT,
    TRAILER_SCHEMA,
)
from tests.fixtures import git, make_repo
from tests.recorder_helpers import event_at

ATTACKER = "attacker"                             # the attacker clone's writer id
CHAIN = f"refs/testlog/chains/{ATTACKER}"         # its chain, on the remote and once fetched
LEGACY = "refs/heads/testlog"                     # a remote's log branch of the first format


@dataclass
class Shared:
    origin: Path         # the bare remote
    attacker: Path       # a clone that can push (writer id `attacker`)
    victim: Path         # a clone that fetches and reads (writer id `victim`)

    def push(self, sha: str, ref: str = CHAIN) -> None:
        """The attacker puts `sha` on the remote's `ref` (forced: git's default remote takes
        it)."""
        git(self.attacker, "push", "-q", "--force", "origin", f"{sha}:{ref}")

    def remote_tip(self, ref: str = CHAIN) -> str:
        """What the remote's `ref` holds now, its objects brought to the attacker's clone."""
        git(self.attacker, "fetch", "-q", "origin", f"+{ref}:refs/attack/tip")
        return git(self.attacker, "rev-parse", "refs/attack/tip").strip()

    def bypass_fetch(self, ref: str = CHAIN) -> str:
        """The victim takes the attacker's chain with plain git (no check of ours) to where
        git testlog fetch would keep it."""
        git(self.victim, "fetch", "-q", "origin", f"+{ref}:{ref}")
        return git(self.victim, "rev-parse", ref).strip()


def shared_log(tmp: Path, files: dict[str, str] | None = None) -> Shared:
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    attacker = make_repo(tmp / "attacker", files or {"README.md": "project\n"})
    git(attacker, "config", "testlog.writer", ATTACKER)
    git(attacker, "remote", "add", "origin", str(origin))
    git(attacker, "push", "-q", "origin", "main")
    victim = tmp / "victim"
    git(tmp, "clone", "-q", str(origin), str(victim))
    git(victim, "config", "testlog.writer", "victim")
    return Shared(origin, attacker, victim)


# -- crafting objects with plumbing ------------------------------------------------------------

def blob(repo: Path, data: bytes) -> str:
    return git(repo, "hash-object", "-w", "--stdin", input=data).strip()


def tree_entries(repo: Path, tree: str) -> list[tuple[bytes, bytes, bytes]]:
    """(mode, name, 20-byte id) of a tree, read raw (`git cat-file tree`)."""
    import subprocess
    raw = subprocess.run(["git", "cat-file", "tree", tree], cwd=repo, capture_output=True,
                         check=True).stdout
    out, pos = [], 0
    while pos < len(raw):
        space, nul = raw.index(b" ", pos), raw.index(b"\0", pos)
        out.append((raw[pos:space], raw[space + 1:nul], raw[nul + 1:nul + 21]))
        pos = nul + 21
    return out


def raw_tree(repo: Path, entries: list[tuple[bytes, bytes, bytes]]) -> str:
    """A tree object holding exactly these entries, whatever git would think of them."""
    def order(entry: tuple[bytes, bytes, bytes]) -> bytes:
        return entry[1] + (b"/" if entry[0] == b"40000" else b"")
    data = b"".join(m + b" " + n + b"\0" + s for m, n, s in sorted(entries, key=order))
    return git(repo, "hash-object", "--literally", "-t", "tree", "-w", "--stdin",
               input=data).strip()


def with_entries(repo: Path, tree: str, *added: tuple[bytes, bytes, str]) -> str:
    """`tree` plus entries (mode, name, hex id), replacing same-named ones."""
    names = {name for _, name, _ in added}
    kept = [e for e in tree_entries(repo, tree) if e[1] not in names]
    return raw_tree(repo, kept + [(m, n, bytes.fromhex(s)) for m, n, s in added])


def folder(repo: Path, files: dict[bytes, bytes]) -> str:
    """A tree of plain files (name -> content), names taken as given."""
    return raw_tree(repo, [(b"100644", name, bytes.fromhex(blob(repo, data)))
                           for name, data in files.items()])


def commit_like(repo: Path, template: str, tree: str, parent: str | None) -> str:
    """A commit of `tree` on `parent` with the message (event, trailers) of `template`."""
    message = git(repo, "log", "-1", "--format=%B", template)
    args = ["commit-tree", tree] + (["-p", parent] if parent else [])
    return git(repo, *args, "-F", "-", input=message.encode()).strip()


def tree_of(repo: Path, rev: str) -> str:
    return git(repo, "rev-parse", f"{rev}^{{tree}}").strip()


# -- events, as commits carry them ---------------------------------------------------------------

def event_line(artifact: str, data: bytes, event: str = "TEST_SUITE_EXECUTED",
               verdict: str = "PASS", signature: str = "unsigned") -> bytes:
    """An event for `artifact` holding `data`, canonical JSON: the value of a commit's
    Testlog-Event-Record trailer (and, in the first format, a chronicle line)."""
    return canonical_json({"artifact": artifact, "event": event,
                           "hash": hashlib.sha256(data).hexdigest(), "signature": signature,
                           "timestamp": "2026-01-01T00:00:00Z", "verdict": verdict})


def event_digest(event: bytes) -> str:
    """What Testlog-Previous-Event says of the parent's event (its canonical JSON)."""
    return hashlib.sha256(canonical_json(json.loads(event))).hexdigest()


def previous_event(repo: Path, parent: str | None) -> bytes | None:
    """The event `parent` carries (canonical JSON), None for no parent."""
    return None if parent is None else canonical_json(event_at(repo, parent))


def with_event(message: str, event: bytes, previous: bytes | None) -> str:
    """`message` (a log commit's: subject and trailers) carrying `event` as its
    Testlog-Event-Record and the digest of `previous` as its Testlog-Previous-Event, as
    git-testlog writes them (the link last; none on a root commit)."""
    kept = [line for line in message.rstrip("\n").split("\n")
            if not line.startswith((f"{TRAILER_EVENT_RECORD}: ", f"{TRAILER_PREVIOUS_EVENT}: "))]
    kept.append(f"{TRAILER_EVENT_RECORD}: {event.decode()}")
    if previous is not None:
        kept.append(f"{TRAILER_PREVIOUS_EVENT}: {event_digest(previous)}")
    return "\n".join(kept) + "\n"


def event_message(subject: str, event: bytes, previous: bytes | None,
                  trailers: dict[str, str] | None = None) -> str:
    """A message as commit_event writes it: the subject, Testlog-Event, the caller's
    trailers, the commit format, the event and the link to the parent's."""
    name = json.loads(event)["event"]
    lines = [f"{TRAILER_EVENT}: {name}", *(f"{k}: {v}" for k, v in (trailers or {}).items()),
             f"{TRAILER_SCHEMA}: {schema.COMMIT}"]
    return with_event(subject + "\n\n" + "\n".join(lines) + "\n", event, previous)


def commit_message(repo: Path, tree: str, parent: str | None, message: str,
                   key: str | None = None) -> str:
    """`git commit-tree` of `tree` on `parent` with `message`, signed with `key` if given."""
    args = ["commit-tree", tree] + (["-p", parent] if parent else []) + (
        [f"-S{key}"] if key else [])
    return git(repo, *args, "-F", "-", input=message.encode()).strip()


def forged_like(repo: Path, template: str, tree: str, parent: str | None, artifact: str,
                data: bytes, key: str | None = None) -> str:
    """A commit of `tree` on `parent` with the message of `template` (its trailers) and a new
    event: `artifact` holding `data`, linked to the parent's event. Consistent in every way
    git-testlog checks but its signature."""
    event = event_at(repo, template)
    line = event_line(artifact, data, event["event"], event["verdict"],
                      "unsigned" if key is None else f"gpg:{key}")
    message = with_event(git(repo, "log", "-1", "--format=%B", template), line,
                         previous_event(repo, parent))
    return commit_message(repo, tree, parent, message, key)


# -- what the victim has ------------------------------------------------------------------------

def files_state(root: Path, skip: tuple[str, ...] = (".git",)) -> dict[str, str]:
    """SHA-256 of every regular file and symlink target under `root` (sockets and the like
    are left out), `skip` folders aside."""
    state = {}
    for folder_, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in names:
            path = os.path.join(folder_, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                state[path] = "-> " + os.readlink(path)
            elif stat.S_ISREG(mode):
                with open(path, "rb") as handle:
                    state[path] = hashlib.sha256(handle.read()).hexdigest()
    return state


def home_state() -> dict[str, str]:
    return files_state(Path(os.environ["HOME"]), skip=())


def refs_of(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("git-testlog: error: "), err
    assert "Traceback" not in err and "\x1b" not in err, err
    return err


def event_of(repo: Path, sha: str) -> dict[str, Any]:
    """The event commit `sha` carries (its Testlog-Event-Record trailer)."""
    return event_at(repo, sha)
