"""The pure parts of replay, as tables: plan, output drift, environment, judging."""
from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from testlog.config import Setting
from testlog.core.hashing import describe_value
from testlog.errors import TestlogError
from testlog.gates.interpreter import project_python
from testlog.replay import loading
from testlog.replay.checkout import find_rootdir
from testlog.replay.environment import compare_environments
from testlog.replay.judge import MISSING, Replayed, judge
from testlog.replay.options import recorded_options, replayable_options
from testlog.replay.outputs import compare_outputs, drift_delta, output_diff
from testlog.replay.plan import PlannedTest, files_of, replay_order, rng_leaks
from testlog.store import runs


@pytest.mark.parametrize("args,kept", [
    (["-q", "tests", "--testlog"], []),
    (["-p", "no:randomly", "-k", "slow", "-n", "2"], ["-p", "no:randomly"]),
    (["-pno:randomly", "-Werror", "-m", "x"], ["-pno:randomly", "-Werror"]),
    (["--import-mode=importlib", "--doctest-modules", "-o", "xfail_strict=true",
      "--override-ini=python_files=check_*.py"],
     ["--import-mode=importlib", "--doctest-modules", "-o", "xfail_strict=true",
      "--override-ini=python_files=check_*.py"]),
    (["--testlog-seed=3", "--confcutdir", "sub", "tests/x.py::t"], ["--confcutdir", "sub"]),
    # options that load code or reach outside the checkout are never repeated
    (["-p", "evil", "-o", "pythonpath=/tmp", "-oaddopts=-p x", "-c", "/etc/x.ini",
      "--confcutdir=..", "-W", "error::evil.Warning", "--import-mode=../x"], []),
])
def test_replayable_options(args, kept):
    assert replayable_options(args) == kept


def test_refused_options_are_named_one_by_one():
    found = recorded_options(["-p", "evil", "-p", "no:randomly", "-o", "pythonpath=/tmp",
                              "--override-ini=addopts=-p x", "-c", "ci/pytest.ini",
                              "--config-file=/etc/pytest.ini", "--confcutdir", "../..",
                              "-Werror::evil.Warning", "-W", "ignore::DeprecationWarning",
                              "-o", "filterwarnings=error::evil.W"])
    assert found.refused == ("-p evil", "-o pythonpath=/tmp", "--override-ini=addopts=-p x",
                             "--config-file=/etc/pytest.ini", "--confcutdir ../..",
                             "-Werror::evil.Warning", "-o filterwarnings=error::evil.W")
    assert found.kept == ("-p", "no:randomly", "-c", "ci/pytest.ini", "-W",
                          "ignore::DeprecationWarning")
    assert found.paths == ("ci/pytest.ini",)


def test_test_files_in_first_seen_order():
    assert files_of(["b.py::t1", "a.py::t", "b.py::t2", "c.py::K::t[1]"]) == ["b.py", "a.py", "c.py"]


def planned(nodeid: str, order: int, before: dict, after: dict, worker: str | None = None,
            outputs: dict | None = None, status: str = "PASS") -> PlannedTest:
    from testlog.core.hashing import result_hash
    return PlannedTest(nodeid, order, worker, 1, status, before, after,
                       result_hash(outputs or {}), outputs or {}, {}, 1.0)


LEAK_CASES = [
    # A moves python; B starts where A left it and moves it: B leaked.
    ([("A", {"python": "s0"}, {"python": "s1"}), ("B", {"python": "s1"}, {"python": "s2"})], {"B": ("python",)}),
    # B does not draw: no leak even though it starts from A's state.
    ([("A", {"python": "s0"}, {"python": "s1"}), ("B", {"python": "s1"}, {"python": "s1"})], {}),
    # C draws what A left, through B which did not touch it.
    ([("A", {"python": "s0"}, {"python": "s1"}), ("B", {"python": "s1"}, {"python": "s1"}),
      ("C", {"python": "s1"}, {"python": "s2"})], {"C": ("python",)}),
    # The first mover is not a leak; the Generator never leaks.
    ([("A", {"python": "s0", "testlog_rng": "g0"}, {"python": "s1", "testlog_rng": "g1"})], {}),
]


@pytest.mark.parametrize("tests,leaks", LEAK_CASES)
def test_rng_leaks(tests, leaks):
    plan = [planned(n, i, b, a) for i, (n, b, a) in enumerate(tests)]
    assert rng_leaks(plan) == leaks


def test_leaks_are_per_worker():
    plan = [planned("A", 0, {"numpy": "s0"}, {"numpy": "s1"}, "gw0"),
            planned("B", 1, {"numpy": "s1"}, {"numpy": "s2"}, "gw1")]
    assert rng_leaks(plan) == {}


def test_replay_order_is_recorded_order_first_occurrence():
    tests = [planned("b", 1, {}, {}), planned("a", 0, {}, {}), planned("b", 2, {}, {})]
    assert [(t.nodeid, t.order) for t in replay_order(tests)] == [("a", 0), ("b", 1)]


def d(value):
    return describe_value(value)


OUTPUT_CASES = [   # recorded, replayed, delta, drift
    (0.5, 0.5 + 1e-6, 1e-6, True),
    (1e-12, 2e-12, 1e-12, True),                       # tiny in absolute terms
    (0.25, 0.75, 0.5, False),                          # another number, not a drift
    ([1.0, 2.0, 3.0], [1.0, 2.0 + 1e-9, 3.0], 1e-9, True),
    ([1.0, 2.0], [2.0, 1.0], 1.0, False),              # reordered
    ({"a": 1.0, "b": "x"}, {"a": 1.0 + 1e-7, "b": "x"}, 1e-7, True),
    ({"a": 1.0, "b": "x"}, {"a": 1.0, "b": "y"}, None, False),
    (3, 4, None, False),                               # integers are exact
    (b"ab", b"ac", None, False),
    (float("nan"), 1.0, None, False),
]


@pytest.mark.parametrize("rec,rep,delta,drift", OUTPUT_CASES)
def test_output_drift(rec, rep, delta, drift):
    diff = output_diff("v", d(rec), d(rep))
    assert diff.drift is drift
    if delta is None:
        assert diff.delta is None
    else:
        assert diff.delta == pytest.approx(delta, rel=1e-3)


def test_array_and_tensor_drift():
    torch = pytest.importorskip("torch")
    a = np.linspace(0, 1, 10)
    assert output_diff("a", d(a), d(a + 1e-9)).drift
    assert output_diff("a", d(a), d(a.astype("f4"))).delta is None      # another dtype
    assert not output_diff("a", d(a), d(a[::-1].copy())).drift
    inf = np.array([np.inf, 1.0, np.nan])
    assert not output_diff("a", d(inf), d(inf + [0, 1, 0])).drift            # scale ignores inf
    assert output_diff("a", d(inf), d(inf.copy())).recorded == d(inf)["hash"]
    t = torch.arange(6, dtype=torch.float32) / 7
    assert output_diff("t", d(t), d(t + 1e-6)).drift
    b = t.to(torch.bfloat16)
    assert output_diff("t", d(b), d(b * 2)).delta == pytest.approx(float((b * 2 - b).abs().max()))


def test_outputs_only_one_side_declared_are_mismatches():
    diffs = compare_outputs({"a": d(1.0)}, {"a": d(1.0), "b": d(2.0)})
    assert [(x.name, x.recorded, x.drift) for x in diffs] == [("b", None, False)]
    assert drift_delta(diffs) is None and drift_delta([]) == 0.0


def test_recorded_outputs_compare_after_a_json_round_trip():
    import json

    from testlog.core.canonical import canonical_json
    stored = json.loads(canonical_json(d({"x": [0.1 + 1e-9, 2.5]})))   # shown values rounded
    diff = output_diff("v", stored, d({"x": [0.1, 2.5]}))
    assert diff.drift and diff.delta == pytest.approx(1e-9, rel=1e-3)


ENV = {"os": "Linux", "arch": "x86_64", "python_implementation": "CPython",
       "python_version": "3.11.7", "numpy_version": "2.4.6", "torch_version": "2.13.0+cpu",
       "cpu": "Xeon", "env": {"A": "h1", "B": "h2"}, "env_key": {"id": "k"}}


@pytest.mark.parametrize("change,same,text", [
    ({}, True, None),
    ({"cpu": "EPYC"}, True, "CPU Xeon → EPYC"),
    ({"numpy_version": "2.3.0"}, False, "NumPy 2.4.6 → 2.3.0"),
    ({"arch": "aarch64"}, False, "architecture x86_64 → aarch64"),
])
def test_environment_comparison(change, same, text):
    env = compare_environments(ENV, {**ENV, **change}, recorded_hashseed="0", current_hashseed="0")
    assert env.same_platform is same
    assert [x.text() for x in env.differences] == ([text] if text else [])
    assert ("bit-identical" in env.headline()) is same


@pytest.mark.parametrize("current,recorded_seed,current_seed,note", [
    ({"env": {"A": "h1", "B": "zz", "C": "h3"}, "env_key": {"id": "k"}}, "1", "1",
     "environment variables changed: B; only here: C"),
    ({"env": {"A": "h1"}, "env_key": {"id": "other"}}, "1", "1",
     "environment variables not compared: recorded under another environment key"),
    ({}, None, None, "PYTHONHASHSEED was not set when recorded"),
    ({}, "1", "2", "PYTHONHASHSEED is 2 here but was 1 when recorded"),
])
def test_environment_notes(current, recorded_seed, current_seed, note):
    env = compare_environments(ENV, {**{k: v for k, v in ENV.items() if k not in ("env", "env_key")},
                                     **current},
                               recorded_hashseed=recorded_seed, current_hashseed=current_seed)
    assert any(n.startswith(note) for n in env.notes), env.notes


OUT = {"x": d(0.5)}
JUDGE_CASES = [   # replayed, same platform, leaks -> level
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, OUT), True, (), "verified"),
    (Replayed("FAIL", {"python": "b"}, {"python": "a"}, OUT), True, (), "critical"),
    (Replayed("PASS", {"python": "X"}, {"python": "a"}, OUT), True, (), "critical"),     # seed
    (Replayed("PASS", {"python": "b"}, {"python": "X"}, OUT), True, (), "critical"),     # after
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, {"x": d(0.5 + 1e-6)}), True, (), "minor"),
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, {"x": d(0.5 + 1e-9)}), True, (), "minor"),
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, {"x": d(0.5 + 1e-9)}), False, (), "verified-drift"),
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, {"x": d(0.9)}), True, (), "moderate"),
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, OUT), True, ("python",), "critical"),
    (Replayed("PASS", {"python": "b"}, {"python": "a"}, OUT, restore_missing=("python",)), True, (), "critical"),
    (Replayed(MISSING), True, (), "critical"),
    # an RNG only one side had loaded is not compared
    (Replayed("PASS", {"python": "b", "torch": "t"}, {"python": "a", "torch": "t2"}, OUT), True, (), "verified"),
]


def test_a_seed_that_is_not_the_derived_one_is_seed_corruption():
    from testlog.core.seeds import derive_seed
    from testlog.replay.plan import planned_test
    record = {"test_name": "t.py::x", "status": "PASS", "seed": derive_seed(9, "t.py::x"),
              "rng_state": {"python": "b"}, "rng_state_after": {"python": "a"}}
    assert planned_test(record, 9).seed_ok
    bad = planned_test({**record, "seed": 12345}, 9)
    verdict = judge(bad, Replayed("PASS", {"python": "b"}, {"python": "a"}), same_platform=True).verdict
    assert verdict.level == "critical" and "seed corruption" in verdict.reasons[0]


@pytest.mark.parametrize("replayed,same,leaks,level", JUDGE_CASES)
def test_judge(replayed, same, leaks, level):
    test = planned("t.py::x", 0, {"python": "b"}, {"python": "a"}, outputs=OUT)
    assert judge(test, replayed, same_platform=same, leaks=leaks).verdict.level == level


def test_project_python_order(tmp_path: Path):
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("#!/bin/sh\n")
    (venv / "python").chmod(0o755)
    project = tmp_path / "proj"
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").symlink_to(venv / "python")
    explicit = str(venv / "python")
    unset = Setting(None, "default")
    assert project_python(None, unset, explicit, {}) == (explicit, "--python")
    assert project_python(str(project), unset, None, {"VIRTUAL_ENV": str(tmp_path / "venv")}) \
        == (explicit, "$VIRTUAL_ENV")
    assert project_python(str(project), unset, None, {}) \
        == (str(project / ".venv" / "bin" / "python"), ".venv")
    assert project_python(str(tmp_path), unset, None, {})[0] == sys.executable
    configured = Setting("venv/bin/python", "setup.cfg [testlog]")
    assert project_python(str(tmp_path), configured, None, {}) \
        == (explicit, "python in setup.cfg [testlog]")
    with pytest.raises(TestlogError, match="--python .*no such executable"):
        project_python(None, unset, str(tmp_path / "missing"), {})



def test_find_rootdir(tmp_path: Path):
    (tmp_path / "sub" / "pkg" / "tests").mkdir(parents=True)
    (tmp_path / "sub" / "pkg" / "tests" / "test_a.py").write_text("")
    assert find_rootdir(str(tmp_path), ["pkg/tests/test_a.py"]) == str(tmp_path / "sub")
    assert find_rootdir(str(tmp_path), ["sub/pkg/tests/test_a.py"]) == str(tmp_path)
    assert find_rootdir(str(tmp_path), ["nowhere.py"]) == str(tmp_path)


def test_runs_in_a_directory(tmp_path: Path):
    with pytest.raises(TestlogError, match="no recorded run in"):
        loading.pick_run(str(tmp_path), None)
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("20250101__unit__run.json", "20250101__e2e__run.json"):
        (runs / name).write_text("{}")
    assert loading.pick_run(str(tmp_path), "unit") == "runs/20250101__unit__run.json"
    with pytest.raises(TestlogError, match="holds 2 runs"):
        loading.pick_run(str(tmp_path), None)
    with pytest.raises(TestlogError, match="no run 'x'"):
        loading.pick_run(str(tmp_path), "x")
    assert loading.run_file_target(str(runs / "20250101__e2e__run.json")) == \
        (str(tmp_path), "20250101__e2e__run.json")
    assert loading.run_file_target(str(tmp_path)) == (str(tmp_path), None)
    assert loading.run_file_target("abc123") is None


@pytest.mark.parametrize("raw,message", [
    (b"{not json", "is not valid JSON"),
    (b'{"schema_version": 99}', "newer than this git-testlog"),
])
def test_parse_json_refuses_bad_files(raw, message):
    with pytest.raises(TestlogError, match=message):
        runs.parse_run_json(raw, "runs/x__run.json")


def test_state_restore_roundtrip_numpy():
    """The stored full state a no-reseed replay loads gives the recorded draws back."""
    from testlog.rng import numpy_legacy
    np.random.seed(5)
    raw = numpy_legacy.capture()
    first = np.random.rand(3)
    numpy_legacy.restore(base64.b64decode(base64.b64encode(raw)))
    assert (np.random.rand(3) == first).all()
    assert os.environ is not None


def test_workspace_is_reused_with_bytecode_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import tempfile

    from testlog.replay import checkout
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ws = checkout.open_workspace("k1", keep=False)
    assert ws.cached and ws.root == os.path.join(checkout.cache_base(), "k1")
    (Path(ws.src) / "pkg" / "__pycache__").mkdir(parents=True)
    (Path(ws.src) / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"pyc")
    (Path(ws.src) / "pkg" / "m.py").write_text("x = 1\n")
    checkout.pin_mtimes(ws.src)
    assert os.stat(Path(ws.src) / "pkg" / "m.py").st_mtime == checkout.PINNED_MTIME
    busy = checkout.open_workspace("k1", keep=False)          # in use: a fresh directory
    assert not busy.cached and busy.root != ws.root
    checkout.close_workspace(busy, keep=False)
    assert not os.path.exists(busy.root)
    checkout.close_workspace(ws, keep=False)
    left = sorted(str(p.relative_to(ws.root)) for p in Path(ws.root).rglob("*"))
    assert left == ["src", "src/pkg", "src/pkg/__pycache__", "src/pkg/__pycache__/m.pyc"]
    again = checkout.open_workspace("k1", keep=False)
    assert again.cached and again.root == ws.root
    checkout.close_workspace(again, keep=False)
    assert not checkout.open_workspace(None, keep=False).cached
    assert not checkout.open_workspace("k1", keep=True).cached
    os.chmod(checkout.cache_base(), 0o777)             # writable by others: not trusted
    assert not checkout.open_workspace("k2", keep=False).cached


@pytest.mark.parametrize("untracked,expected", [
    ([], ()),
    (["a.py"], ("1 file(s) were untracked when recorded and are not in the replay (a.py): "
                "`git add -N` them before recording to include them",)),
    (["a", "b", "c", "d"], ("4 file(s) were untracked when recorded and are not in the replay "
                            "(a, b, c, …): `git add -N` them before recording to include them",)),
])
def test_untracked_files_are_announced(untracked, expected):
    from testlog.plugin.replay import untracked_note
    from testlog.replay.plan import ReplayPlan
    plan = ReplayPlan("s", 1, True, None, {}, {"untracked": untracked}, {}, (), None, None, ())
    assert untracked_note(plan) == expected
