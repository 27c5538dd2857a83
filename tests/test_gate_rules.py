"""The pure rules of the gates that see regressions: manifest fields, changed lines from a diff,
the delta and patch messages, the noise-aware benchmark comparison, the Markdown summary."""
from __future__ import annotations

import json
import random

import pytest

from testlog.core.gate_markdown import gate_markdown
from testlog.core.gates import (
    NEW_MODULE,
    BaseCoverage,
    CoverageResult,
    coverage_notes,
    coverage_problems,
    delta_violation,
    patch_violation,
)
from testlog.core.manifest import parse_manifest
from testlog.core.modules import claimed_by, measured_exclusions, owns_source
from testlog.core.patch import (
    PatchCoverage,
    added_lines,
    compact,
    expand,
    line_ranges,
    patch_coverage,
)
from testlog.core.regression import (
    NOISY,
    PASS,
    REGRESSION,
    WITHIN_NOISE,
    compare,
    kept_samples,
    slower_p_value,
)
from testlog.errors import UsageError


def manifest(data: dict, root: str = "m"):
    return parse_manifest(json.dumps(data), root)


@pytest.mark.parametrize("lane, drop, patch", [
    ("L0", None, None), ("L1", None, None), ("L2", 1.0, 80.0), ("L3", 0.5, 85.0),
    ("L4", 0.5, 90.0), ("L5", 0.5, 90.0),
])
def test_lane_defaults_for_max_drop_and_patch_target(lane, drop, patch):
    m = manifest({"tags": [f"lane:{lane}"]})
    assert (m.max_drop, m.patch_target, m.max_regression) == (drop, patch, None)


def test_explicit_values_and_null_turn_checks_off():
    m = manifest({"tags": ["lane:L3"], "testing": {"max_drop": 2, "patch_target": 50},
                  "performance": {"max_regression": 1.1}})
    assert (m.max_drop, m.patch_target, m.max_regression) == (2.0, 50.0, 1.1)
    off = manifest({"tags": ["lane:L3"], "testing": {"max_drop": None, "patch_target": None}})
    assert (off.max_drop, off.patch_target) == (None, None)


def test_tests_and_sources_are_repository_relative_and_default_to_the_module():
    plain = manifest({}, root="pkg/a")
    assert (plain.tests, plain.sources, plain.tests_declared) == (("pkg/a/tests",), ("pkg/a",), False)
    top = manifest({"sources": ["."], "testing": {"tests": ["../../tests/a", "../../tests/a/"]}},
                   root="pkg/a")
    assert (top.tests, top.sources, top.tests_declared) == (("tests/a",), ("pkg/a",), True)
    root = manifest({"sources": ["src/lib"], "testing": {"tests": "tests"}}, root="")
    assert (root.tests, root.sources) == (("tests",), ("src/lib",))


@pytest.mark.parametrize("data, message", [
    ({"testing": {"max_dorp": 1}},
     "m/module.manifest.json: testing.max_dorp is not a known field (did you mean "
     "testing.max_drop?)"),
    ({"modul": "x"}, "m/module.manifest.json: modul is not a known field (did you mean module?)"),
    ({"performance": {"sla_targets": {"latency_p50_ms": 3}}},
     "m/module.manifest.json: performance.sla_targets.latency_p50_ms is not a known field"),
    ({"testing": {"max_drop": -1}},
     "m/module.manifest.json: testing.max_drop is -1; use a number of percentage points, 0 or more"),
    ({"testing": {"max_drop": "1"}}, "m/module.manifest.json: testing.max_drop is '1'"),
    ({"testing": {"patch_target": 120}},
     "m/module.manifest.json: testing.patch_target is 120; use a number from 0 to 100"),
    ({"testing": {"patch_target": -0.5}}, "m/module.manifest.json: testing.patch_target is -0.5"),
    ({"testing": {"tests": ["../../outside"]}},
     "m/module.manifest.json: testing.tests holds '../../outside', which is outside the repository"),
    ({"testing": {"tests": ["/abs/tests"]}},
     "m/module.manifest.json: testing.tests holds '/abs/tests', an absolute path"),
    ({"testing": {"tests": []}}, "m/module.manifest.json: testing.tests must be a non-empty list"),
    ({"sources": ["../.."]}, "m/module.manifest.json: sources holds '../..', which is outside"),
    ({"performance": {"max_regression": 0.9}},
     "m/module.manifest.json: performance.max_regression is 0.9; use a factor of 1 or more"),
])
def test_bad_manifest_fields_are_one_line_naming_file_and_field(data, message):
    with pytest.raises(UsageError) as caught:
        manifest(data)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value) and caught.value.exit_status == 2


def test_fields_of_ones_own_start_with_x():
    m = manifest({"x-owner": "team", "testing": {"x-note": {"any": 1}}, "$schema": "s"})
    assert m.name == "m"


def test_exclusions_and_ownership_with_declared_sources_and_nested_modules():
    m = manifest({"sources": ["."], "testing": {"tests": ["../tests/m"]}})
    excluded = measured_exclusions(m, ["m", "m/sub", "other"])
    assert excluded == ["m/sub", "tests/m"]
    assert owns_source(m, excluded, "m/a.py") and not owns_source(m, excluded, "m/sub/b.py")
    assert not owns_source(m, excluded, "tests/m/test_a.py")
    assert claimed_by([m], ["tests/m/test_a.py"]) == ["m"]
    assert claimed_by([m], ["tests/other/test_b.py", "m/a.py"]) == []   # m owns m/a.py anyway


DIFF = b"""diff --git a/pkg/a.py b/pkg/a.py
index 1111111..2222222 100644
--- a/pkg/a.py
+++ b/pkg/a.py
@@ -3 +3,2 @@ def f():
-    return 1
+    x = 2
+    return x
@@ -10,0 +12 @@ def g():
+    pass
@@ -20,2 +21,0 @@ def h():
-    gone
-    gone
diff --git a/pkg/old.py b/pkg/moved.py
similarity index 91%
rename from pkg/old.py
rename to pkg/moved.py
index 3333333..4444444 100644
--- a/pkg/old.py
+++ b/pkg/moved.py
@@ -7 +7 @@ def k():
-    a = 1
+    a = 2
diff --git a/pkg/pure_move.py b/pkg/pure_moved.py
similarity index 100%
rename from pkg/pure_move.py
rename to pkg/pure_moved.py
diff --git a/pkg/new.py b/pkg/new.py
new file mode 100644
index 0000000..5555555
--- /dev/null
+++ b/pkg/new.py
@@ -0,0 +1,3 @@
+def n():
+
+    return 3
diff --git a/pkg/dead.py b/pkg/dead.py
deleted file mode 100644
--- a/pkg/dead.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x = 1
-y = 2
diff --git "a/pkg/t\\303\\244b\\tname.py" "b/pkg/t\\303\\244b\\tname.py"
--- "a/pkg/t\\303\\244b\\tname.py"
+++ "b/pkg/t\\303\\244b\\tname.py"
@@ -1 +1 @@
-a
+b
"""


def test_added_lines_follow_renames_and_skip_deletions():
    assert added_lines(DIFF) == {
        "pkg/a.py": [3, 4, 12],
        "pkg/moved.py": [7],             # a renamed file counts only the lines it changed
        "pkg/new.py": [1, 2, 3],
        "pkg/t\u00e4b\tname.py": [1],    # git's C-quoted path
    }


def test_patch_coverage_counts_executable_changed_lines_of_owned_files():
    lines = {"pkg/a.py": ({3, 4}, {3, 4, 12}), "pkg/new.py": (set(), {1, 3}),
             "other/x.py": (set(), {1})}
    changed = {"pkg/a.py": [3, 4, 12], "pkg/new.py": [1, 2, 3], "other/x.py": [1],
               "pkg/readme.txt": [1]}
    patch = patch_coverage(changed, lines, lambda p: p.startswith("pkg/"))
    assert (patch.covered, patch.total, patch.percent) == (2, 5, 40.0)
    # line 2 of new.py is blank (not executable): the run 1-3 is one span
    assert patch.uncovered == ("pkg/a.py:12", "pkg/new.py:1-3")
    assert patch_coverage({"pkg/a.py": [1, 2]}, lines, lambda p: True).percent is None


def test_line_ranges_break_on_executable_lines_only():
    assert line_ranges([3, 4, 6], executable=[3, 4, 5, 6]) == [(3, 4), (6, 6)]
    assert line_ranges([3, 4, 6], executable=[3, 4, 6]) == [(3, 6)]
    assert compact([1, 2, 3, 7, 9, 10]) == "1-3,7,9-10" and expand("1-3,7") == {1, 2, 3, 7}
    with pytest.raises(ValueError):
        expand("5-2")


def toolz(coverage: float, base: float | None, *, reason: str = "",
          patch: PatchCoverage | None = None) -> CoverageResult:
    return CoverageResult("toolz", "L3", 85.0, coverage, "passed", max_drop=0.5,
                          base=BaseCoverage("1a2b3c4d5e6f" + "0" * 28, base, reason),
                          patch_target=85.0, patch=patch)


def test_delta_message_names_the_previous_value_the_base_and_the_drop():
    assert delta_violation(toolz(93.74, 98.55)) == \
        "toolz: 93.74% (was 98.55% at 1a2b3c4, \u22124.81 points > max drop 0.5) (lane L3)"
    assert delta_violation(toolz(98.10, 98.55)) is None          # 0.45 points: allowed
    assert delta_violation(toolz(98.05, 98.55)) is None          # exactly 0.5: allowed
    assert delta_violation(toolz(99.0, 98.55)) is None


def test_patch_message_lists_the_uncovered_lines():
    patch = PatchCoverage(1, 4, ("toolz/new.py:1-12", "toolz/core.py:40"))
    assert patch_violation(toolz(99.0, 99.0, patch=patch)) == (
        "toolz: changed lines 25.00% covered (1 of 4) < patch target 85% (lane L3); not "
        "covered: toolz/new.py:1-12, toolz/core.py:40")
    assert patch_violation(toolz(99.0, 99.0, patch=PatchCoverage(4, 4))) is None


def test_notes_say_why_a_check_did_not_judge():
    unmeasurable = toolz(90.0, None, reason="its tree no longer checks out: gone")
    assert coverage_problems([unmeasurable]) == []
    assert coverage_notes(unmeasurable) == [
        "toolz: base 1a2b3c4 could not be measured (its tree no longer checks out: gone): "
        "judged on the absolute target only"]
    new = toolz(90.0, None, reason=NEW_MODULE, patch=PatchCoverage(0, 0))
    assert coverage_notes(new) == [
        "toolz: not in base 1a2b3c4 (a new module): no coverage delta",
        "toolz: no executable lines changed: the changed-lines check passes"]


def test_identical_distributions_pass_and_a_shift_is_a_regression():
    rng = random.Random(7)
    base = [1.0 + rng.random() * 0.1 for _ in range(60)]
    same = [1.0 + rng.random() * 0.1 for _ in range(60)]
    slower = [x * 1.5 for x in same]
    assert compare(same, base, 1.1).verdict == PASS
    found = compare(slower, base, 1.1)
    assert found.verdict == REGRESSION and found.ratio > 1.3 and found.p_value < 1e-6


def test_a_p95_beyond_the_factor_from_a_few_slow_rounds_is_within_the_noise():
    base = [1.0 + i / 1000 for i in range(40)]
    new = [1.0 + i / 1000 for i in range(37)] + [2.0, 2.1, 2.2]   # three slow rounds of 40
    found = compare(new, base, 1.1)
    assert found.ratio > 1.1 and found.verdict == WITHIN_NOISE and found.p_value > 0.01


def test_a_measurement_whose_spread_is_too_wide_is_not_judged():
    noisy = [1.0] * 36 + [5.0] * 4          # p95 is 5x p50, as on a loaded machine
    assert compare(noisy, [1.0] * 40, 1.1).verdict == NOISY
    assert slower_p_value([], [1.0]) == 1.0


def test_kept_samples_keep_the_shape_at_a_bounded_size():
    many = [i / 10 for i in range(10_000)]
    kept = kept_samples(many)
    assert len(kept) == 200 and kept[0] == 0.0 and kept[-1] == 999.9
    assert kept == sorted(kept) and kept_samples([3.0, 1.0]) == [1.0, 3.0]


def test_markdown_summary_has_the_verdict_problems_and_a_row_per_module():
    doc = {"check": "coverage", "verdict": "fail", "selection": "modules affected by x..y",
           "summary": "Coverage gate failed (1 problem): 1 module checked",
           "problems": ["toolz: 93.74% (was 98.55% at 1a2b3c4, \u22124.81 points > max drop 0.5) (lane L3)"],
           "notes": ["a | note"],
           "modules": [{"path": "toolz", "lane": "L3", "coverage": 93.74, "target": 85.0,
                        "delta": {"points": -4.81, "base_commit": "1a2b3c4d" + "0" * 32},
                        "patch": {"total": 4, "covered": 1, "percent": 25.0},
                        "problems": ["x"], "skipped": None}]}
    text = gate_markdown(doc)
    assert text.startswith("### \u274c Coverage gate: Coverage gate failed (1 problem)")
    assert "| `toolz` | L3 | 93.74% | 85% | -4.81 vs `1a2b3c4` | 25.00% (1/4) | \u274c |" in text
    assert "- toolz: 93.74% (was 98.55%" in text and "> a \\| note" in text


def test_a_noisy_benchmark_is_not_judged_unless_even_its_median_breaks_the_sla():
    from testlog.gates.benchgate import verdict_of
    noisy = [1.0] * 36 + [9.0] * 4
    row = {"benchmark": "b", "latency_p50_ms": 1.0, "latency_p95_ms": 9.0}
    assert verdict_of(row, noisy, None, None, 5.0)["verdict"] == NOISY      # p95 is noise
    over = {**row, "latency_p50_ms": 6.0}
    assert verdict_of(over, noisy, None, None, 5.0)["verdict"] == "sla"     # the median is not
    steady = [1.0 + i / 100 for i in range(40)]
    assert verdict_of({**row, "latency_p95_ms": 1.4}, steady, None, None, 5.0)["verdict"] == PASS


def test_later_hands_back_the_answer_or_the_error_and_disposes_of_unused_answers():
    import threading

    from testlog.gates.later import Later
    assert Later(lambda: 42).result() == 42
    failing = Later(lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()
    release, closed = threading.Event(), []
    slow = Later(lambda: release.wait(60) and "store")
    slow.dispose(closed.append)           # not answered yet: disposed of once it is
    assert closed == []
    release.set()
    slow.result()
    from tests.waiting import wait_until
    wait_until(lambda: closed == ["store"], "the late answer is disposed of")
    done = Later(lambda: "x")
    done.result()
    done.dispose(closed.append)
    assert closed == ["store", "x"]
