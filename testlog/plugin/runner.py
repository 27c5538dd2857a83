"""TestRunner, in every process that runs tests (the only process, or each xdist worker):
seeds and captures around each test; a worker sends its captures to the controller. The
recorder and the replay both use it: a replay seeds and captures exactly as the recording did.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from testlog.core.records import TestOutcome
from testlog.core.runfiles import Harvest
from testlog.plugin.capture import BATCH_TESTS, Capturer
from testlog.plugin.keys import RUNNER_KEY
from testlog.rng import REGISTRY
from testlog.rng.imports import SeedOnImport


def randomly_active(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("randomly")


def cooperate_with_randomly(config: pytest.Config) -> None:
    """pytest-randomly keeps shuffling; the reseeding before each test is ours alone."""
    if randomly_active(config):
        config.option.randomly_reset_seed = False


def crash_message(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) if crash is not None else None
    if message:
        return str(message)
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    marked = [line[1:].strip() for line in lines if line.startswith("E ")]
    return marked[0] if marked else (lines[-1].strip() if lines else "")


class TestRunner:
    __test__ = False

    def __init__(self, config: pytest.Config, base_seed: int, worker: str | None,
                 entropy: Any = None) -> None:
        """`entropy`: the installed entropy tap (plugin/entropy.py), when capturing it."""
        self.config = config
        self.capturer = Capturer(base_seed, reseed=not config.getoption("testlog_no_reseed"),
                                 full_state=bool(config.getoption("testlog_full_state")),
                                 worker=worker)
        self.entropy = self.capturer.entropy = entropy
        self.entropy_dumps: dict[str, dict[str, Any]] = {}     # see stop_entropy
        self.entropy_results: dict[str, dict[str, Any]] = {}
        watched = {m.IMPORT_NAME for m in REGISTRY if m.IMPORT_NAME}
        around = entropy.pause if entropy is not None else contextlib.nullcontext
        self.import_hook = SeedOnImport(watched, self.on_import, around).install()
        self.active = True
        # Called with each batch of complete captures (the session's writer streams them).
        self.on_batch: Callable[[list[dict[str, Any]]], None] | None = None
        self.exported = 0
        config.stash[RUNNER_KEY] = self

    def on_import(self, module: str) -> None:
        self.capturer.on_import(module)
        if self.entropy is not None:
            self.entropy.on_import(module)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):   # xdist controller: runs no test
            self.active = False
            self.import_hook.uninstall()
            self.stop_entropy()
            return
        self.capturer.seed_session()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.active:
            self.capturer.derive_seeds([item.nodeid for item in session.items])
            if self.entropy is not None:
                from testlog.plugin.entropy import excluded_tests
                self.entropy.exclude(excluded_tests(session.items))

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        capture = self.capturer.begin(item.nodeid)
        yield
        if self.capturer.end(capture) and self.on_batch is not None:
            self.on_batch(self.unexported())

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        """pytest announces each attempt of a test (once, unless a plugin re-runs it)."""
        capture = self.capturer.current
        if capture is not None and capture.nodeid == nodeid:
            if capture.started:
                self.capturer.next_attempt(capture)
            capture.started = True

    def unexported(self) -> list[dict[str, Any]]:
        """The captures not handed out yet, complete; they count as handed out now."""
        captures = self.capturer.export(self.exported)
        self.exported += len(captures)
        return captures

    def pytest_exception_interact(self, node: Any, call: pytest.CallInfo[Any],
                                  report: Any) -> None:
        current = self.capturer.current
        if current is not None and call.excinfo is not None and node.nodeid == current.nodeid:
            current.errors = (current.errors or []) + [{"when": call.when,
                                                        "type": call.excinfo.typename}]

    def harvest_into(self, harvest: Harvest) -> None:
        """This process's captures not handed out yet, and its RNG states."""
        harvest.add_captures(self.unexported())
        self._states_into(harvest)

    def hand_over(self, add: Callable[[list[TestOutcome], list[dict[str, Any]]], None],
                  harvest: Harvest) -> None:
        """Every capture of this process to `add`, a batch at a time (a record is built from
        each and the batch let go: never all of a run's captures as dicts at once), then the
        RNG states into `harvest`. The capturer holds no capture after this."""
        capturer = self.capturer
        for start in range(0, len(capturer.captures), BATCH_TESTS):
            add([], capturer.export(start, start + BATCH_TESTS))
        capturer.captures = []
        self._states_into(harvest)

    def _states_into(self, harvest: Harvest) -> None:
        self.capturer.rss.close()
        harvest.full_states.update(self.capturer.states.full_states)
        harvest.session_states.update(self.capturer.session_states)
        harvest.entropy.update(self.collection_entropy())

    def collection_entropy(self) -> dict[str, dict[str, Any]]:
        """The entropy drawn outside the tests (recording), by collector id: what was drawn
        until `stop_entropy`."""
        self.stop_entropy()
        return self.entropy_dumps

    def stop_entropy(self) -> None:
        """The tests are over: keep what the tap caught and uninstall it (what testlog itself
        does next draws nothing into the run)."""
        tap, self.entropy = self.entropy, None
        self.capturer.entropy = None
        if tap is not None:
            self.entropy_dumps = tap.collection_dumps()
            self.entropy_results = tap.collection_results()
            tap.uninstall()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(self.config, "workeroutput", None)
        if output is not None:
            output["testlog"] = {"captures": self.capturer.finish(),
                                 "full_states": self.capturer.states.full_states,
                                 "session_states": self.capturer.session_states,
                                 "entropy": self.collection_entropy()}

    def pytest_unconfigure(self) -> None:
        self.import_hook.uninstall()
        self.stop_entropy()
