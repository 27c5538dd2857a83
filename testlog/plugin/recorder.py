"""The recorder, loaded by the plugin only when recording is on: a TestRunner (runner.py) in
every process that runs tests, and a RecordWriter in the process that owns the session (the
only process, or the xdist controller), which checks the setup before any test runs, gathers
the reports, and has the run written to the log branch in one commit (or to pending, or to
--testlog-out).
"""
from __future__ import annotations

import gc
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from gitstore import GitStoreError, SourceInfo, full_ref, locate

from testlog.config import load_settings, sign_timeout
from testlog.core import counts, layout
from testlog.core.asciitext import printable
from testlog.core.records import Failure, TestOutcome
from testlog.core.runfiles import Harvest, RunContext
from testlog.core.seeds import random_base_seed, session_seed
from testlog.core.selection import Selection, partial_suite, selection_of
from testlog.core.shards import resolve_run_id, run_base_seed, shard_suite
from testlog.core.suite import derive_suite
from testlog.core.timefmt import to_microsecond
from testlog.errors import TestlogError
from testlog.plugin.capture import BATCH_TESTS
from testlog.plugin.keys import REPORT_AT_EXIT
from testlog.plugin.reports import OutcomeBuilder
from testlog.plugin.runner import (
    TestRunner,
    cooperate_with_randomly,
    crash_message,
    randomly_active,
)
from testlog.plugin.shards import PLUGIN_NAME as SHARD_PLUGIN
from testlog.store.background import InBackground
from testlog.store.environment import resolve_key
from testlog.store.writer import (
    RUN_LOST,
    SHARD_REFUSED,
    RunWriter,
    WriterSetup,
    writer_process_enabled,
)

WORKER_SEED = "testlog_seed"
WORKER_ENTROPY_KEY = "testlog_entropy_key"
INTERRUPTED_WRITING = "testlog: interrupted while pytest's process wrote the run"
# Statuses a Ctrl-C while waiting for the writer process turns into "interrupted" (2).
_OVERRIDABLE = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                pytest.ExitCode.NO_TESTS_COLLECTED)


def install(config: pytest.Config) -> None:
    """Register the recorder's roles for this process (raises pytest.UsageError on bad setup)."""
    cooperate_with_randomly(config)
    from testlog.plugin import entropy
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        key = workerinput.get(WORKER_ENTROPY_KEY)
        tap = entropy.start(config, bytes.fromhex(key) if isinstance(key, str) else None)
        runner = TestRunner(config, workerinput[WORKER_SEED], workerinput.get("workerid"), tap)
        config.pluginmanager.register(runner, "testlog-runner")
        return
    writer = RecordWriter(config)
    if not config.stash.get(REPORT_AT_EXIT, False):     # plugin.py's clean-up is not there
        config.add_cleanup(writer.report)
    # Installed after the writer process started (testlog's own work draws nothing here).
    runner = TestRunner(config, writer.ctx.base_seed, None, entropy.start(config))
    writer.runner = runner
    if writer.process is not None:
        runner.on_batch = writer.send_captures
    config.pluginmanager.register(writer, "testlog-writer")
    config.pluginmanager.register(runner, "testlog-runner")


def install_seeding(config: pytest.Config) -> None:
    """`--testlog-seed=N` without recording: each test is seeded as a recorded run with base
    seed N seeds it, and nothing is written (a reproduction command)."""
    cooperate_with_randomly(config)
    runner = TestRunner(config, config.getoption("testlog_seed"), None)
    config.pluginmanager.register(runner, "testlog-runner")
    config.pluginmanager.register(SeedingHeader(config), "testlog-seeding")


class SeedingHeader:
    def __init__(self, config: pytest.Config) -> None:
        self.seed = config.getoption("testlog_seed")

    def pytest_report_header(self, config: pytest.Config) -> str:
        return (f"testlog: each test seeded from base seed {self.seed}; not recording "
                "(add --testlog to record)")


def _usage(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"testlog: {message}")


class RecordWriter:
    """Settles the run's setup before any test runs, gathers reports and captures, and has
    the run written: by a writer process (testlog.store.process) fed while the tests run, or,
    when that is off or fails, by a RunWriter in this process at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.runner: TestRunner | None = None
        self.harvest = Harvest()
        hashed = not config.getoption("testlog_no_capture_hash")
        self.outcomes = OutcomeBuilder(hash_capture=hashed)
        self.benchmarks = BenchmarkReader(config)
        self.result: list[str] = []
        self.notes: list[str] = []
        self.interrupted = ""       # the line saying a Ctrl-C stopped the wait for the answer
        self.session: pytest.Session | None = None
        root = str(config.rootpath)
        out = config.getoption("testlog_out")
        invoked = str(config.invocation_params.dir)
        self.out_dir = os.path.abspath(os.path.join(invoked, out)) if out else None
        self.common_dir, self.git_dir, self.work_tree = self._repository(root)
        settings = load_settings(root, {"branch": config.getoption("testlog_branch"),
                                        "sign_key": config.getoption("testlog_sign_key"),
                                        "suite": config.getoption("testlog_suite")})
        self.branch = self._branch(settings["branch"].value)
        self.environ = dict(os.environ)
        key, key_source = resolve_key(self.environ, self.common_dir)
        self.ctx = self._context(config, settings["suite"].value)
        self.setup = WriterSetup(
            common_dir=self.common_dir, git_dir=self.git_dir, work_tree=self.work_tree,
            branch=self.branch, sign_key=settings["sign_key"].value or None,
            no_sign=bool(config.getoption("testlog_no_sign")), out_dir=self.out_dir,
            sign_timeout=self._sign_timeout(settings["sign_timeout"]),
            env_key=key, env_key_source=key_source, environ=self.environ,
            sys_path=[os.fspath(p) for p in sys.path if isinstance(p, (str, os.PathLike))],
            ctx=self.ctx)
        # HEAD, its tree and the dirty diff as the session starts (git subprocesses: the
        # thread mostly waits), whoever writes the run.
        self.source = InBackground(self._source)
        # xdist workers derive the entropy they draw outside tests from this one key, so that
        # they all import a test module with the same values (as one process does).
        self.entropy_key = os.urandom(32)
        self.sent_outcomes = 0
        self.process: Any = None
        if self._writer_process(settings["writer_process"]) and not config.option.collectonly:
            self.process = self._start_process()

    def _writer_process(self, setting: Any) -> bool:
        try:
            return writer_process_enabled(setting.value)
        except ValueError as exc:
            raise _usage(f"{exc} (from {setting.source})") from None

    def _sign_timeout(self, setting: Any) -> float:
        try:
            return sign_timeout(setting)
        except TestlogError as exc:
            raise _usage(str(exc)) from None

    def _start_process(self) -> Any:
        from testlog.store.process import WriterProcess
        try:
            return WriterProcess(self.setup)
        except Exception:
            return None

    def _source(self) -> SourceInfo | None:
        if not self.work_tree:
            return None
        from gitstore import source_info
        return source_info(self.work_tree)

    def _repository(self, root: str) -> tuple[str | None, str | None, str | None]:
        try:
            common, git_dir, top = locate(root)
        except GitStoreError:
            if self.out_dir is None:
                raise _usage(f"{root} is not inside a git repository: run pytest in one, or "
                             "pass --testlog-out=DIR to write the files to a directory") from None
            return None, None, None
        if top is None and self.out_dir is None:
            raise _usage(f"{root} is a bare repository: run pytest in a working tree")
        return common, git_dir, top

    def _branch(self, branch: str) -> str:
        try:
            return full_ref(branch)
        except GitStoreError as exc:
            raise _usage(f"{exc} (--testlog-branch)") from None

    def _suite(self, config: pytest.Config, configured: str | None,
               selection: Selection | None, shard: dict[str, Any] | None) -> str:
        suite = configured or derive_suite(config.args, str(config.rootpath))
        try:
            named = partial_suite(layout.check_suite(suite), selection)
            if shard is not None:         # its files never replace another shard's
                named = shard_suite(named, shard["index"], shard["count"])
            return layout.check_suite(named)
        except ValueError as exc:
            raise _usage(f"{exc} (--testlog-suite)") from None

    def _base_seed(self, config: pytest.Config,
                   shard: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        explicit = config.getoption("testlog_seed")
        randomly = {"active": randomly_active(config), "seed": None}
        if randomly["active"]:
            randomly["seed"] = config.getoption("randomly_seed")
        if explicit is not None:
            return explicit, randomly
        if shard is not None:        # every shard of the run seeds alike: one run, one seed
            return run_base_seed(shard["run_id"]), randomly
        if isinstance(randomly["seed"], int):
            return randomly["seed"], randomly
        return random_base_seed(), randomly

    def _shard(self, config: pytest.Config) -> dict[str, Any] | None:
        """The shard this session records (`--testlog-shard`), with its run id and where that
        came from; a one-line error before any test when there is no run id."""
        spec = config.getoption("testlog_shard")
        if spec is None:
            return None
        try:
            run_id, source = resolve_run_id(config.getoption("testlog_run_id"), self.environ)
        except ValueError as exc:
            raise _usage(str(exc)) from None
        return {"run_id": run_id, "run_id_source": source, "index": spec[0], "count": spec[1]}

    def _context(self, config: pytest.Config, configured_suite: str | None) -> RunContext:
        """What is known now; the writer adds the source, the environment and `redact`."""
        selection = run_selection(config)
        shard = self._shard(config)
        suite = self._suite(config, configured_suite, selection, shard)
        base_seed, randomly = self._base_seed(config, shard)
        started = to_microsecond(time.time_ns())     # as the tests' clocks (capture.py)
        return RunContext(
            suite=suite, day=datetime.fromtimestamp(started / 1e9, timezone.utc).date(),
            base_seed=base_seed, session_seed=session_seed(base_seed), started_ns=started,
            source=None, pythonhashseed=self.environ.get("PYTHONHASHSEED"),
            record_environment={}, run_environment={},
            pytest_args=[str(a) for a in config.invocation_params.args],
            pytest_version=pytest.__version__, reseed=not config.getoption("testlog_no_reseed"),
            full_state=bool(config.getoption("testlog_full_state")), randomly=randomly,
            rootdir=self._rootdir(config),
            selection={**selection.as_dict(), "text": selection.text()} if selection else None,
            capture=capture_settings(config), record_switch=record_switch(config), shard=shard,
            entropy=not config.getoption("testlog_no_entropy"))

    def _rootdir(self, config: pytest.Config) -> str | None:
        """pytest's rootdir relative to the work tree, which the recorded nodeids are relative
        to; None outside git or when the rootdir lies outside the work tree."""
        if not self.work_tree:
            return None
        relative = os.path.relpath(os.path.realpath(config.rootpath),
                                   os.path.realpath(self.work_tree))
        return None if relative.split(os.sep)[0] == os.pardir else relative.replace(os.sep, "/")

    # -- streaming to the writer process ---------------------------------------------------

    def send_captures(self, captures: list[dict[str, Any]]) -> None:
        if self.process is not None:
            self._send(("tests", ([], captures)))

    def _send_outcomes(self) -> None:
        outcomes = self.harvest.outcomes
        if self.process is not None and len(outcomes) - self.sent_outcomes >= BATCH_TESTS:
            start, self.sent_outcomes = self.sent_outcomes, len(outcomes)
            self._send(("tests", (outcomes[start:], [])))

    def _send(self, message: Any) -> None:
        if not self.process.send(message) and self.runner is not None:
            self.runner.on_batch = None      # gone: pytest's process will write everything

    # -- xdist --------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_SEED] = self.ctx.base_seed
        if self.ctx.entropy:
            node.workerinput[WORKER_ENTROPY_KEY] = self.entropy_key.hex()
        self.harvest.xdist_workers += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("testlog")
        if data:
            self.harvest.add_captures(data["captures"])
            self.send_captures(data["captures"])
            self.harvest.full_states.update(data["full_states"])
            for name, digest in data["session_states"].items():
                self.harvest.session_states.setdefault(name, digest)
            self.merge_entropy(data.get("entropy") or {})

    def merge_entropy(self, scopes: dict[str, dict[str, Any]]) -> None:
        """A worker's entropy drawn outside tests: the same as every other worker's (derived
        from one key), unless the code drew otherwise in one of them; such a scope keeps only
        a digest (not replayable) and the run says so."""
        from testlog.core.entropy import block
        entropy = self.harvest.entropy
        for scope, dump in scopes.items():
            known = entropy.get(scope)
            if known is None:
                entropy[scope] = dump
            elif known.get("kinds") is not None and (known["kinds"], known["chunks"]) != (
                    dump.get("kinds"), dump.get("chunks")):
                first = block(known)
                entropy[scope] = {"kinds": None, "count": first["draws"], "size": first["bytes"],
                                  "sha256": first["sha256"]}
                self.harvest.warnings.append(
                    f"entropy drawn {'at session start' if not scope else 'collecting ' + scope}"
                    " differs between xdist workers: not replayable")

    # -- reports --------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> str:
        target = self.out_dir or self.branch
        selection, shard = self.ctx.selection, self.ctx.shard
        partial = f" (a partial run: {selection['text']})" if selection else ""
        if shard:
            partial += (f" (shard {shard['index']}/{shard['count']} of run {shard['run_id']}, "
                        f"run id from {shard['run_id_source']})")
        return (f"testlog: suite {self.ctx.suite}{partial}, base seed {self.ctx.base_seed}, "
                f"recording to {target}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            failure = Failure("collect", report.longreprtext, crash_message(report))
            self.harvest.collection_errors.append((report.nodeid, failure))
        elif report.skipped:
            self.harvest.collection_skipped += 1      # a module skipped whole: pytest counts it

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.harvest.deselected += len(items)

    # After pytest's own (and the terminal's) implementations: a test whose native subtests
    # failed has its passing call report turned into a failure by then, as pytest counts it.
    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.add(report)
        if outcome is not None:
            self._complete(report.__dict__.get("node"), outcome)
            self._send_outcomes()

    def _complete(self, node: Any, outcome: TestOutcome) -> None:
        """`node`: the xdist worker that ran the test (report.node), else None."""
        outcome.order = len(self.harvest.outcomes)
        outcome.worker = getattr(node, "workerinput", {}).get("workerid") if node else None
        if self.benchmarks.active:
            outcome.benchmark = self.benchmarks.take(outcome.nodeid)
        self.harvest.outcomes.append(outcome)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C, pytest.exit(), a plugin stopping the session, or collection errors (pytest
        stops with an Interrupted exception after them)."""
        value = excinfo.value
        if isinstance(value, pytest.exit.Exception):
            kind, reason = counts.EXIT, str(value.msg)
        elif type(value).__name__ == "Interrupted":
            collecting = self.harvest.collection_errors and not self.harvest.outcomes
            kind = counts.COLLECTION_ERRORS if collecting else counts.STOPPED
            reason = str(value)
        else:
            kind, reason = counts.KEYBOARD_INTERRUPT, "KeyboardInterrupt"
        self.harvest.interruption = {"kind": kind, "reason": reason}

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        lines = [line for line in str(excrepr).splitlines() if line.strip()]
        self.harvest.interruption = {"kind": counts.INTERNAL_ERROR,
                                     "reason": lines[-1].strip() if lines else "INTERNALERROR"}

    # -- the end ---------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.session = session
        if self.runner is not None:
            self.runner.stop_entropy()       # writing the run is no test's entropy
        harvest = self.harvest
        # Started, never torn down: cut by a stop. Counted among the tests not run.
        harvest.unfinished = [o.nodeid for o in self.outcomes.unfinished()]
        harvest.warnings = list(self.outcomes.warnings)
        harvest.selected = int(session.testscollected or 0)
        harvest.stopped_by_maxfail = bool(session.shouldfail)
        if self.config.option.collectonly:
            return
        empty_shard = self._empty_shard(int(exitstatus))
        if not harvest.outcomes and not harvest.collection_errors and not (
                harvest.interruption and harvest.selected) and not empty_shard:
            self.result = ["testlog: no test ran; nothing recorded"]
            return
        # A shard the others took every test from is recorded (the run is not complete
        # without it) and ends as pytest's OK (ShardSelector).
        harvest.exit_status = 0 if empty_shard else int(exitstatus)
        harvest.finished_ns = time.time_ns()
        harvest.coverage = coverage_data(self.config)
        if self.process is not None and not self.process.alive:
            self.process_failed(self.process.result(), self.process)
        elif self.process is not None:
            rest = harvest.rest(self.sent_outcomes)
            if self.runner is not None and self.runner.active:
                self.runner.harvest_into(rest)
            # Answered in report(), pytest's last clean-up: the writing overlaps pytest's end.
            self.process.finish((rest, self.source.get()))
            return
        try:
            self.write_here()
        except KeyboardInterrupt:
            self.result = [INTERRUPTED_WRITING] + self.result
            # pytest's "interrupted" status, without a traceback through pluggy.
            pytest.exit("interrupted", returncode=pytest.ExitCode.INTERRUPTED)

    def _empty_shard(self, exitstatus: int) -> bool:
        selector = self.config.pluginmanager.get_plugin(SHARD_PLUGIN)
        return selector is not None and selector.empty_shard(exitstatus,
                                                             self.harvest.xdist_workers > 0)

    def write_here(self, takes_over: bool = False) -> None:
        """Write the run in this process (the writer process is off, or failed; `takes_over`:
        it had been handed the whole run, see RunWriter)."""
        collecting = gc.isenabled()
        # Thousands of new containers, none of them garbage: skip the scans (one full scan of
        # a process with torch loaded costs ~0.1-0.2 s).
        gc.disable()
        writer = RunWriter(self.setup, takes_over)
        try:
            writer.start()
            harvest, self.harvest = self.harvest, Harvest()
            # As the writer process gets them: outcomes and captures added as they come (here
            # all at once but the captures in batches), the rest with the session's end.
            writer.add(harvest.outcomes, harvest.all_captures())
            harvest.captures.clear()
            if self.runner is not None and self.runner.active:
                self.runner.hand_over(writer.add, harvest)
            self.result = writer.finish(harvest.rest(len(harvest.outcomes)), self.source.get())
        except KeyboardInterrupt:
            self.result = writer.result      # where the run was saved, if it could be
            raise
        finally:
            writer.close()
            if collecting:
                gc.enable()

    def collect_answer(self) -> None:
        """The writer process's lines; when it failed or vanished, write the run here."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            answer = process.result()
        except KeyboardInterrupt:
            self.interrupted = (f"testlog: interrupted while the writer process (pid "
                                f"{process.proc.pid}) writes the run; it finishes on its own")
            raise
        process.close()
        if answer is not None and answer[0] == "done":
            self.result = answer[1]
            self.harvest = Harvest()
            return
        if self.harvest.outcomes or self.harvest.collection_errors:
            self.process_failed(answer, process)
            self.write_here(takes_over=process.finish_sent)

    def process_failed(self, answer: tuple[str, Any] | None, process: Any) -> None:
        """Say why the run is written by pytest's process after all (before its own lines)."""
        self.process = None
        process.close()                   # reaped: its exit status is known
        if answer is not None:
            lines = [line for line in str(answer[1]).strip().splitlines() if line.strip()]
            why = f"failed: {lines[-1].strip() if lines else answer[0]}"
        else:
            why = f"ended with status {process.proc.returncode} before answering"
        self.notes.append(f"testlog: the writer process {why}; pytest's process takes the run "
                          "over")

    def report(self) -> None:
        """Collect the run's answer and print it: the last thing pytest does (a clean-up), so
        that the writer process works while pytest ends. A Ctrl-C meanwhile gives one line
        (and where the run went, when it was saved to pending) and pytest's "interrupted"
        status."""
        try:
            self.collect_answer()
        except KeyboardInterrupt:
            self.result = [self.interrupted or INTERRUPTED_WRITING] + self.result
            if self.session is not None and self.session.exitstatus in _OVERRIDABLE:
                self.session.exitstatus = pytest.ExitCode.INTERRUPTED
        lost = any(line.startswith(RUN_LOST) for line in self.result)
        refused = any(line.startswith(SHARD_REFUSED) for line in self.result)
        if (lost or refused) and self.session is not None \
                and self.session.exitstatus == pytest.ExitCode.OK:
            # Green tests whose record is gone (or refused as a duplicate shard: a job set up
            # wrong) must not pass a CI job that relies on it.
            self.session.exitstatus = pytest.ExitCode.INTERNAL_ERROR if lost \
                else pytest.ExitCode.USAGE_ERROR
        # Not the terminal_summary hook: pytest skips it on an internal error.
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return               # no terminal (-p no:terminal): nothing to print on
        encoding = getattr(sys.stdout, "encoding", None)
        for line in self.notes + self.result:
            red = "could not" in line or "refused" in line or "interrupted" in line \
                or " INTERRUPTED " in line or " ERROR " in line
            reporter.write_line(printable(line, encoding), bold=True, red=red,
                                yellow=not red and ("nothing" in line or "writer process" in line))
        self.notes, self.result = [], []


def run_selection(config: pytest.Config) -> Selection | None:
    """How this run selected its tests (-k, -m, node ids, --lf, --sw, --deselect), or None."""
    option = config.option
    return selection_of(keyword=getattr(option, "keyword", ""),
                        markexpr=getattr(option, "markexpr", ""),
                        args=[str(a) for a in config.args],
                        last_failed=bool(getattr(option, "lf", False)),
                        stepwise=bool(getattr(option, "stepwise", False)
                                      or getattr(option, "stepwise_skip", False)),
                        deselect=[str(d) for d in getattr(option, "deselect", None) or ()])


def capture_settings(config: pytest.Config) -> dict[str, Any]:
    """What pytest's capture sees (`mode`: fd, sys, tee-sys, or no with -s, which leaves only
    log records captured) and whether testlog hashes it."""
    mode = str(getattr(config.option, "capture", "fd") or "fd")
    return {"mode": mode, "log": config.pluginmanager.has_plugin("logging-plugin"),
            "hashed": not config.getoption("testlog_no_capture_hash")}


def record_switch(config: pytest.Config) -> str:
    """What turned recording on: "args" (the command line), "ini" (`testlog = true`),
    "addopts" (`--testlog` in addopts or PYTEST_ADDOPTS), or both of the last two joined."""
    given = any(a == "--testlog" or a.startswith("--testlog-out")
                for a in map(str, config.invocation_params.args))
    switches = [name for name, on in (
        ("ini", bool(config.getini("testlog"))),
        ("addopts", not given and bool(config.getoption("testlog")
                                       or config.getoption("testlog_out")))) if on]
    return "+".join(switches) or "args"


class BenchmarkReader:
    """pytest-benchmark's statistics of each test that ran a benchmark, taken as it finishes
    (the plugin's session keeps every benchmark's per-round times while the tests run)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # pytest-benchmark may configure itself after the recorder: its session is looked up
        # at the first test, and never again when it is not there.
        self.active = True
        self.session: Any = None
        self.seen = 0

    def take(self, nodeid: str) -> dict[str, Any] | None:
        if self.session is None:
            self.session = getattr(self.config, "_benchmarksession", None)
            self.active = self.session is not None
        benchmarks = getattr(self.session, "benchmarks", None)
        if not isinstance(benchmarks, list) or len(benchmarks) == self.seen:
            return None
        new, self.seen = benchmarks[self.seen:], len(benchmarks)
        for bench in new:
            data = getattr(getattr(bench, "stats", None), "data", None)
            if getattr(bench, "fullname", None) == nodeid and isinstance(data, list):
                from testlog.core.measures import benchmark_statistics
                stats = benchmark_statistics([float(x) for x in data])
                stats["name"] = str(getattr(bench, "name", nodeid))
                return stats
        return None


def coverage_data(config: pytest.Config) -> dict[str, Any] | None:
    """Total and per-file coverage when pytest-cov measured this run; None otherwise."""
    plugin = config.pluginmanager.getplugin("_cov")
    total = getattr(plugin, "cov_total", None)
    if total is None:
        return None
    data: dict[str, Any] = {"percent_covered": float(total), "files": {}}
    try:
        cov = plugin.cov_controller.cov
        root = str(config.rootpath)
        for path in sorted(cov.get_data().measured_files()):
            _name, statements, _excluded, missing, _text = cov.analysis2(path)
            covered = len(statements) - len(missing)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            percent = 100.0 * covered / len(statements) if statements else 100.0
            data["files"][relative] = {"statements": len(statements), "covered": covered,
                                       "percent": round(percent, 6)}
    except Exception:
        pass
    return data
