"""A team's log through one bare remote: 8 clones, each with its own key, record runs with real
pytest and push at the same moment, 5 rounds. Every push succeeds at once, a fresh clone sees
all 40 runs, verify accepts them with the 8 keys, and each run is signed by its own clone's key
(nobody re-signed it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gnupg
import pytest

from tests.fixtures import gen_key, git, make_repo
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
