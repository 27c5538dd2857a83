"""Writing one recorded session: its files committed to the log branch in one commit, or
written to --testlog-out, or saved to pending when the commit cannot be made.

No pytest here: this runs in the writer process (testlog.store.process) or, when that process
cannot be had, in pytest's own process at the end of the session.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from testlog.core.records import TestOutcome
from testlog.core.redaction import Redactor
from testlog.core.runfiles import Harvest, RecordBook, RunBundle, RunContext, Source, run_bundle
from testlog.core.truth import truth
from testlog.cores import usable_cores
from testlog.rng import seeded_digest
from testlog.store.environment import environment_blocks
from testlog.store.state import CONVENTIONS, PENDING, STATE_DIR

# The first words of the line saying a run could be neither committed nor saved anywhere:
# pytest's exit status is then a failing one (recorder.RecordWriter.report).
RUN_LOST = "testlog: this run is lost"
# The first words of the line saying a shard was refused (its number is already recorded for
# its run id): nothing is written, and pytest's exit status says so (recorder.RecordWriter).
SHARD_REFUSED = "testlog: refused to commit the run"


@dataclass
class WriterSetup:
    """What the pytest process settled before any test ran (plain data: it is pickled)."""
    common_dir: str | None          # None only with --testlog-out outside a repository
    git_dir: str | None
    work_tree: str | None
    branch: str
    sign_key: str | None
    no_sign: bool
    out_dir: str | None
    sign_timeout: float             # seconds one gpg or ssh-keygen call may take
    env_key: bytes                  # the environment digests' key (resolved before any test)
    env_key_source: str
    environ: dict[str, str]         # os.environ as pytest's Python saw it at configure time
    sys_path: list[str]             # pytest's import path (which numpy/torch the tests ran)
    ctx: RunContext                 # without the environment `RunWriter.start` adds, the
                                    # source (given to `finish`) and `redact`


class RunWriter:
    """Digests the environment and opens the store (`start`), builds records as tests finish
    (`add`), and writes the run (`finish`). `start` is apart from `__init__` because the
    writer process runs it on a thread while it keeps reading batches.

    `takes_over`: pytest's process writes a run its writer process was handed and did not
    answer for. That process may have committed it (or written --testlog-out) before it
    stopped: then that commit, found by the same run file, is the answer, not a second one."""

    def __init__(self, setup: WriterSetup, takes_over: bool = False) -> None:
        self.setup = setup
        self.takes_over = takes_over
        self.result: list[str] = []      # where the run went when a Ctrl-C stopped `write`
        self.ctx = setup.ctx
        self.book: RecordBook | None = None
        self.store: Any = None
        self.store_error: Exception | None = None
        self.redactor: Redactor | None = None

    def start(self) -> None:
        """The environment blocks, then the store with its signer (a failure to open it is
        kept: the run goes to pending)."""
        setup, environ = self.setup, self.setup.environ
        record_env, run_env = environment_blocks(environ, setup.env_key, setup.env_key_source,
                                                 setup.sys_path)
        # Secrets are taken out once, as the run is written (core/redaction.py).
        self.redactor = Redactor(environ, setup.ctx.pytest_args)
        self.ctx = dataclasses.replace(setup.ctx, record_environment=record_env,
                                       run_environment=run_env, redact=self.redactor,
                                       redact_names=self.redactor.names,
                                       pytest_args=self.redactor.args(setup.ctx.pytest_args),
                                       derive=seeded_digest)
        self.book = RecordBook(self.ctx)
        if setup.out_dir is not None:
            return
        try:
            self.store = self._open_store()
        except Exception as exc:
            self.store_error = exc

    def _open_store(self) -> Any:
        from gitstore import LogStore, resolve_signer  # loads dulwich: in the writer only
        setup = self.setup
        assert setup.common_dir is not None and setup.git_dir is not None, "no repository"
        sign_key: str | bool | None = False if setup.no_sign else setup.sign_key
        return LogStore(setup.common_dir, setup.git_dir, setup.work_tree, setup.branch,
                        resolve_signer(setup.common_dir, sign_key, setup.sign_timeout),
                        lock_timeout=60.0,
                        conventions=CONVENTIONS)

    def add(self, outcomes: list[TestOutcome], captures: list[dict[str, Any]]) -> None:
        assert self.book is not None, "start() first"
        self.book.add(outcomes, captures)

    def finish(self, harvest: Harvest, source: Source | None) -> list[str]:
        """Write the run; the lines pytest prints about it. `harvest` holds what was not
        `add`ed before (its outcomes and captures) and the session's totals; `source` is
        HEAD, its tree and the dirty diff as pytest read them when the session started."""
        assert self.book is not None, "start() first"
        self.ctx = dataclasses.replace(self.ctx, source=source)
        bundle = run_bundle(self.ctx, harvest, self.book)
        self.book = None
        return self.write(bundle)

    def write(self, bundle: RunBundle) -> list[str]:
        from testlog.store.runs import write_run_dir
        suite, setup = self.ctx.suite, self.setup
        counts = bundle.summary.split(" ", 3)[3]
        if setup.out_dir is not None:
            from testlog.store.runs import run_dir_holds
            if self.takes_over and run_dir_holds(setup.out_dir, bundle):
                return [f"testlog: {suite} {bundle.verdict} ({counts}): files written to "
                        f"{setup.out_dir} (by the writer process before it stopped)"]
            try:
                write_run_dir(setup.out_dir, bundle, self.ctx.redact_names)
            except OSError as exc:     # not a directory, no permission, full disk
                return [f"testlog: could not write the files to {setup.out_dir}: "
                        f"{exc.strerror or exc} ({exc.filename or setup.out_dir})"]
            return [f"testlog: {suite} {bundle.verdict} ({counts}): files written to "
                    f"{setup.out_dir}"]
        from testlog.store.shardcheck import ShardRefused
        try:
            sha, signer = self.commit(bundle)
        except ShardRefused as exc:       # a duplicate is no run to keep in pending
            return [f"{SHARD_REFUSED}: {exc}"]
        except KeyboardInterrupt:
            self.result = self.save_pending(bundle, "interrupted while committing")
            raise
        except Exception as exc:
            return self.save_pending(bundle, str(exc) or type(exc).__name__)
        return [f"testlog: {suite} {bundle.verdict} ({counts}) recorded as {sha[:10]} on "
                f"{setup.branch} ({signer})"]

    def commit(self, bundle: RunBundle) -> tuple[str, str]:
        from testlog.store.runs import commit_run, committed_already
        if self.store_error is not None:
            raise self.store_error
        if self.takes_over:
            sha = committed_already(self.store, bundle, self.ctx.started_ns // 10**9)
            if sha is not None:
                return sha, "committed by the writer process before it stopped"
        sha = commit_run(self.store, bundle)
        signer = self.store.signer
        return sha, f"signed by {signer.fingerprint}" if signer else "unsigned"

    def save_pending(self, bundle: RunBundle, error: str) -> list[str]:
        """The run to pending; when that fails too (a full disk, a read-only .git), to the
        fallback directory in the system temp directory; when even that fails, a line that
        starts with RUN_LOST (pytest then ends with a failing status)."""
        from testlog.store import pending
        setup = self.setup
        settings = {"branch": setup.branch, "sign_key": setup.sign_key, "no_sign": setup.no_sign}
        first = error.strip().splitlines()[0] if error.strip() else error
        try:
            if setup.common_dir is None:
                raise OSError("there is no repository to keep it in")
            where = pending.save(setup.common_dir, bundle, settings, first)
        except OSError as exc:
            return self.save_fallback(bundle, settings, first, exc)
        return [f"testlog: could not commit the run to {setup.branch}: {first}",
                f"testlog: saved to {where}; run `git testlog commit-pending` to commit it"]

    def save_fallback(self, bundle: RunBundle, settings: dict[str, Any], first: str,
                      why: OSError) -> list[str]:
        from testlog.store import pending
        reason = f"{why.strerror or why}" + (f" ({why.filename})" if why.filename else "")
        try:
            where = pending.save(self.setup.common_dir or "", bundle, settings, first,
                                 root=pending.fallback_root())
        except OSError as exc:
            return [f"{RUN_LOST}: could not commit it ({first}), save it to pending "
                    f"({reason}) nor to {pending.fallback_root()} ({exc.strerror or exc})"]
        return [f"testlog: could not commit the run to {self.setup.branch} ({first}) nor save "
                f"it to pending ({reason})",
                f"testlog: saved to {where} instead: move it into .git/{STATE_DIR}/"
                f"{PENDING}/ when there is room, then run `git testlog commit-pending`"]

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def writer_process_enabled(value: Any) -> bool:
    """The `writer_process` setting: "auto" (the default) starts one when pytest may use two
    CPUs or more (on one it would only take turns with the tests); a true or false word
    decides outright (an empty value is false, as git reads `key =`). ValueError otherwise."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word == "auto":
        return usable_cores() >= 2
    decided = truth(word) if word else False
    if decided is not None:
        return decided
    raise ValueError(f"writer_process must be auto, true or false, not {value!r}")


