"""`prune`: rotation keeps history, retention archives it and restarts at a signed epoch."""
from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from testlog.cli import main
from tests.audit_helpers import export_key, keys_file, other_key, record_run  # noqa: F401
from tests.fixtures import git, user_state
from tests.store_helpers import open_store
from tests.waiting import wait_until

OLD, MID, NEW = date(2025, 9, 1), date(2025, 10, 20), date(2025, 11, 1)


def prune(repo: Path, *args: str) -> int:
    return main(["-C", str(repo), "prune", *args])


def verify(repo: Path, keys: Path, *args: str) -> int:
    return main(["-C", str(repo), "verify", "--trusted-keys", str(keys), *args])


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def branch_commits(repo: Path) -> list[str]:
    return git(repo, "rev-list", "--reverse", "testlog").split()


def test_rotation_takes_old_files_off_the_tip_in_one_signed_commit(repo, gpg_key, keys_file, capsys):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, OLD)
        record_run(store, MID)
        record_run(store, NEW)
    before, commits = user_state(repo), branch_commits(repo)
    assert prune(repo, "--as-of", "2025-11-25", "--retain-days", "100000", "--sign-key", gpg_key) == 0
    tip = git(repo, "rev-parse", "testlog").strip()
    assert branch_commits(repo) == commits + [tip]
    tree = git(repo, "ls-tree", "-r", "--name-only", "testlog").split()
    assert not [p for p in tree if "20250901" in p or "20251020" in p]     # older than 30 days
    assert "runs/20251101__unit__run.json" in tree
    assert git(repo, "show", "testlog~1:runs/20250901__unit__run.json")   # history keeps them
    record = json.loads(git(repo, "show", "testlog:retention/rotation_2025_11_25.json"))
    assert record["cutoff"] == "2025-10-26" and len(record["removed"]) == 12
    assert record["removed"][0]["blob"] == git(repo, "rev-parse", f"testlog~1:{record['removed'][0]['path']}").strip()
    git(repo, "verify-commit", tip)
    assert git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Event,valueonly)", tip).strip() == "ROTATION"
    assert verify(repo, keys_file) == 0
    assert user_state(repo) == before


@pytest.fixture
def aged(repo: Path, gpg_key: str) -> tuple[Path, list[str], datetime]:
    """Two runs, then (one second later) a run and a seal: the split retention will cut at."""
    with open_store(repo, sign_key=gpg_key) as store:
        shas = [record_run(store, OLD), record_run(store, MID)]
        split = int(time.time()) + 1
        wait_until(lambda: time.time() >= split, "the next second of the clock")
        shas.append(record_run(store, NEW))
    assert main(["-C", str(repo), "seal", "--date", NEW.isoformat(), "--sign-key", gpg_key]) == 0
    shas.append(git(repo, "rev-parse", "testlog").strip())
    return repo, shas, datetime.fromtimestamp(split, timezone.utc)


def retention_args(split: datetime, key: str, *extra: str) -> list[str]:
    return ["--as-of", stamp(split + timedelta(days=90)), "--retain-days", "90",
            "--rotate-days", "100000", "--sign-key", key, *extra]


def test_retention_archives_history_and_restarts_at_a_signed_epoch(aged, gpg_key, keys_file,
                                                                    tmp_path, capsys):
    repo, shas, split = aged
    assert verify(repo, keys_file) == 0                        # remember the tip before
    before = user_state(repo)
    assert prune(repo, *retention_args(split, gpg_key)) == 0
    epoch, *rebuilt = branch_commits(repo)
    assert git(repo, "rev-list", "--parents", "-n1", epoch).split() == [epoch]   # a new root
    assert len(rebuilt) == 2
    record = json.loads(git(repo, "show", f"{epoch}:retention/epoch_{(split + timedelta(days=90)).strftime('%Y_%m_%d')}.json"))
    assert record["previous_tip"] == shas[-1] and record["boundary"] == shas[1]
    assert record["archived_commits"] == 2 and record["rebuilt_commits"] == 2
    bundle = repo / ".git" / "testlog" / "archive" / record["bundle"]
    from gitstore.bundle import file_sha256
    assert file_sha256(str(bundle)) == record["bundle_sha256"]
    assert git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Archive-SHA256,valueonly)",
               epoch).strip() == record["bundle_sha256"]
    git(repo, "bundle", "verify", "-q", str(bundle))
    # the epoch continues the tree of the last archived commit; newer commits are re-applied
    assert git(repo, "show", f"{epoch}:runs/20251020__unit__run.json") == git(repo, "show", f"{shas[1]}:runs/20251020__unit__run.json")
    assert [git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Rebuilt-From,valueonly)", c).strip()
            for c in rebuilt] == shas[2:]
    assert [git(repo, "log", "-1", "--format=%at", c) for c in rebuilt] == \
        [git(repo, "log", "-1", "--format=%at", c) for c in shas[2:]]
    assert git(repo, "rev-parse", "testlog^{tree}") != git(repo, "rev-parse", f"{shas[-1]}^{{tree}}")
    assert git(repo, "diff", "--stat", shas[-1], "testlog", "--", "runs", "audit", "timing") == ""
    for sha in (epoch, *rebuilt):
        git(repo, "verify-commit", sha)
    git(repo, "fsck", "--strict")
    assert user_state(repo) == before
    # nothing is dropped: the archive restores every original commit
    restored = tmp_path / "restored"
    git(tmp_path, "init", "-q", "--bare", str(restored))
    git(restored, "fetch", "-q", str(bundle), "refs/heads/testlog:refs/heads/old")
    assert git(restored, "rev-list", "--reverse", "old").split() == shas
    # verify accepts the trusted epoch, reports it, and sees the verified tip carried through it
    capsys.readouterr()
    assert verify(repo, keys_file) == 0
    out = capsys.readouterr().out
    assert f"epoch {epoch[:12]} restarts the branch after {shas[-1][:12]}" in out
    assert "sha256 ok" in out


def test_epoch_signed_by_an_untrusted_key_is_refused(aged, gpg_key, other_key, keys_file,
                                                      sandbox, tmp_path, capsys):
    repo, shas, split = aged
    assert prune(repo, *retention_args(split, other_key)) == 0
    epoch = branch_commits(repo)[0]
    capsys.readouterr()
    assert verify(repo, keys_file) == 1
    out = capsys.readouterr().out
    assert f"FAIL {epoch[:12]} -: retention epoch not signed by a trusted key (untrusted)" in out
    both = tmp_path / "both.asc"
    both.write_text(export_key(sandbox["GNUPGHOME"], gpg_key, tmp_path / "a.asc").read_text()
                    + export_key(sandbox["GNUPGHOME"], other_key, tmp_path / "b.asc").read_text())
    assert verify(repo, both) == 0                  # trusting the pruner's key accepts it


def test_an_unsigned_epoch_is_refused_even_without_require_signed(aged, gpg_key, keys_file, capsys):
    repo, shas, split = aged
    from testlog.audit.prune import retain, retention_plan
    as_of = split + timedelta(days=90)
    with open_store(repo, sign_key=False) as store:
        plan = retention_plan(store, as_of, 90)
        retain(store, plan, str(repo / ".git" / "testlog" / "archive"), as_of, 90)
    epoch = branch_commits(repo)[0]
    capsys.readouterr()
    assert verify(repo, keys_file) == 1
    assert f"FAIL {epoch[:12]} -: retention epoch not signed by a trusted key (unsigned)" in capsys.readouterr().out


def test_an_edited_archive_is_reported(aged, gpg_key, keys_file, capsys):
    repo, shas, split = aged
    assert prune(repo, *retention_args(split, gpg_key)) == 0
    bundle = next((repo / ".git" / "testlog" / "archive").glob("*.bundle"))
    bundle.write_bytes(bundle.read_bytes() + b"x")
    capsys.readouterr()
    assert verify(repo, keys_file) == 1
    assert "archive bundle does not match the SHA-256 the epoch recorded" in capsys.readouterr().out


def test_an_epoch_does_not_excuse_a_rollback_before_it(repo, gpg_key, keys_file, capsys):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, OLD)
        record_run(store, NEW)
    assert verify(repo, keys_file) == 0
    git(repo, "update-ref", "refs/heads/testlog", "testlog~1")        # roll back, then prune
    future = stamp(datetime.now(timezone.utc) + timedelta(days=2))
    assert prune(repo, "--as-of", future, "--retain-days", "1", "--rotate-days", "100000",
                 "--sign-key", gpg_key) == 0
    capsys.readouterr()
    assert verify(repo, keys_file) == 1
    assert "rollback or fork: the last verified tip" in capsys.readouterr().out


def test_settings_from_config_dry_run_and_archive_dir(aged, gpg_key, tmp_path, capsys):
    repo, shas, split = aged
    (repo / "setup.cfg").write_text("[testlog]\nrotate_days = 100000\nretain_days = 90\n")
    as_of = stamp(split + timedelta(days=90))
    tip = git(repo, "rev-parse", "testlog")
    assert prune(repo, "--as-of", as_of, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "2 commits older than 90 days leave the branch, 2 newer commits are rebuilt" in out
    assert git(repo, "rev-parse", "testlog") == tip
    assert not (repo / ".git" / "testlog" / "archive").exists()
    archive = tmp_path / "archive"
    assert prune(repo, "--as-of", as_of, "--archive-dir", str(archive), "--sign-key", gpg_key) == 0
    assert len(list(archive.glob("testlog-*.bundle"))) == 1
    assert prune(repo, "--as-of", as_of, "--sign-key", gpg_key) == 0     # nothing left to do
    assert "no history older than 90 days" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--as-of", "next week"], "invalid time 'next week'"),
    (["--retain-days", "-1"], "retain_days (command line) must be a whole number of days"),
    (["--branch", "nothing"], "no log branch refs/heads/nothing"),
])
def test_prune_bad_input_writes_nothing(repo, gpg_key, capsys, args, message):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, OLD)
    tip, before = git(repo, "rev-parse", "testlog"), user_state(repo)
    assert prune(repo, *args, "--sign-key", gpg_key) == 2
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: ") and message in err and err.count("\n") == 1
    assert git(repo, "rev-parse", "testlog") == tip and user_state(repo) == before


def test_prune_without_a_key_is_refused(repo, gpg_key, capsys):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, OLD)
    tip = git(repo, "rev-parse", "testlog")
    assert prune(repo, "--as-of", "2026-01-01") == 2
    assert "prune writes signed commits" in capsys.readouterr().err
    assert git(repo, "rev-parse", "testlog") == tip
