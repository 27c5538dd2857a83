"""A team's log through one bare remote: 8 clones, each with its own key, record runs with real
pytest and push at the same moment, 5 rounds. Every push succeeds at once, a fresh clone sees
all 40 runs, verify accepts them with the 8 keys, and each run is signed by its own clone's key
(nobody re-signed it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import gnupg
import pytest

import gitstore.commits

from testlog.cli import main
from testlog.store.events import commit_event
from testlog.store.state import open_log
from tests.fixtures import gen_key, git, make_repo
from tests.gate_repos import module, mono_repo
from tests.recorder_helpers import pytest_env

CLONES, ROUNDS = 8, 5
SUITE = {"tests/test_shared.py": "import random\n\n\ndef test_draw():\n    assert random.random() < 2\n"}
CLI = [sys.executable, "-m", "testlog"]


def run_all(commands: list[tuple[list[str], Path]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once, then wait for each."""
    procs = [subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for cmd, cwd in commands]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


@pytest.mark.slow
def test_eight_clones_push_at_once_and_nobody_is_re_signed(tmp_path: Path, sandbox):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(make_repo(tmp_path / "seed", SUITE), "push", "-q", str(remote), "main")
    env = pytest_env(sandbox)
    keys = {}
    for n in range(CLONES):
        clone = tmp_path / f"c{n}"
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        keys[f"w{n}"] = gen_key(os.environ["GNUPGHOME"], name=f"Writer {n}",
                                email=f"w{n}@example.com", fast=True)
        git(clone, "config", "testlog.writer", f"w{n}")
        git(clone, "config", "user.signingkey", keys[f"w{n}"])
    clones = [tmp_path / f"c{n}" for n in range(CLONES)]
    for round_ in range(ROUNDS):
        recorded = run_all([([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                              "no:cacheprovider", "--testlog", f"--testlog-seed={round_}",
                              "tests"], c) for c in clones], env)
        assert all(p.returncode == 0 and "recorded as" in p.stdout for p in recorded), recorded
        pushed = run_all([(CLI + ["push"], c) for c in clones], env)
        for proc in pushed:           # every push goes through at once: no retry exists
            assert proc.returncode == 0 and proc.stdout.startswith("pushed: "), proc
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    assert subprocess.run(CLI + ["fetch"], cwd=fresh, env=env).returncode == 0
    listed = subprocess.run(CLI + ["log", "--runs", "--json"], cwd=fresh, env=env,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    runs = [json.loads(line) for line in listed]
    assert len(runs) == CLONES * ROUNDS
    assert {r["writer"] for r in runs} == set(keys)
    trusted = tmp_path / "team.asc"
    trusted.write_text(gnupg.GPG(gnupghome=os.environ["GNUPGHOME"]).export_keys(list(keys.values())))
    verified = subprocess.run(CLI + ["verify", "--trusted-keys", str(trusted)], cwd=fresh, env=env,
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{CLONES} of {CLONES} chains OK" in verified.stdout
    for run in runs:                  # signed by the key of the clone that recorded it
        assert run["trailers"]["Testlog-Event"] == "TEST_SUITE_EXECUTED"
        signer = git(fresh, "log", "-1", "--format=%GF", run["sha"]).strip()
        assert signer == keys[run["writer"]], (run["writer"], signer)
    assert git(remote, "for-each-ref", "refs/heads/").strip().endswith("refs/heads/main")


def two_writers(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path, dict[str, str]]:
    """alice and bob, each with a key and one recorded run of the same suite, both pushed;
    alice has fetched bob's chain."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(make_repo(tmp_path / "seed", SUITE), "push", "-q", str(remote), "main")
    keys = {}
    for name in ("alice", "bob"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        keys[name] = gen_key(os.environ["GNUPGHOME"], name=name, email=f"{name}@example.com",
                             fast=True)
        git(clone, "config", "testlog.writer", name)
        git(clone, "config", "user.signingkey", keys[name])
        recorded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                                   "-p", "no:cacheprovider", "--testlog", "tests"], cwd=clone,
                                  env=env, capture_output=True, text=True)
        assert recorded.returncode == 0, recorded.stdout + recorded.stderr
        subprocess.run(CLI + ["push"], cwd=clone, env=env, check=True, capture_output=True)
    subprocess.run(CLI + ["fetch"], cwd=tmp_path / "alice", env=env, check=True,
                   capture_output=True)
    return tmp_path / "alice", remote, keys


def test_a_seal_holds_every_writers_runs_each_under_its_own_name(tmp_path: Path, sandbox):
    env = pytest_env(sandbox)
    alice, _remote, keys = two_writers(tmp_path, env)
    sealed = subprocess.run(CLI + ["seal"], cwd=alice, env=env, capture_output=True, text=True)
    assert sealed.returncode == 0 and "sealed 2 runs" in sealed.stdout, sealed.stdout + sealed.stderr
    [zip_path] = [p for p in git(alice, "ls-tree", "-r", "--name-only", "testlog", "audit/").split()
                  if p.endswith(".zip")]
    out = tmp_path / "zip"
    out.mkdir()
    (out / "seal.zip").write_bytes(subprocess.run(["git", "show", f"testlog:{zip_path}"],
                                                  cwd=alice, capture_output=True,
                                                  check=True).stdout)
    names = zipfile.ZipFile(out / "seal.zip").namelist()
    runs = sorted(n for n in names if n.endswith("__run.json"))
    own = [n for n in runs if n.startswith("runs/")]
    assert len(own) == 1 and runs == sorted(own + ["chains/bob/" + own[0]])   # kept apart
    assert "chains/bob/" + [n for n in names if n.startswith("attestations/")][0] in names
    bob_run = json.loads(zipfile.ZipFile(out / "seal.zip").read("chains/bob/" + own[0]))
    assert bob_run["records"][0]["test_name"].endswith("test_draw")
    trusted = tmp_path / "team.asc"
    trusted.write_text(gnupg.GPG(gnupghome=os.environ["GNUPGHOME"]).export_keys(list(keys.values())))
    verified = subprocess.run(CLI + ["verify", "--trusted-keys", str(trusted)], cwd=alice,
                              env=env, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr


OLD = 1_600_000_000            # 2020-09-13: history made before the --since date below
SINCE = "2021-01-01"


def old_events(clone: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`count` measurement commits on the clone's log branch, dated 2020 (the clock of the
    commits is the only thing set: they are written by the real code)."""
    monkeypatch.setattr(gitstore.commits, "time", types.SimpleNamespace(time=lambda: OLD))
    with open_log(clone, sign_key=False) as store:
        for n in range(count):
            path = f"measurements/20200913__old{n}.json"
            commit_event(store, {path: b'{"n":%d}\n' % n}, event="COVERAGE_RECORDED",
                         artifact=path, verdict="PASS", summary=f"old {n}")
    monkeypatch.undo()


def test_fetch_since_brings_only_recent_history_of_new_chains(tmp_path: Path, sandbox,
                                                              monkeypatch: pytest.MonkeyPatch):
    env = pytest_env(sandbox)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(make_repo(tmp_path / "seed", SUITE), "push", "-q", str(remote), "main")
    for name in ("alice", "bob", "carol"):
        git(tmp_path, "clone", "-q", str(remote), str(tmp_path / name))
        git(tmp_path / name, "config", "testlog.writer", name)
    old_events(tmp_path / "bob", 3, monkeypatch)          # bob: 3 old commits, then a run
    old_events(tmp_path / "carol", 2, monkeypatch)        # carol: nothing recent
    old_events(tmp_path / "alice", 2, monkeypatch)        # alice: her own history, whole
    recorded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                               "no:cacheprovider", "--testlog", "--testlog-no-sign", "tests"],
                              cwd=tmp_path / "bob", env=env, capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    for name in ("bob", "carol"):
        subprocess.run(CLI + ["push"], cwd=tmp_path / name, env=env, check=True,
                       capture_output=True)
    alice = tmp_path / "alice"
    fetched = subprocess.run(CLI + ["fetch", "--since", SINCE], cwd=alice, env=env,
                             capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert f"skipped      carol: no commit after {SINCE}" in fetched.stdout
    assert "new          bob at" in fetched.stdout
    assert git(alice, "rev-list", "--count", "refs/testlog/chains/bob").strip() == "1"
    assert git(alice, "rev-list", "--count", "refs/heads/testlog").strip() == "2"   # untouched
    assert (alice / ".git" / "shallow").read_text().split() == \
        [git(alice, "rev-parse", "refs/testlog/chains/bob").strip()]
    assert git(alice, "for-each-ref", "refs/testlog/chains/carol") == ""
    listed = subprocess.run(CLI + ["log", "--runs", "--json"], cwd=alice, env=env,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert [json.loads(line)["writer"] for line in listed] == ["bob"]
    verified = subprocess.run(CLI + ["verify"], cwd=alice, env=env, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "was not fetched (a shallow fetch, `git testlog fetch --since`)" in verified.stdout
    assert "2 of 2 chains OK" in verified.stdout
    again = subprocess.run(CLI + ["fetch", "--since", SINCE], cwd=alice, env=env,
                           capture_output=True, text=True)
    assert "up-to-date   bob" in again.stdout


def test_a_fresh_clone_reads_origins_log_branch_and_says_so(tmp_path: Path, sandbox):
    env = pytest_env(sandbox)
    origin = make_repo(tmp_path / "origin", SUITE)
    recorded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                               "no:cacheprovider", "--testlog", "--testlog-no-sign", "tests"],
                              cwd=origin, env=env, capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(origin), str(fresh))
    assert git(fresh, "for-each-ref", "refs/heads/testlog") == ""
    listed = subprocess.run(CLI + ["log", "--runs"], cwd=fresh, env=env, capture_output=True,
                            text=True)
    assert listed.returncode == 0, listed.stderr
    assert "TEST_SUITE_EXECUTED" in listed.stdout or "PASS" in listed.stdout
    assert listed.stderr == ("git-testlog: note: no log here yet; reading "
                             "refs/remotes/origin/testlog (`git testlog fetch` brings every "
                             "writer's chain)\n")
    assert subprocess.run(CLI + ["verify"], cwd=fresh, env=env).returncode == 0


def test_a_measurement_another_writer_published_serves_the_cache(tmp_path: Path, sandbox,
                                                                 capsys: pytest.CaptureFixture):
    """Ledgers are read from every chain: bob's gate is served by the measurement alice
    recorded and pushed, for the same module tree in the same environment."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    alice = mono_repo(tmp_path / "alice", module("alpha", "L2"))
    git(alice, "remote", "add", "origin", str(remote))
    git(alice, "push", "-q", "origin", "main")
    git(alice, "config", "testlog.writer", "alice")
    assert main(["-C", str(alice), "cov", "--module", "alpha", "--no-sign"]) == 0
    assert "Recorded 1 measurement(s)" in capsys.readouterr().out
    assert main(["-C", str(alice), "push"]) == 0
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    git(bob, "config", "testlog.writer", "bob")
    assert main(["-C", str(bob), "fetch"]) == 0
    capsys.readouterr()
    assert main(["-C", str(bob), "gate", "--module", "alpha", "--no-sign"]) == 0
    out = capsys.readouterr().out
    assert "(cached: measured" in out, out
    assert git(bob, "for-each-ref", "refs/heads/testlog") == ""          # nothing recorded
