"""The site's pages, each a function of the model returning its HTML. The first page stays
small at any size of the log (its charts hold the latest runs, every list is cut and links to
its page); each test, suite and run has a page of its own, loaded only when opened."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from testlog.core.drift import drift, spread
from testlog.core.flaky import FlakyTest, replay_command
from testlog.core.logview import LoggedRun
from testlog.core.runfacts import FAILING_CODES, STATUS_OF
from testlog.site.html import (
    STATUS_CODE,
    code,
    esc,
    page,
    run_href,
    script_json,
    status_badge,
    suite_href,
    table,
    test_href,
)
from testlog.site.model import MODE_CLASS, Series, SiteModel, mode_class
from testlog.site.svg import Columns, Point, columns_chart, legend, points_chart, strip

INDEX_CHART_RUNS = 300          # the first page charts each suite's latest runs only
INDEX_SUITES = 6
INDEX_LIST = 20
RUNS_PER_PAGE = 200
TESTS_PER_PAGE = 1000
TEST_TABLE_RUNS = 30


def runs_js(model: SiteModel) -> bytes:
    """Every run, by position: [sha (12), started, suite, verdict]; what tooltips show."""
    rows = [[r.sha[:12], r.facts.started[:16].replace("T", " "), r.facts.suite, r.facts.verdict]
            for r in model.runs]
    return ("window.TESTLOG_RUNS=" + script_json(rows) + ";\n").encode()


def _root(depth: int) -> str:
    return "../" * depth


def run_link(run: LoggedRun, depth: int) -> str:
    return f'<a href="{_root(depth)}{run_href(run.sha)}"><code>{esc(run.sha[:10])}</code></a>'


def test_link(name: str, depth: int) -> str:
    return f'<a href="{_root(depth)}{test_href(name)}">{esc(name)}</a>'


def _dates(model: SiteModel, positions: Sequence[int]) -> list[str]:
    """Axis labels: the runs' days, or their times when they all ran on one day."""
    days = [model.days[i] for i in positions]
    if len(set(days)) > 1:
        return days
    times = [model.runs[i].facts.started[11:16] for i in positions]
    if len(set(times)) > 1:
        return [t + " UTC" for t in times]
    return [model.runs[i].facts.started[11:19] for i in positions]


def _mark(model: SiteModel, run: LoggedRun) -> str:
    marks = model.marks.get(run.sha)
    if not marks:
        return ""
    if marks["failed"]:
        return f'<span class="muted">flaky: {len(marks["failed"])} known-flaky failed</span>'
    return f'<span class="muted">holds {len(marks["contains"])} known-flaky</span>'


# -- charts ------------------------------------------------------------------------------------

def pass_rate_chart(model: SiteModel, positions: Sequence[int], title: str) -> str:
    points = []
    for k, i in enumerate(positions):
        facts = model.runs[i].facts
        rate = facts.pass_rate()
        points.append(Point(k, 100.0 * rate if rate is not None else 0.0,
                            STATUS_CODE.get(facts.verdict, "S"), i,
                            f"{'n/a' if rate is None else f'{100 * rate:.1f}%'} {facts.verdict}"))
    return points_chart(points, len(positions), title=title, unit="%", low=0.0, high=100.0,
                        labels=_dates(model, positions), lines=("*",))


def duration_chart(model: SiteModel, positions: Sequence[int], title: str) -> str:
    points = [Point(k, model.runs[i].facts.duration_s, mode_class(model.runs[i].facts.mode), i,
                    f"{model.runs[i].facts.duration_s:.2f} s {model.runs[i].facts.mode}")
              for k, i in enumerate(positions)]
    modes = sorted({p.cls for p in points})
    return points_chart(points, len(positions), title=title, unit=" s", low=0.0,
                        labels=_dates(model, positions), lines=modes) + _mode_legend(model, positions)


def _mode_legend(model: SiteModel, positions: Sequence[int]) -> str:
    modes = sorted({model.runs[i].facts.mode for i in positions})
    return legend([(mode_class(m), m) for m in modes])


# -- the first page ----------------------------------------------------------------------------

def index_page(model: SiteModel) -> str:
    body = [summary_card(model)]
    if model.runs:
        body.append(suites_section(model))
        body.append(flaky_section(model, model.flaky[:INDEX_LIST], 0, cut=len(model.flaky)))
        body.append("<h2>Latest runs</h2>" + runs_table(model, list(
            range(len(model.runs) - 1, max(-1, len(model.runs) - 1 - INDEX_LIST), -1)), 0)
                    + f'<p><a href="runs/1.html">All {len(model.runs)} runs</a></p>')
        body.append(replays_section(model, 0, INDEX_LIST // 2))
        cov, bench = model.ledgers.get("coverage", []), model.ledgers.get("bench", [])
        body.append(f'<h2>Gates</h2><p><a href="coverage.html">Coverage per module</a> '
                    f'({ledger_lines(len(cov))}) · <a href="bench.html">Benchmarks p50/p95</a> '
                    f'({ledger_lines(len(bench))})</p>')
    return page(f"git testlog: {model.title}", "".join(body), 0, "index.html")


def ledger_lines(count: int) -> str:
    return f"{count} ledger line{'' if count == 1 else 's'}"


def summary_card(model: SiteModel) -> str:
    if not model.runs:
        return ('<div class="card note"><p id="empty"><b>No runs recorded yet.</b> Record one with '
                f"{code('pytest --testlog')}, then run {code('git testlog site -o DIR')} "
                "again.</p></div>")
    first, last = model.runs[0].facts.started[:10], model.runs[-1].facts.started[:10]
    classes = Counter(f.classification for f in model.flaky)
    flaky = ", ".join(f"{n} {c}" for c, n in sorted(classes.items())) or "none"
    writers = model.writers()
    suites = len(model.suites())
    lines = [f"<p><b>{len(model.runs)}</b> run{'s' if len(model.runs) != 1 else ''} of "
             f"<b>{suites}</b> suite{'s' if suites != 1 else ''}, "
             f"{first} to {last}, from {len(writers)} writer{'s' if len(writers) != 1 else ''} "
             f"({esc(', '.join(writers[:8]))}{'…' if len(writers) > 8 else ''}); "
             f"<b>{len(model.tests)}</b> tests; flaky: <a href=\"flaky.html\">{esc(flaky)}</a>; "
             f"{len(model.view.replays)} replay{'s' if len(model.view.replays) != 1 else ''}.</p>"]
    if model.note:
        lines.append(f'<p class="muted" id="note">{esc(model.note)}</p>')
    if model.view.skipped:
        lines.append(f'<p class="muted">{len(model.view.skipped)} commits left out: '
                     f"{esc(model.view.skipped[0])}{' …' if len(model.view.skipped) > 1 else ''}</p>")
    return '<div class="card">' + "".join(lines) + "</div>"


def suites_section(model: SiteModel) -> str:
    suites = model.suites()
    out = ["<h2>Suites</h2>"]
    if not suites:
        out.append('<p class="muted">Only partial runs (-k, node ids) are recorded: see '
                   '<a href="tests.html">the tests</a>.</p>')
    for suite in suites[:INDEX_SUITES]:
        positions = model.suite_runs(suite)
        last = model.runs[positions[-1]].facts
        rate = last.pass_rate()
        shown = positions[-INDEX_CHART_RUNS:]
        more = (f" (the latest {len(shown)} of {len(positions)} runs)"
                if len(shown) < len(positions) else "")
        out.append(f'<div class="card"><h3><a href="{suite_href(suite)}">{esc(suite)}</a> '
                   f"{status_badge(last.verdict)} <span class=\"muted\">pass rate "
                   f"{'n/a' if rate is None else f'{100 * rate:.1f}%'} · {len(positions)} runs"
                   f"</span></h3>"
                   + pass_rate_chart(model, shown, f"{suite}: pass rate per run{more}")
                   + "</div>")
    if len(suites) > INDEX_SUITES:
        rows = [[f'<a href="{suite_href(s)}">{esc(s)}</a>', str(len(model.suite_runs(s)))]
                for s in suites[INDEX_SUITES:]]
        out.append(table(["more suites", "runs"], rows))
    return "".join(out)


def flaky_section(model: SiteModel, flaky: Sequence[FlakyTest], depth: int, cut: int) -> str:
    if not flaky:
        return "<h2>Flaky tests</h2><p class=\"muted\">None: every source tree gave each test " \
               "one outcome.</p>"
    rows = []
    for f in flaky:
        outcomes = ", ".join(f"{s} ×{n}" for s, n in f.outcomes.items())
        rows.append([f'<span class="class">{esc(f.classification)}</span>'
                     + (f' <span class="muted">(looks {esc(f.leaning)})</span>' if f.leaning else ""),
                     test_link(f.test_name, depth), esc(outcomes),
                     run_link(f.first_seen.run, depth), run_link(f.last_seen.run, depth)])
    more = (f'<p><a href="{_root(depth)}flaky.html">All {cut} flaky tests</a></p>'
            if cut > len(flaky) else "")
    return ("<h2>Flaky tests</h2>" + table(["classification", "test", "outcomes", "first seen",
                                            "last seen"], rows, "flaky") + more)


def runs_table(model: SiteModel, positions: Sequence[int], depth: int) -> str:
    rows = []
    for i in positions:
        run = model.runs[i]
        facts = run.facts
        passed, failed = facts.passed_failed()
        suite = esc(facts.suite) + (f' <span class="muted">[{esc(facts.partial)}]</span>'
                                    if facts.partial else "")
        rows.append([run_link(run, depth), esc(facts.started[:19].replace("T", " ")), suite,
                     status_badge(facts.verdict), f"{passed} passed, {failed} failed",
                     esc(run.writer), esc(facts.mode), _mark(model, run),
                     code(f"git testlog replay {run.sha[:10]}")])
    return table(["run", "started (UTC)", "suite", "verdict", "tests", "writer", "kind", "",
                  "replay"], rows, "runs")


def verdict_badge(verdict: str) -> str:
    return f'<span class="badge {"P" if verdict == "VERIFIED" else "F"}">{esc(verdict)}</span>'


def replays_section(model: SiteModel, depth: int, limit: int | None) -> str:
    replays = list(reversed(model.view.replays))
    shown = replays[:limit] if limit else replays
    if not shown:
        return ("<h2>Replays</h2><p class=\"muted\">No replay recorded yet: "
                f"{code('git testlog replay <sha>')} re-executes a run.</p>")
    rows = []
    for rp in shown:
        target = model.index.get(rp.replay_of)
        of = (run_link(model.runs[target], depth) if target is not None
              else code(rp.replay_of[:10] or "unknown"))
        flagged = len(rp.tests) - rp.verified()
        rows.append([code(rp.sha[:10]), of, verdict_badge(rp.verdict),
                     f"{rp.verified()} verified, {flagged} flagged",
                     "same platform" if rp.same_platform else "another platform",
                     esc(rp.writer)])
    more = (f'<p><a href="{_root(depth)}replays.html">All {len(replays)} replays</a></p>'
            if limit and len(replays) > limit else "")
    return "<h2>Replays</h2>" + table(["replay", "of run", "verdict", "tests", "platform",
                                        "writer"], rows) + more


# -- suites ------------------------------------------------------------------------------------

def suite_page(model: SiteModel, suite: str) -> str:
    positions = model.suite_runs(suite)
    codes = [STATUS_CODE.get(model.runs[i].facts.verdict, "S") for i in positions]
    by_mode: dict[str, list[float]] = {}
    for i in positions:
        by_mode.setdefault(model.runs[i].facts.mode, []).append(model.runs[i].facts.duration_s * 1000)
    rows = []
    for mode, values in sorted(by_mode.items()):
        s, d = spread(values), drift(values)
        rows.append([esc(mode), str(s.count), f"{s.median / 1000:.3f} s",
                     f"{s.p25 / 1000:.3f}–{s.p75 / 1000:.3f} s",
                     esc(d.text().replace(" ms", " ms")) if d else "steady"])
    flaky = [f for f in model.flaky if suite in f.suites]
    body = (f"<p>{len(positions)} whole runs (partial runs are named apart).</p>"
            "<h2>Verdicts</h2>" + strip(codes, f"{suite}: verdict per run")
            + "<h2>Pass rate</h2>" + pass_rate_chart(model, positions, f"{suite}: pass rate per run")
            + "<h2>Duration (sum of its tests)</h2>"
            + duration_chart(model, positions, f"{suite}: duration per run")
            + table(["kind of run", "runs", "median", "p25–p75", "drift"], rows)
            + flaky_section(model, flaky, 1, cut=len(flaky))
            + "<h2>Latest runs</h2>"
            + runs_table(model, list(reversed(positions[-INDEX_LIST:])), 1))
    return page(f"suite {suite}", body, 1, "", heading=f"Suite {suite}")


# -- tests -------------------------------------------------------------------------------------

def tests_pages(model: SiteModel) -> list[tuple[str, str]]:
    names = list(model.tests)
    chunks = [names[k:k + TESTS_PER_PAGE] for k in range(0, len(names), TESTS_PER_PAGE)] or [[]]
    out = []
    for number, chunk in enumerate(chunks, 1):
        rows = []
        for name in chunk:
            series = model.series(name)
            codes = series.codes
            passed = codes.count("P") + codes.count("X")
            judged = passed + codes.count("F") + codes.count("E")
            rate = passed / judged if judged else None
            flaky = model.flaky_by_name.get(name)
            rows.append([test_link(name, 0), str(len(series)),
                         status_badge(series.status(len(series) - 1)),
                         "n/a" if rate is None else f"{100 * rate:.1f}%",
                         f"{spread(series.durations).median:.3f} ms",
                         esc(flaky.classification) if flaky else ""])
        pager = _pager("tests", number, len(chunks), 0) if len(chunks) > 1 else ""
        body = (f"<p>{len(names)} tests recorded.</p>{pager}"
                + table(["test", "runs", "last", "pass rate", "median duration", "flaky"], rows)
                + pager)
        path = "tests.html" if number == 1 else f"tests-{number}.html"
        out.append((path, page("tests", body, 0, "tests.html", heading="Tests")))
    return out


def _pager(stem: str, number: int, count: int, depth: int) -> str:
    def href(n: int) -> str:
        if stem == "tests":
            return f"{_root(depth)}tests.html" if n == 1 else f"{_root(depth)}tests-{n}.html"
        return f"{n}.html"
    links = [f'<span>page {number} of {count}</span>']
    if number > 1:
        links.append(f'<a href="{href(number - 1)}">newer</a>' if stem == "runs"
                     else f'<a href="{href(number - 1)}">previous</a>')
    if number < count:
        links.append(f'<a href="{href(number + 1)}">older</a>' if stem == "runs"
                     else f'<a href="{href(number + 1)}">next</a>')
    return '<p class="pager">' + "".join(links) + "</p>"


def test_page(model: SiteModel, name: str) -> str:
    series = model.series(name)
    positions = series.runs
    classes = model.mode_classes
    points = Columns(range(len(series)), series.durations, [classes[i] for i in positions],
                     positions, [f"{d:.3f} ms {STATUS_OF[c]}"
                                 for c, d in zip(series.codes, series.durations)])
    modes = sorted(set(points.classes))
    flaky = model.flaky_by_name.get(name)
    failing = [k for k, c in enumerate(series.codes) if c in FAILING_CODES]
    present = set(series.codes)
    parts = [flaky_card(flaky) if flaky else
             '<div class="card"><p>Not flaky: each source tree gave it one outcome.</p></div>',
             f"<h2>Outcomes</h2><p class=\"muted\">{len(series)} runs, oldest first; hover a "
             "cell or a point for its run.</p>",
             strip(series.codes, f"{name}: outcome per run"),
             legend([(c, s) for s, c in STATUS_CODE.items() if c in present and s != "INTERRUPTED"]),
             "<h2>Duration</h2>",
             columns_chart(points, len(series), title=f"{name}: duration per run", unit=" ms",
                          low=0.0, labels=_dates(model, positions), lines=modes,
                          y_format="{:g}", css="chart durations", escaped=True),
             legend([(cls, mode) for mode, cls in MODE_CLASS.items() if cls in set(modes)]
                    + ([("s4", "other")] if "s4" in modes else [])),
             duration_table(model, series)]
    if failing:
        i = series.runs[failing[0]]
        parts.append(f"<p>First failing run: {run_link(model.runs[i], 1)} "
                     f"({esc(model.runs[i].facts.started[:19])}, "
                     f"{esc(series.status(failing[0]))}); {len(failing)} failing runs in all.</p>")
    parts.append("<h2>Latest runs</h2>" + test_runs_table(model, name, series))
    return page(f"test {name}", "".join(parts), 1, "", heading=name)


def flaky_card(flaky: FlakyTest) -> str:
    seeds = "".join(f"<li>seed {esc(o.seed)} (<code>--testlog-seed={esc(o.run.facts.base_seed)}"
                    f"</code>) {esc(o.test.status)} in run {run_link(o.run, 1)}: "
                    f"{code(replay_command(o.run.sha, flaky.test_name))}</li>"
                    for o in flaky.failing_seeds[:10])
    evidence = "".join(f"<li>{esc(line)}</li>" for line in flaky.evidence)
    leaning = f" (looks {esc(flaky.leaning)})" if flaky.leaning else ""
    return (f'<div class="card note"><p>Flaky: <span class="class">{esc(flaky.classification)}'
            f"</span>{leaning}, since {run_link(flaky.first_seen.run, 1)} "
            f"({esc(flaky.first_seen.run.facts.started[:10])}).</p><ul>{evidence}</ul>"
            + (f"<p>Failing seeds:</p><ul>{seeds}</ul>" if seeds else "")
            + f"<p>Next: {code(flaky.next_step())}</p></div>")


def duration_table(model: SiteModel, series: Series) -> str:
    by_mode: dict[str, list[float]] = {}
    modes = model.modes
    for i, duration in zip(series.runs, series.durations):
        by_mode.setdefault(modes[i], []).append(duration)
    rows = []
    for mode, values in sorted(by_mode.items()):
        s, d = spread(values), drift(values)
        rows.append([esc(mode), str(s.count), f"{s.median:.3f} ms", f"{s.p25:.3f}–{s.p75:.3f} ms",
                     f"{s.sigma:.3f} ms", f"<b>{esc(d.text())}</b>" if d else "steady"])
    return table(["kind of run", "runs", "median", "p25–p75", "σ (robust)", "drift"], rows)


def test_runs_table(model: SiteModel, name: str, series: Series) -> str:
    rows = []
    for k in range(len(series) - 1, max(-1, len(series) - 1 - TEST_TABLE_RUNS), -1):
        run, t = model.runs[series.runs[k]], model.fact(series, k)
        rows.append([run_link(run, 1), esc(run.facts.started[:19].replace("T", " ")),
                     status_badge(t.status), f"{t.duration_ms:.3f} ms", esc(run.facts.mode),
                     esc(t.effective_seed(run.facts.base_seed)), esc(run.writer),
                     code(replay_command(run.sha, name))])
    more = (f'<p class="muted">The {TEST_TABLE_RUNS} latest of {len(series)}; every run is a '
            "point above.</p>" if len(series) > TEST_TABLE_RUNS else "")
    return table(["run", "started (UTC)", "status", "duration", "kind", "seed", "writer",
                  "replay"], rows) + more


# -- runs --------------------------------------------------------------------------------------

def runs_pages(model: SiteModel) -> list[tuple[str, str]]:
    newest = list(range(len(model.runs) - 1, -1, -1))
    chunks = [newest[k:k + RUNS_PER_PAGE] for k in range(0, len(newest), RUNS_PER_PAGE)] or [[]]
    out = []
    for number, chunk in enumerate(chunks, 1):
        pager = _pager("runs", number, len(chunks), 1)
        body = pager + runs_table(model, chunk, 1) + pager
        out.append((f"runs/{number}.html", page("runs", body, 1, "runs/1.html",
                                                heading=f"Runs ({len(model.runs)})")))
    return out


def run_page(model: SiteModel, i: int) -> str:
    run = model.runs[i]
    facts = run.facts
    passed, failed = facts.passed_failed()
    counts = ", ".join(f"{n} {s}" for s, n in sorted(
        (STATUS_OF[c], n) for c, n in Counter(facts.tests.codes).items()))
    rows = [["commit", code(run.sha)], ["writer (chain)", esc(run.writer)],
            ["started (UTC)", esc(facts.started)], ["suite", esc(facts.suite)],
            ["selection", esc(facts.partial) if facts.partial else "whole suite"],
            ["verdict", status_badge(facts.verdict)], ["tests", esc(counts or "none")],
            ["kind of run", esc(facts.mode)], ["platform", esc(facts.platform)],
            ["environment digest", code(facts.environment)],
            ["base seed", esc(facts.base_seed)], ["PYTHONHASHSEED", esc(facts.pythonhashseed)],
            ["source", f"commit {code(facts.commit or 'none')} tree {code(facts.tree or 'none')}"
                       + (" (dirty)" if facts.dirty_diff else "")],
            ["replay", code(f"git testlog replay {run.sha[:10]}")]]
    bad = [facts.tests.at(k) for k, c in enumerate(facts.tests.codes) if c in FAILING_CODES] \
        if failed else []
    known = model.marks.get(run.sha, {"contains": [], "failed": []})
    parts = [table(["", ""], rows, "facts")]
    parts.append(f"<h2>Failing tests ({len(bad)})</h2>")
    parts.append(table(["test", "status", "seed", "replay"], [
        [test_link(t.name, 1), status_badge(t.status), esc(t.effective_seed(facts.base_seed)),
         code(replay_command(run.sha, t.name))] for t in bad[:200]]) if bad else
        f"<p class=\"muted\">None ({passed} passed).</p>")
    if known["contains"]:
        parts.append("<h2>Known-flaky tests in this run</h2><ul>" + "".join(
            f"<li>{test_link(n, 1)} ({'failed' if n in known['failed'] else 'passed'}, "
            f"{esc(model.flaky_by_name[n].classification)})</li>" for n in known["contains"])
            + "</ul>")
    replays = model.replays_of.get(run.sha, [])
    parts.append("<h2>Replays of this run</h2>" + (table(["replay", "verdict", "tests"], [
        [code(rp.sha[:10]), verdict_badge(rp.verdict), f"{rp.verified()} verified, "
         f"{len(rp.tests) - rp.verified()} flagged"] for rp in replays]) if replays else
        "<p class=\"muted\">None yet.</p>"))
    return page(f"run {run.sha[:10]}", "".join(parts), 1, "",
                heading=f"Run {run.sha[:10]} ({facts.suite}, {facts.verdict})")


def flaky_page(model: SiteModel) -> str:
    body = flaky_section(model, model.flaky, 0, cut=len(model.flaky))
    details = []
    for f in model.flaky:
        evidence = "".join(f"<li>{esc(line)}</li>" for line in f.evidence)
        details.append(f'<div class="card"><h3>{test_link(f.test_name, 0)}</h3><p><span '
                       f'class="class">{esc(f.classification)}</span> · '
                       + ", ".join(f"{esc(s)} ×{n}" for s, n in f.outcomes.items())
                       + f"</p><ul>{evidence}</ul><p>{code(f.next_step())}</p></div>")
    if model.note and not model.flaky:
        body += f'<p class="muted">{esc(model.note)}</p>'
    return page("flaky tests", body + "".join(details), 0, "flaky.html", heading="Flaky tests")


def replays_page(model: SiteModel) -> str:
    return page("replays", replays_section(model, 0, None), 0, "replays.html", heading="Replays")


# -- ledgers -----------------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ledger_chart(entries: Sequence[dict[str, Any]], series: Sequence[tuple[str, str, str]],
                 title: str, unit: str, high: float | None) -> str:
    """One point per ledger line (oldest first) per series: (field, CSS class, label)."""
    points = []
    for k, entry in enumerate(entries):
        commit = str(entry.get("source_commit") or "")[:10]
        for key, cls, label in series:
            value = _number(entry.get(key))
            if value is not None:
                points.append(Point(k, value, cls, None,
                                    f"{label} {value:g}{unit} at {entry.get('ts', '?')} "
                                    f"(commit {commit or 'none'})"))
    labels = [str(e.get("ts", ""))[:10] for e in entries]
    return points_chart(points, len(entries), title=title, unit=unit, low=0.0, high=high,
                        labels=labels, lines=[cls for _, cls, _ in series])


def coverage_page(model: SiteModel) -> str:
    entries = [e for e in model.ledgers.get("coverage", []) if e.get("role") != "base"]
    by_module: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_module.setdefault(str(entry.get("module", "?")), []).append(entry)
    if not by_module:
        body = ('<p class="muted">No coverage measured yet: '
                f"{code('git testlog cov --all')} measures each module.</p>")
    else:
        body = '<div class="grid2">' + "".join(
            f'<div class="card"><h3>{esc(module)}</h3>'
            + ledger_chart(lines, [("coverage", "s0", "coverage")], f"{module}: coverage",
                           "%", 100.0) + "</div>" for module, lines in sorted(by_module.items())) \
            + "</div>"
    return page("coverage", body, 0, "coverage.html", heading="Coverage per module")


def bench_page(model: SiteModel) -> str:
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for entry in model.ledgers.get("bench", []):
        key = f"{entry.get('module', '?')}: {entry.get('benchmark', '?')}"
        by_bench.setdefault(key, []).append(entry)
    if not by_bench:
        body = ('<p class="muted">No benchmark measured yet: '
                f"{code('git testlog bench --all')} measures them.</p>")
    else:
        body = legend([("s0", "p50"), ("s1", "p95")]) + '<div class="grid2">' + "".join(
            f'<div class="card"><h3>{esc(name)}</h3>'
            + ledger_chart(lines, [("latency_p50_ms", "s0", "p50"), ("latency_p95_ms", "s1", "p95")],
                           f"{name}: latency", " ms", None) + "</div>"
            for name, lines in sorted(by_bench.items())) + "</div>"
    return page("benchmarks", body, 0, "bench.html", heading="Benchmarks: p50 and p95")
