"""gitstore: a signed, append-only log branch inside a git repository, built on dulwich.

It never touches HEAD, the index, the working tree or any ref but its own branch.
It knows nothing of pytest or of what the files it stores mean: a product built on it passes
its own `Conventions` (state folder, config section, append-only files, ref names, wording).

This package is the façade: import names from `gitstore`, never from its modules. The names
load on first use: importing `gitstore` (or asking for `locate`) does not import dulwich,
which a process that only locates a repository never needs.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitstore.errors import GitStoreError

# name -> the module that defines it (loaded when the name is first asked for)
_EXPORTS = {
    # the log branch
    "LogStore": "store", "resolve_signer": "store",
    "Conventions": "conventions",
    "Append": "changes", "Existing": "changes", "Change": "changes",
    "LogEntry": "history",
    "Step": "epoch", "restart": "epoch", "split_author": "epoch",
    "SyncResult": "sync", "fetch": "sync", "push": "sync",
    # reading many objects at once
    "ObjectInfo": "batch", "object_info": "batch", "object_contents": "batch",
    "commits_in_range": "batch", "changed_paths_between": "batch", "last_change": "batch",
    "changes_per_commit": "batch",
    "create_bundle": "bundle", "bundle_heads": "bundle", "bundle_is_complete": "bundle",
    "file_sha256": "bundle",
    # signatures
    "GOOD": "sigstatus", "BAD": "sigstatus", "UNKNOWN_KEY": "sigstatus",
    "UNTRUSTED": "sigstatus", "UNSIGNED": "sigstatus", "SIGNED": "sigstatus",
    "TrustedCerts": "verify", "SignatureCheck": "verify",
    "export_public_keys": "signing",
    # the user's repository: where it is, what changed, its source, a private checkout
    "locate": "location", "full_ref": "location", "valid_ref_name": "location",
    "git_config": "gitcmd", "git_config_section": "gitcmd", "is_ancestor": "gitcmd",
    "empty_tree": "gitcmd", "without_git_location": "gitcmd",
    "GIT_LOCATION_VARS": "gitcmd",
    "changed_files": "changeset", "staged_files": "changeset", "worktree_changes": "changeset",
    "files_at": "changeset", "listed_files": "changeset", "head_commit": "changeset",
    "commit_sha": "changeset", "merge_base": "changeset", "tree_shas": "changeset",
    "remote_default_branch": "changeset", "new_commits_base": "changeset",
    "SourceInfo": "source", "source_info": "source",
    "source_tree": "materialize", "checkout_tree": "materialize", "apply_patch": "materialize",
    "try_lock": "locking",
}

if TYPE_CHECKING:      # what the names are, for type checkers (the layering test keeps both in step)
    from gitstore.batch import (
        ObjectInfo,
        changed_paths_between,
        changes_per_commit,
        commits_in_range,
        last_change,
        object_contents,
        object_info,
    )
    from gitstore.bundle import bundle_heads, bundle_is_complete, create_bundle, file_sha256
    from gitstore.changes import Append, Change, Existing
    from gitstore.changeset import (
        changed_files,
        commit_sha,
        files_at,
        head_commit,
        listed_files,
        merge_base,
        new_commits_base,
        remote_default_branch,
        staged_files,
        tree_shas,
        worktree_changes,
    )
    from gitstore.conventions import Conventions
    from gitstore.epoch import Step, restart, split_author
    from gitstore.gitcmd import (
        GIT_LOCATION_VARS,
        empty_tree,
        git_config,
        git_config_section,
        is_ancestor,
        without_git_location,
    )
    from gitstore.history import LogEntry
    from gitstore.location import full_ref, locate, valid_ref_name
    from gitstore.locking import try_lock
    from gitstore.materialize import apply_patch, checkout_tree, source_tree
    from gitstore.signing import export_public_keys
    from gitstore.sigstatus import BAD, GOOD, SIGNED, UNKNOWN_KEY, UNSIGNED, UNTRUSTED
    from gitstore.source import SourceInfo, source_info
    from gitstore.store import LogStore, resolve_signer
    from gitstore.sync import SyncResult, fetch, push
    from gitstore.verify import SignatureCheck, TrustedCerts

__all__ = ["GitStoreError", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gitstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gitstore.{module}"), name)
    globals()[name] = value
    return value
