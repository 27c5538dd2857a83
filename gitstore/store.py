"""The façade: one signed commit per write on an orphan branch; HEAD, index and tree untouched."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from dulwich.config import StackedConfig
from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository
from dulwich.file import FileLocked
from dulwich.objects import Commit, ObjectID, ShaFile, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo, UnsupportedExtension, UnsupportedVersion, get_user_identity

from gitstore import changes as ch
from gitstore.backgroundpack import pack_in_background, spawn_packer
from gitstore.commits import compose_message, new_commit
from gitstore.conventions import GENERIC, Conventions
from gitstore.errors import GitStoreError, GitStoreInputError
from gitstore.gitcmd import git_config, git_pipeline, is_ancestor, refs_matching, run_git
from gitstore.history import LogEntry, parse_cat_file_batch, parse_raw_commit
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
from gitstore.safetrees import SAFE_TREES, SafeTrees
from gitstore.signer import DEFAULT_SIGN_TIMEOUT, Signer
from gitstore.signing import GpgSigner
from gitstore.signing import verify as gpg_verify
from gitstore.sigstatus import UNKNOWN_KEY
from gitstore.sshsigning import AllowedSigners, SshSigner, is_ssh_signature
from gitstore.treecheck import check_tree

CAS_ATTEMPTS = 8
# Trailers computed from the commit a write is built on (its sha, None for the first).
ParentTrailers = Callable[[str | None], Mapping[str, str]]
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


def resolve_signer(cwd: str, sign_key: str | bool | None,
                   timeout: float = DEFAULT_SIGN_TIMEOUT) -> Signer | None:
    """sign_key: a key, None (git's user.signingkey if set) or False (never sign). As git
    does, gpg.format picks OpenPGP (gpg) or SSH (ssh-keygen); each call to either ends within
    `timeout` seconds."""
    if sign_key is False:
        return None
    key = sign_key if isinstance(sign_key, str) and sign_key else git_config(cwd, "user.signingkey")
    if not key:
        return None
    form = (git_config(cwd, "gpg.format") or "openpgp").lower()
    if form == "ssh":
        return SshSigner(key, git_config(cwd, "gpg.ssh.program"), timeout)
    if form == "x509":
        raise GitStoreError("gpg.format=x509 (X.509 signing with gpgsm) is not supported: sign "
                            "with OpenPGP (unset gpg.format) or SSH (gpg.format=ssh)")
    if form != "openpgp":
        raise GitStoreError(f"gpg.format={form} is not a signature format git knows "
                            "(openpgp, ssh or x509)")
    program = git_config(cwd, "gpg.openpgp.program") or git_config(cwd, "gpg.program")
    return GpgSigner(key, program, timeout)


class ConfiguredVerifier:
    """Commit signatures judged as `git verify-commit` would judge them here: OpenPGP by gpg
    and its keyring, SSH by ssh-keygen and gpg.ssh.allowedSignersFile (read once)."""

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self.gpg_program = git_config(cwd, "gpg.openpgp.program") or git_config(cwd, "gpg.program")
        self._allowed: AllowedSigners | None | bool = False      # False: not read yet

    def __call__(self, payload: bytes, signature: bytes) -> tuple[str, str | None]:
        if not is_ssh_signature(signature):
            return gpg_verify(payload, signature, self.gpg_program)
        allowed = self.allowed_signers()
        return allowed.check(payload, signature) if allowed else (UNKNOWN_KEY, None)

    def allowed_signers(self) -> AllowedSigners | None:
        if self._allowed is False:
            path = os.path.expanduser(git_config(self.cwd, "gpg.ssh.allowedSignersFile") or "")
            try:
                with open(path, "rb") as handle:
                    self._allowed = AllowedSigners.from_file(
                        path, handle.read(), git_config(self.cwd, "gpg.ssh.program"))
            except OSError:
                self._allowed = None
        return self._allowed if isinstance(self._allowed, AllowedSigners) else None


def linked_message(message: str, trailers: Mapping[str, str] | None,
                   parent_trailers: ParentTrailers | None, parent: str | None) -> bytes:
    """The commit message with the trailers, those that depend on `parent` included."""
    extra = parent_trailers(parent) if parent_trailers else {}
    return compose_message(message, {**(trailers or {}), **extra})


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
        self._told_remote_copy = False
        self.repo = open_repo(common_dir)
        self.state_dir = os.path.join(common_dir, conventions.state_dir_name)
        self.identity = committer_identity(common_dir, self.repo.get_config_stack())
        self.pack_every = PACK_EVERY_WRITES
        self.loose_level = loose_compression(self.repo.get_config())
        self.pack_level = bulk_pack_compression(self.repo.get_config())
        self.pack_in_background = pack_in_background(self.repo.get_config_stack(),
                                                     conventions.config_section)
        # Trees checked by treecheck (nothing unsafe in them), remembered between processes.
        self.safe_trees = SafeTrees(os.path.join(self.state_dir, SAFE_TREES))

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", ref: str | None = None,
             sign_key: str | bool | None = None, lock_timeout: float = 60.0,
             conventions: Conventions = GENERIC,
             sign_timeout: float = DEFAULT_SIGN_TIMEOUT) -> LogStore:
        """The log branch `ref` (default: the conventions' default ref) of the repository
        holding `path`; sign_key and sign_timeout as for resolve_signer."""
        common, git_dir, top = locate(path)
        return cls(common, git_dir, top, full_ref(conventions.default_ref if ref is None else ref),
                   resolve_signer(common, sign_key, sign_timeout), lock_timeout, conventions)

    def close(self) -> None:
        self.safe_trees.save()
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

    def chains(self) -> dict[str, str]:
        """{ref: tip} of every chain of the log: the store's own branch first (when it exists),
        then the chains of other writers (refs under the conventions' chain prefixes), by name."""
        found = {self.ref: self.tip} if self.tip else {}
        found.update((ref, sha) for ref, sha in self._refs(self.conventions.chain_prefixes)
                     if ref not in found)
        if not found and self.ref.startswith("refs/heads/"):
            copies = self._refs([f"refs/remotes/*/{self.ref[len('refs/heads/'):]}"])
            if copies and not self._told_remote_copy:
                self._told_remote_copy = True
                self.conventions.notice(
                    f"note: no log here yet; reading {', '.join(ref for ref, _ in copies)} "
                    f"({self.conventions.remote_copy_hint})")
            found.update(copies)
        return found

    def _refs(self, patterns: Sequence[str]) -> list[tuple[str, str]]:
        return refs_matching(self.common_dir, patterns)

    def require_chains(self) -> dict[str, str]:
        """The chains (see `chains`); an error naming the branch when there is none at all."""
        found = self.chains()
        if not found:
            raise GitStoreInputError(f"no log branch {self.ref} here "
                                f"({self.conventions.no_branch_hint})")
        return found

    def resolve(self, rev: str | None = None) -> str:
        """Full sha of a commit on the log: a sha, an abbreviation, or `<branch>~2`; on the
        store's own branch or on another writer's chain. None: the own branch's tip."""
        if rev is None:
            return self.require_tip()
        chains = self.require_chains()
        proc = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                       self.common_dir, check=False)
        sha = proc.stdout.decode().strip()
        if proc.returncode != 0 or not sha:
            raise GitStoreInputError(f"unknown revision {rev!r} ({self.conventions.revision_hint})")
        if self.chain_of(sha, chains) is None:
            raise GitStoreInputError(f"{rev} is not a commit on the log branch {self.ref} or on "
                                "another writer's chain")
        return sha

    def chain_of(self, sha: str, chains: Mapping[str, str] | None = None) -> str | None:
        """The ref of the first chain (own branch first) that holds commit `sha`, or None."""
        chains = self.chains() if chains is None else chains
        if self.ref in chains and (sha == chains[self.ref]
                                   or is_ancestor(self.common_dir, sha, chains[self.ref])):
            return self.ref
        others = [ref for ref in chains if ref != self.ref]
        if not others:
            return None
        out = run_git(["for-each-ref", "--contains", sha, "--format=%(refname)", *others],
                      self.common_dir, check=False).stdout.decode().split()
        return next((ref for ref in others if ref in out), None)

    def _commit(self, sha: str) -> Commit:
        return read_commit(self.repo.object_store, sha.encode())

    @retry_if_packed_meanwhile
    def entry(self, sha: str) -> LogEntry:
        """One commit, parsed (its message and trailers), read from the object store."""
        return parse_raw_commit(sha, self._commit(sha).as_raw_string())

    def _tree_of(self, rev: str | None) -> bytes:
        return self.checked(self._commit(self.resolve(rev)).tree)

    def checked(self, tree: bytes) -> bytes:
        """`tree`, once every name and mode in it is found safe to read (treecheck.py)."""
        check_tree(self.repo.object_store, tree, self.safe_trees)
        return tree

    @retry_if_packed_meanwhile
    def read(self, path: str, rev: str | None = None) -> bytes:
        """The bytes of `path` at `rev` (default: the tip)."""
        tree = self._tree_of(rev)
        blob = ch.blob_at(self.repo.object_store, tree, path.encode())
        if blob is None:
            raise GitStoreError(f"no file {path} at {(rev or 'the tip')} of {self.ref}")
        return blob.data

    @retry_if_packed_meanwhile
    def blob_id(self, path: str, rev: str | None = None) -> str | None:
        """The object id of the file at `path` (default: at the tip), None when absent."""
        blob = ch.blob_at(self.repo.object_store, self._tree_of(rev), path.encode())
        return blob.id.decode() if blob is not None else None

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
        if old is not None:
            self.checked(old)
        kinds = {"add": "A", "modify": "M", "delete": "D"}
        out = []
        for change in tree_changes(store, old, ObjectID(self.checked(commit.tree))):
            entry = change.new if change.type != "delete" else change.old
            if entry is not None:
                out.append((kinds.get(change.type, "M"), entry.path.decode()))
        return sorted(out, key=lambda item: item[1])

    def history_all(self, limit: int | None = None, verify_signatures: bool = False,
                    grep: str | None = None) -> list[tuple[LogEntry, str]]:
        """Every chain's commits, newest first by commit time (clocks of different machines
        disagree: this is an order for reading, each chain's own order is its parents), each
        with the ref of the chain it was reached through. `grep`: only commits whose message
        holds this text (git compares, as `git log -F --grep`; the caller checks exactly)."""
        if limit is not None and limit < 0:
            raise GitStoreInputError(f"cannot show {limit} commits: give a count of 0 or more")
        chains = self.chains()
        if not chains or limit == 0:
            return []
        walk = ["log", "--date-order", "--source", "--format=%H %S",
                *([f"--max-count={limit}"] if limit else []),
                *(["--fixed-strings", f"--grep={grep}"] if grep is not None else []),
                *chains, "--"]
        listed = run_git(walk, self.common_dir).stdout.decode().splitlines()
        pairs = [line.split(" ", 1) for line in listed if " " in line]
        raw = run_git(["cat-file", "--batch"], self.common_dir,
                      input="".join(f"{sha}\n" for sha, _ in pairs).encode()).stdout
        entries = parse_cat_file_batch(raw)
        if verify_signatures:
            self._verify_signatures(entries)
        return [(entry, source) for entry, (_sha, source) in zip(entries, pairs)]

    def _verify_signatures(self, entries: list[LogEntry]) -> None:
        check = ConfiguredVerifier(self.common_dir)
        for entry in entries:
            if entry.gpgsig:
                entry.signature, entry.signer = check(entry.payload, entry.gpgsig)

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
            self._verify_signatures(entries)
        return entries

    # -- writing -------------------------------------------------------------------------

    def write(self, changes: Mapping[str, ch.Change], message: str,
              trailers: Mapping[str, str] | None = None,
              parent_trailers: ParentTrailers | None = None) -> str:
        """One commit: bytes put, Append(bytes) appended, None deleted. Returns its sha.

        `parent_trailers(parent sha or None)` adds trailers that depend on the commit the new
        one is built on (it is called again when another writer moved the tip meanwhile): a
        link to the previous commit that a dropped commit breaks."""
        encoded = ch.validated(changes)
        compose_message(message, trailers)          # bad input refused before the lock
        if self.signer is not None:
            return self._write_signed(encoded, message, trailers, parent_trailers)
        with self.locked():
            sha, written = self._commit_with_retry(encoded, message, trailers, parent_trailers)
            self.after_write(sha, written)
        return sha

    def _write_signed(self, encoded: dict[bytes, ch.Change], message: str,
                      trailers: Mapping[str, str] | None,
                      parent_trailers: ParentTrailers | None) -> str:
        """Build and sign outside the writers' lock (a signer may take up to its timeout, and
        nobody waits for it); under the lock, store the commit only when the tip is still the
        one it was built on, else build and sign it again on the new tip."""
        deadline = time.monotonic() + self.lock_timeout
        for attempt in range(1, 1 << 16):
            parent = self.tip
            text = linked_message(message, trailers, parent_trailers, parent)
            commit, objects = self._signed_commit(encoded, text, parent)
            with self.locked():
                if self.tip == parent:
                    written = self.add_objects(objects)
                    written += add_object(self.repo.object_store, commit, self.loose_level)
                    if self.swap_tip(parent, commit.id):
                        self.after_write(commit.id.decode(), written)
                        return commit.id.decode()
            if attempt >= CAS_ATTEMPTS and time.monotonic() > deadline:
                break
        raise GitStoreError(f"{self.ref} kept moving under other writers; nothing was written")

    @retry_if_packed_meanwhile
    def _signed_commit(self, encoded: dict[bytes, ch.Change], message: bytes,
                       parent: str | None) -> tuple[Commit, list[ShaFile]]:
        """The signed commit on `parent` and the new objects it needs, none stored yet."""
        store = self.repo.object_store
        base_tree = self.checked(self._commit(parent).tree) if parent else None   # see _build_commit
        tree, objects = ch.apply_changes(store, base_tree, encoded)
        self.remember_built(objects)
        commit = new_commit(tree, [parent.encode()] if parent else [], message, self.identity,
                            self.signer)
        return commit, objects

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

    def _commit_with_retry(self, encoded: dict[bytes, ch.Change], message: str,
                           trailers: Mapping[str, str] | None,
                           parent_trailers: ParentTrailers | None) -> tuple[str, int]:
        """(the new tip, disk bytes written, lost attempts included)."""
        total = 0
        for _ in range(CAS_ATTEMPTS):
            tip = self.tip
            text = linked_message(message, trailers, parent_trailers, tip)
            commit_id, written = self._build_commit(encoded, text, tip)
            total += written
            if self.swap_tip(tip, commit_id):
                return commit_id.decode(), total
        raise GitStoreError(f"{self.ref} kept moving under another writer; nothing was written")

    def _build_commit(self, encoded: dict[bytes, ch.Change], message: bytes,
                      parent: str | None) -> tuple[bytes, int]:
        """Build and sign in memory, then store: a failed signature leaves no object behind."""
        store = self.repo.object_store
        # Never build on an unsafe tree (one taken from a remote with plain git): the new
        # commit would carry its entries on.
        base_tree = self.checked(self._commit(parent).tree) if parent else None
        tree, objects = ch.apply_changes(store, base_tree, encoded)
        self.remember_built(objects)
        commit = new_commit(tree, [parent.encode()] if parent else [], message, self.identity,
                            self.signer)
        written = self.add_objects(objects)
        written += add_object(store, commit, self.loose_level)   # last: nothing refers to it yet
        return commit.id, written

    def remember_built(self, objects: list[ShaFile]) -> None:
        """The trees a write built are safe: made from a checked tree and validated paths."""
        for obj in objects:
            if obj.type_num == Tree.type_num:
                self.safe_trees.add(obj.id)

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
            # The reflog names the committer, as git's would (and dulwich does not read the
            # whole config stack again to find it).
            if old is None:
                return refs.add_if_new(name, ObjectID(new), committer=self.identity,
                                       message=message)
            return refs.set_if_equals(name, ObjectID(old.encode()), ObjectID(new),
                                      committer=self.identity, message=message)
        except FileLocked:
            return False
