"""No secret in clear anywhere on the branch, nor in any file written for a run (exported,
--testlog-out, pending): environment values (also inside compound ones like PYTEST_ADDOPTS),
values of options named token, secret, password or key, and node ids rewritten the same way in
every file they appear in; a secret an earlier version recorded in a timing summary does not
stay at the tip of the branch, nor in the --testlog-out directory's summary."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from testlog.core.redaction import REDACTED, Redactor, option_secrets, secret_name
from testlog.core.timing_summary import renamed
from tests.fixtures import git, make_repo
from tests.recorder_helpers import pytest_env, run_data, run_pytest, show
from tests.replay_support import PY, cli, last_report

PROJECT = {
    "conftest.py": "def pytest_addoption(parser):\n"
                   "    parser.addoption('--api-token')\n"
                   "    parser.addoption('--db-password')\n",
    "test_secret.py": '''\
import os

import pytest

TOKEN = os.environ["MY_API_TOKEN"]


@pytest.mark.parametrize("value", [TOKEN])
def test_param(value):
    assert value


def test_options_leak(request):
    assert request.config.getoption("--api-token") == request.config.getoption("--db-password")
''',
}


SUMMARY = "timing/timing_summary.json"


def new_secret(label: str) -> str:
    return f"{label}-" + hashlib.sha256(os.urandom(16)).hexdigest()[:20]


@pytest.fixture
def secrets_env(sandbox: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(pytest's environment, {label: secret})."""
    found = {label: new_secret(label) for label in ("env", "addopts", "cli", "ini")}
    env = pytest_env(sandbox, MY_API_TOKEN=found["env"],
                     PYTEST_ADDOPTS=f"--db-password={found['addopts']} -p no:randomly")
    return env, found


def secret_args(found: dict[str, str]) -> list[str]:
    return [f"--api-token={found['cli']}", "-o", f"client_secret={found['ini']}"]


def assert_clean(data: bytes, found: dict[str, str], where: str) -> None:
    for label, value in found.items():
        assert value.encode() not in data, f"the {label} secret is in {where}"


def all_objects(repo: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                          capture_output=True, check=True).stdout


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_secret_reaches_any_object_and_node_ids_are_the_same_everywhere(
        tmp_path: Path, secrets_env, monkeypatch: pytest.MonkeyPatch):
    env, found = secrets_env
    repo = make_repo(tmp_path / "proj", PROJECT)
    run = run_pytest(repo, env, "--testlog", "--testlog-no-sign", *secret_args(found))
    assert run.returncode == 1 and "recorded as" in run.stdout, run.stdout + run.stderr
    objects = all_objects(repo)
    assert len(objects) > 10_000
    assert_clean(objects, found, "an object of the repository")
    data = run_data(repo)
    assert data["run"]["pytest"]["args"][-3:] == ["--api-token=<redacted>", "-o",
                                                  f"client_secret={REDACTED}"]
    param = "test_secret.py::test_param[${MY_API_TOKEN}]"
    assert param in {r["test_name"] for r in data["records"]} and param in data["run"]["nodeids"]
    branch = git(repo, "ls-tree", "-r", "--name-only", "testlog").split()
    mentions = [p for p in branch if "test_param" in show(repo, p)]
    assert len(mentions) >= 5, mentions          # compact run, log, timing csv, summaries
    for path in mentions:
        assert param in show(repo, path), path
    errors = show(repo, next(p for p in branch if p.endswith("__errors.log")))
    assert "<redacted> == <redacted>" in errors.replace("'", "")

    # the full format rendered from the compact run (export, seal) names it alike
    exported = tmp_path / "exported"
    assert cli("-C", str(repo), "export", "testlog", "-o", str(exported))[0] == 0
    files = files_under(exported)
    for path, data in files.items():
        assert_clean(data, found, f"the exported {path}")
    mentions = [p for p, data in files.items() if b"test_param" in data]
    assert len(mentions) >= 8, mentions          # run x2, log, timing x2, determinism, summaries
    for path in mentions:
        assert param.encode() in files[path], path

    # the same environment replays it, matching the collected ids to their redacted form
    # (-o client_secret=… is no option a replay repeats unless forced)
    monkeypatch.setenv("MY_API_TOKEN", found["env"])
    code, out, err = cli("-C", str(repo), "replay", "testlog", "--python", PY, "--no-sign",
                         "--trust-run", "-k", "test_param")
    assert (code, err) == (0, ""), out + err
    assert [(t["test_name"], t["verdict"]) for t in last_report(repo)["tests"]] == [
        (param, "verified")]
    assert_clean(all_objects(repo), found, "an object after the replay")


def test_no_secret_in_files_written_outside_git(tmp_path: Path, secrets_env):
    env, found = secrets_env
    repo = make_repo(tmp_path / "proj", PROJECT)
    out = tmp_path / "out"
    run = run_pytest(repo, env, f"--testlog-out={out}", *secret_args(found))
    assert "files written to" in run.stdout, run.stdout + run.stderr
    written = files_under(out)
    assert len(written) >= 10
    for path, data in written.items():
        assert_clean(data, found, str(path))


def test_no_secret_in_a_pending_run(tmp_path: Path, secrets_env):
    env, found = secrets_env
    repo = make_repo(tmp_path / "proj", PROJECT)
    run = run_pytest(repo, env, "--testlog", "--testlog-sign-key=NO-SUCH-KEY", *secret_args(found))
    assert "saved to" in run.stdout, run.stdout + run.stderr
    written = files_under(repo / ".git" / "testlog" / "pending")
    assert {p.name.rsplit("__", 1)[-1] for p in written} == {   # every file of the entry
        "meta.json", "run.jsonl", "run.log", "summary.json", "summary.md", "timing.csv",
        "determinism.json", "errors.json", "errors.log"}
    for path, data in written.items():
        assert_clean(data, found, str(path))


def leaked_summary(found: dict[str, str]) -> bytes:
    """A timing summary as a version before redaction wrote it: the secret in a node id."""
    entry = {"last_ms": 1.0, "m2": 0.0, "mean_ms": 1.0, "runs": 1, "variance_ms2": 0.0}
    return json.dumps({"schema_version": 1, "tests": {
        f"test_secret.py::test_param[{found['env']}]": entry}}).encode()


def test_a_secret_an_earlier_version_left_in_the_timing_summary_leaves_the_tip(
        tmp_path: Path, secrets_env):
    """New model: the branch no longer keeps a timing summary, so the one a branch of the first
    format holds is not rewritten: the next commit takes it off the tip (it would otherwise stay
    there, and through rotation, for ever). History keeps it, as it keeps every old commit."""
    from testlog.store.events import commit_event
    from tests.store_helpers import open_store
    env, found = secrets_env
    repo = make_repo(tmp_path / "proj", PROJECT)
    with open_store(repo, sign_key=False) as store:     # as a version before redaction wrote it
        commit_event(store, {SUMMARY: leaked_summary(found)}, event="BENCH_RECORDED",
                     artifact=SUMMARY, verdict="PASS", summary="old summary")
    run = run_pytest(repo, env, "--testlog", "--testlog-no-sign")
    assert "recorded as" in run.stdout, run.stdout + run.stderr
    tip = git(repo, "ls-tree", "-r", "--name-only", "testlog").split()
    assert SUMMARY not in tip and any(p.endswith("__run.jsonl") for p in tip)
    for path in tip:
        assert_clean(show(repo, path).encode(), found, f"{path} at the tip")
    assert SUMMARY in git(repo, "ls-tree", "-r", "--name-only", "testlog~1").split()


def test_a_secret_an_earlier_run_left_in_the_out_directorys_timing_summary_leaves_it(
        tmp_path: Path, secrets_env):
    """--testlog-out still keeps a timing summary that carries names on from run to run: the
    names an earlier version wrote there are rewritten (their samples merged), never kept."""
    env, found = secrets_env
    repo = make_repo(tmp_path / "proj", PROJECT)
    out = tmp_path / "out"
    (out / "timing").mkdir(parents=True)
    (out / SUMMARY).write_bytes(leaked_summary(found))
    run = run_pytest(repo, env, f"--testlog-out={out}")
    assert "files written to" in run.stdout, run.stdout + run.stderr
    summary = (out / SUMMARY).read_text()
    assert found["env"] not in summary
    assert '"test_secret.py::test_param[${MY_API_TOKEN}]":{"last_ms"' in summary
    assert '"runs":2' in summary              # the earlier sample was kept, under the new name
    for path, data in files_under(out).items():
        assert_clean(data, found, str(path))


# -- the rules, pure ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, secret", [
    ("--api-token", True), ("MY_PASSWORD", True), ("aws_secret_access_key", True),
    ("--db-passwd", True), ("client_secret", True), ("--sign-key", True), ("APIKEY", True),
    ("--verbose", False), ("--keep", False), ("-k", False), ("HOME", False), ("author", False),
])
def test_secret_names(name: str, secret: bool):
    assert secret_name(name) is secret


@pytest.mark.parametrize("args, values", [
    (["--api-token=a", "--x", "b"], ["a"]), (["--password", "p", "-v"], ["p"]),
    (["-o", "api_key=k"], ["k"]), (["-oclient_secret=s"], ["s"]),
    (["--override-ini=db_password=q"], ["q"]), (["--override-ini", "token=t"], ["t"]),
    (["-o", "python_files=*.py", "--password", "-v"], []),
])
def test_option_secrets(args: list[str], values: list[str]):
    assert option_secrets(args) == values


def test_redactor_rules():
    environ = {"MY_API_TOKEN": "tok-123456", "HOME": "/home/alice", "X": "1",
               "PYTEST_ADDOPTS": "-v --db-password=hunter22 -p no:randomly -o api_key=k3y-xyz "
                                 "--db-url=postgres://app:Pa55word@db/x",
               "TESTLOG_SUITE": "integration", "TESTLOG_ENV_KEY": "the-key-value",
               "PYTEST_CURRENT_TEST": "t.py::x (call)"}
    redact = Redactor(environ, ["-q", "--api-token=abc", "--password", "pw", "tests"])
    assert redact("a tok-123456 b") == "a ${MY_API_TOKEN} b"
    assert redact("hunter22 k3y-xyz no:randomly") == "<redacted> <redacted> no:randomly"
    assert redact("connect postgres://app:Pa55word@db/x") == "connect ${PYTEST_ADDOPTS}"
    assert redact("tests/integration/t.py the-key-value") == \
        "tests/integration/t.py ${TESTLOG_ENV_KEY}"                  # settings are not secrets
    assert redact("t.py::x (call) X=1") == "t.py::x (call) X=1"
    assert redact.args(["-q", "--api-token=abc", "--password", "pw", "t.py::x[tok-123456]"]) == \
        ["-q", "--api-token=<redacted>", "--password", "<redacted>", "t.py::x[${MY_API_TOKEN}]"]
    names = ["a.py::t[1]", "a.py::t[tok-123456]"]
    assert redact.names(names) == ["a.py::t[1]", "a.py::t[${MY_API_TOKEN}]"]
    clean = ["a.py::t[1]"]
    assert redact.names(clean) is clean                          # one search, nothing rebuilt


def test_timing_summary_names_rewritten_and_merged():
    entry = {"runs": 2, "mean_ms": 2.0, "m2": 2.0, "variance_ms2": 2.0, "last_ms": 3.0}
    other = {"runs": 1, "mean_ms": 5.0, "m2": 0.0, "variance_ms2": 0.0, "last_ms": 5.0}
    summary = {"schema_version": 1, "tests": {"t[s3cret]": entry, "t[${S}]": other, "u": entry}}
    out = renamed(summary, lambda names: [n.replace("s3cret", "${S}") for n in names])
    assert set(out["tests"]) == {"t[${S}]", "u"}
    merged = out["tests"]["t[${S}]"]
    assert merged["runs"] == 3 and merged["mean_ms"] == 3.0 and merged["m2"] == 8.0
