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

from gitstore.errors import GitStoreError, GitStoreInputError

# typing is not imported at run time: the gates' prestart imports this package before anything
# else loads (mypy reads the block below as always true).
TYPE_CHECKING = False

# name -> the module that defines it (loaded when the name is first asked for)
_EXPORTS = {
    # the log branch
    "LogStore": "store", "resolve_signer": "store",
    "Conventions": "conventions",
    "Append": "changes", "Existing": "changes", "Change": "changes",
    "LogEntry": "history",
    "Step": "epoch", "restart": "epoch", "split_author": "epoch",
    "fetch_refs": "sync", "push_sha": "sync", "update_ref": "sync", "delete_ref": "sync",
    "refs_under": "sync", "remote_key": "sync", "remote_refs": "sync", "PUSHED": "sync", "UP_TO_DATE": "sync",
    "REJECTED": "sync", "NothingSince": "sync", "shallow_commits": "sync",
    "unsafe_incoming": "sync",
    "parse_raw_commit": "history",
    # reading many objects at once
    "ObjectInfo": "batch", "object_info": "batch", "object_contents": "batch",
    "commits_in_range": "batch", "changed_paths_between": "batch", "last_change": "batch",
    "changes_per_commit": "batch",
    "ObjectStream": "stream", "first_parents": "gitcmd",
    "create_bundle": "bundle", "bundle_heads": "bundle", "bundle_is_complete": "bundle",
    "file_sha256": "bundle",
    # signatures
    "GOOD": "sigstatus", "BAD": "sigstatus", "UNKNOWN_KEY": "sigstatus",
    "UNTRUSTED": "sigstatus", "UNSIGNED": "sigstatus", "SIGNED": "sigstatus",
    "TrustedCerts": "verify", "SignatureCheck": "verify", "DEFAULT_SIGN_TIMEOUT": "signer",
    "export_public_keys": "signing",
    # the user's repository: where it is, what changed, its source, a private checkout
    "locate": "location", "full_ref": "location", "valid_ref_name": "location",
    "git_config": "gitcmd", "git_config_section": "gitcmd", "is_ancestor": "gitcmd", "refs_matching": "gitcmd",
    "approxidate": "gitcmd",
    "empty_tree": "gitcmd", "without_git_location": "gitenv", "shallow_hint": "gitcmd",
    "GIT_LOCATION_VARS": "gitenv",
    "changed_files": "changeset", "staged_files": "changeset", "worktree_changes": "changeset",
    "files_at": "changeset", "blobs_under": "changeset", "listed_files": "changeset", "head_commit": "changeset",
    "commit_sha": "changeset", "merge_base": "changeset", "tree_shas": "changeset",
    "remote_default_branch": "changeset", "new_commits_base": "changeset",
    "diff_zero_context": "changeset", "remote_has_ref": "changeset", "file_at": "changeset",
    "SourceInfo": "source", "source_info": "source",
    "source_tree": "materialize", "checkout_tree": "materialize", "apply_patch": "materialize",
    "try_lock": "locking",
    "path_problem": "paths", "unsafe_trees": "treecheck", "TreeProblem": "treecheck",
    "tree_changes": "treecheck", "TreeChanges": "treecheck",
    "patch_paths": "materialize", "patch_problem": "materialize",
    "tree_reachable": "changeset", "user_refs": "changeset",
}

if TYPE_CHECKING:      # what the names are, for type checkers (tests/test_layering keeps both in step)
    from gitstore.batch import ObjectInfo as ObjectInfo
    from gitstore.batch import changed_paths_between as changed_paths_between
    from gitstore.batch import changes_per_commit as changes_per_commit
    from gitstore.batch import commits_in_range as commits_in_range
    from gitstore.batch import last_change as last_change
    from gitstore.batch import object_contents as object_contents
    from gitstore.batch import object_info as object_info
    from gitstore.bundle import bundle_heads as bundle_heads
    from gitstore.bundle import bundle_is_complete as bundle_is_complete
    from gitstore.bundle import create_bundle as create_bundle
    from gitstore.bundle import file_sha256 as file_sha256
    from gitstore.changes import Append as Append
    from gitstore.changes import Change as Change
    from gitstore.changes import Existing as Existing
    from gitstore.changeset import blobs_under as blobs_under
    from gitstore.changeset import changed_files as changed_files
    from gitstore.changeset import commit_sha as commit_sha
    from gitstore.changeset import diff_zero_context as diff_zero_context
    from gitstore.changeset import file_at as file_at
    from gitstore.changeset import files_at as files_at
    from gitstore.changeset import head_commit as head_commit
    from gitstore.changeset import listed_files as listed_files
    from gitstore.changeset import merge_base as merge_base
    from gitstore.changeset import new_commits_base as new_commits_base
    from gitstore.changeset import remote_default_branch as remote_default_branch
    from gitstore.changeset import remote_has_ref as remote_has_ref
    from gitstore.changeset import staged_files as staged_files
    from gitstore.changeset import tree_reachable as tree_reachable
    from gitstore.changeset import tree_shas as tree_shas
    from gitstore.changeset import user_refs as user_refs
    from gitstore.changeset import worktree_changes as worktree_changes
    from gitstore.conventions import Conventions as Conventions
    from gitstore.epoch import Step as Step
    from gitstore.epoch import restart as restart
    from gitstore.epoch import split_author as split_author
    from gitstore.gitcmd import approxidate as approxidate
    from gitstore.gitcmd import empty_tree as empty_tree
    from gitstore.gitcmd import first_parents as first_parents
    from gitstore.gitcmd import git_config as git_config
    from gitstore.gitcmd import git_config_section as git_config_section
    from gitstore.gitcmd import is_ancestor as is_ancestor
    from gitstore.gitcmd import refs_matching as refs_matching
    from gitstore.gitcmd import shallow_hint as shallow_hint
    from gitstore.gitenv import GIT_LOCATION_VARS as GIT_LOCATION_VARS
    from gitstore.gitenv import without_git_location as without_git_location
    from gitstore.history import LogEntry as LogEntry
    from gitstore.history import parse_raw_commit as parse_raw_commit
    from gitstore.location import full_ref as full_ref
    from gitstore.location import locate as locate
    from gitstore.location import valid_ref_name as valid_ref_name
    from gitstore.locking import try_lock as try_lock
    from gitstore.materialize import apply_patch as apply_patch
    from gitstore.materialize import checkout_tree as checkout_tree
    from gitstore.materialize import patch_paths as patch_paths
    from gitstore.materialize import patch_problem as patch_problem
    from gitstore.materialize import source_tree as source_tree
    from gitstore.paths import path_problem as path_problem
    from gitstore.signer import DEFAULT_SIGN_TIMEOUT as DEFAULT_SIGN_TIMEOUT
    from gitstore.signing import export_public_keys as export_public_keys
    from gitstore.sigstatus import BAD as BAD
    from gitstore.sigstatus import GOOD as GOOD
    from gitstore.sigstatus import SIGNED as SIGNED
    from gitstore.sigstatus import UNKNOWN_KEY as UNKNOWN_KEY
    from gitstore.sigstatus import UNSIGNED as UNSIGNED
    from gitstore.sigstatus import UNTRUSTED as UNTRUSTED
    from gitstore.source import SourceInfo as SourceInfo
    from gitstore.source import source_info as source_info
    from gitstore.store import LogStore as LogStore
    from gitstore.store import resolve_signer as resolve_signer
    from gitstore.stream import ObjectStream as ObjectStream
    from gitstore.sync import PUSHED as PUSHED
    from gitstore.sync import REJECTED as REJECTED
    from gitstore.sync import UP_TO_DATE as UP_TO_DATE
    from gitstore.sync import NothingSince as NothingSince
    from gitstore.sync import delete_ref as delete_ref
    from gitstore.sync import fetch_refs as fetch_refs
    from gitstore.sync import push_sha as push_sha
    from gitstore.sync import refs_under as refs_under
    from gitstore.sync import remote_key as remote_key
    from gitstore.sync import remote_refs as remote_refs
    from gitstore.sync import shallow_commits as shallow_commits
    from gitstore.sync import unsafe_incoming as unsafe_incoming
    from gitstore.sync import update_ref as update_ref
    from gitstore.treecheck import TreeChanges as TreeChanges
    from gitstore.treecheck import TreeProblem as TreeProblem
    from gitstore.treecheck import tree_changes as tree_changes
    from gitstore.treecheck import unsafe_trees as unsafe_trees
    from gitstore.verify import SignatureCheck as SignatureCheck
    from gitstore.verify import TrustedCerts as TrustedCerts

__all__ = ["GitStoreError", "GitStoreInputError", *sorted(_EXPORTS)]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gitstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gitstore.{module}"), name)
    globals()[name] = value
    return value
