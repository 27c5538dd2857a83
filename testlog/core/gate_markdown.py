"""A gate's `--json` document as Markdown, for `$GITHUB_STEP_SUMMARY` (a job's summary page).
Pure; golden-file tested."""
from __future__ import annotations

from typing import Any

ICONS = {"pass": "✅", "fail": "❌", "empty": "⚠️"}


def _cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _coverage_row(m: dict[str, Any]) -> str:
    delta, patch = m.get("delta"), m.get("patch")
    if delta and delta.get("points") is not None:
        change = f"{delta['points']:+.2f} vs `{delta['base_commit'][:7]}`"
    elif delta:
        change = _cell(delta.get("reason") or "-")
    else:
        change = "-"
    lines = "-"
    if patch and patch.get("total"):
        lines = f"{patch['percent']:.2f}% ({patch['covered']}/{patch['total']})"
    elif patch:
        lines = "no executable lines"
    verdict = "❌" if m.get("problems") else ("skipped" if m.get("skipped") else "✅")
    return (f"| `{_cell(m['path'])}` | {m['lane']} | {_percent(m.get('coverage'))} | "
            f"{m['target']:g}% | {change} | {lines} | {verdict} |")


def _bench_rows(m: dict[str, Any]) -> list[str]:
    rows = []
    for b in m.get("benchmarks", []):
        base = b.get("regression") or {}
        ratio = f"{base['ratio']:.2f}x" if base.get("ratio") is not None else "-"
        rows.append(f"| `{_cell(b['benchmark'])}` | {b['latency_p50_ms']:.3f} | "
                    f"{b['latency_p95_ms']:.3f} | {ratio} | {_cell(b.get('verdict', '-'))} |")
    return rows


def gate_markdown(doc: dict[str, Any]) -> str:
    """Headline, the problems, a table per module (coverage) or benchmark (bench), notes."""
    title = {"coverage": "Coverage gate", "bench": "Benchmark gate"}.get(doc["check"], "Gate")
    out = [f"### {ICONS.get(doc['verdict'], '')} {title}: {_cell(doc.get('summary') or doc['verdict'])}",
           "", f"Selection: {_cell(doc['selection'])}", ""]
    if doc["problems"]:
        out += [f"- {_cell(p)}" for p in doc["problems"]] + [""]
    if doc["check"] == "coverage" and doc["modules"]:
        out += ["| module | lane | coverage | target | change | changed lines | |",
                "|---|---|---:|---:|---|---|---|"]
        out += [_coverage_row(m) for m in doc["modules"]] + [""]
    if doc["check"] == "bench":
        rows = [row for m in doc["modules"] for row in _bench_rows(m)]
        if rows:
            out += ["| benchmark | p50 ms | p95 ms | vs base | verdict |",
                    "|---|---:|---:|---:|---|", *rows, ""]
    out += [f"> {_cell(n)}" for n in doc["notes"]]
    return "\n".join(out).rstrip("\n") + "\n\n"
