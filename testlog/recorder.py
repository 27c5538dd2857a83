"""The recorder, loaded by plugin.py only when recording is on. Two roles:

- TestRunner, in every process that runs tests (the only process, or each xdist worker):
  seeds and captures around each test; a worker sends its captures to the controller.
- RecordWriter, in the process that owns the session (the only process, or the xdist
  controller): checks the setup before any test runs, gathers the reports, and at the end
  writes the run's files to the log branch in one commit (or to pending, or to --testlog-out).
"""
from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from gitstore import GitStoreError, LogStore
from gitstore.source import SourceInfo, source_info
from gitstore.store import full_ref, locate, resolve_signer

from testlog import layout, pending
from testlog.capture import Capturer
from testlog.config import load_settings
from testlog.envinfo import environment_blocks, redactor, resolve_key
from testlog.fixtures import RUNNER_KEY
from testlog.records import Failure, TestOutcome
from testlog.rng import REGISTRY
from testlog.rng.imports import SeedOnImport
from testlog.runcommit import commit_run, write_run_dir
from testlog.runfiles import Harvest, RunBundle, RunContext, run_bundle
from testlog.seeds import random_base_seed, session_seed
from testlog.suite import derive_suite

WORKER_SEED = "testlog_seed"


def randomly_active(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("randomly")


def cooperate_with_randomly(config: pytest.Config) -> None:
    """pytest-randomly keeps shuffling; the reseeding before each test is ours alone."""
    if randomly_active(config):
        config.option.randomly_reset_seed = False


def install(config: pytest.Config) -> None:
    """Register the recorder's roles for this process (raises pytest.UsageError on bad setup)."""
    cooperate_with_randomly(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        runner = TestRunner(config, workerinput[WORKER_SEED], workerinput.get("workerid"))
        config.pluginmanager.register(runner, "testlog-runner")
        return
    writer = RecordWriter(config)
    runner = TestRunner(config, writer.ctx.base_seed, None)
    writer.runner = runner
    config.pluginmanager.register(writer, "testlog-writer")
    config.pluginmanager.register(runner, "testlog-runner")


# -- the process that runs tests ----------------------------------------------------------

class TestRunner:
    __test__ = False

    def __init__(self, config: pytest.Config, base_seed: int, worker: str | None) -> None:
        self.config = config
        self.capturer = Capturer(base_seed, reseed=not config.getoption("testlog_no_reseed"),
                                 full_state=bool(config.getoption("testlog_full_state")),
                                 worker=worker)
        watched = {m.IMPORT_NAME for m in REGISTRY if m.IMPORT_NAME}
        self.import_hook = SeedOnImport(watched, self.capturer.on_import).install()
        self.active = True
        config.stash[RUNNER_KEY] = self

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):   # xdist controller: runs no test
            self.active = False
            self.import_hook.uninstall()
            return
        self.capturer.seed_session()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.active:
            self.capturer.derive_seeds([item.nodeid for item in session.items])

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        capture = self.capturer.begin(item.nodeid)
        yield
        self.capturer.end(capture)

    def pytest_exception_interact(self, node: Any, call: pytest.CallInfo[Any],
                                  report: Any) -> None:
        current = self.capturer.current
        if current is not None and call.excinfo is not None and node.nodeid == current.nodeid:
            current.errors = (current.errors or []) + [{"when": call.when,
                                                        "type": call.excinfo.typename}]

    def harvest_into(self, harvest: Harvest) -> None:
        harvest.add_captures(self.capturer.finish())
        self.capturer.captures.clear()      # the harvest holds them now; end-of-run GC scans less
        harvest.full_states.update(self.capturer.states.full_states)
        harvest.session_states.update(self.capturer.session_states)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(self.config, "workeroutput", None)
        if output is not None:
            output["testlog"] = {"captures": self.capturer.finish(),
                                 "full_states": self.capturer.states.full_states,
                                 "session_states": self.capturer.session_states}

    def pytest_unconfigure(self) -> None:
        self.import_hook.uninstall()


# -- the process that owns the session ----------------------------------------------------

def crash_message(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", ""):
        return crash.message
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    marked = [line[1:].strip() for line in lines if line.startswith("E ")]
    return marked[0] if marked else (lines[-1].strip() if lines else "")


def _usage(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"testlog: {message}")


class InBackground:
    """Work that mostly waits on git and gpg, done in a thread while the tests run."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._result = work()
        except BaseException as exc:     # noqa: BLE001 -- re-raised in the caller by get()
            self._error = exc

    def get(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class RecordWriter:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.runner: TestRunner | None = None
        self.harvest = Harvest()
        self.outcomes: dict[str, TestOutcome] = {}
        self.result: list[str] = []
        root = str(config.rootpath)
        out = config.getoption("testlog_out")
        invoked = str(config.invocation_params.dir)
        self.out_dir = os.path.abspath(os.path.join(invoked, out)) if out else None
        self.common_dir, self.work_tree = self._repository(root)
        settings = load_settings(root, {"branch": config.getoption("testlog_branch"),
                                        "sign_key": config.getoption("testlog_sign_key"),
                                        "suite": config.getoption("testlog_suite")})
        self.branch = self._branch(settings["branch"].value)
        self.sign_key = settings["sign_key"].value or None
        self.no_sign = bool(config.getoption("testlog_no_sign"))
        self.ctx = self._context(config, settings["suite"].value)
        self.store = None if self.out_dir else InBackground(self._open_store)

    def _repository(self, root: str) -> tuple[str | None, str | None]:
        try:
            common, self.git_dir, top = locate(root)
        except GitStoreError:
            if self.out_dir is None:
                raise _usage(f"{root} is not inside a git repository: run pytest in one, or "
                             "pass --testlog-out=DIR to write the files to a directory") from None
            return None, None
        if top is None and self.out_dir is None:
            raise _usage(f"{root} is a bare repository: run pytest in a working tree")
        return common, top

    def _branch(self, branch: str) -> str:
        try:
            return full_ref(branch)
        except GitStoreError as exc:
            raise _usage(f"{exc} (--testlog-branch)") from None

    def _suite(self, config: pytest.Config, configured: str | None) -> str:
        suite = configured or derive_suite(config.args, str(config.rootpath))
        try:
            return layout.check_suite(suite)
        except ValueError as exc:
            raise _usage(f"{exc} (--testlog-suite)") from None

    def _base_seed(self, config: pytest.Config) -> tuple[int, dict[str, Any]]:
        explicit = config.getoption("testlog_seed")
        randomly = {"active": randomly_active(config), "seed": None}
        if randomly["active"]:
            randomly["seed"] = config.getoption("randomly_seed")
        if explicit is not None:
            return explicit, randomly
        if isinstance(randomly["seed"], int):
            return randomly["seed"], randomly
        return random_base_seed(), randomly

    def _context(self, config: pytest.Config, configured_suite: str | None) -> RunContext:
        suite = self._suite(config, configured_suite)
        base_seed, randomly = self._base_seed(config)
        environ = dict(os.environ)
        key, key_source = resolve_key(environ, self.common_dir)
        self.facts = InBackground(lambda: (self._source(), environment_blocks(environ, key, key_source)))
        started = time.time_ns()
        return RunContext(
            suite=suite, day=datetime.fromtimestamp(started / 1e9, timezone.utc).date(),
            base_seed=base_seed, session_seed=session_seed(base_seed), started_ns=started,
            source=None, pythonhashseed=environ.get("PYTHONHASHSEED"),
            record_environment={}, run_environment={},
            pytest_args=[str(a) for a in config.invocation_params.args],
            pytest_version=pytest.__version__, reseed=not config.getoption("testlog_no_reseed"),
            full_state=bool(config.getoption("testlog_full_state")), randomly=randomly,
            redact=redactor(environ), rootdir=self._rootdir(config))

    def _rootdir(self, config: pytest.Config) -> str | None:
        """pytest's rootdir relative to the work tree, which the recorded nodeids are relative
        to; None outside git or when the rootdir lies outside the work tree."""
        if not self.work_tree:
            return None
        relative = os.path.relpath(os.path.realpath(config.rootpath),
                                   os.path.realpath(self.work_tree))
        return None if relative.split(os.sep)[0] == os.pardir else relative.replace(os.sep, "/")

    def _source(self) -> SourceInfo | None:
        """HEAD, its tree and the dirty diff as the session starts (None outside git)."""
        return source_info(self.work_tree) if self.work_tree else None

    def _open_store(self) -> LogStore:
        """The store of the repository located at configure time (no second `git rev-parse`)."""
        sign_key: str | bool | None = False if self.no_sign else self.sign_key
        return LogStore(self.common_dir, self.git_dir, self.work_tree, self.branch,
                        resolve_signer(self.common_dir, sign_key), lock_timeout=60.0)

    def completed_context(self) -> RunContext:
        source, (record_env, run_env) = self.facts.get()
        return dataclasses.replace(self.ctx, source=source, record_environment=record_env,
                                   run_environment=run_env)

    # -- xdist --------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_SEED] = self.ctx.base_seed
        self.harvest.xdist_workers += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("testlog")
        if data:
            self.harvest.add_captures(data["captures"])
            self.harvest.full_states.update(data["full_states"])
            for name, digest in data["session_states"].items():
                self.harvest.session_states.setdefault(name, digest)

    # -- reports --------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> str:
        target = self.out_dir or self.branch
        return f"testlog: suite {self.ctx.suite}, base seed {self.ctx.base_seed}, recording to {target}"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            failure = Failure("collect", report.longreprtext, crash_message(report))
            self.harvest.collection_errors.append((report.nodeid, failure))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            outcome = self.outcomes[report.nodeid] = TestOutcome(report.nodeid)
        # xdist reports a crashed worker's test with when="???": pytest counts it as failed
        when = report.when if report.when in ("setup", "call", "teardown") else "call"
        outcome.phases[when] = (report.outcome, hasattr(report, "wasxfail"))
        if report.failed:
            outcome.failures.append(Failure(when, report.longreprtext, crash_message(report)))
        if report.when == "teardown":
            self._complete(report, self.outcomes.pop(report.nodeid))

    def _complete(self, report: Any, outcome: TestOutcome) -> None:
        outcome.order = len(self.harvest.outcomes)
        node = getattr(report, "node", None)
        outcome.worker = getattr(node, "workerinput", {}).get("workerid") if node else None
        self.harvest.outcomes.append(outcome)

    # -- the end ---------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for outcome in list(self.outcomes.values()):      # never torn down: interrupted
            self._complete(None, outcome)
        if self.config.option.collectonly:
            return
        if not self.harvest.outcomes and not self.harvest.collection_errors:
            self.result = ["testlog: no test ran; nothing recorded"]
            return
        self.harvest.exit_status = int(exitstatus)
        self.harvest.finished_ns = time.time_ns()
        self.harvest.coverage = coverage_data(self.config)
        collecting = gc.isenabled()
        # Thousands of new containers, none of them garbage: skip the scans (one full scan of
        # a process with torch loaded costs ~0.1-0.2 s).
        gc.disable()
        try:
            if self.runner is not None and self.runner.active:
                self.runner.harvest_into(self.harvest)
            bundle = run_bundle(self.completed_context(), self.harvest)
            self.harvest = Harvest()          # the captures are in the bundle now: free them
            self.write(bundle)
        finally:
            if collecting:
                gc.enable()

    def write(self, bundle: RunBundle) -> None:
        counts = bundle.summary.split(" ", 3)[3]
        if self.out_dir is not None:
            write_run_dir(self.out_dir, bundle)
            self.result = [f"testlog: {self.ctx.suite} {bundle.verdict} ({counts}): "
                           f"files written to {self.out_dir}"]
            return
        try:
            sha, signer = self.commit(bundle)
        except KeyboardInterrupt:
            self.save_pending(bundle, "interrupted while committing")
            raise
        except Exception as exc:   # noqa: BLE001 -- whatever broke the commit, keep the run
            self.save_pending(bundle, str(exc) or type(exc).__name__)
            return
        self.result = [f"testlog: {self.ctx.suite} {bundle.verdict} ({counts}) recorded as "
                       f"{sha[:10]} on {self.branch} ({signer})"]

    def commit(self, bundle: RunBundle) -> tuple[str, str]:
        store = self.store.get()
        sha = commit_run(store, bundle)
        return sha, f"signed by {store.signer.fingerprint}" if store.signer else "unsigned"

    def save_pending(self, bundle: RunBundle, error: str) -> None:
        settings = {"branch": self.branch, "sign_key": self.sign_key, "no_sign": self.no_sign}
        first = error.strip().splitlines()[0] if error.strip() else error
        try:
            where = pending.save(self.common_dir, bundle, settings, first)
        except OSError as exc:
            self.result = [f"testlog: could not commit the run ({first}) NOR save it to pending "
                           f"({exc}): this run is lost"]
            return
        self.result = [f"testlog: could not commit the run to {self.branch}: {first}",
                       f"testlog: saved to {where}; run `git testlog commit-pending` to commit it"]

    def pytest_unconfigure(self) -> None:
        if self.store is not None:
            try:
                self.store.get().close()
            except Exception:     # noqa: BLE001 -- it never opened; nothing to close
                pass

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.result:
            terminalreporter.write_line(line, bold=True,
                                        red="could not" in line, yellow="nothing" in line)


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
    except Exception:      # noqa: BLE001 -- the total alone is still worth recording
        pass
    return data
