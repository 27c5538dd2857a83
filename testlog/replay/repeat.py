"""`git testlog replay <rev> --count N` / `--until-fail`: the same replay again and again, each
one a replay of its own (its report committed like any other), and per test how many of the
repetitions verified: how a user proves, in one command, that a flake is (or is not)
deterministic under the recorded inputs."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testlog.core.triage import PASSING

UNTIL_FAIL_LIMIT = 100       # --until-fail without --count: at most this many repetitions


@dataclass(frozen=True)
class Repetition:
    number: int
    exit_status: int
    verdict: str | None          # the report's VERIFIED | FAILED (None: no report found)
    commit: str | None           # the report's log commit
    tests: dict[str, str]        # test name -> verdict

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "exit_status": self.exit_status, "verdict": self.verdict,
                "commit": self.commit, "tests": self.tests}


@dataclass
class TestTally:
    __test__ = False
    test_name: str
    verified: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)

    @property
    def repetitions(self) -> int:
        return sum(self.verdicts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"test_name": self.test_name, "verified": self.verified,
                "repetitions": self.repetitions, "verdicts": dict(sorted(self.verdicts.items()))}


def tests_of(report: dict[str, Any] | None) -> dict[str, str]:
    tests = (report or {}).get("tests")
    if not isinstance(tests, list):
        return {}
    return {str(t.get("test_name")): str(t.get("verdict")) for t in tests if isinstance(t, dict)}


def repeat(count: int, until_fail: bool, once: Callable[[], tuple[int, dict[str, Any] | None,
                                                                   str | None]],
           progress: Callable[[Repetition, int], None]) -> list[Repetition]:
    """Run `once()` (a replay: exit status, its report, its commit) `count` times, or until a
    repetition does not verify."""
    done = []
    for number in range(1, count + 1):
        code, report, commit = once()
        verdict = (report or {}).get("verdict")
        rep = Repetition(number, code, verdict if isinstance(verdict, str) else None, commit,
                         tests_of(report))
        done.append(rep)
        progress(rep, count)
        if until_fail and code != 0:
            break
    return done


def tally(repetitions: list[Repetition]) -> list[TestTally]:
    """Per test (in the first repetition's order), how many repetitions verified it."""
    found: dict[str, TestTally] = {}
    for rep in repetitions:
        for name, verdict in rep.tests.items():
            entry = found.setdefault(name, TestTally(name))
            entry.verdicts[verdict] += 1
            entry.verified += verdict in PASSING
    return list(found.values())


def tally_lines(repetitions: list[Repetition], tallies: list[TestTally]) -> list[str]:
    n = len(repetitions)
    lines = [f"per test, repetitions that verified (of {n}):"]
    for t in sorted(tallies, key=lambda t: (t.verified == t.repetitions, t.test_name)):
        other = ", ".join(f"{v} ×{k}" for v, k in sorted(t.verdicts.items()) if v not in PASSING)
        lines.append(f"  {t.verified:>3}/{t.repetitions:<3} {t.test_name}"
                     + (f"   ({other})" if other else ""))
    steady = sum(1 for t in tallies if t.verified == t.repetitions)
    lines.append(f"{steady} of {len(tallies)} tests verified in every repetition"
                 + ("" if steady == len(tallies) else
                    f"; {len(tallies) - steady} did not: their outcome is not determined by "
                    "the recorded inputs alone (see each repetition's report)"))
    return lines
