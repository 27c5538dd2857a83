"""Flaky tests, classified by evidence. Pure.

A test is flaky when its outcome differs between recorded runs of the same source (the same
tree, and the same dirty diff), or between the attempts of one run (a re-run plugin). The
log knows what each outcome ran with: the environment digest, the test's seed and the RNG
states it started from (and PYTHONHASHSEED when it was set). So, per source:

- **nondeterministic**: the same seed and RNG states gave different outcomes in the same
  environment (two runs, two attempts of one run, or a replay that did not reproduce the
  recorded status): the test depends on something not captured (time, entropy, threads,
  order, the outside world);
- **environment-dependent**: outcomes split cleanly by environment digest, and the same seed
  gave different outcomes in different environments;
- **seed-dependent**: outcomes split cleanly by seed, and each outcome reproduced under its
  own seed (that seed recorded twice with it, or a replay of the run that verified it);
- **undetermined**: the runs cannot tell (each had its own seed and environment, or no seed
  was seen twice): `leaning` says what the split suggests, `next_step` how to decide it.

The strongest evidence found in any source decides, in the order above.
"""
from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from testlog.core.logview import LoggedReplay, LoggedRun, LogView
from testlog.core.runfacts import FAILING, FAILING_CODES, TestFact

NONDETERMINISTIC = "nondeterministic"
ENVIRONMENT_DEPENDENT = "environment-dependent"
SEED_DEPENDENT = "seed-dependent"
UNDETERMINED = "undetermined"
CLASSES = (NONDETERMINISTIC, ENVIRONMENT_DEPENDENT, SEED_DEPENDENT, UNDETERMINED)
MAX_EVIDENCE = 4


@dataclass(frozen=True)
class Observation:
    """One recorded outcome of a test."""
    run: LoggedRun
    test: TestFact

    @property
    def seed(self) -> int | None:
        return self.test.effective_seed(self.run.facts.base_seed)

    @property
    def inputs(self) -> tuple[int | None, str, str]:
        """What the test ran with that the log captured: its seed, the RNG states it started
        from, and PYTHONHASHSEED when it was set (an unset one is not captured)."""
        hashseed = self.run.facts.pythonhashseed
        pinned = hashseed if hashseed not in (None, "", "random") else ""
        return self.seed, self.test.states, pinned or ""

    @property
    def environment(self) -> str:
        return self.run.facts.environment


@dataclass(frozen=True)
class Reproduction:
    """A replay's word on one recorded outcome."""
    replay: str
    status_replayed: str
    same_platform: bool


@dataclass
class Verdict:
    classification: str
    evidence: list[str] = field(default_factory=list)
    leaning: str | None = None


@dataclass(frozen=True)
class FlakyTest:
    test_name: str
    classification: str
    evidence: tuple[str, ...]
    leaning: str | None
    observations: tuple[Observation, ...]      # the runs of the sources where it flipped
    attempt_runs: tuple[Observation, ...]      # runs whose attempts did not all end alike
    failing_seeds: tuple[Observation, ...]     # one failing run per failing seed

    @property
    def outcomes(self) -> dict[str, int]:
        return dict(sorted(Counter(o.test.status for o in self.observations).items()))

    @property
    def first_seen(self) -> Observation:
        return self.observations[0]

    @property
    def last_seen(self) -> Observation:
        return self.observations[-1]

    @property
    def suites(self) -> list[str]:
        return sorted({o.run.facts.suite for o in self.observations})

    def next_step(self) -> str:
        """The one command that gathers the evidence still missing (or shows the failure)."""
        failing = [o for o in self.observations if o.test.status in FAILING]
        target = (failing or list(self.observations))[-1]
        return replay_command(target.run.sha, self.test_name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "test_name": self.test_name, "classification": self.classification,
            "evidence": list(self.evidence), "leaning": self.leaning,
            "outcomes": self.outcomes, "suites": self.suites,
            "count": len(self.observations),
            "first_seen": _seen(self.first_seen), "last_seen": _seen(self.last_seen),
            "runs": [_run_entry(o) for o in self.observations],
            "sources": sorted({o.run.source for o in self.observations}),
            "attempts": [{"sha": o.run.sha, "attempts": list(o.test.attempts)}
                         for o in self.attempt_runs],
            "failing_seeds": [{"seed": o.seed, "base_seed": o.run.facts.base_seed,
                               "sha": o.run.sha, "status": o.test.status,
                               "replay": replay_command(o.run.sha, self.test_name)}
                              for o in self.failing_seeds],
            "next_step": self.next_step()}


def _seen(o: Observation) -> dict[str, Any]:
    return {"sha": o.run.sha, "time": o.run.time, "started": o.run.facts.started}


def _run_entry(o: Observation) -> dict[str, Any]:
    return {"sha": o.run.sha, "status": o.test.status, "seed": o.seed,
            "base_seed": o.run.facts.base_seed, "environment": o.environment,
            "writer": o.run.writer, "started": o.run.facts.started}


def replay_command(sha: str, test_name: str) -> str:
    """`git testlog replay <sha> -k <function>`: that one test of that run, re-executed."""
    function = test_name.rsplit("::", 1)[-1]
    return f"git testlog replay {sha[:10]} -k {shlex.quote(function)}"


# -- finding them --------------------------------------------------------------------------

def observations_by_test(runs: Sequence[LoggedRun],
                         names: set[str] | None = None) -> dict[str, list[Observation]]:
    """Each test's outcomes (only the tests in `names`, when given), oldest first."""
    found: dict[str, list[Observation]] = defaultdict(list)
    for run in runs:
        tests = run.facts.tests
        if names is None:
            wanted: Iterable[int] = range(len(tests))
        elif len(names) > 8:
            wanted = [i for i, n in enumerate(tests.names) if n in names]
        else:
            wanted = [i for i in (tests.position(n) for n in names) if i is not None]
        for i in wanted:
            found[tests.names[i]].append(Observation(run, tests.at(i)))
    return found


def candidates(runs: Sequence[LoggedRun]) -> set[str]:
    """The tests that may be flaky, cheaply: two outcomes within one source, or attempts
    that differ. A run whose statuses repeat one seen before (of the same source) is skipped
    whole: most are."""
    first: dict[str, dict[str, str]] = defaultdict(dict)
    seen: set[tuple[str, tuple[str, ...], str]] = set()
    found: set[str] = set()
    for run in runs:
        tests = run.facts.tests
        for i, attempts in tests.attempts.items():
            if len(set(attempts)) > 1:
                found.add(tests.names[i])
        key = (run.source, tests.names, tests.codes)
        if key in seen:
            continue
        seen.add(key)
        codes = first[run.source]
        for name, code in zip(tests.names, tests.codes):
            if codes.setdefault(name, code) != code:
                found.add(name)
    return found


def reproductions(replays: Iterable[LoggedReplay]) -> dict[tuple[str, str], list[Reproduction]]:
    """(run sha, test name) -> what each replay of that run said of that test."""
    found: dict[tuple[str, str], list[Reproduction]] = defaultdict(list)
    for replay in replays:
        for test in replay.tests:
            found[(replay.replay_of, test.name)].append(
                Reproduction(replay.sha, test.status_replayed, replay.same_platform))
    return found


def find_flaky(view: LogView) -> list[FlakyTest]:
    """Every flaky test of the view's runs, by name."""
    names = candidates(view.runs)
    if not names:
        return []
    repro = reproductions(view.replays)
    found = []
    for name, observations in sorted(observations_by_test(view.runs, names).items()):
        flaky = classify_test(name, observations, repro)
        if flaky is not None:
            found.append(flaky)
    return found


def classify_test(name: str, observations: Sequence[Observation],
                  repro: Mapping[tuple[str, str], list[Reproduction]]) -> FlakyTest | None:
    by_source: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_source[o.run.source].append(o)
    verdicts, involved = [], []
    for group in by_source.values():
        verdict = classify_source(name, group, repro)
        if verdict is not None:
            verdicts.append(verdict)
            involved += group
    if not verdicts:
        return None
    best = min(verdicts, key=lambda v: CLASSES.index(v.classification))
    evidence = [line for v in verdicts if v.classification == best.classification
                for line in v.evidence][:MAX_EVIDENCE]
    involved.sort(key=lambda o: (o.run.time, o.run.sha))
    return FlakyTest(name, best.classification, tuple(evidence), best.leaning, tuple(involved),
                     tuple(o for o in involved if len(set(o.test.attempts)) > 1),
                     failing_seeds(involved))


def failing_seeds(observations: Sequence[Observation]) -> tuple[Observation, ...]:
    """The latest failing run of each seed that failed."""
    latest: dict[int | None, Observation] = {}
    for o in observations:
        if o.test.status in FAILING:
            latest[o.seed] = o
    return tuple(sorted(latest.values(), key=lambda o: (o.seed is None, o.seed or 0)))


def classify_source(name: str, group: Sequence[Observation],
                    repro: Mapping[tuple[str, str], list[Reproduction]]) -> Verdict | None:
    """The verdict on one source's runs of a test; None when they all agree."""
    evidence = nondeterminism(name, group, repro)
    if evidence:
        return Verdict(NONDETERMINISTIC, evidence)
    if len({o.test.status for o in group}) < 2:
        return None
    by_env = _outcomes(group, lambda o: o.environment)
    by_inputs = _outcomes(group, lambda o: o.inputs)
    env_clean = len(by_env) > 1 and all(len(s) == 1 for s in by_env.values())
    seed_clean = len(by_inputs) > 1 and all(len(s) == 1 for s in by_inputs.values())
    if env_clean and not seed_clean:
        return Verdict(ENVIRONMENT_DEPENDENT, [_env_split(group)])
    if seed_clean and not env_clean:
        return seed_verdict(name, group, repro)
    if env_clean and seed_clean:
        return Verdict(UNDETERMINED, [
            f"outcomes split by environment and by seed alike: each of its {len(group)} runs "
            "had its own; replay one to tell"], leaning=SEED_DEPENDENT)
    return Verdict(ENVIRONMENT_DEPENDENT, [
        _env_split(group) + "; the same seed gave different outcomes in different "
        "environments, and seeds matter as well"])


def _outcomes(group: Sequence[Observation], key: Any) -> dict[Any, set[str]]:
    found: dict[Any, set[str]] = defaultdict(set)
    for o in group:
        found[key(o)].add(o.test.status)
    return found


def nondeterminism(name: str, group: Sequence[Observation],
                   repro: Mapping[tuple[str, str], list[Reproduction]]) -> list[str]:
    """Lines of evidence that the same seed and RNG states gave different outcomes."""
    lines = []
    first: dict[tuple[str, Any], Observation] = {}
    for o in group:
        key = (o.environment, o.inputs)
        seen = first.setdefault(key, o)
        if seen.test.status != o.test.status:
            lines.append(f"seed {o.seed} gave {seen.test.status} in run {seen.run.sha[:10]} "
                         f"and {o.test.status} in run {o.run.sha[:10]} (same RNG states, same "
                         "environment)")
            first[key] = o
    for o in group:
        if len(set(o.test.attempts)) > 1:
            lines.append(f"run {o.run.sha[:10]}: its attempts ended "
                         f"{', '.join(o.test.attempts)} (each reseeded from seed {o.seed})")
        for r in repro.get((o.run.sha, name), []):
            if r.same_platform and r.status_replayed != o.test.status:
                lines.append(f"replay {r.replay[:10]} of run {o.run.sha[:10]} gave "
                             f"{r.status_replayed} where {o.test.status} was recorded "
                             f"(seed {o.seed}, the recorded RNG states)")
    return lines


def _env_split(group: Sequence[Observation]) -> str:
    by_env: dict[str, Counter[str]] = defaultdict(Counter)
    platform: dict[str, str] = {}
    for o in group:
        by_env[o.environment][o.test.status] += 1
        platform[o.environment] = o.run.facts.platform
    parts = [f"environment {env[:8]} ({platform[env] or 'unknown platform'}): "
             + ", ".join(f"{status} ×{n}" for status, n in sorted(counts.items()))
             for env, counts in sorted(by_env.items())]
    return "outcomes follow the environment: " + "; ".join(parts)


def seed_verdict(name: str, group: Sequence[Observation],
                 repro: Mapping[tuple[str, str], list[Reproduction]]) -> Verdict:
    """Outcomes split by seed: seed-dependent when every outcome reproduced under its own."""
    by_inputs: dict[Any, list[Observation]] = defaultdict(list)
    for o in group:
        by_inputs[o.inputs].append(o)
    proof: dict[str, str] = {}
    for runs in by_inputs.values():
        o = runs[0]
        if len(runs) > 1:
            proof.setdefault(o.test.status, f"seed {o.seed} gave {o.test.status} in "
                             f"{len(runs)} runs")
        for run in runs:
            for r in repro.get((run.run.sha, name), []):
                if r.status_replayed == run.test.status:
                    proof.setdefault(run.test.status, f"replay {r.replay[:10]} reproduced "
                                     f"{run.test.status} under seed {run.seed}")
    statuses = sorted({o.test.status for o in group})
    split = "; ".join(f"{status} under seed(s) "
                      + ", ".join(str(s) for s in sorted({o.seed or 0 for o in group
                                                          if o.test.status == status})[:5])
                      for status in statuses)
    if all(status in proof for status in statuses):
        return Verdict(SEED_DEPENDENT, [f"outcomes follow the seed: {split}",
                                        "each outcome reproduced: "
                                        + "; ".join(proof[s] for s in statuses)])
    missing = ", ".join(s for s in statuses if s not in proof)
    return Verdict(UNDETERMINED, [f"outcomes follow the seed: {split}",
                                  f"no {missing} was reproduced under its own seed yet: replay "
                                  "a run to tell seed-dependent from nondeterministic"],
                   leaning=SEED_DEPENDENT)


def known_flaky(flaky: Iterable[FlakyTest]) -> set[str]:
    return {f.test_name for f in flaky}


def run_marks(run: LoggedRun, known: set[str]) -> dict[str, list[str]]:
    """The known-flaky tests a run holds, and those that failed in it."""
    tests = run.facts.tests
    if not known:
        return {"contains": [], "failed": []}
    held = [i for i, name in enumerate(tests.names) if name in known]
    return {"contains": sorted(tests.names[i] for i in held),
            "failed": sorted(tests.names[i] for i in held if tests.codes[i] in FAILING_CODES)}


def evidence_note(runs: Sequence[LoggedRun]) -> str | None:
    """One line when the runs cannot show a flaky test at all, else None."""
    if not runs:
        return "no runs recorded yet: record some with `pytest --testlog`"
    if len(runs) == 1:
        return ("only one run is recorded: a flaky test shows between runs of the same source "
                "tree, so record that tree again")
    sources = {r.source for r in runs}
    if len(sources) == len(runs) and not any(len(set(a)) > 1 for r in runs
                                             for a in r.facts.tests.attempts.values()):
        return (f"no two of the {len(runs)} runs share a source tree: a flaky test shows between "
                "runs of the same tree, so record one again (or `git testlog hunt` a test)")
    return None
