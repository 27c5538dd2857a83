"""What the history commands take from a replay report (replays/…__replay.json): its verdict,
whether it ran on the recorded platform, and each test's verdict and statuses. Pure; the
report comes from a log branch, so every field is checked for the type it is used as."""
from __future__ import annotations

from typing import Any

from testlog.core.logview import ReplayedTest
from testlog.core.runfacts import FactsError


def replay_facts(report: Any) -> tuple[str, bool, tuple[ReplayedTest, ...]]:
    """(verdict, same platform, tests) of a replay report; FactsError when it is not one."""
    if not isinstance(report, dict) or not isinstance(report.get("tests"), list):
        raise FactsError("not a replay report (no tests)")
    verdict = report.get("verdict")
    environment = report.get("environment")
    same = isinstance(environment, dict) and environment.get("same_platform") is True
    tests = []
    for entry in report["tests"]:
        if not isinstance(entry, dict):
            raise FactsError("a replayed test is not an object")
        fields = [entry.get(k) for k in ("test_name", "verdict", "status_recorded",
                                         "status_replayed")]
        if not all(isinstance(f, str) for f in fields):
            raise FactsError("a replayed test has no name, verdict or statuses")
        tests.append(ReplayedTest(*(str(f) for f in fields)))
    return (verdict if isinstance(verdict, str) else "FAILED"), same, tuple(tests)


def replay_as_json(verdict: str, same: bool, tests: tuple[ReplayedTest, ...]) -> dict[str, Any]:
    return {"verdict": verdict, "same_platform": same,
            "tests": [[t.name, t.verdict, t.status_recorded, t.status_replayed] for t in tests]}


def replay_from_json(data: Any) -> tuple[str, bool, tuple[ReplayedTest, ...]]:
    try:
        return (str(data["verdict"]), bool(data["same_platform"]),
                tuple(ReplayedTest(str(a), str(b), str(c), str(d)) for a, b, c, d in data["tests"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise FactsError(f"not a cached replay ({exc!r})") from None
