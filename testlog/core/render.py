"""The human-readable files of a run: runs/…run.log, summaries/…summary.md, errors/…errors.log.

Pure functions of the run's data (golden-file tested).
"""
from __future__ import annotations

from typing import Any

from testlog.core.counts import closing_line
from testlog.core.errorinfo import SEVERITY_MARKS, error_text

SLOWEST = 10
LOG_MESSAGE_CHARS = 120


def _one_line(text: str, limit: int = LOG_MESSAGE_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def run_log(records: list[dict[str, Any]], errors: list[dict[str, Any]]) -> str:
    """One line per test, in record order (by test name): time, status, duration, seed, name."""
    first_error: dict[str, str] = {}
    for error in errors:
        first_error.setdefault(error["test_name"], error_text(error["error_type"], error["message"],
                                                              error["expected_got"],
                                                              error.get("left_right")))
    lines = []
    for r in records:
        line = (f"{r['timestamp_start'] or '-'} {r['status']:<5} {r['duration_ms']:>10.3f} ms  "
                f"seed={r['seed']:<10} {r['test_name']}")
        if r["test_name"] in first_error and r["status"] in ("FAIL", "ERROR"):
            line += f"  -- {_one_line(first_error[r['test_name']])}"
        lines.append(line)
    return "".join(line + "\n" for line in lines)


def _indented(text: str, prefix: str = "    ") -> str:
    return "".join(prefix + line + "\n" for line in text.rstrip("\n").splitlines())


def error_entry(error: dict[str, Any]) -> str:
    """One entry in the spec's format (IX), with severity and the full traceback."""
    lines = [f"[{error['timestamp']}] ERROR: {error['error_type']}",
             f"  Test: {error['test_name']}"]
    if error.get("subtest"):
        lines.append(f"  Subtest: {error['subtest']}")
    if error.get("attempt"):
        lines.append(f"  Attempt: {error['attempt']} of {error['attempts']}")
    lines += [f"  Status: {error['status']} ({error['when']})",
              f"  Severity: {SEVERITY_MARKS[error['severity']]}"]
    for fixture in error.get("fixtures", []):
        lines.append(f"  Fixture: {fixture['name']} (sha256 {fixture['hash']})")
    if error.get("expected_got"):
        lines.append(f"  {error['expected_got']}")
    elif error.get("left_right"):
        lines.append(f"  {error['left_right']}")
    elif error.get("message"):
        lines.append(f"  Message: {_one_line(error['message'], 500)}")
    lines.append(f"  Command: {error['command']}")
    text = "\n".join(lines) + "\n"
    if error.get("traceback"):
        text += "  Traceback:\n" + _indented(error["traceback"])
    return text


def errors_log(errors: list[dict[str, Any]]) -> str:
    return "\n".join(error_entry(e) for e in errors)


def _table_cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _counts_line(totals: dict[str, Any]) -> str:
    """pytest's closing line (its counts are of reports: a failing subtest is one more failed)."""
    return closing_line(totals)


def _records_line(totals: dict[str, Any]) -> str:
    """Records by status: one per test, its subtests and re-runs folded in."""
    statuses = totals.get("statuses") or {}
    shown = ", ".join(f"{n} {status}" for status, n in statuses.items() if n)
    flaky = f"; {totals['flaky']} flaky" if totals.get("flaky") else ""
    return f"{totals['tests']} ({shown or 'none'}){flaky}"


def _hashseed_text(summary: dict[str, Any]) -> str:
    value = summary.get("pythonhashseed")
    if value is None:
        return "PYTHONHASHSEED unset: set and dict order is not reproducible"
    return f"PYTHONHASHSEED={value}"


def _source_text(summary: dict[str, Any]) -> str:
    commit, tree = summary.get("source_commit"), summary.get("source_tree")
    if not commit:
        return "no commit (unborn branch or outside git)"
    state = "dirty (diff stored on the branch)" if summary.get("dirty") else "clean"
    return f"`{commit}` (tree `{tree}`), {state}"


def _failure_detail(failure: dict[str, Any]) -> str:
    detail = ""
    if failure.get("subtest"):
        detail += f" subtest {_table_cell(failure['subtest'])}"
    if failure.get("attempt"):
        detail += f" (attempt {failure['attempt']})"
    return detail


def summary_md(summary: dict[str, Any]) -> str:
    """The run's summary page: totals, pass rate, duration, slowest tests, failures, coverage."""
    rate = summary["pass_rate"]
    rows = [("started (UTC)", summary["started"]), ("finished (UTC)", summary["finished"]),
            ("duration", f"{summary['duration_s']:.3f} s"), ("source", _source_text(summary)),
            ("base seed", f"{summary['base_seed']}; {_hashseed_text(summary)}"),
            ("tests", _counts_line(summary["totals"])),
            ("records", _records_line(summary["totals"])),
            ("pass rate", "n/a" if rate is None else f"{rate:.2f}%")]
    if summary.get("selection"):
        rows.append(("selection", f"partial run: `{summary['selection']['text']}`"))
    shard = summary.get("shard")
    if isinstance(shard, dict):
        rows.append(("shard", f"{shard.get('index')}/{shard.get('count')} of run "
                              f"`{_table_cell(str(shard.get('run_id')))}`"))
    if summary.get("incomplete"):
        rows.append(("incomplete", summary["incomplete"]))
    if summary["totals"].get("collection_errors"):
        rows.append(("collection errors", str(summary["totals"]["collection_errors"])))
    for warning in summary.get("warnings") or ():
        rows.append(("warning", warning))
    if summary.get("coverage_percent") is not None:
        rows.append(("coverage", f"{summary['coverage_percent']:.2f}%"))
    out = [f"# Test run `{summary['suite']}`: {summary['verdict']}", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    out += ["", "## Slowest tests", "", "| test | status | duration (ms) |", "|---|---|---:|"]
    out += [f"| `{t['test_name']}` | {t['status']} | {t['duration_ms']:.3f} |"
            for t in summary["slowest"]]
    out += ["", "## Failures", ""]
    if summary["failures"]:
        out += ["| test | status | severity | error |", "|---|---|---|---|"]
        out += [f"| `{f['test_name']}`{_failure_detail(f)} | {f['status']} | "
                f"{SEVERITY_MARKS[f['severity']]} | {_table_cell(f['error'])} |"
                for f in summary["failures"]]
    else:
        out.append("None.")
    return "\n".join(out) + "\n"
