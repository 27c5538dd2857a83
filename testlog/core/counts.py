"""A run's counts as pytest's closing line gives them, and the run's verdict.

pytest counts reports, not tests: a test failing in its call and its teardown is `1 failed, 1
error`, a failing subtest is one more `failed`, each re-run attempt of pytest-rerunfailures a
`rerun`, and a collection error an `error`. These rules mirror pytest's own
`pytest_report_teststatus` (terminal, skipping, subtests, rerunfailures) so that the counts
match the closing line with or without a terminal. Pure.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from testlog.core.records import TestOutcome

PASS, FAIL, ERROR, INTERRUPTED = "PASS", "FAIL", "ERROR", "INTERRUPTED"
VERDICTS = (PASS, FAIL, ERROR, INTERRUPTED)

# In the order of pytest's closing line (passed/skipped subtests are shown there only at a
# verbosity other than the default; a failing subtest is always one `failed`).
COUNT_KEYS = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "errors",
              "subtests_passed", "subtests_skipped", "subtests_xfailed", "rerun")
# How pytest words each count in its closing line.
PYTEST_WORDS = {"failed": "failed", "passed": "passed", "skipped": "skipped",
                "deselected": "deselected", "xfailed": "xfailed", "xpassed": "xpassed",
                "errors": "errors", "subtests_passed": "subtests passed",
                "subtests_skipped": "subtests skipped", "subtests_xfailed": "subtests xfailed",
                "rerun": "rerun"}

# Why a session ended before its tests all ran (RunContext/Harvest `interruption["kind"]`).
KEYBOARD_INTERRUPT = "keyboard-interrupt"    # Ctrl-C (SIGINT)
EXIT = "exit"                                # pytest.exit() called by a test or plugin
STOPPED = "stopped"                          # session.shouldstop (e.g. --sw after a failure)
COLLECTION_ERRORS = "collection-errors"      # pytest stopped before running: collection failed
INTERNAL_ERROR = "internal-error"            # INTERNALERROR: a plugin or pytest itself broke
INTERRUPTED_KINDS = (KEYBOARD_INTERRUPT, EXIT, STOPPED)
INTERNAL_ERROR_STATUS = 3


def phase_category(when: str, result: str, xfail: bool) -> str | None:
    """The count one report of a phase adds to, or None (a passing setup or teardown)."""
    if when == "call":
        if xfail and result in ("skipped", "passed"):
            return "xfailed" if result == "skipped" else "xpassed"
        return result if result in ("passed", "failed", "skipped") else None
    if result == "failed":
        return "errors"
    if result == "skipped":
        return "xfailed" if xfail else "skipped"
    return None


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def add_outcome(counts: dict[str, int], outcome: TestOutcome) -> None:
    """Add the reports of one test (its last attempt, its subtests, its re-runs)."""
    for when, (result, xfail) in outcome.phases.items():
        category = phase_category(when, result, xfail)
        if category is not None:
            counts[category] += 1
    subtests = outcome.subtests
    if subtests:
        counts["failed"] += subtests.get("failed", 0)
        for name in ("passed", "skipped", "xfailed"):
            counts[f"subtests_{name}"] += subtests.get(name, 0)
    counts["rerun"] += outcome.reruns


def pytest_counts(outcomes: Iterable[TestOutcome], *, collection_errors: int = 0,
                  collection_skipped: int = 0, deselected: int = 0) -> dict[str, int]:
    counts = empty_counts()
    for outcome in outcomes:
        add_outcome(counts, outcome)
    counts["errors"] += collection_errors
    counts["skipped"] += collection_skipped
    counts["deselected"] = deselected
    return counts


def closing_line(counts: dict[str, Any]) -> str:
    """`3 failed, 3 passed, 6 subtests passed` (pytest's words and order; zeros left out)."""
    parts = [f"{counts[key]} {_word(key, counts[key])}" for key in COUNT_KEYS if counts.get(key)]
    return ", ".join(parts) or "no tests ran"


def _word(key: str, n: int) -> str:
    word = PYTEST_WORDS[key]
    return "error" if word == "errors" and n == 1 else word


def run_verdict(counts: dict[str, int], *, not_run: int, collection_errors: int,
                interruption: dict[str, Any] | None, exit_status: int,
                stopped_by_maxfail: bool) -> str:
    """PASS, FAIL, ERROR (an internal or collection error) or INTERRUPTED (Ctrl-C,
    pytest.exit(), a plugin stopping the session, or tests selected that never ran other than
    after -x/--maxfail)."""
    kind = (interruption or {}).get("kind")
    if kind == INTERNAL_ERROR or exit_status == INTERNAL_ERROR_STATUS:
        return ERROR
    if kind in INTERRUPTED_KINDS:
        return INTERRUPTED
    if collection_errors or kind == COLLECTION_ERRORS:
        return ERROR
    if not_run and not stopped_by_maxfail:
        return INTERRUPTED
    if counts["failed"] or counts["errors"]:
        return FAIL
    return PASS


def passed_failed(counts: dict[str, int]) -> tuple[int, int]:
    """(passed, failed) as the commit's summary gives them: XPASS counts as passed, an error
    as failed."""
    return counts["passed"] + counts["xpassed"], counts["failed"] + counts["errors"]


def pass_rate(counts: dict[str, int]) -> float | None:
    """Passed (incl. XPASS) over everything that passed, failed or errored; None when none did."""
    passed, failed = passed_failed(counts)
    return 100.0 * passed / (passed + failed) if passed + failed else None
