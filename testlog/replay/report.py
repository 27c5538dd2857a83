"""The replay report: its data (.json), its page (.md), its error-log entries and the short
table the terminal shows. Pure functions of the judgements (golden-tested)."""
from __future__ import annotations

import shlex
import statistics
from dataclasses import dataclass
from typing import Any

from testlog.core import schema
from testlog.core.chronicle import REPLAY_FAILED, REPLAY_VERIFIED
from testlog.core.errorinfo import SEVERITY_MARKS
from testlog.core.triage import (
    CRITICAL,
    MINOR,
    MODERATE,
    PASSING,
    SEVERITY,
    SYMBOLS,
    VERIFIED,
    VERIFIED_DRIFT,
)
from testlog.replay.environment import EnvComparison
from testlog.replay.judge import Judgement, captured_differences, entropy_differences
from testlog.replay.plan import ReplayPlan

LEVELS = (VERIFIED, VERIFIED_DRIFT, MINOR, MODERATE, CRITICAL)
LABELS = {VERIFIED: "✓ verified", VERIFIED_DRIFT: "✓~ verified with drift",
          MINOR: SEVERITY_MARKS[MINOR], MODERATE: SEVERITY_MARKS[MODERATE],
          CRITICAL: SEVERITY_MARKS[CRITICAL]}
TERMINAL_FLAGGED = 15


@dataclass(frozen=True)
class ReplayMeta:
    """How this replay ran (the plugin fills it)."""
    sha: str | None
    label: str                  # the run's short sha, or its run.json path
    started: str
    finished: str
    duration_s: float
    python: str
    pythonhashseed: str | None
    materialized: str           # commit | tree | checkout | copy
    directory: str | None       # where the tests ran, when kept
    selection: str | None       # -k EXPR
    not_selected: int
    session_mismatch: tuple[str, ...] = ()
    trust: dict[str, Any] | None = None     # trust.Trust.as_dict(): signer, forced, waived


def r6(value: float | None) -> float | None:
    """Floats as canonical JSON shows them (1e-6), so the report is encoded without a walk."""
    return None if value is None else round(value, 6)


def delta_text(value: float | None) -> str | None:
    """Deltas as text: canonical JSON rounds floats to 1e-6, which would hide a 1e-9 drift."""
    return None if value is None else f"{value:.3g}"


def entropy_entry(j: Judgement) -> dict[str, Any] | None:
    """The test's OS entropy, recorded and replayed; None for a test that drew none."""
    seen = j.replayed.entropy
    if j.test.entropy is None and seen is None and not j.replayed.collection_entropy:
        return None
    seen = seen or {}
    return {"recorded": j.test.entropy, "asked": seen.get("asked", 0),
            "fed": seen.get("fed", 0), "fed_back": bool(seen.get("feeding", False)),
            "differs": list(entropy_differences(j.replayed))}


def test_entry(j: Judgement) -> dict[str, Any]:
    entry = _test_entry(j)
    entropy = entropy_entry(j)
    if entropy is not None:          # only where it applies: most tests draw none
        entry["entropy"] = entropy
    return entry


def _test_entry(j: Judgement) -> dict[str, Any]:
    drift_ms = j.replayed.duration_ms - j.test.duration_ms
    reasons = list(j.verdict.reasons) + [f"input changed: {n}" for n in j.changed_inputs]
    return {"test_name": j.test.nodeid, "order": j.test.order, "verdict": j.verdict.level,
            "reasons": reasons, "audit_alert": j.verdict.audit_alert,
            "status_recorded": j.test.status, "status_replayed": j.replayed.status,
            "result_hash_recorded": j.test.result_hash, "result_hash_replayed": j.result_hash,
            "max_delta": delta_text(j.max_delta),
            "outputs": [{**d.as_dict(), "delta": delta_text(d.delta)} for d in j.outputs],
            "rng_before_mismatch": list(j.before_mismatch),
            "rng_after_mismatch": list(j.after_mismatch), "rng_leaks": list(j.leaks),
            "rng_states_not_stored": list(j.replayed.restore_missing),
            "seed_recorded": j.test.seed, "seed_derivable": j.test.seed_ok,
            "changed_inputs": list(j.changed_inputs),
            "hash_order": list(j.replayed.hash_order),
            "captured_output_differs": list(captured_differences(j.test.output_digests,
                                                                 j.replayed.output_digests)),
            "attempts_recorded": list(j.test.attempts),
            "attempts_replayed": list(j.replayed.attempts),
            "duration_ms_recorded": r6(j.test.duration_ms),
            "duration_ms_replayed": r6(j.replayed.duration_ms), "timing_drift_ms": r6(drift_ms),
            "failure": j.replayed.failure or None}


def timing_data(judgements: list[Judgement]) -> dict[str, Any]:
    ran = [j for j in judgements if j.replayed.duration_ms > 0 and j.test.duration_ms > 0]
    recorded = sum(j.test.duration_ms for j in ran)
    replayed = sum(j.replayed.duration_ms for j in ran)
    ratios = [j.replayed.duration_ms / j.test.duration_ms for j in ran]
    worst = sorted(ran, key=lambda j: -(j.replayed.duration_ms - j.test.duration_ms))[:5]
    return {"recorded_ms": r6(recorded), "replayed_ms": r6(replayed),
            "ratio": r6(replayed / recorded) if recorded else None,
            "median_ratio": r6(statistics.median(ratios)) if ratios else None,
            "largest_drift": [{"test_name": j.test.nodeid, "recorded_ms": r6(j.test.duration_ms),
                               "replayed_ms": r6(j.replayed.duration_ms)} for j in worst]}


def counts(judgements: list[Judgement]) -> dict[str, int]:
    out = {level: 0 for level in LEVELS}
    for j in judgements:
        out[j.verdict.level] += 1
    return out


def report_data(plan: ReplayPlan, judgements: list[Judgement], env: EnvComparison,
                meta: ReplayMeta) -> dict[str, Any]:
    # Precision is about results that drifted, not about a value that is simply another one.
    deltas = [d.delta for j in judgements for d in j.outputs if d.drift and d.delta is not None]
    passed = bool(judgements) and all(j.verdict.passed for j in judgements)
    source = plan.source
    return {
        "schema_version": schema.REPLAY_REPORT, "verdict": "VERIFIED" if passed else "FAILED",
        "run": {"sha": meta.sha, "label": meta.label, "suite": plan.suite,
                "recorded": plan.started, "base_seed": plan.base_seed, "reseed": plan.reseed,
                "pythonhashseed": plan.pythonhashseed, "tests": len(plan.tests),
                "source_commit": source.get("commit"), "source_tree": source.get("tree"),
                "dirty": bool(source.get("dirty")), "verdict": plan.verdict,
                "incomplete": plan.incomplete},
        "replay": {"started": meta.started, "finished": meta.finished,
                   "duration_s": r6(meta.duration_s), "python": meta.python,
                   "pythonhashseed": meta.pythonhashseed, "materialized": meta.materialized,
                   "directory": meta.directory, "selection": meta.selection,
                   "replayed": len(judgements), "not_selected": meta.not_selected,
                   "session_states_differ": list(meta.session_mismatch), "trust": meta.trust},
        "environment": env.as_dict(), "counts": counts(judgements),
        "audit_alerts": sum(1 for j in judgements if j.verdict.audit_alert),
        "max_precision_delta": delta_text(max(deltas) if deltas else None),
        "timing": timing_data(judgements),
        "tests": [test_entry(j) for j in judgements]}


def flagged(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Tests not verified, worst first, then in replay order."""
    bad = [t for t in data["tests"] if t["verdict"] not in PASSING]
    return sorted(bad, key=lambda t: (-SEVERITY[t["verdict"]], t["order"], t["test_name"]))


def event_of(data: dict[str, Any]) -> str:
    return REPLAY_VERIFIED if data["verdict"] == "VERIFIED" else REPLAY_FAILED


def commit_summary(data: dict[str, Any]) -> str:
    bad = len(flagged(data))
    return (f"{event_of(data)} {data['run']['suite']} {len(data['tests']) - bad} verified "
            f"{bad} flagged (run {data['run']['label']})")


# -- error log ---------------------------------------------------------------------------

def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "none"


def _expected_got(t: dict[str, Any]) -> tuple[str, str]:
    """(error type, `Expected …, got …`) naming the first thing that did not hold."""
    if t.get("hash_order") and t["seed_derivable"] and not t["rng_before_mismatch"]:
        return "HashOrderDependence", ("Expected the same result under every PYTHONHASHSEED, "
                                       f"got another {', '.join(t['hash_order'])}")
    if t["status_recorded"] != t["status_replayed"]:
        return "StatusChanged", f"Expected status {t['status_recorded']}, got {t['status_replayed']}"
    if not t["seed_derivable"]:
        return "SeedCorruption", (f"Expected the seed derived from the run's base seed, got "
                                  f"{t['seed_recorded']}")
    if t["rng_before_mismatch"] or t["rng_states_not_stored"]:
        names = ", ".join(t["rng_before_mismatch"] or t["rng_states_not_stored"])
        return "SeedCorruption", f"Expected the seed to regenerate the recorded {names} state"
    if t["rng_after_mismatch"]:
        return "RNGStateMismatch", f"Expected the recorded {', '.join(t['rng_after_mismatch'])} " \
                                   "state after the test, got another"
    if t["rng_leaks"]:
        return "RNGStateLeak", f"Expected {', '.join(t['rng_leaks'])} state from the test's own " \
                               "seed, got the state an earlier test left"
    differs = (t.get("entropy") or {}).get("differs")
    if differs:
        return "EntropyDrawsDiffer", f"Expected the recorded OS entropy draws, got: {differs[0]}"
    if t.get("attempts_recorded") != t.get("attempts_replayed") and t.get("attempts_recorded"):
        return "AttemptsDiffer", (f"Expected attempts {', '.join(t['attempts_recorded'])}, got "
                                  f"{', '.join(t['attempts_replayed']) or 'one run'}")
    if t["verdict"] == MINOR:
        return "NumericDrift", f"Expected Δ ≤ 1e-08, got {t['max_delta']}"
    if t.get("captured_output_differs") and t["result_hash_recorded"] == t["result_hash_replayed"]:
        return "CapturedOutputDiffers", ("Expected the recorded captured output ("
                                         + ", ".join(k.replace("/", " ") for k in
                                                     t["captured_output_differs"])
                                         + "), got other output")
    return "OutputHashMismatch", (f"Expected result_hash {_short(t['result_hash_recorded'])}, "
                                  f"got {_short(t['result_hash_replayed'])}")


def reproduce_command(data: dict[str, Any], test_name: str) -> str:
    name = test_name.rsplit("::", 1)[-1]
    rev = data["run"]["sha"][:10] if data["run"]["sha"] else \
        f"--from-dir {shlex.quote(data['run']['label'])}"
    return f"git testlog replay {rev} -k {shlex.quote(name)}"


def error_entries(data: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries in the run error log's format (render.errors_log), one per flagged test."""
    entries = []
    for t in flagged(data):
        error_type, expected = _expected_got(t)
        entries.append({
            "timestamp": data["replay"]["finished"], "test_name": t["test_name"],
            "status": t["status_replayed"], "when": "replay", "error_type": error_type,
            "message": "; ".join(t["reasons"]), "expected_got": expected,
            "severity": t["verdict"],
            "fixtures": [{"name": n, "hash": d.get("hash", "")}
                         for n, d in sorted(inputs.get(t["test_name"], {}).items())],
            "command": reproduce_command(data, t["test_name"]), "traceback": t["failure"] or ""})
    return entries


# -- markdown ------------------------------------------------------------------------------

def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _counts_text(c: dict[str, int]) -> str:
    return ", ".join(f"{n} {LABELS[level]}" for level, n in c.items() if n) or "no test replayed"


def _timing_text(timing: dict[str, Any]) -> str:
    ratio = f" (×{timing['ratio']:.2f})" if timing["ratio"] else ""
    return f"recorded {timing['recorded_ms']:.1f} ms, replayed {timing['replayed_ms']:.1f} ms{ratio}"


def _source_text(run: dict[str, Any], replay: dict[str, Any]) -> str:
    if not run["source_commit"] and replay["materialized"] == "copy":
        return "none recorded: replayed a copy of the project as it is now"
    how = {"commit": "materialised from the commit", "tree": "materialised from the recorded "
           "tree (the commit is gone)", "checkout": "the checkout pytest ran in",
           "copy": "a copy of the project"}[replay["materialized"]]
    dirty = ", recorded dirty diff applied" if run["dirty"] and replay["materialized"] != "checkout" \
        else (", dirty" if run["dirty"] else "")
    return f"commit `{run['source_commit']}` (tree `{run['source_tree']}`){dirty}; {how}"


def forced_text(trust: dict[str, Any] | None) -> str | None:
    """What --trust-run waived, when it did."""
    if not trust or not trust.get("forced") or not trust.get("waived"):
        return None
    return "forced with --trust-run, although " + "; ".join(trust["waived"])


def _trust_rows(trust: dict[str, Any] | None) -> list[tuple[str, str]]:
    forced = forced_text(trust)
    return [("trust", forced)] if forced else []


def report_md(data: dict[str, Any]) -> str:
    run, replay, env = data["run"], data["replay"], data["environment"]
    rows = [("run", f"`{run['label']}`, recorded {run['recorded']}, base seed {run['base_seed']}"
             f"{'' if run['reseed'] else ', reseeding off'}")]
    if run.get("incomplete"):
        rows.append(("recorded run incomplete", f"{run.get('verdict') or ''}: "
                     f"{run['incomplete']}; only the tests it ran are judged"))
    rows += [
            ("source", _source_text(run, replay)),
            ("replayed", f"{replay['started']} → {replay['finished']} ({replay['duration_s']:.2f} s)"
             f" with `{replay['python']}`, PYTHONHASHSEED={replay['pythonhashseed'] or 'unset'}"),
            ("environment", env["headline"]),
            ("tests", f"{replay['replayed']} of {run['tests']} replayed"
             + (f" (`-k {replay['selection']}`)" if replay["selection"] else "")),
            ("verdicts", _counts_text(data["counts"])), ("audit alerts", str(data["audit_alerts"])),
            ("max precision Δ", data["max_precision_delta"] or "0"),
            ("timing", _timing_text(data["timing"]))] + _trust_rows(replay.get("trust"))
    out = [f"# Replay of `{run['label']}` (`{run['suite']}`): {data['verdict']}", "",
           "| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
    out += ["", "## Environment", ""]
    diffs = env["differences"]
    out += [f"- {d['label']}: `{d['recorded']}` → `{d['replayed']}`"
            f"{'' if d['platform'] else ' (informational)'}" for d in diffs] or \
        ["- same OS, architecture, Python, NumPy and torch as recorded"]
    out += [f"- {note}" for note in env["notes"]]
    if replay["session_states_differ"]:
        out.append("- session-start RNG states differ from the recorded ones: "
                   + ", ".join(replay["session_states_differ"]))
    out += ["", "## Flagged tests", ""]
    bad = flagged(data)
    if bad:
        out += ["| verdict | test | reasons |", "|---|---|---|"]
        out += [f"| {LABELS[t['verdict']]} | `{_cell(t['test_name'])}` | {_cell('; '.join(t['reasons']))} |"
                for t in bad]
    else:
        out.append("None: every replayed test is verified.")
    out += ["", "## All tests (replay order)", "",
            "| # | test | status | verdict | max Δ | recorded ms | replayed ms |",
            "|---:|---|---|---|---:|---:|---:|"]
    for t in data["tests"]:
        status = t["status_recorded"] if t["status_recorded"] == t["status_replayed"] else \
            f"{t['status_recorded']} → {t['status_replayed']}"
        out.append(f"| {t['order']} | `{_cell(t['test_name'])}` | {status} | "
                   f"{SYMBOLS[t['verdict']]} {t['verdict']} | {t['max_delta'] or '-'} | "
                   f"{t['duration_ms_recorded']:.3f} | {t['duration_ms_replayed']:.3f} |")
    return "\n".join(out) + "\n"


# -- terminal ------------------------------------------------------------------------------

def incomplete_text(verdict: str | None, incomplete: str, tests: int) -> str:
    return (f"the recorded run was incomplete{f' ({verdict})' if verdict else ''}: {incomplete}"
            f"; only the {tests} tests it ran are replayed and judged")


def terminal_lines(data: dict[str, Any], where: str) -> list[str]:
    """The short table: an incomplete recorded run and the environment first, counts, the
    flagged tests, where the report is."""
    run = data["run"]
    lines = [f"replay of {run['label']} (suite {run['suite']}): {data['environment']['headline']}"]
    forced = forced_text(data["replay"].get("trust"))
    lines += [f"  note: {forced}"] if forced else []
    if run.get("incomplete"):
        lines.append(f"  note: {incomplete_text(run.get('verdict'), run['incomplete'], run['tests'])}")
    lines += [f"  note: {note}" for note in data["environment"]["notes"]]
    lines += [f"  {LABELS[level]:<26}{n:>6}" for level, n in data["counts"].items() if n]
    bad = flagged(data)
    for t in bad[:TERMINAL_FLAGGED]:
        lines.append(f"  {SYMBOLS[t['verdict']]} {t['verdict']:<9} {t['test_name']}: "
                     f"{'; '.join(t['reasons'])}")
    if len(bad) > TERMINAL_FLAGGED:
        lines.append(f"  … and {len(bad) - TERMINAL_FLAGGED} more flagged tests (see the report)")
    lines.append(f"  timing: {_timing_text(data['timing'])}; max precision Δ "
                 f"{data['max_precision_delta'] or '0'}; {data['audit_alerts']} audit alert(s)")
    total = len(data["tests"])
    incomplete = " (the recorded run was incomplete: only the tests it ran were replayed)" \
        if run.get("incomplete") else ""
    lines.append(f"{event_of(data)}: {total - len(bad)} of {total} tests verified{incomplete}; "
                 f"report {where}")
    return lines
