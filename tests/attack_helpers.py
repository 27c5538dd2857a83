"""A shared log as an attacker uses it: a bare remote anyone may push to (git's defaults), an
attacker's clone that crafts log commits with git plumbing (`hash-object --literally`,
`mktree`, `commit-tree`) and pushes them with plain `git push`, and a victim's clone.

Nothing here uses git-testlog to write what the attacker writes: only git's own tools.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures import git, make_repo

LOG = "refs/heads/testlog"


@dataclass
class Shared:
    origin: Path         # the bare remote
    attacker: Path       # a clone that can push
    victim: Path         # a clone that fetches and reads

    def push(self, sha: str, ref: str = LOG) -> None:
        git(self.attacker, "push", "-q", "--force", "origin", f"{sha}:{ref}")

    def bypass_fetch(self) -> str:
        """The victim takes the remote log branch with plain git (no check of ours)."""
        git(self.victim, "fetch", "-q", "origin", f"+{LOG}:{LOG}")
        return git(self.victim, "rev-parse", LOG).strip()


def shared_log(tmp: Path, files: dict[str, str] | None = None) -> Shared:
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    attacker = make_repo(tmp / "attacker", files or {"README.md": "project\n"})
    git(attacker, "remote", "add", "origin", str(origin))
    git(attacker, "push", "-q", "origin", "main")
    victim = tmp / "victim"
    git(tmp, "clone", "-q", str(origin), str(victim))
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


def event_line(artifact: str, data: bytes, event: str = "TEST_SUITE_EXECUTED",
               verdict: str = "PASS", signature: str = "unsigned") -> bytes:
    from testlog.core.canonical import canonical_json
    return canonical_json({"artifact": artifact, "event": event,
                           "hash": hashlib.sha256(data).hexdigest(), "signature": signature,
                           "timestamp": "2026-01-01T00:00:00Z", "verdict": verdict}) + b"\n"


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


def event_of(repo: Path, sha: str) -> dict:
    return json.loads(git(repo, "show", f"{sha}:chronicle.ndjson").splitlines()[-1])
