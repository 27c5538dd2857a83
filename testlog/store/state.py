"""The one owner of `<git common dir>/testlog/`: what lives there, and the conventions that tell
gitstore where its own state goes, which git config section it reads and how to word hints.

    <common dir>/testlog/
        env-key              the environment digests' key (mode 0600, never committed)
        writer-id            this clone's writer id, when none is configured
        pending/<id>/        runs whose commit failed, until `git testlog commit-pending`
        verified/<ref>.json  the last verified tip of each log branch
        archive/             retention bundles (default archive_dir)
        writer.log           the last writer process's stderr
        interpreters.json    what each project interpreter is (the gates' probe, cached)
        history-cache/       what flaky, history and site took from each run file, by blob id
        write.lock, pack.*   gitstore's writer lock and pack bookkeeping
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import gitstore
from gitstore import DEFAULT_SIGN_TIMEOUT, Conventions

from testlog.config import Setting, repo_settings, sign_timeout

if TYPE_CHECKING:
    from gitstore import LogStore

DEFAULT_BRANCH = "refs/heads/testlog"
STATE_DIR = "testlog"
# Chains of other writers kept here (see store/chains.py), and where fetches are checked.
CHAINS_PREFIX = "refs/testlog/chains/"
LEGACY_PREFIX = "refs/testlog/legacy/"
INCOMING_PREFIX = "refs/testlog/incoming/"
QUARANTINE_PREFIX = "refs/testlog/quarantine/"

CONVENTIONS = Conventions(
    default_ref=DEFAULT_BRANCH,
    state_dir_name=STATE_DIR,
    config_section="testlog",
    chain_prefixes=(CHAINS_PREFIX, LEGACY_PREFIX),
    reflog_message=b"git-testlog: write",
    no_branch_hint="record a run first, or `git testlog fetch` it from a remote",
    revision_hint="see `git testlog log`",
    notice=lambda text: print(f"git-testlog: {text}", file=sys.stderr),
    remote_copy_hint="`git testlog fetch` brings every writer's chain",
)

ENV_KEY = "env-key"
PENDING = "pending"
VERIFIED = "verified"
ARCHIVE = "archive"
WRITER_LOG = "writer.log"
WRITER_ID = "writer-id"
INTERPRETERS = "interpreters.json"
HISTORY_CACHE = "history-cache"


def state_path(common_dir: str, *parts: str) -> str:
    """A path under `<common dir>/testlog/` (the folder itself without `parts`)."""
    return os.path.join(common_dir, STATE_DIR, *parts)


def open_log(path: str | os.PathLike[str], branch: str | None = None,
             sign_key: str | bool | None = None, lock_timeout: float = 60.0,
             timeout: float | None = None) -> LogStore:
    """The log branch of the repository holding `path` (default refs/heads/testlog);
    sign_key: a key, None (git's user.signingkey when set) or False (never sign); `timeout`
    for each gpg or ssh-keygen call (default: the `sign_timeout` setting)."""
    if timeout is None:
        timeout = sign_timeout(repo_settings(os.fspath(path), {})[0]["sign_timeout"]) \
            if sign_key is not False else DEFAULT_SIGN_TIMEOUT
    # gitstore.LogStore loads dulwich: only when a store is really opened (never in pytest's
    # process when a writer process commits for it).
    return gitstore.LogStore.open(path, ref=branch, sign_key=sign_key, lock_timeout=lock_timeout,
                                  conventions=CONVENTIONS, sign_timeout=timeout)


def open_configured(repo: str, values: dict[str, Setting], sign: bool) -> LogStore:
    """The store of the configured branch; signing with the configured key when `sign`."""
    key = values["sign_key"].value if sign else False
    timeout = sign_timeout(values["sign_timeout"]) if sign else None
    return open_log(repo, str(values["branch"].value), key, timeout=timeout)
