"""pytest's reports, turned into one TestOutcome per test: its phases, its subtests (pytest's
native `subtests` and unittest's `subTest`), its attempts when a plugin re-ran it
(pytest-rerunfailures reports each failed attempt as outcome "rerun"), and the SHA-256 of what
pytest's capture saw. The recorder and the replay both use it, so a replay reads its reports
as the recording did.

Per test this costs a dict lookup or two per report; captured output is hashed once, from the
last report of each attempt, and only where pytest captured something (a test that printed
nothing has no sections).
"""
from __future__ import annotations

import hashlib
from typing import Any

from testlog.core.records import Failure, TestOutcome, attempt_entry
from testlog.plugin.runner import crash_message

PHASES = frozenset({"setup", "call", "teardown"})
KNOWN_OUTCOMES = frozenset({"passed", "failed", "skipped"})
RERUN = "rerun"                          # pytest-rerunfailures: this attempt will be re-run
CAPTURED = "Captured "                   # pytest's section titles: "Captured stdout call"
SUBTEST_CLASSES = frozenset({"SubtestReport", "SubTestReport"})
UNITTEST_NOISE = ("call/stdout", "call/stderr")


def hash_sections(sections: list[tuple[str, str]], start: int, into: dict[str, str],
                  prefix: str = "") -> None:
    """SHA-256 of each captured section from `start` on, keyed "<phase>/<stream>" (or
    "<prefix>/<stream>"); a key seen twice chains the digests in order."""
    for title, content in sections[start:]:
        if not title.startswith(CAPTURED):
            continue
        stream, _, when = title[len(CAPTURED):].rpartition(" ")
        key = f"{prefix or when}/{stream}"
        digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
        if key in into:
            digest = hashlib.sha256(f"{into[key]}{digest}".encode()).hexdigest()
        into[key] = digest


def subtest_description(context: Any) -> str | None:
    """`[msg] (i=1)` as pytest writes it; None when the context is not one we know."""
    msg, kwargs = getattr(context, "msg", False), getattr(context, "kwargs", None)
    if msg is False or not isinstance(kwargs, dict):
        return None
    parts = [f"[{msg}]"] if msg is not None else []
    if kwargs:
        parts.append("(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")")
    return " ".join(parts) or "(<subtest>)"


class OutcomeBuilder:
    """Feed it every TestReport (`add`); it hands back each test's TestOutcome once its last
    report arrived. `warnings`: one line per kind of report it did not know."""

    def __init__(self, hash_capture: bool) -> None:
        self.open: dict[str, TestOutcome] = {}
        self.hash_capture = hash_capture
        self.warnings: list[str] = []
        self._rerun: set[str] = set()            # tests whose current attempt will be re-run
        self._hashed: dict[str, int] = {}        # sections hashed by a test's earlier attempts

    def add(self, report: Any) -> TestOutcome | None:
        # Three calls a test: report attributes are read from its __dict__ (a missing one
        # through getattr/hasattr raises and catches an AttributeError each time).
        nodeid, when, attrs = report.nodeid, report.when, report.__dict__
        outcome = self.open.get(nodeid)
        if outcome is None:
            outcome = self.open[nodeid] = TestOutcome(nodeid)
        if "context" in attrs or type(report).__name__ in SUBTEST_CLASSES:
            self._subtest(outcome, report, attrs)
            return None
        crashed = when not in PHASES
        if crashed:                   # xdist reports a crashed worker's test with when="???",
            when = "call"             # its only report, and pytest counts it as failed
        result = report.outcome
        if result == RERUN:
            outcome.reruns += 1
            self._rerun.add(nodeid)
            result = "failed"
        elif result not in KNOWN_OUTCOMES:
            # A plain outcome: failed when the report carries a failure, else passed.
            result = "failed" if report.longrepr is not None else "passed"
            self._warn(f"a plugin reported the outcome {report.outcome!r} (for {nodeid}), which "
                       f"testlog does not know: recorded as {result}")
        outcome.phases[when] = (result, "wasxfail" in attrs)
        if result == "failed" and report.longrepr is not None:
            # (a passing call whose subtests failed, turned into a re-run, has no traceback:
            # its subtests' failures say it all)
            outcome.failures.append(Failure(when, report.longreprtext, crash_message(report),
                                            attempt=len(outcome.attempts or ()) + 1))
        if when != "teardown" and not crashed:
            return None
        if self.hash_capture and attrs.get("sections"):
            self._hash_capture(outcome, attrs["sections"])
        if nodeid in self._rerun:
            self._next_attempt(outcome, attrs.get("sections"))
            return None
        self._hashed.pop(nodeid, None)
        return self.open.pop(nodeid)

    def unfinished(self) -> list[TestOutcome]:
        """Tests that started but never tore down (a stop cut them mid-way); forgotten now."""
        left = list(self.open.values())
        self.open.clear()
        return left

    def _hash_capture(self, outcome: TestOutcome, sections: list[tuple[str, str]]) -> None:
        captured: dict[str, str] = outcome.captured or {}
        hash_sections(sections, self._hashed.get(outcome.nodeid, 0), captured)
        if outcome.subtests:
            # pytest reports unittest's subTests while the test's output is captured, so its
            # own progress letters land in the call's stdout: that text is not the test's.
            for key in UNITTEST_NOISE:
                captured.pop(key, None)
        outcome.captured = captured or None

    def _next_attempt(self, outcome: TestOutcome, sections: list[tuple[str, str]] | None) -> None:
        """The attempt ended in a re-run: keep what it said, start the next one afresh."""
        self._rerun.discard(outcome.nodeid)
        number = len(outcome.attempts or ()) + 1
        failure = next((f for f in outcome.failures if f.attempt == number and not f.subtest),
                       None)
        outcome.attempts = (outcome.attempts or []) + [
            attempt_entry(outcome.status, failure, outcome.captured)]
        outcome.phases, outcome.subtests, outcome.captured = {}, None, None
        self._hashed[outcome.nodeid] = len(sections or ())

    def _subtest(self, outcome: TestOutcome, report: Any, attrs: dict[str, Any]) -> None:
        description = subtest_description(attrs.get("context"))
        if description is None:
            self._warn(f"a subtest report of a shape testlog does not know (for "
                       f"{outcome.nodeid}): counted by its outcome only")
            description = "(<subtest>)"
        result = report.outcome
        if result not in KNOWN_OUTCOMES:
            self._warn(f"a subtest reported the outcome {result!r} (for {outcome.nodeid}), "
                       "which testlog does not know: left out of its counts")
            return
        kind = "xfailed" if result == "skipped" and "wasxfail" in attrs else result
        counts = outcome.subtests
        if counts is None:
            counts = outcome.subtests = {}
        counts[kind] = counts.get(kind, 0) + 1
        if result == "failed":
            outcome.failures.append(Failure("call", report.longreprtext, crash_message(report),
                                            subtest=description,
                                            attempt=len(outcome.attempts or ()) + 1))
        if self.hash_capture and attrs.get("sections"):
            captured: dict[str, str] = outcome.captured or {}
            own = [s for s in attrs["sections"] if s[0].endswith(" call")]
            hash_sections(own, 0, captured, prefix="subtests")
            outcome.captured = captured

    def _warn(self, line: str) -> None:
        kind = line.split(" (for ", 1)[0]
        if not any(w.startswith(kind) for w in self.warnings):
            self.warnings.append(line)
