"""Edges found in review: each gives one clear line and writes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testlog.cli import build_parser, main, parse
from testlog.core.canonical import signed_record
from testlog.store.events import commit_event
from tests.fixtures import git, user_state
from tests.store_helpers import open_store


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert err.startswith("git-testlog: error: ") and err.count("\n") == 1, err
    return err


def test_show_without_a_log_branch(repo: Path, capsys):
    assert main(["-C", str(repo), "show"]) == 2
    assert "no log branch refs/heads/testlog here" in one_error_line(capsys)


def test_log_into_a_closed_pipe_stops_quietly(repo: Path):
    with open_store(repo, sign_key=False) as store:
        for i in range(400):
            store.write({"a": str(i).encode()}, f"commit {i} " + "x" * 200)
    script = Path(sys.executable).parent / "git-testlog"
    proc = subprocess.run(f"{script} log | head -n 1", shell=True,
                          cwd=repo, capture_output=True, text=True)
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


@pytest.mark.parametrize("content,name", [("[testlog\nbranch = x\n", "setup.cfg"),
                                          ("[tool.testlog\n", "pyproject.toml")])
def test_malformed_config_files(repo: Path, capsys, content: str, name: str):
    (repo / name).write_text(content)
    assert main(["-C", str(repo), "verify"]) == 2
    assert f"cannot read {repo / name}" in one_error_line(capsys)


def test_percent_in_setup_cfg_is_literal(repo: Path):
    (repo / "setup.cfg").write_text("[testlog]\narchive_dir = /tmp/arch%d\n")
    from testlog.config import load_settings
    assert load_settings(str(repo))["archive_dir"].value == "/tmp/arch%d"


def write_fake_run(repo: Path, run_json: bytes) -> str:
    path = "runs/20261101__unit__run.json"
    with open_store(repo, sign_key=False) as store:
        return commit_event(store, {path: run_json}, event="TEST_SUITE_EXECUTED", artifact=path,
                            verdict="PASS", summary="TEST_SUITE_EXECUTED unit PASS 1 passed 0 failed",
                            trailers={"Testlog-Suite": "unit", "Testlog-Verdict": "PASS"})


@pytest.mark.parametrize("run_json", [b"[]", b"null", b'{"records": 5, "run": {}}',
                                      b'{"records": [{"test_name": 3}], "run": {}}'])
def test_hand_edited_run_files_are_refused(repo: Path, capsys, run_json: bytes, gpg_key: str):
    sha = write_fake_run(repo, run_json)
    before = user_state(repo)
    for argv in (["replay", sha], ["compare", sha, sha], ["seal", "--date", "2026-11-01", "--sign-key", gpg_key]):
        assert main(["-C", str(repo), *argv]) == 1
        assert "not a recorded run" in one_error_line(capsys)
    assert git(repo, "rev-parse", "testlog").strip() == sha
    assert user_state(repo) == before


def test_a_record_whose_signature_does_not_match_is_refused(repo: Path, capsys):
    record = signed_record({"test_name": "t::a", "status": "PASS"})
    record["status"] = "FAIL"
    sha = write_fake_run(repo, json.dumps({"schema_version": 1, "run": {}, "records": [record]})
                         .encode())
    assert main(["-C", str(repo), "compare", sha, sha]) == 1
    assert "does not match its digest" in one_error_line(capsys)


def test_export_to_an_empty_name(repo: Path, capsys):
    sha = write_fake_run(repo, b"{}")
    assert main(["-C", str(repo), "export", sha, "-o", ""]) == 2
    assert "export directory (-o) is empty" in one_error_line(capsys)


def test_testlog_out_alone_records(pytester: pytest.Pytester):
    pytester.makepyfile("def test_a():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--testlog-out=out")
    assert result.ret == 0
    assert list((pytester.path / "out" / "runs").glob("*__run.jsonl"))


def test_hook_takes_gits_arguments_after_its_options(repo: Path, capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.delenv("PRE_COMMIT_FROM_REF", raising=False)
    monkeypatch.delenv("PRE_COMMIT_TO_REF", raising=False)
    assert main(["-C", str(repo), "hook", "pre-push", "--check", "bench", "origin",
                 "https://example.invalid/repo.git"]) == 0
    assert "nothing to check" in capsys.readouterr().out
    args = parse(build_parser(), ["hook", "pre-push", "--check", "bench", "origin", "URL"])
    assert (args.check, args.hook_args) == ("bench", ["origin", "URL"])
    assert main(["-C", str(repo), "hook", "pre-push", "--check", "bench", "origin", "--bogus"]) == 2
    assert "unrecognized arguments" in one_error_line(capsys)
    assert main(["-C", str(repo), "log", "extra"]) == 2
    assert "unrecognized arguments: extra" in one_error_line(capsys)


@pytest.mark.parametrize("argv", [["--version"], ["-C", ".", "--version"]])
def test_version_loads_no_command(argv: list[str]):
    """`--version` answers without importing the commands (and every layer behind them)."""
    code = ("import sys\nfrom testlog.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print(sorted(m for m in sys.modules if m.startswith(('testlog.commands.', "
            "'dulwich'))))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         check=True)
    version, loaded = out.stdout.splitlines()
    assert version.startswith("git-testlog ") and loaded == "[]"


def test_a_command_word_after_version_is_still_checked(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version", "log"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("git-testlog ")
    assert main(["bogus", "--version"]) == 2
    assert "invalid choice: 'bogus'" in one_error_line(capsys)


def test_an_interpreter_without_gc_freeze_exits_as_usual(tmp_path: Path):
    """PyPy has no gc.freeze (the command line freezes the heap before exiting on CPython)."""
    (tmp_path / "sitecustomize.py").write_text("import gc\ndel gc.freeze\n")
    script = Path(sys.executable).parent / "git-testlog"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert (proc.returncode, proc.stderr) == (0, "") and proc.stdout.startswith("git-testlog ")
    proc = subprocess.run([str(script), "-C", str(tmp_path), "show"], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2 and proc.stderr.startswith("git-testlog: error: ")


@pytest.mark.parametrize("command", ["cov", "gate", "bench", "hook"])
def test_the_commands_that_run_tests_say_how_they_start_them(command: str, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "`-c` in sys.orig_argv" in text and "TESTLOG_PRESTART=false" in text
