"""The façade: one signed commit per write on an orphan branch; HEAD, index and tree untouched."""
from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager

from dulwich.diff_tree import tree_changes
from dulwich.file import FileLocked
from dulwich.objects import Blob, Tree
from dulwich.refs import check_ref_format
from dulwich.repo import Repo, get_user_identity

from gitstore import changes as ch
from gitstore.commits import compose_message, new_commit
from gitstore.errors import GitStoreError
from gitstore.gitcmd import git_config, run_git
from gitstore.history import LogEntry, parse_cat_file_batch
from gitstore.locking import add_object, clear_stale_ref_lock, write_lock
from gitstore.packing import pack_if_due
from gitstore.signing import Signer, verify

DEFAULT_REF = "refs/heads/testlog"
CAS_ATTEMPTS = 8
# Append-only line logs: when commits are rebuilt on another tip, both sides' lines are kept.
UNION_SUFFIXES = (".ndjson",)
BULK_OBJECTS = 500      # at or above this many new blobs, write one pack instead of loose files


def full_ref(ref: str) -> str:
    """`testlog` → `refs/heads/testlog`; refuse names git would refuse."""
    name = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    if not check_ref_format(name.encode()):
        raise GitStoreError(f"invalid log branch name {ref!r}")
    return name


def locate(path: str | os.PathLike[str]) -> tuple[str, str, str | None]:
    """(common git dir, this worktree's git dir, top of the working tree or None when bare)."""
    if not os.path.isdir(path):
        raise GitStoreError(f"not a directory: {path}")
    proc = run_git(["rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir",
                    "--is-bare-repository"], path, check=False)
    if proc.returncode != 0:
        raise GitStoreError(f"not a git repository: {os.path.abspath(path)} (run `git init`, "
                            "or run inside a repository)")
    common, git_dir, bare = proc.stdout.decode().split("\n")[:3]
    top = None if bare == "true" else run_git(["rev-parse", "--show-toplevel"], path).stdout.decode().strip()
    return common, git_dir, top or None


def resolve_signer(cwd: str, sign_key: str | bool | None) -> Signer | None:
    """sign_key: a key id, None (git's user.signingkey if set) or False (never sign)."""
    if sign_key is False:
        return None
    key = sign_key if isinstance(sign_key, str) and sign_key else git_config(cwd, "user.signingkey")
    return Signer(key, git_config(cwd, "gpg.program")) if key else None


GIT_LOOSE_COMPRESSION = 1   # git's own default for loose objects; dulwich's is zlib's 6 (2-3x slower)


def use_git_loose_compression(repo: Repo) -> None:
    """Compress loose objects as git does unless core.looseCompression/core.compression say."""
    config = repo.get_config_stack()
    for key in (b"looseCompression", b"compression"):
        try:
            config.get((b"core",), key)
            return
        except KeyError:
            continue
    repo.object_store.loose_compression_level = GIT_LOOSE_COMPRESSION


class LogStore:
    """The log branch of one repository. Open with `LogStore.open`."""

    def __init__(self, common_dir: str, git_dir: str, work_tree: str | None, ref: str,
                 signer: Signer | None, lock_timeout: float) -> None:
        self.common_dir, self.git_dir, self.work_tree = common_dir, git_dir, work_tree
        self.ref, self.signer, self.lock_timeout = ref, signer, lock_timeout
        self.repo = Repo(common_dir)   # the common dir opened as bare: no HEAD, index or tree
        use_git_loose_compression(self.repo)
        self.state_dir = os.path.join(common_dir, "testlog")
        self.union_suffixes = UNION_SUFFIXES
        ident = get_user_identity(self.repo.get_config_stack(), kind="COMMITTER")
        self.identity = ident

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", ref: str = DEFAULT_REF,
             sign_key: str | bool | None = None, lock_timeout: float = 60.0) -> "LogStore":
        common, git_dir, top = locate(path)
        return cls(common, git_dir, top, full_ref(ref), resolve_signer(common, sign_key), lock_timeout)

    def close(self) -> None:
        self.repo.close()

    def __enter__(self) -> "LogStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    @property
    def tip(self) -> str | None:
        """The branch's current commit, or None before the first write."""
        try:
            return self.repo.refs[self.ref.encode()].decode()
        except KeyError:
            return None

    def require_tip(self) -> str:
        tip = self.tip
        if tip is None:
            raise GitStoreError(f"no log branch {self.ref} here (record a run first, or "
                                "`git testlog fetch` it from a remote)")
        return tip

    def resolve(self, rev: str | None = None) -> str:
        """Full sha of a commit on the log branch: a sha, an abbreviation, or `testlog~2`."""
        tip = self.require_tip()
        if rev is None:
            return tip
        proc = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                       self.common_dir, check=False)
        sha = proc.stdout.decode().strip()
        if proc.returncode != 0 or not sha:
            raise GitStoreError(f"unknown revision {rev!r} (see `git testlog log`)")
        if sha != tip and run_git(["merge-base", "--is-ancestor", sha, tip], self.common_dir,
                                  check=False).returncode != 0:
            raise GitStoreError(f"{rev} is not a commit on the log branch {self.ref}")
        return sha

    def _tree_of(self, rev: str | None) -> bytes:
        return self.repo.object_store[self.resolve(rev).encode()].tree

    def read(self, path: str, rev: str | None = None) -> bytes:
        """The bytes of `path` at `rev` (default: the tip)."""
        tree = self._tree_of(rev)
        blob = ch.blob_at(self.repo.object_store, tree, path.encode())
        if blob is None:
            raise GitStoreError(f"no file {path} at {(rev or 'the tip')} of {self.ref}")
        return blob.data

    def exists(self, path: str, rev: str | None = None) -> bool:
        return ch.blob_at(self.repo.object_store, self._tree_of(rev), path.encode()) is not None

    def paths(self, prefix: str = "", rev: str | None = None) -> list[str]:
        """Sorted file paths at `rev` that start with `prefix`."""
        store = self.repo.object_store
        entries = store.iter_tree_contents(self._tree_of(rev))
        found = (e.path.decode() for e in entries)
        return sorted(p for p in found if p.startswith(prefix))

    def changed_paths(self, rev: str | None = None) -> list[tuple[str, str]]:
        """(A|M|D, path) for each file the commit changed against its first parent."""
        store = self.repo.object_store
        commit = store[self.resolve(rev).encode()]
        old = store[commit.parents[0]].tree if commit.parents else None
        kinds = {"add": "A", "modify": "M", "delete": "D"}
        out = []
        for change in tree_changes(store, old, commit.tree):
            entry = change.new if change.type != "delete" else change.old
            out.append((kinds.get(change.type, "M"), entry.path.decode()))
        return sorted(out, key=lambda item: item[1])

    def history(self, rev: str | None = None, limit: int | None = None,
                verify_signatures: bool = False) -> list[LogEntry]:
        """Commits from `rev` (default the tip) back to the root, newest first."""
        if self.tip is None and rev is None:
            return []
        start = self.resolve(rev)
        args = ["rev-list", start] + ([f"--max-count={limit}"] if limit else [])
        shas = run_git(args, self.common_dir).stdout
        raw = run_git(["cat-file", "--batch"], self.common_dir, input=shas).stdout
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
            sha = self._commit_with_retry(encoded, text)
            self.after_write(sha)
        return sha

    def locked(self) -> AbstractContextManager[None]:
        """The writers' lock: hold it around read-tip → build → compare-and-swap."""
        return write_lock(os.path.join(self.state_dir, "write.lock"), self.lock_timeout)

    def after_write(self, tip: str) -> None:
        pack_if_due(self.common_dir, self.state_dir, tip)

    def _commit_with_retry(self, encoded: dict[bytes, ch.Change], message: bytes) -> str:
        for _ in range(CAS_ATTEMPTS):
            tip = self.tip
            commit_id = self._build_commit(encoded, message, tip)
            if self.swap_tip(tip, commit_id):
                return commit_id.decode()
        raise GitStoreError(f"{self.ref} kept moving under another writer; nothing was written")

    def _build_commit(self, encoded: dict[bytes, ch.Change], message: bytes,
                      parent: str | None, author: bytes | None = None,
                      author_time: int | None = None) -> bytes:
        store = self.repo.object_store
        base_tree = store[parent.encode()].tree if parent else None
        blobs, tree_changes = ch.new_blobs_and_changes(store, base_tree, encoded)
        self.add_objects(blobs)
        tree = ch.build_tree(store, base_tree, tree_changes)
        commit = new_commit(tree, [parent.encode()] if parent else [], message, self.identity,
                            self.signer, author=author, author_time=author_time)
        add_object(store, commit)
        return commit.id

    def rebuild_commit(self, sha: str, parent: str) -> bytes:
        """The commit `sha` re-applied on `parent`: its puts and deletes, its appends appended
        (a file whose old bytes prefix its new ones was appended to), author kept, re-signed."""
        store = self.repo.object_store
        commit = store[sha.encode()]
        if commit.gpgsig and self.signer is None:
            raise GitStoreError(f"commit {sha[:10]} is signed: rebuilding it needs a signing key "
                                "(set user.signingkey or pass a key)")
        old_tree = store[commit.parents[0]].tree if commit.parents else None
        replayed = ch.replayed_changes(store, old_tree, commit.tree, self.union_suffixes)
        return self._build_commit(replayed, commit.message, parent, commit.author,
                                  commit.author_time)

    def add_objects(self, objects: list[Blob | Tree]) -> None:
        store = self.repo.object_store
        fresh = [o for o in objects if o.id not in store]
        if len(fresh) >= BULK_OBJECTS:
            store.add_objects([(o, None) for o in fresh])
        else:
            for obj in fresh:
                add_object(store, obj)

    def swap_tip(self, old: str | None, new: bytes) -> bool:
        """Compare-and-swap of the ref; False when another writer moved it first."""
        clear_stale_ref_lock(os.path.join(self.common_dir, self.ref))
        refs = self.repo.refs
        try:
            if old is None:
                return refs.add_if_new(self.ref.encode(), new, message=b"git-testlog: write")
            return refs.set_if_equals(self.ref.encode(), old.encode(), new,
                                      message=b"git-testlog: write")
        except FileLocked:
            return False
