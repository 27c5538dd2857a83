"""`git testlog verify`: a clean branch passes; every tampering is caught and named."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from testlog.cli import main
from testlog.core.layout import audit_paths
from tests.audit_helpers import (  # noqa: F401
    edited_tree,
    forge_commit,
    git_env,
    keys_file,
    message_of,
    move_branch,
    other_key,
    record_run,
)
from tests.fixtures import git, user_state
from tests.store_helpers import open_store

DAY1, DAY2 = date(2025, 11, 1), date(2025, 11, 2)
RUN1 = "runs/20251101__unit__run.json"
RUN3 = "runs/20251102__unit__run.json"
SEAL = audit_paths(DAY1)


@dataclass
class Log:
    repo: Path
    keys: Path
    key: str
    shas: list[str]          # run day1 unit, run day1 integration, seal day1, run day2 unit

    def verify(self, capsys, *extra: str) -> tuple[int, str]:
        code = main(["-C", str(self.repo), "verify", "--trusted-keys", str(self.keys), *extra])
        out, err = capsys.readouterr()
        return code, out + err

    def write(self, changes: dict, message: str = "hand edit") -> str:
        """A commit signed by the trusted key that bypasses the chronicle (an insider's edit)."""
        with open_store(self.repo, sign_key=self.key) as store:
            return store.write(changes, message)


@pytest.fixture
def log(repo: Path, gpg_key: str, keys_file: Path) -> Log:
    with open_store(repo, sign_key=gpg_key) as store:
        shas = [record_run(store, DAY1), record_run(store, DAY1, "integration")]
    assert main(["-C", str(repo), "seal", "--date", DAY1.isoformat(), "--sign-key", gpg_key]) == 0
    shas.append(git(repo, "rev-parse", "testlog").strip())
    with open_store(repo, sign_key=gpg_key) as store:
        shas.append(record_run(store, DAY2))
    return Log(repo, keys_file, gpg_key, shas)


def table(output: str) -> dict[str, tuple[int, int]]:
    """{check: (checked, failed)} from verify's table."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit():
            rows[line[: line.rindex(parts[-2])].strip()] = (int(parts[-2]), int(parts[-1]))
    return rows


def failure_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL ")]


def assert_named(output: str, sha: str, path: str, message: str) -> None:
    wanted = f"FAIL {sha[:12]} {path}: "
    lines = [line for line in failure_lines(output) if line.startswith(wanted)]
    assert any(message in line for line in lines), f"no `{wanted}…{message}` in:\n{output}"


def test_clean_branch_verifies_and_prints_the_table(log: Log, capsys):
    before = user_state(log.repo)
    code, out = log.verify(capsys)
    assert code == 0, out
    assert "verify: OK" in out and not failure_lines(out)
    rows = table(out)
    assert rows["commits (one linear chain)"] == (4, 0)
    assert rows["signatures by trusted keys"] == (4, 0)
    assert rows["chronicle events"] == (4, 0)
    assert rows["artifact hashes"] == (4, 0)
    assert rows["records (digests recomputed)"] == (6, 0)     # 3 runs x 2 records
    assert rows["trees (names and modes safe)"] == (4, 0)
    assert rows["seals (manifest, signature, zip)"] == (1, 0)
    assert user_state(log.repo) == before


def test_incremental_verify_checks_only_new_commits(log: Log, capsys):
    assert log.verify(capsys)[0] == 0
    with open_store(log.repo, sign_key=log.key) as store:
        record_run(store, DAY2, "integration")
    code, out = log.verify(capsys, "--since", "last")
    assert code == 0, out
    assert "incremental after" in out
    assert table(out)["commits (one linear chain)"] == (1, 0)
    assert table(out)["last verified tip"] == (1, 0)
    code, out = log.verify(capsys, "--since", log.shas[1])       # older than the verified tip
    assert code == 0 and table(out)["commits (one linear chain)"] == (3, 0)


def test_since_a_commit_never_verified_is_refused(log: Log, capsys):
    code, out = log.verify(capsys, "--since", log.shas[0])
    assert code == 2 and "run a full `git testlog verify` first" in out
    assert log.verify(capsys, "--since", "last")[0] == 2


def _unsigned_blob_edit(log: Log) -> tuple[str, str, str]:
    tip = log.shas[-1]
    run = json.loads(git(log.repo, "show", f"{tip}:{RUN3}"))
    run["records"][0]["status"] = "FAIL"
    tree = edited_tree(log.repo, tip, {RUN3: json.dumps(run).encode()})
    sha = forge_commit(log.repo, tree, tip, "fix a result\n")
    move_branch(log.repo, sha)
    return sha, "-", "no chronicle event"


def _resigned_untrusted(log: Log, other: str) -> tuple[str, str, str]:
    tip, parent = log.shas[-1], log.shas[-2]
    tree = git(log.repo, "rev-parse", f"{tip}^{{tree}}").strip()
    sha = forge_commit(log.repo, tree, parent, message_of(log.repo, tip), key=other)
    move_branch(log.repo, sha)
    git(log.repo, "verify-commit", sha)      # stock git is satisfied: the key is in the keyring
    return sha, "-", f"signed by {other.upper()}, which is not a trusted key"


def _dropped_and_rebuilt(log: Log) -> tuple[str, str, str]:
    first, _dropped, seal, last = log.shas
    rebuilt = [first]
    for sha in (seal, last):        # same trees and messages, re-signed with the trusted key
        tree = git(log.repo, "rev-parse", f"{sha}^{{tree}}").strip()
        rebuilt.append(forge_commit(log.repo, tree, rebuilt[-1], message_of(log.repo, sha),
                                    key=log.key))
    move_branch(log.repo, rebuilt[-1])
    return rebuilt[1], "-", "the previous event it names is not its parent's"


def _record_edited_chronicle_alone(log: Log) -> tuple[str, str, str]:
    run = json.loads(git(log.repo, "show", f"testlog:{RUN1}"))
    run["records"][1]["duration_ms"] = 0.5
    sha = log.write({RUN1: json.dumps(run).encode()})
    return sha, RUN1, "digest does not recompute"


def _seal_zip_edited(log: Log) -> tuple[str, str, str]:
    data = bytearray(git_bytes(log.repo, f"testlog:{SEAL['zip']}"))
    data[-30] ^= 0xFF             # in the central directory's tail: a quiet change
    sha = log.write({SEAL["zip"]: bytes(data)})
    return sha, SEAL["zip"], "does not match its manifest"


def _sig_deleted(log: Log) -> tuple[str, str, str]:
    sha = log.write({SEAL["sig"]: None})
    return sha, SEAL["sig"], "detached signature is missing"


def _content_changed_under_signature(log: Log) -> tuple[str, str, str]:
    tip = log.shas[-1]
    raw = git_bytes(log.repo, tip, "commit").replace(b"TEST_SUITE_EXECUTED unit PASS",
                                                     b"TEST_SUITE_EXECUTED unit FAIL", 1)
    sha = git_env(log.repo, "hash-object", "-t", "commit", "-w", "--stdin", input=raw)
    move_branch(log.repo, sha)
    return sha, "-", "bad signature: the commit changed after it was signed"


def git_bytes(repo: Path, rev: str, kind: str = "blob") -> bytes:
    import subprocess
    return subprocess.run(["git", "cat-file", kind, rev], cwd=repo, capture_output=True,
                          check=True).stdout


@pytest.mark.parametrize("tamper", [
    "blob edited, re-committed unsigned", "commit re-signed with an untrusted key",
    "commit dropped from the middle, chain rebuilt", "record edited, chronicle left alone",
    "sealed zip edited", ".sig deleted", "commit content changed under its signature",
])
def test_tampering_is_detected_and_names_commit_and_file(log: Log, other_key: str, capsys,
                                                          tamper: str):
    make = {
        "blob edited, re-committed unsigned": lambda: _unsigned_blob_edit(log),
        "commit re-signed with an untrusted key": lambda: _resigned_untrusted(log, other_key),
        "commit dropped from the middle, chain rebuilt": lambda: _dropped_and_rebuilt(log),
        "record edited, chronicle left alone": lambda: _record_edited_chronicle_alone(log),
        "sealed zip edited": lambda: _seal_zip_edited(log),
        ".sig deleted": lambda: _sig_deleted(log),
        "commit content changed under its signature": lambda: _content_changed_under_signature(log),
    }[tamper]
    sha, path, message = make()
    code, out = log.verify(capsys)
    assert code == 1, out
    assert_named(out, sha, path, message)
    assert "verify: FAILED" in out


def test_unsigned_edit_also_fails_require_signed_and_its_record(log: Log, capsys):
    sha, _, _ = _unsigned_blob_edit(log)
    code, out = log.verify(capsys, "--require-signed")
    assert code == 1
    assert_named(out, sha, "-", "unsigned commit (not signed by a trusted key")
    assert_named(out, sha, RUN3, "digest does not recompute")


def test_record_edit_without_chronicle_is_also_an_unchronicled_commit(log: Log, capsys):
    sha, _, _ = _record_edited_chronicle_alone(log)
    assert_named(log.verify(capsys)[1], sha, "-", "no chronicle event")


def test_rollback_after_a_verify_is_flagged(log: Log, capsys):
    assert log.verify(capsys)[0] == 0
    move_branch(log.repo, log.shas[1])                   # reset to an older commit
    code, out = log.verify(capsys)
    assert code == 1
    assert_named(out, log.shas[1], "-", f"rollback or fork: the last verified tip {log.shas[-1][:12]}")
    with open_store(log.repo, sign_key=log.key) as store:   # and a fork grown on it
        fork = record_run(store, DAY2, "other")
    code, out = log.verify(capsys)
    assert code == 1 and "rollback or fork" in out and fork[:12] in out
    code, out = log.verify(capsys, "--accept-rewrite")
    assert code == 0 and "accepted: --accept-rewrite" in out
    assert log.verify(capsys)[0] == 0                     # the rewrite is the new baseline


def test_a_key_in_the_keyring_is_not_trust(log: Log, other_key: str, capsys, tmp_path: Path,
                                           sandbox):
    from tests.audit_helpers import export_key
    only_other = export_key(sandbox["GNUPGHOME"], other_key, tmp_path / "other.asc")
    code = main(["-C", str(log.repo), "verify", "--trusted-keys", str(only_other)])
    out = capsys.readouterr().out
    assert code == 1
    assert_named(out, log.shas[0], "-", f"signed by {log.key.upper()}, which is not a trusted key")


def test_trusted_keys_from_config_file_or_fingerprints(log: Log, capsys):
    (log.repo / "setup.cfg").write_text(f"[testlog]\ntrusted_keys = {log.keys}\n")
    assert main(["-C", str(log.repo), "verify"]) == 0
    (log.repo / "setup.cfg").unlink()
    git(log.repo, "config", "testlog.trusted-keys", log.key)
    assert main(["-C", str(log.repo), "verify"]) == 0
    git(log.repo, "config", "testlog.trusted-keys", "ABCD")
    assert main(["-C", str(log.repo), "verify"]) == 2
    assert "neither a key file nor a full 40-hex fingerprint" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--since", "nonexistent"], "unknown revision 'nonexistent'"),
    (["--since", "main"], "is not a commit on the log branch"),
    (["--trusted-keys", "/nonexistent/keys.asc"], "cannot read trusted keys file /nonexistent/keys.asc"),
    (["--branch", "refs/heads/nothing"], "no log branch refs/heads/nothing"),
])
def test_bad_input_is_one_line_and_changes_nothing(log: Log, capsys, args, message):
    before = user_state(log.repo)
    tip = git(log.repo, "rev-parse", "testlog")
    state_dir = log.repo / ".git" / "testlog" / "verified"
    if "--trusted-keys" not in args:
        args = ["--trusted-keys", str(log.keys), *args]
    code = main(["-C", str(log.repo), "verify", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("git-testlog: error: ") and message in err
    assert git(log.repo, "rev-parse", "testlog") == tip and user_state(log.repo) == before
    assert not state_dir.exists()


def test_unreadable_or_empty_key_file(log: Log, capsys, tmp_path: Path):
    garbage = tmp_path / "garbage.asc"
    garbage.write_text("not a key\n")
    assert main(["-C", str(log.repo), "verify", "--trusted-keys", str(garbage)]) == 2
    assert "holds no readable OpenPGP public key" in capsys.readouterr().err
    unreadable = tmp_path / "locked.asc"
    unreadable.write_text("x")
    unreadable.chmod(0)
    try:
        if unreadable.stat().st_mode & 0o777 == 0 and not _can_read(unreadable):
            assert main(["-C", str(log.repo), "verify", "--trusted-keys", str(unreadable)]) == 2
            assert "Permission denied" in capsys.readouterr().err
    finally:
        unreadable.chmod(0o600)


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
        return True
    except OSError:
        return False


def test_signed_branch_without_any_trusted_key_is_an_error(log: Log, capsys):
    assert main(["-C", str(log.repo), "verify"]) == 2
    assert "no trusted keys are configured" in capsys.readouterr().err


def test_unsigned_branch_verifies_without_keys_unless_signatures_are_required(repo: Path, capsys):
    with open_store(repo, sign_key=False) as store:
        record_run(store, DAY1)
        record_run(store, DAY2)
    assert main(["-C", str(repo), "verify"]) == 0
    out = capsys.readouterr().out
    assert table(out)["unsigned commits"] == (2, 0)
    # no trusted key to check signatures with: a configuration error, not a failed check
    assert main(["-C", str(repo), "verify", "--require-signed"]) == 2


def test_commits_without_the_event_digest_trailer_take_the_exact_slow_path(repo: Path, capsys):
    """Older writers did not bind the line with Testlog-Event-SHA256: the chronicle blob of each
    such commit is then compared byte for byte with the tip's chronicle."""
    from gitstore import Append

    from testlog.core.chronicle import event_line, make_event
    lines = []
    with open_store(repo, sign_key=False) as store:
        for n in range(3):
            data = f"artifact {n}".encode()
            line = event_line(make_event("BENCH_RECORDED", f"bench/{n}.txt", data, "PASS",
                                         "unsigned"))
            lines.append(line)
            store.write({f"bench/{n}.txt": data, "chronicle.ndjson": Append(line)}, f"bench {n}",
                        {"Testlog-Event": "BENCH_RECORDED"})
        assert main(["-C", str(repo), "verify"]) == 0
        edited = lines[0].replace(b'"PASS"', b'"FAIL"')           # same size, other verdict
        sha = store.write({"chronicle.ndjson": b"".join([edited, *lines[1:]]) + event_line(
            make_event("BENCH_RECORDED", "bench/3.txt", b"3", "PASS", "unsigned")),
            "bench/3.txt": b"3"}, "bench 3", {"Testlog-Event": "BENCH_RECORDED"})
    code = main(["-C", str(repo), "verify", "--accept-rewrite"])
    out = capsys.readouterr().out
    first = git(repo, "rev-list", "--max-parents=0", "testlog").strip()
    assert code == 1
    assert_named(out, first, "chronicle.ndjson", "is not the tip's first 1 lines")
    assert_named(out, sha, "chronicle.ndjson", "events verified at")


def test_exit_status_through_the_console_entry_point(log: Log):
    import subprocess
    import sys
    move_branch(log.repo, log.shas[1])
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from testlog.cli import entry; entry()",
                               "-C", str(log.repo), "verify", "--trusted-keys", str(log.keys)],
                              capture_output=True, text=True)
    assert run().returncode == 0
    move_branch(log.repo, log.shas[-1])
    _sig_deleted(log)
    failed = run()
    assert failed.returncode == 1 and "FAIL " in failed.stdout
