"""verify is strict by default with trusted keys: forgeries that are consistent in every way
but their signature (the event in the commit's trailer, its link to the parent's event, the
artifact hash and record digests all recomputed, built with git plumbing and pushed to the
attacker's chain on the shared remote) fail, unless --allow-unsigned; --since last never
extends a baseline made under a weaker policy."""
from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from testlog.core.layout import TRAILER_SUITE, artifact_path
from tests.attack_helpers import (
    CHAIN,
    Shared,
    commit_message,
    event_line,
    event_message,
    previous_event,
    shared_log,
)
from tests.audit_helpers import (  # noqa: F401 (fixtures)
    edited_tree,
    keys_file,
    other_key,
    record_run,
    run_files,
)
from tests.fixtures import git
from tests.replay_support import cli
from tests.store_helpers import open_store

DAY = date(2026, 2, 1)
RUN = artifact_path("run", "json", DAY, "unit")


def forge_event(repo: Path, parent: str, files: dict[str, bytes | None], artifact: str,
                event: str = "TEST_SUITE_EXECUTED", verdict: str = "PASS",
                key: str | None = None) -> str:
    """A commit as git-testlog writes them (its event in its Testlog-Event-Record trailer,
    linked to the parent's by Testlog-Previous-Event), made with git plumbing; unsigned
    unless `key`."""
    data = files[artifact]
    assert data is not None
    line = event_line(artifact, data, event, verdict,
                      "unsigned" if key is None else f"gpg:{key}")
    tree = edited_tree(repo, parent, files)
    message = event_message(f"{event} unit {verdict}", line, previous_event(repo, parent),
                            {TRAILER_SUITE: "unit"})
    return commit_message(repo, tree, parent, message, key)


@pytest.fixture
def shared(tmp_path: Path, gpg_key: str) -> Shared:
    shared = shared_log(tmp_path)
    with open_store(shared.attacker, sign_key=gpg_key) as store:
        record_run(store, DAY, "unit", {"t.py::a": "FAIL", "t.py::b": "PASS"})
    return shared


def publish(shared: Shared, sha: str) -> None:
    """The forgery on the attacker's chain of the remote, taken by the victim's fetch (no
    trusted keys configured for fetch: a chain that continues ours is taken)."""
    shared.push(sha)
    assert cli("-C", str(shared.victim), "fetch")[0] == 0
    assert git(shared.victim, "rev-parse", CHAIN).strip() == sha


def verify(shared: Shared, *args: str) -> tuple[int, str, str]:
    return cli("-C", str(shared.victim), "verify", *args)


def tip(repo: Path) -> str:
    return git(repo, "rev-parse", "testlog").strip()


def passing_instead(shared: Shared) -> str:
    """The signed FAIL overwritten by an unsigned PASS, record digests recomputed."""
    repo = shared.attacker
    files = run_files(DAY, "unit", {"t.py::a": "PASS", "t.py::b": "PASS"})
    return forge_event(repo, tip(repo), dict(files), RUN)


def test_an_unsigned_pass_over_a_signed_fail_fails(shared: Shared, keys_file: Path):
    sha = passing_instead(shared)
    publish(shared, sha)
    code, out, _ = verify(shared, "--trusted-keys", str(keys_file))
    assert code == 1 and f"FAIL {sha[:12]} -: unsigned commit (not signed by a trusted key" in out
    assert out.count("FAIL ") == 1            # everything else about it is consistent
    code, out, _ = verify(shared, "--trusted-keys", str(keys_file), "--allow-unsigned")
    assert code == 0 and "OK" in out.splitlines()[-1]


def test_a_rolled_back_or_swapped_run_file_fails(shared: Shared, keys_file: Path, gpg_key: str):
    repo = shared.attacker
    first = tip(repo)
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, DAY, "unit", {"t.py::a": "PASS", "t.py::b": "PASS"}, seed=7)
        record_run(store, DAY, "other", {"t.py::c": "FAIL"})
    old = git(repo, "show", f"{first}:{RUN}").encode()
    other = artifact_path("run", "json", DAY, "other")
    swapped = git(repo, "show", f"testlog:{RUN}").encode()
    rollback = forge_event(repo, tip(repo), {RUN: old}, RUN, verdict="FAIL")
    swap = forge_event(repo, rollback, {other: swapped, RUN: git(
        repo, "show", f"testlog:{other}").encode()}, other)
    publish(shared, swap)
    code, out, _ = verify(shared, "--trusted-keys", str(keys_file))
    assert code == 1
    assert f"FAIL {rollback[:12]} -: unsigned commit" in out
    assert f"FAIL {swap[:12]} -: unsigned commit" in out


def test_a_seal_replaced_by_another_valid_seal_fails(shared: Shared, keys_file: Path,
                                                     gpg_key: str):
    repo = shared.attacker
    assert cli("-C", str(repo), "seal", "--date", DAY.isoformat(), "--sign-key", gpg_key)[0] == 0
    first_seal = tip(repo)
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, DAY, "later", {"t.py::d": "FAIL"})
    assert cli("-C", str(repo), "seal", "--date", DAY.isoformat(), "--sign-key", gpg_key)[0] == 0
    stem = f"audit/logs_audit_{DAY.strftime('%Y_%m_%d')}"
    earlier = {p: subprocess.run(["git", "show", f"{first_seal}:{p}"], cwd=repo, check=True,
                                 capture_output=True).stdout for p in (f"{stem}.zip", f"{stem}.zip.sig", f"{stem}.manifest.sha256")}
    sha = forge_event(repo, tip(repo), earlier, f"{stem}.zip", event="AUDIT_SEALED",
                      verdict="SEALED")
    publish(shared, sha)
    code, out, _ = verify(shared, "--trusted-keys", str(keys_file))
    assert code == 1 and f"FAIL {sha[:12]} -: unsigned commit" in out
    assert "seal" not in out.split("FAIL", 1)[1]      # the old seal itself is valid: only trust fails


def test_a_commit_signed_by_another_key_fails_even_when_unsigned_ones_are_allowed(
        shared: Shared, keys_file: Path, other_key: str):
    repo = shared.attacker
    files = run_files(DAY, "unit", {"t.py::a": "PASS", "t.py::b": "PASS"})
    sha = forge_event(repo, tip(repo), dict(files), RUN, key=other_key)
    publish(shared, sha)
    for extra in ((), ("--allow-unsigned",)):
        code, out, _ = verify(shared, "--trusted-keys", str(keys_file), *extra)
        assert code == 1 and f"signed by {other_key}, which is not a trusted key" in out


def test_since_last_refuses_a_baseline_made_under_a_weaker_policy(shared: Shared,
                                                                  keys_file: Path):
    assert cli("-C", str(shared.attacker), "push")[0] == 0
    assert cli("-C", str(shared.victim), "fetch")[0] == 0
    code, _out, _ = verify(shared, "--trusted-keys", str(keys_file), "--allow-unsigned")
    assert code == 0
    publish(shared, passing_instead(shared))
    code, out, err = verify(shared, "--trusted-keys", str(keys_file), "--since", "last")
    assert code == 2 and out == ""          # --since cannot be honoured: the user's input
    assert "allowed unsigned commits, a weaker policy than this one: --since cannot extend it" in err
    assert "run a full `git testlog verify` (without --since)" in err


def test_since_last_fails_an_unsigned_append_to_a_strict_baseline(shared: Shared,
                                                                  keys_file: Path):
    assert cli("-C", str(shared.attacker), "push")[0] == 0
    assert cli("-C", str(shared.victim), "fetch")[0] == 0
    assert verify(shared, "--trusted-keys", str(keys_file))[0] == 0
    sha = passing_instead(shared)
    publish(shared, sha)
    code, out, _ = verify(shared, "--trusted-keys", str(keys_file), "--since", "last")
    assert code == 1 and "incremental" in out and f"FAIL {sha[:12]} -: unsigned commit" in out


def test_both_signing_options_at_once_are_a_usage_error(shared: Shared, keys_file: Path):
    code, _out, err = verify(shared, "--trusted-keys", str(keys_file), "--allow-unsigned",
                             "--require-signed")
    assert code == 2 and "not allowed with argument" in err
