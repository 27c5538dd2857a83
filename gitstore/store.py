"""The façade: one signed commit per write on an orphan branch; HEAD, index and tree untouched."""
from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager

from dulwich.config import StackedConfig
from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository
from dulwich.file import FileLocked
from dulwich.objects import Commit, ObjectID, ShaFile
from dulwich.refs import Ref
from dulwich.repo import Repo, UnsupportedExtension, UnsupportedVersion, get_user_identity

from gitstore import changes as ch
from gitstore.backgroundpack import pack_in_background, spawn_packer
from gitstore.commits import compose_message, new_commit
from gitstore.conventions import GENERIC, Conventions
from gitstore.errors import GitStoreError, GitStoreInputError
from gitstore.gitcmd import git_config, git_pipeline, is_ancestor, run_git
from gitstore.history import LogEntry, parse_cat_file_batch
from gitstore.location import full_ref, locate
from gitstore.locking import add_object, clear_stale_ref_lock, write_lock
from gitstore.objectfiles import bulk_pack_compression, loose_compression, write_pack
from gitstore.packing import (
    PACK_EVERY_WRITES,
    adopt_pack,
    count_write,
    pack_now,
    retry_if_packed_meanwhile,
)
from gitstore.reading import read_commit
from gitstore.signing import Signer, verify

CAS_ATTEMPTS = 8
# A write this big goes straight into one pack instead of loose files.
BULK_OBJECTS = 500
BULK_BYTES = 1024 * 1024


def committer_identity(cwd: str, config_stack: StackedConfig) -> bytes:
    """`Name <email>` as git would commit it (honours includeIf and GIT_COMMITTER_*)."""
    proc = run_git(["var", "GIT_COMMITTER_IDENT"], cwd, check=False)
    ident = proc.stdout.decode("utf-8", errors="replace").strip().rsplit(" ", 2)[0]
    if proc.returncode == 0 and ident:
        return ident.encode("utf-8")
    return get_user_identity(config_stack, kind="COMMITTER")


def open_repo(common_dir: str) -> Repo:
    """The common git dir opened as if bare: dulwich sees no HEAD, index or working tree."""
    try:
        return Repo(common_dir)
    except (UnsupportedExtension, UnsupportedVersion, NotGitRepository) as exc:
        raise GitStoreError(f"cannot open the repository at {common_dir}: {exc}") from exc


def resolve_signer(cwd: str, sign_key: str | bool | None) -> Signer | None:
    """sign_key: a key id, None (git's user.signingkey if set) or False (never sign)."""
    if sign_key is False:
        return None
    key = sign_key if isinstance(sign_key, str) and sign_key else git_config(cwd, "user.signingkey")
    return Signer(key, git_config(cwd, "gpg.program")) if key else None


def checked_out_branches(common_dir: str) -> dict[str, str]:
    """{branch ref: worktree path} for every worktree (the main one included)."""
    out = run_git(["worktree", "list", "--porcelain"], common_dir, check=False).stdout.decode()
    found, path = {}, ""
    for line in out.splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree "):]
        elif line.startswith("branch "):
            found[line[len("branch "):]] = path
    return found


def refuse_checked_out(common_dir: str, ref: str) -> None:
    where = checked_out_branches(common_dir).get(ref)
    if where is not None:
        raise GitStoreError(f"{ref} is checked out in {where}: the log branch must not be a "
                            "branch you work on (choose another log branch, or check out "
                            "something else there)")


class LogStore:
    """The log branch of one repository. Open with `LogStore.open`."""

    def __init__(self, common_dir: str, git_dir: str, work_tree: str | None, ref: str,
                 signer: Signer | None, lock_timeout: float,
                 conventions: Conventions = GENERIC) -> None:
        self.common_dir, self.git_dir, self.work_tree = common_dir, git_dir, work_tree
        self.ref, self.signer, self.lock_timeout = ref, signer, lock_timeout
        self.conventions = conventions
        self.repo = open_repo(common_dir)
        self.state_dir = os.path.join(common_dir, conventions.state_dir_name)
        self.identity = committer_identity(common_dir, self.repo.get_config_stack())
        self.pack_every = PACK_EVERY_WRITES
        self.loose_level = loose_compression(self.repo.get_config())
        self.pack_level = bulk_pack_compression(self.repo.get_config())
        self.pack_in_background = pack_in_background(self.repo.get_config_stack(),
                                                     conventions.config_section)

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", ref: str | None = None,
             sign_key: str | bool | None = None, lock_timeout: float = 60.0,
             conventions: Conventions = GENERIC) -> LogStore:
        """The log branch `ref` (default: the conventions' default ref) of the repository
        holding `path`; sign_key as for resolve_signer."""
        common, git_dir, top = locate(path)
        return cls(common, git_dir, top, full_ref(conventions.default_ref if ref is None else ref),
                   resolve_signer(common, sign_key), lock_timeout, conventions)

    def close(self) -> None:
        self.repo.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    @property
    def tip(self) -> str | None:
        """The branch's current commit, or None before the first write."""
        try:
            return self.repo.refs[Ref(self.ref.encode())].decode()
        except KeyError:
            return None

    def require_tip(self) -> str:
        tip = self.tip
        if tip is None:
            raise GitStoreInputError(f"no log branch {self.ref} here "
                                f"({self.conventions.no_branch_hint})")
        return tip

    def resolve(self, rev: str | None = None) -> str:
        """Full sha of a commit on the log branch: a sha, an abbreviation, or `<branch>~2`."""
        tip = self.require_tip()
        if rev is None:
            return tip
        proc = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                       self.common_dir, check=False)
        sha = proc.stdout.decode().strip()
        if proc.returncode != 0 or not sha:
            raise GitStoreInputError(f"unknown revision {rev!r} ({self.conventions.revision_hint})")
        if sha != tip and not is_ancestor(self.common_dir, sha, tip):
            raise GitStoreInputError(f"{rev} is not a commit on the log branch {self.ref}")
        return sha

    def _commit(self, sha: str) -> Commit:
        return read_commit(self.repo.object_store, sha.encode())

    def _tree_of(self, rev: str | None) -> bytes:
        return self._commit(self.resolve(rev)).tree

    @retry_if_packed_meanwhile
    def read(self, path: str, rev: str | None = None) -> bytes:
        """The bytes of `path` at `rev` (default: the tip)."""
        tree = self._tree_of(rev)
        blob = ch.blob_at(self.repo.object_store, tree, path.encode())
        if blob is None:
            raise GitStoreError(f"no file {path} at {(rev or 'the tip')} of {self.ref}")
        return blob.data

    @retry_if_packed_meanwhile
    def exists(self, path: str, rev: str | None = None) -> bool:
        return ch.blob_at(self.repo.object_store, self._tree_of(rev), path.encode()) is not None

    @retry_if_packed_meanwhile
    def paths(self, prefix: str = "", rev: str | None = None) -> list[str]:
        """Sorted file paths at `rev` that start with `prefix`."""
        store = self.repo.object_store
        entries = store.iter_tree_contents(ObjectID(self._tree_of(rev)))
        found = (e.path.decode() for e in entries)
        return sorted(p for p in found if p.startswith(prefix))

    @retry_if_packed_meanwhile
    def changed_paths(self, rev: str | None = None) -> list[tuple[str, str]]:
        """(A|M|D, path) for each file the commit changed against its first parent."""
        store = self.repo.object_store
        commit = self._commit(self.resolve(rev))
        old = read_commit(store, commit.parents[0]).tree if commit.parents else None
        kinds = {"add": "A", "modify": "M", "delete": "D"}
        out = []
        for change in tree_changes(store, old, commit.tree):
            entry = change.new if change.type != "delete" else change.old
            if entry is not None:
                out.append((kinds.get(change.type, "M"), entry.path.decode()))
        return sorted(out, key=lambda item: item[1])

    def history(self, rev: str | None = None, limit: int | None = None,
                verify_signatures: bool = False) -> list[LogEntry]:
        """Commits from `rev` (default the tip) back to the root, newest first."""
        if limit is not None and limit < 0:
            raise GitStoreInputError(f"cannot show {limit} commits: give a count of 0 or more")
        if (self.tip is None and rev is None) or limit == 0:
            return []
        start = self.resolve(rev)
        walk = ["rev-list", start] + ([f"--max-count={limit}"] if limit else [])
        raw = git_pipeline(walk, ["cat-file", "--batch", "--buffer"], self.common_dir)
        entries = parse_cat_file_batch(raw)
        if verify_signatures:
            program = git_config(self.common_dir, "gpg.program")
            for entry in entries:
                if entry.gpgsig:
                    entry.signature, entry.signer = verify(entry.payload, entry.gpgsig, program)
        return entries

    # -- writing -------------------------------------------------------------------------

    def write(self, changes: Mapping[str, ch.Change], message: str,
              trailers: Mapping[str, str] | None = None) -> str:
        """One commit: bytes put, Append(bytes) appended, None deleted. Returns its sha."""
        encoded = ch.validated(changes)
        text = compose_message(message, trailers)
        with self.locked():
            sha, written = self._commit_with_retry(encoded, text)
            self.after_write(sha, written)
        return sha

    def locked(self) -> AbstractContextManager[None]:
        """The writers' lock: hold it around read-tip → build → compare-and-swap.

        Taking it also refuses a branch checked out in a worktree: moving that ref would move
        someone's HEAD and leave their index and files out of step with it.
        """
        refuse_checked_out(self.common_dir, self.ref)
        return write_lock(os.path.join(self.state_dir, "write.lock"), self.lock_timeout)

    def after_write(self, tip: str, written: int = 0) -> None:
        """Count a write (and the disk bytes it added) towards packing; under the lock. When
        due, packing starts detached (backgroundpack.py) or, if configured so, runs here."""
        if not count_write(self.common_dir, self.state_dir, self.pack_every, written):
            return
        if self.pack_in_background:
            spawn_packer(self.common_dir, self.state_dir, self.ref, self.pack_every)
        else:
            pack_now(self.common_dir, self.state_dir, tip)

    def _commit_with_retry(self, encoded: dict[bytes, ch.Change],
                           message: bytes) -> tuple[str, int]:
        """(the new tip, disk bytes written, lost attempts included)."""
        total = 0
        for _ in range(CAS_ATTEMPTS):
            tip = self.tip
            commit_id, written = self._build_commit(encoded, message, tip)
            total += written
            if self.swap_tip(tip, commit_id):
                return commit_id.decode(), total
        raise GitStoreError(f"{self.ref} kept moving under another writer; nothing was written")

    def _build_commit(self, encoded: dict[bytes, ch.Change], message: bytes,
                      parent: str | None, author: bytes | None = None,
                      author_time: int | None = None) -> tuple[bytes, int]:
        """Build and sign in memory, then store: a failed signature leaves no object behind."""
        store = self.repo.object_store
        base_tree = self._commit(parent).tree if parent else None
        tree, objects = ch.apply_changes(store, base_tree, encoded)
        commit = new_commit(tree, [parent.encode()] if parent else [], message, self.identity,
                            self.signer, author=author, author_time=author_time)
        written = self.add_objects(objects)
        written += add_object(store, commit, self.loose_level)   # last: nothing refers to it yet
        return commit.id, written

    def rebuild_commit(self, sha: str, parent: str) -> tuple[bytes, int]:
        """The commit `sha` re-applied on `parent`: its puts and deletes, its appends appended
        (a file whose old bytes prefix its new ones was appended to), author kept, re-signed."""
        store = self.repo.object_store
        commit = self._commit(sha)
        if commit.gpgsig and self.signer is None:
            raise GitStoreError(f"commit {sha[:10]} is signed: rebuilding it needs a signing key "
                                "(set user.signingkey or pass a key)")
        old_tree = read_commit(store, commit.parents[0]).tree if commit.parents else None
        replayed = ch.replayed_changes(store, old_tree, commit.tree,
                                       self.conventions.append_only_suffixes)
        return self._build_commit(replayed, commit.message, parent, commit.author,
                                  commit.author_time)

    def add_objects(self, objects: list[ShaFile]) -> int:
        """Write new objects: one pack for a bulk write, loose objects otherwise.

        Returns the disk bytes written: they count towards the next packing (see count_write).
        """
        store = self.repo.object_store
        unique = list({o.id: o for o in objects}.values())
        if len(unique) >= BULK_OBJECTS or sum(o.raw_length() for o in unique) >= BULK_BYTES:
            # No per-object "already stored?" probe: at this size it costs more than the
            # occasional duplicate, which git tolerates and the next merge of packs drops.
            name = write_pack(store, unique, self.pack_level)
            return adopt_pack(self.state_dir, self.common_dir, name)
        return sum(add_object(store, obj, self.loose_level) for obj in unique)

    def swap_tip(self, old: str | None, new: bytes) -> bool:
        """Compare-and-swap of the ref; False when another writer moved it first."""
        clear_stale_ref_lock(os.path.join(self.common_dir, self.ref))
        refs = self.repo.refs
        try:
            name, message = Ref(self.ref.encode()), self.conventions.reflog_message
            if old is None:
                return refs.add_if_new(name, ObjectID(new), message=message)
            return refs.set_if_equals(name, ObjectID(old.encode()), ObjectID(new), message=message)
        except FileLocked:
            return False
