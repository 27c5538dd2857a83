"""`seal` and `export`: signed deterministic bundles that stock tools accept, and bad input."""
from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest

from testlog.audit.intoto import PREDICATE_TYPE
from testlog.cli import main
from testlog.core.layout import audit_paths
from tests.audit_helpers import export_key, record_run
from tests.fixtures import git, user_state
from tests.recorder_helpers import event_at
from tests.store_helpers import open_store

DAY1, DAY2 = date(2025, 11, 1), date(2025, 11, 2)


@pytest.fixture
def runs(repo: Path, gpg_key: str) -> Path:
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, DAY1)
        record_run(store, DAY1, "integration", {"t.py::bad": "FAIL", "t.py::skipped": "SKIP"})
        record_run(store, DAY2)
    return repo


def seal(repo: Path, *args: str) -> int:
    return main(["-C", str(repo), "seal", *args])


def run_tool(cwd: Path, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def test_seal_commits_zip_signature_and_manifest_with_an_event(runs: Path, gpg_key: str, capsys):
    before = user_state(runs)
    assert seal(runs, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    paths = audit_paths(DAY1)
    tip = git(runs, "rev-parse", "testlog").strip()
    assert git(runs, "log", "-1", "--format=%(trailers:key=Testlog-Event,valueonly)", tip).strip() == "AUDIT_SEALED"
    event = event_at(runs, "testlog")
    assert (event["event"], event["artifact"], event["verdict"]) == ("AUDIT_SEALED", paths["zip"], "SEALED")
    assert sorted(git(runs, "show", "--name-only", "--format=", tip).split()) == sorted(
        [paths["zip"], paths["sig"], paths["manifest"]])
    git(runs, "verify-commit", tip)
    assert user_state(runs) == before


def test_stock_tools_accept_an_exported_seal(runs: Path, gpg_key: str, tmp_path: Path, capsys):
    assert seal(runs, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    out = tmp_path / "audit"
    assert main(["-C", str(runs), "export", "testlog", "-o", str(out)]) == 0
    names = sorted(os.listdir(out))
    assert names == ["logs_audit_2025_11_01.manifest.sha256", "logs_audit_2025_11_01.zip",
                     "logs_audit_2025_11_01.zip.sig"]
    checked = run_tool(out, "sha256sum", "-c", names[0])
    assert checked.returncode == 0 and "logs_audit_2025_11_01.zip: OK" in checked.stdout
    verified = run_tool(out, "gpg", "--verify", names[2], names[1])
    assert verified.returncode == 0 and "Good signature" in verified.stderr
    tested = run_tool(out, "unzip", "-t", names[1])
    assert tested.returncode == 0 and "No errors detected" in tested.stdout
    inner = tmp_path / "inner"
    with zipfile.ZipFile(out / names[1]) as archive:
        archive.extractall(inner)
    assert run_tool(inner, "sha256sum", "--strict", "-c", "manifest.sha256").returncode == 0


def test_seal_holds_the_periods_files_and_an_in_toto_statement_per_run(runs, gpg_key, capsys):
    assert seal(runs, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    data = subprocess.run(["git", "cat-file", "blob", f"testlog:{audit_paths(DAY1)['zip']}"],
                          cwd=runs, capture_output=True, check=True).stdout
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        statement = json.loads(archive.read("attestations/20251101__integration__run.intoto.json"))
    assert names == sorted(names)
    assert {n.split("/")[0] for n in names} == {"runs", "timing", "determinism", "summaries",
                                                "attestations", "manifest.sha256"}
    assert not [n for n in names if "20251102" in n]              # another day's run stays out
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicate"]["result"] == "FAILED"
    assert statement["predicate"]["failedTests"] == ["t.py::bad"]
    assert statement["predicate"]["warnedTests"] == ["t.py::skipped"]
    assert statement["subject"][0]["digest"]["gitCommit"] == "a" * 40


def test_sealing_the_same_content_twice_gives_the_same_zip(runs: Path, gpg_key: str, capsys,
                                                            tmp_path: Path):
    assert seal(runs, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    first = git(runs, "rev-parse", f"testlog:{audit_paths(DAY1)['zip']}").strip()
    tip = git(runs, "rev-parse", "testlog")
    assert seal(runs, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    assert "already seals exactly these files" in capsys.readouterr().out
    assert git(runs, "rev-parse", "testlog") == tip                 # nothing new committed
    clone = tmp_path / "clone"                                      # sealed anew elsewhere
    git(tmp_path, "clone", "-q", "--no-local", str(runs), str(clone))
    git(clone, "fetch", "-q", "origin", "testlog:testlog")
    git(clone, "update-ref", "refs/heads/testlog", f"{tip.strip()}~1")
    assert seal(clone, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    assert git(clone, "rev-parse", f"testlog:{audit_paths(DAY1)['zip']}").strip() == first


def zip_names(repo: Path, path: str) -> list[str]:
    data = subprocess.run(["git", "cat-file", "blob", f"testlog:{path}"], cwd=repo,
                          capture_output=True, check=True).stdout
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def test_seal_since_a_commit_takes_the_files_changed_after_it(runs: Path, gpg_key: str, capsys):
    assert seal(runs, "--since", "testlog~1", "--sign-key", gpg_key) == 0
    zips = [p for p in git(runs, "ls-tree", "-r", "--name-only", "testlog", "audit/").split()
            if p.endswith(".zip")]
    names = zip_names(runs, zips[0])
    assert "runs/20251102__unit__run.json" in names
    assert not [n for n in names if "20251101" in n]


@pytest.mark.parametrize("args, message", [
    (["--date", "2024-01-01"], "no runs to seal for 2024-01-01"),
    (["--date", "01/11/2025"], "invalid date '01/11/2025'"),
    (["--since", "nonexistent"], "unknown revision 'nonexistent'"),
    (["--since", "testlog"], "no runs to seal for after testlog"),
])
def test_seal_bad_input_writes_nothing(runs: Path, gpg_key: str, capsys, args, message):
    before, tip = user_state(runs), git(runs, "rev-parse", "testlog")
    assert seal(runs, *args, "--sign-key", gpg_key) == 2
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: ") and err.count("\n") == 1 and message in err
    assert git(runs, "rev-parse", "testlog") == tip and user_state(runs) == before


def test_seal_without_a_signing_key_is_refused(runs: Path, capsys):
    tip = git(runs, "rev-parse", "testlog")
    assert seal(runs, "--date", "2025-11-01") == 2
    assert "sealing needs a signing key" in capsys.readouterr().err
    assert git(runs, "rev-parse", "testlog") == tip


def test_export_a_run_writes_its_files_and_a_manifest(runs: Path, tmp_path: Path, capsys):
    out = tmp_path / "run"
    assert main(["-C", str(runs), "export", "testlog~1", "-o", str(out)]) == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "runs/20251101__integration__run.json" in files and "manifest.sha256" in files
    assert "chronicle.ndjson" not in files and "README.md" not in files
    assert run_tool(out, "sha256sum", "-c", "manifest.sha256").returncode == 0


@pytest.mark.parametrize("rev, message", [
    ("nonexistent", "unknown revision 'nonexistent'"),
    ("main", "is not a commit on the log branch"),
])
def test_export_bad_rev(runs: Path, tmp_path: Path, capsys, rev, message):
    assert main(["-C", str(runs), "export", rev, "-o", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_export_refuses_a_non_empty_directory_and_non_run_commits(runs, gpg_key, tmp_path, capsys):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    assert main(["-C", str(runs), "export", "testlog", "-o", str(full)]) == 2
    assert "is not an empty directory" in capsys.readouterr().err
    assert os.listdir(full) == ["keep.txt"]
    assert main(["-C", str(runs), "prune", "--rotate-days", "0", "--as-of", "2025-11-03",
                 "--retain-days", "100000", "--sign-key", gpg_key]) == 0
    capsys.readouterr()
    assert main(["-C", str(runs), "export", "testlog", "-o", str(tmp_path / "rot")]) == 2
    assert "is a ROTATION commit, not a run or a seal" in capsys.readouterr().err
    assert not (tmp_path / "rot").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".testlog-export-")]


def test_a_suite_run_twice_in_a_day_is_sealed_with_both_runs(repo: Path, gpg_key: str,
                                                             tmp_path: Path, capsys):
    """The second run of a suite on one day replaces the first at the tip (same file names);
    the day's seal still holds the first, under superseded/<its log commit>/."""
    with open_store(repo, sign_key=gpg_key) as store:      # the same seed: the same
        first = record_run(store, DAY1, statuses={"t.py::a": "FAIL"})   # determinism file
        record_run(store, DAY1, statuses={"t.py::a": "PASS"})
    assert seal(repo, "--date", "2025-11-01", "--sign-key", gpg_key) == 0
    assert "sealed 2 runs" in capsys.readouterr().out
    data = subprocess.run(["git", "cat-file", "blob", f"testlog:{audit_paths(DAY1)['zip']}"],
                          cwd=repo, capture_output=True, check=True).stdout
    old = f"superseded/{first[:12]}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "inner")
        earlier = json.loads(archive.read(f"{old}/runs/20251101__unit__run.json"))
        statements = {n: json.loads(archive.read(n)) for n in names if n.startswith("attestations/")}
    assert {f"{old}/runs/20251101__unit__run.json", f"{old}/determinism/20251101__unit__determinism.json",
            "runs/20251101__unit__run.json"} <= names
    assert [r["status"] for r in earlier["records"]] == ["FAIL"]
    assert git(repo, "show", f"{first}:runs/20251101__unit__run.json").encode() == \
        (tmp_path / "inner" / old / "runs" / "20251101__unit__run.json").read_bytes()
    results = {n: s["predicate"]["result"] for n, s in statements.items()}
    configuration = statements[f"attestations/20251101__unit__run@{first[:12]}.intoto.json"][
        "predicate"]["configuration"]
    assert [c["name"] for c in configuration] == [f"{old}/determinism/20251101__unit__determinism.json"]
    assert results == {"attestations/20251101__unit__run.intoto.json": "PASSED",
                       f"attestations/20251101__unit__run@{first[:12]}.intoto.json": "FAILED"}
    assert run_tool(tmp_path / "inner", "sha256sum", "--strict", "-c", "manifest.sha256").returncode == 0
    keys = export_key(os.environ["GNUPGHOME"], gpg_key, tmp_path / "trusted.asc")
    assert main(["-C", str(repo), "verify", "--trusted-keys", str(keys)]) == 0
