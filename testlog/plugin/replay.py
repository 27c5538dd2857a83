"""pytest's side of replay (`pytest --testlog-replay=REV`), loaded by plugin.py instead of the
recorder. The recorder's TestRunner seeds and captures exactly as when the run was recorded;
ReplaySession puts the recorded tests in the recorded order, restores stored RNG states when
reseeding was off, and at the end judges each test, publishes the report and sets the exit
status (0 only when every replayed test is verified)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from gitstore import GitStoreError, full_ref, locate, source_info

from testlog.config import load_settings
from testlog.core.asciitext import printable
from testlog.core.chronicle import REPLAY_FAILED, REPLAY_VERIFIED
from testlog.core.entropy import SESSION, Feed
from testlog.core.hashing import result_hash
from testlog.core.records import TestOutcome
from testlog.core.redaction import Redactor
from testlog.core.seeds import derive_seed
from testlog.core.timefmt import utc_iso
from testlog.errors import TestlogError
from testlog.plugin import entropy
from testlog.plugin.capture import TestCapture
from testlog.plugin.hashprobe import HashProbe, read_only, write_fingerprints
from testlog.plugin.reports import OutcomeBuilder
from testlog.plugin.runner import TestRunner, cooperate_with_randomly
from testlog.replay import hashprobe, loading
from testlog.replay.environment import compare_environments
from testlog.replay.judge import MISSING, NOT_RUN, Judgement, Replayed, judge
from testlog.replay.plan import ReplayPlan, build_plan, rng_leaks
from testlog.replay.publish import Destination, publish
from testlog.replay.report import ReplayMeta, incomplete_text, report_data, terminal_lines
from testlog.rng import by_name
from testlog.store.environment import current_environment
from testlog.store.state import open_log

INTERRUPTED = 2


def prepare(config: pytest.Config) -> None:
    """Replay runs in one process in the recorded order: switch xdist's distribution off
    (called between xdist's option handling and its configure)."""
    for name, value in (("dist", "no"), ("tx", []), ("numprocesses", 0)):
        if hasattr(config.option, name):
            setattr(config.option, name, value)


def _usage(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"testlog: {message}")


@dataclass(frozen=True)
class Settings:
    """Where the run comes from and where its report goes."""
    rev: str
    repo: str | None
    branch: str
    sign_key: str | None
    no_sign: bool
    materialized: str
    directory: str | None
    result: str | None
    from_dir: tuple[str, str | None] | None
    trust: dict[str, Any] | None = None      # what `git testlog replay`'s trust rule found
    probe: dict[str, Any] | None = None    # how `git testlog replay` wants the probe run
    hash_probe: bool = True                # check hash order (a run recorded without a seed)
    probe_out: str | None = None           # this process IS a probe: its fingerprints go here


def read_context(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def settings_of(config: pytest.Config) -> Settings:
    ctx = read_context(config.getoption("testlog_replay_context"))
    rev = config.getoption("testlog_replay")
    root = ctx.get("repo") or str(config.rootpath)
    configured = load_settings(root, {"branch": ctx.get("branch") or config.getoption("testlog_branch"),
                                      "sign_key": ctx.get("sign_key") or config.getoption("testlog_sign_key")})
    try:
        branch = full_ref(configured["branch"].value)
    except GitStoreError as exc:
        raise _usage(f"{exc} (--testlog-branch)") from None
    from_dir = loading.run_file_target(rev)
    return Settings(rev=rev, repo=root, branch=branch, sign_key=configured["sign_key"].value or None,
                    no_sign=bool(ctx.get("no_sign") or config.getoption("testlog_no_sign")),
                    materialized=ctx.get("materialized", "checkout"),
                    directory=ctx.get("directory", str(config.rootpath)), result=ctx.get("result"),
                    from_dir=from_dir, trust=ctx.get("trust"), probe=ctx.get("probe"),
                    hash_probe=bool(ctx.get("hash_probe", True)),
                    probe_out=config.getoption("testlog_replay_probe"))


def load_recorded(settings: Settings) -> loading.RecordedRun:
    try:
        if settings.from_dir is not None:
            return loading.load_from_dir(*settings.from_dir)
        with open_log(settings.repo or ".", settings.branch, False) as store:
            return loading.load_from_branch(store, settings.rev)
    except (TestlogError, GitStoreError) as exc:
        raise _usage(str(exc)) from None


def install(config: pytest.Config) -> None:
    """Register the replay for this session (raises pytest.UsageError on a bad REV)."""
    cooperate_with_randomly(config)
    settings = settings_of(config)
    recorded = load_recorded(settings)
    try:
        plan = build_plan(recorded.run, recorded.records, recorded.determinism,
                          recorded.entropy)
    except (KeyError, TypeError, ValueError) as exc:
        raise _usage(f"{recorded.label} is not a readable run ({exc!r})") from None
    # The recorder's runner seeds and captures; it must do so as the run was recorded.
    config.option.testlog_no_reseed = not plan.reseed
    config.option.testlog_full_state = False
    # Feeds each scope the OS entropy it drew when recorded (and, where none was recorded,
    # counts the draws to say so).
    tap = entropy.new_tap(config)
    runner = TestRunner(config, plan.base_seed, None, tap)
    config.pluginmanager.register(runner, "testlog-runner")
    session = ReplaySession(config, settings, recorded, plan, runner)
    config.pluginmanager.register(session, "testlog-replay")
    if tap is not None:
        tap.feeds = session
        entropy.install(config, tap)


# -- what this process is -------------------------------------------------------------------

def incomplete_note(plan: ReplayPlan) -> tuple[str, ...]:
    """Said first: the recorded run ended before all its tests ran (only those that ran are
    judged)."""
    return (incomplete_text(plan.verdict, plan.incomplete, len(plan.tests)),) \
        if plan.incomplete else ()


def checkout_note(settings: Settings, plan: ReplayPlan, rootdir: str) -> tuple[str, ...]:
    """In a checkout the user chose: say when it does not hold the recorded source."""
    if settings.materialized != "checkout" or not plan.source.get("tree"):
        return ()
    try:
        top = locate(rootdir)[2]
        here = source_info(top) if top else None
    except GitStoreError:
        here = None
    if here is None:
        return ("this checkout is not a git working tree: its source was not compared with the "
                "recorded one",)
    if here.tree != plan.source.get("tree") or bool(here.diff) != bool(plan.source.get("dirty")):
        return (f"this checkout (tree {str(here.tree)[:12]}{', dirty' if here.dirty else ''}) "
                f"is not the recorded source (tree {plan.source['tree'][:12]}"
                f"{', dirty' if plan.source.get('dirty') else ''})",)
    return ()


def untracked_note(plan: ReplayPlan) -> tuple[str, ...]:
    """Untracked files were not recorded: tests needing them cannot be reproduced."""
    names = list(plan.source.get("untracked") or ())
    if not names:
        return ()
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return (f"{len(names)} file(s) were untracked when recorded and are not in the replay "
            f"({shown}): `git add -N` them before recording to include them",)


# -- the session --------------------------------------------------------------------------

class ReplaySession:
    def __init__(self, config: pytest.Config, settings: Settings, recorded: loading.RecordedRun,
                 plan: ReplayPlan, runner: TestRunner) -> None:
        self.config, self.settings, self.recorded, self.plan = config, settings, recorded, plan
        self.runner = runner
        self.planned = plan.by_nodeid()
        self.started = time.time()
        self.builder = OutcomeBuilder(hash_capture=True)
        self.hashseed = os.environ.get("PYTHONHASHSEED")
        self.probe: HashProbe | None = None
        self.probe_note = ""
        self.only = read_only(settings.probe_out)     # a probe of some tests only
        self.outcomes: dict[str, TestOutcome] = {}
        self.captures: dict[str, TestCapture] = {}
        self.restore_missing: dict[str, tuple[str, ...]] = {}
        self.collected: set[str] = set()
        self.files_seen: set[str] = set()
        self.deselected: set[str] = set()
        self.lines: list[str] = []
        self.collection_differs: dict[str, str] = {}   # collector id -> how its draws differ
        self.collection_unfed: dict[str, int] = {}     # collector id -> draws not fed back
        # Node ids were recorded with secrets rewritten (core/redaction.py): a collected item
        # whose id holds this environment's value of a secret matches its record that way.
        self.redact = Redactor(os.environ)
        self.alias: dict[str, str] = {}          # collected node id -> its recorded form
        common = None
        try:
            common = locate(settings.repo)[0] if settings.repo and settings.from_dir is None else None
        except GitStoreError:
            pass
        self.env = compare_environments(
            plan.environment, current_environment(os.environ, common),
            recorded_hashseed=plan.pythonhashseed, current_hashseed=os.environ.get("PYTHONHASHSEED"),
            extra_notes=checkout_note(settings, plan, str(config.rootpath)) + untracked_note(plan))

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        ignored = ["testlog: --testlog is ignored while replaying: nothing new is recorded"] \
            if config.getoption("testlog") or config.getini("testlog") else []
        lines = ignored + [f"testlog: replaying {self.recorded.label} (suite {self.plan.suite}, "
                           f"{len(self.plan.tests)} tests): {self.env.headline()}"] + \
            [f"testlog: note: {note}" for note in incomplete_note(self.plan) + self.env.notes]
        return [printable(line, getattr(sys.stdout, "encoding", None)) for line in lines]

    # -- selection and order ---------------------------------------------------------------

    def recorded_id(self, nodeid: str) -> str:
        return self.alias.get(nodeid, nodeid)

    def seeded_as_collected(self) -> None:
        """A test recorded under a redacted id was seeded from its real id: its seed is the
        one derived from that, not a corrupted one."""
        fixed = {}
        for raw, recorded in self.alias.items():
            test = self.planned[recorded]
            if not test.seed_ok and test.seed == derive_seed(self.plan.base_seed, raw):
                fixed[recorded] = dataclasses.replace(test, seed_ok=True)
        if fixed:
            self.plan = dataclasses.replace(
                self.plan, tests=tuple(fixed.get(t.nodeid, t) for t in self.plan.tests))
            self.planned = self.plan.by_nodeid()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if "::" not in report.nodeid and report.nodeid:
            self.files_seen.add(report.nodeid)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.update(self.recorded_id(i.nodeid) for i in items
                               if self.recorded_id(i.nodeid) in self.planned)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Only the recorded tests, in the recorded order (after -k and any shuffling plugin)."""
        ids = [i.nodeid for i in items]
        self.alias = {raw: new for raw, new in zip(ids, self.redact.names(ids))
                      if raw != new and new in self.planned and raw not in self.planned}
        self.seeded_as_collected()
        wanted = self.planned.keys() if self.only is None else self.only & self.planned.keys()
        keep = sorted((i for i in items if self.recorded_id(i.nodeid) in wanted),
                      key=lambda i: self.planned[self.recorded_id(i.nodeid)].order)
        extra = [i for i in items if self.recorded_id(i.nodeid) not in wanted]
        self.collected = {self.recorded_id(i.nodeid) for i in keep}
        items[:] = keep
        if extra:
            config.hook.pytest_deselected(items=extra)

    # -- OS entropy (plugin/entropy.py asks for each scope's feed) -------------------------

    def test_feed(self, nodeid: str) -> Feed | None:
        test = self.planned.get(self.recorded_id(nodeid))
        draws = self.plan.entropy.test_draws(test) if test is not None else None
        return Feed(draws) if draws is not None else Feed((), feeding=False)

    def collect_feed(self, collector: str) -> Feed:
        draws = self.plan.entropy.collection_draws(self.redact.names([collector])[0])
        return Feed(draws) if draws is not None else Feed((), feeding=False)

    def paused_entropy(self) -> Any:
        """Our own work (starting a probe) draws nothing into the tests' scopes."""
        tap = self.runner.entropy
        return tap.pause() if tap is not None else contextlib.nullcontext()

    def entropy_collected(self) -> None:
        """The tests are over: how each collection scope's draws differed, and no more
        capture."""
        self.runner.stop_entropy()
        results = self.runner.entropy_results
        self.collection_differs = {c: r["differs"] for c, r in results.items() if r.get("differs")}
        self.collection_unfed = {c: r["asked"] for c, r in results.items()
                                 if not r.get("feeding") and r.get("asked")}

    @staticmethod
    def _under(nodeid: str, scopes: dict[str, Any]) -> list[tuple[str, Any]]:
        """The collectors among `scopes` that hold the test (its module, a folder above it)."""
        return [(c, v) for c, v in sorted(scopes.items())
                if c != SESSION and nodeid.startswith((c + "::", c + "/"))]

    def collection_entropy(self, nodeid: str) -> tuple[str, ...]:
        """How the draws made collecting the test's module (or a folder above it) differ."""
        return tuple(f"collecting {c}: {why}" for c, why in self._under(nodeid,
                                                                         self.collection_differs))

    def collection_unrecorded(self, nodeid: str) -> tuple[str, ...]:
        """Collecting the test's module drew OS entropy that nothing could feed back."""
        return tuple(f"collecting {c} drew OS entropy ({n} draw{'s' if n != 1 else ''}), which "
                     "the run did not record" for c, n in self._under(nodeid,
                                                                       self.collection_unfed))

    def entropy_note(self) -> tuple[str, ...]:
        why = self.collection_differs.get(SESSION)
        return (f"OS entropy drawn outside tests and collectors differs from the record: {why}",) \
            if why else ()

    # -- around each test ------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        """Outside the recorder's own wrapper: restore stored states before it captures."""
        nodeid = self.recorded_id(item.nodeid)
        test = self.planned.get(nodeid)
        if test is not None and not self.plan.reseed:
            self.restore_missing[nodeid] = self.restore_states(test.before)
        yield
        captures = self.runner.capturer.captures
        if captures and captures[-1].nodeid == item.nodeid:
            self.captures.setdefault(nodeid, captures[-1])

    def restore_states(self, before: dict[str, str]) -> tuple[str, ...]:
        """Load each RNG's stored full state; the names of those not stored."""
        missing = []
        for name, digest in before.items():
            try:
                rng = by_name(name)
            except KeyError:
                continue                       # testlog_rng: regenerated from the seed
            if not rng.loaded():
                continue
            raw = self.plan.full_states.get(digest)
            try:
                if raw is None:
                    raise ValueError(name)
                rng.restore(raw)
            except (ValueError, TypeError, RuntimeError, struct.error):
                missing.append(name)     # not stored, or not a state this RNG can take
        return tuple(missing)

    @pytest.hookimpl(trylast=True)     # as the recorder reads them (after subtests' verdict)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.builder.add(report)
        if outcome is not None:
            outcome.nodeid = self.recorded_id(outcome.nodeid)   # as recorded (redacted)
            self.outcomes.setdefault(outcome.nodeid, outcome)    # a test given twice: the first

    # -- hash order (a run recorded without PYTHONHASHSEED) -------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start the probe now, so that it runs beside this replay."""
        settings = self.settings
        if settings.probe_out or self.config.option.collectonly \
                or not hashprobe.unpinned(self.plan.pythonhashseed):
            return
        if not settings.hash_probe:
            self.probe_note = ("hash order not checked (--no-hash-probe): a test whose result "
                               "depends on set/dict order may pass or fail by luck")
            return
        if not self.hashseed:
            self.probe_note = ("hash order not checked: this replay runs under a random "
                               "PYTHONHASHSEED (set one, as `git testlog replay` does)")
            return
        self.probe = self.new_probe(hashprobe.probe_hashseed(self.plan.base_seed, self.hashseed))
        with self.paused_entropy():
            self.probe.start()

    def new_probe(self, seed: str, only: list[str] | None = None,
                  name: str = "probe") -> HashProbe:
        probe = self.settings.probe or {}
        command = probe.get("command") or [sys.executable, "-m", "pytest",
                                           *map(str, self.config.invocation_params.args)]
        cwd = probe.get("cwd") or str(self.config.invocation_params.dir)
        return HashProbe(list(command), cwd, seed, probe.get("workdir"), name=name, only=only)

    def hash_order(self, replays: list[tuple[Any, Replayed]]) -> dict[str, tuple[str, ...]]:
        """{nodeid: what differed under the probe's PYTHONHASHSEED} of the tests that depend
        on hash order: they differ there, and each seed gives the same result again when they
        are run once more, one seed after the other (a test that differs from run to run
        anyway, or that met the probe running beside it, is judged as usual)."""
        probe = self.probe
        if probe is None:
            return {}
        try:
            found = probe.fingerprints()
        finally:
            probe.close()
        if found is None:
            self.probe_note = (f"hash order not checked: the second replay under "
                               f"PYTHONHASHSEED={probe.hashseed} failed: {probe.problem}")
            return {}
        mine = {test.nodeid: hashprobe.fingerprint(replayed, result_hash(replayed.outputs))
                for test, replayed in replays}
        suspects = {n: hashprobe.differences(fp, found.get(n)) for n, fp in mine.items()}
        suspects = {n: parts for n, parts in suspects.items() if parts}
        self.probe_note = (f"hash order checked: the run was recorded without PYTHONHASHSEED; "
                           f"its tests ran under PYTHONHASHSEED={self.hashseed} and again under "
                           f"{probe.hashseed}")
        if not suspects:
            return {}
        mine_again = self.run_again(self.hashseed or "", sorted(suspects), "again-here")
        probe_again = self.run_again(probe.hashseed, sorted(suspects), "again-probe")
        return {n: parts for n, parts in suspects.items()
                if n in mine_again and n in probe_again
                and not hashprobe.differences(mine[n], mine_again[n])
                and not hashprobe.differences(found[n], probe_again[n])}

    def run_again(self, seed: str, nodeids: list[str], name: str) -> dict[str, Any]:
        """Fingerprints of some tests run once more under `seed`, alone (nothing beside it)."""
        again = self.new_probe(seed, only=nodeids, name=name)
        again.start()
        try:
            return again.fingerprints() or {}
        finally:
            again.close()

    # -- the end ---------------------------------------------------------------------------

    def replayed(self, nodeid: str) -> Replayed | None:
        """What the replay of one recorded test gave; None when it was not selected."""
        if nodeid in self.deselected:
            return None
        outcome, capture = self.outcomes.get(nodeid), self.captures.get(nodeid)
        if outcome is not None and "setup" in outcome.phases:
            last = len(outcome.attempts or ()) + 1
            failure = next((f for f in outcome.failures if f.attempt == last), None)
            cap = capture or TestCapture(nodeid, 0, None)
            attempts = tuple(str(a["status"]) for a in outcome.attempts or ())
            return Replayed(status=outcome.status, before=dict(cap.before), after=dict(cap.after),
                            outputs=cap.outputs or {}, inputs=cap.inputs or {},
                            duration_ms=(cap.end_ns - cap.start_ns) / 1e6,
                            failure=failure.text if failure else "",
                            restore_missing=self.restore_missing.get(nodeid, ()),
                            output_digests=dict(outcome.captured or {}),
                            attempts=attempts + (outcome.status,) if attempts else (),
                            entropy=cap.entropy,
                            collection_entropy=self.collection_entropy(nodeid),
                            collection_unfed=self.collection_unrecorded(nodeid))
        if nodeid in self.collected:
            return Replayed(status=NOT_RUN)
        path = nodeid.split("::", 1)[0]
        exists = os.path.exists(os.path.join(str(self.config.rootpath), path))
        if path in self.files_seen or not exists:
            return Replayed(status=MISSING)
        return None

    def replays(self) -> tuple[list[tuple[Any, Replayed]], int]:
        """(recorded test, what its replay gave) for each replayed test; how many were not
        selected."""
        self.runner.capturer.flush()            # digests of the last tests are filled in lazily
        out, skipped = [], 0
        for test in self.plan.tests:
            replayed = self.replayed(test.nodeid)
            if replayed is None:
                skipped += 1
            else:
                out.append((test, replayed))
        return out, skipped

    def judgements(self, replays: list[tuple[Any, Replayed]],
                   hash_order: dict[str, tuple[str, ...]]) -> list[Judgement]:
        leaks = rng_leaks(self.plan.tests) if not self.plan.reseed else {}
        seeds = (self.hashseed or "random", self.probe.hashseed if self.probe else "")
        out = []
        for test, replayed in replays:
            if test.nodeid in hash_order:
                replayed = dataclasses.replace(replayed, hash_order=hash_order[test.nodeid])
            out.append(judge(test, replayed, same_platform=self.env.same_platform,
                             leaks=leaks.get(test.nodeid, ()), hash_seeds=seeds))
        return out

    def write_probe(self, replays: list[tuple[Any, Replayed]]) -> None:
        """This process is the probe: each replayed test's fingerprint, to the file."""
        assert self.settings.probe_out is not None
        tests = {test.nodeid: hashprobe.fingerprint(replayed, result_hash(replayed.outputs))
                 for test, replayed in replays}
        write_fingerprints(self.settings.probe_out, self.hashseed, tests)

    def meta(self, skipped: int) -> ReplayMeta:
        session = self.runner.capturer.session_states
        differ = tuple(sorted(n for n in session.keys() & self.plan.session_states.keys()
                              if session[n] != self.plan.session_states[n]))
        finished = time.time()
        return ReplayMeta(sha=self.recorded.sha, label=self.recorded.label,
                          started=utc_iso(self.started), finished=utc_iso(finished),
                          duration_s=finished - self.started, python=sys.executable,
                          pythonhashseed=os.environ.get("PYTHONHASHSEED"),
                          materialized=self.settings.materialized, directory=self.settings.directory,
                          selection=self.config.getoption("keyword") or None, not_selected=skipped,
                          session_mismatch=differ, trust=self.settings.trust)

    def destination(self) -> Destination:
        directory = self.recorded.directory if self.settings.from_dir is not None else None
        return Destination(repo=self.settings.repo, branch=self.settings.branch,
                           sign_key=self.settings.sign_key, no_sign=self.settings.no_sign,
                           directory=directory)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.entropy_collected()
        if self.config.option.collectonly:
            return
        result: dict[str, Any] = {"exit": 1, "terminal": [], "report": None, "commit": None,
                                  "error": None}
        replays, skipped = self.replays()
        if self.settings.probe_out:
            if int(exitstatus) not in (INTERRUPTED, pytest.ExitCode.USAGE_ERROR,
                                       pytest.ExitCode.INTERNAL_ERROR):
                self.write_probe(replays)
                session.exitstatus = 0
            return
        stopped = int(exitstatus) in (INTERRUPTED, pytest.ExitCode.USAGE_ERROR,
                                      pytest.ExitCode.INTERNAL_ERROR)
        if stopped and self.probe is not None:
            self.probe.close()                 # nothing will be judged: do not wait for it
            self.probe = None
        judgements = self.judgements(replays, {} if stopped else self.hash_order(replays))
        if int(exitstatus) == INTERRUPTED:
            result["error"] = "the replay was interrupted; nothing was committed"
        elif int(exitstatus) in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            # e.g. a -k expression pytest cannot parse: no test ran, so nothing is judged.
            result["error"] = "pytest refused the replay (see its error above); nothing was committed"
        elif not judgements:
            result["error"] = (f"no recorded test was replayed: the selection matched none of "
                               f"the run's {len(self.plan.tests)} tests; nothing was committed")
        else:
            self.finish(judgements, skipped, result)
        if result["error"]:
            self.lines.append(f"testlog: {result['error']}")
            result["exit"] = INTERRUPTED if int(exitstatus) == INTERRUPTED else 1
        session.exitstatus = result["exit"]
        if self.settings.result:
            with open(self.settings.result, "w", encoding="utf-8") as handle:
                json.dump(result, handle)

    def finish(self, judgements: list[Judgement], skipped: int, result: dict[str, Any]) -> None:
        env = self.env
        notes = ((self.probe_note,) if self.probe_note else ()) + self.entropy_note()
        if notes:
            env = dataclasses.replace(env, notes=env.notes + notes)
        data = report_data(self.plan, judgements, env, self.meta(skipped))
        inputs = {t.nodeid: t.inputs for t in self.plan.tests if t.inputs}
        try:
            where, sha = publish(self.destination(), data, inputs,
                                 datetime.now(timezone.utc).date())
        except (GitStoreError, TestlogError, OSError) as exc:
            where, sha = "not written", None
            result["error"] = f"could not write the replay report: {exc}"
        result.update(terminal=terminal_lines(data, where), report=where, commit=sha,
                      verdict=data["verdict"], exit=0 if data["verdict"] == "VERIFIED" else 1)
        self.lines = list(result["terminal"])

    def pytest_unconfigure(self) -> None:
        if self.probe is not None:
            self.probe.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        encoding = getattr(sys.stdout, "encoding", None)
        for line in self.lines:
            terminalreporter.write_line(printable(line, encoding), bold=line.startswith((REPLAY_VERIFIED, REPLAY_FAILED, "testlog:")),
                                        red="FAILED" in line or "🚫" in line or "❗" in line,
                                        green=line.startswith(REPLAY_VERIFIED))
