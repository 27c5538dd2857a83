"""examples/ci: the GitHub Actions workflow's and the GitLab CI file's shell steps, run for real
as a runner would (a fresh clone of a bare remote, the runner's environment variables, the
secrets), over a push, a pull request, a tag and two nightly verifications. Steps that only
set the machine up (`uses:` actions, installing Python and git-testlog) are done by the test:
this environment's git-testlog and pytest are on PATH. Also: a shallow clone is told how to
fetch the history it lacks."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from testlog.cli import main
from tests.fixtures import git
from tests.gate_repos import HALF_TEST, commit_all, module, mono_repo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ci"
BIN = os.path.dirname(sys.executable)
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    """One CI machine's view: a bare remote, a clone per job, the environment a runner sets."""

    def __init__(self, base: Path, origin: Path, secrets: dict[str, str]) -> None:
        self.base, self.origin, self.secrets = base, origin, secrets
        self.jobs = 0
        self.cache: Path | None = None        # what actions/cache (GitLab's cache:) keeps
        self.temps: list[Path] = []

    def new_temp(self) -> Path:
        """RUNNER_TEMP: short, as on a runner (gpg-agent's socket path has a length limit)."""
        self.temps.append(Path(tempfile.mkdtemp(prefix="rt-")))
        return self.temps[-1]

    def close(self) -> None:
        for temp in self.temps:
            for home in (temp / "gnupg", temp / "job" / ".gnupg"):
                if home.exists():
                    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True,
                                   env={**os.environ, "GNUPGHOME": str(home)})
            shutil.rmtree(temp, ignore_errors=True)

    def checkout(self, ref: str) -> Path:
        """actions/checkout with fetch-depth: 0 (GitLab: GIT_DEPTH 0, GIT_STRATEGY clone)."""
        self.jobs += 1
        work = self.new_temp() / "job"
        git(self.base, "clone", "-q", "--no-checkout", str(self.origin), str(work))
        git(work, "checkout", "-q", "--detach", ref)
        return work

    def environ(self, work: Path, extra: dict[str, str]) -> dict[str, str]:
        temp = self.temps[-1]
        home = self.base / "runner-home"
        home.mkdir(exist_ok=True)
        env = {"PATH": BIN + os.pathsep + "/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "CI": "true",
               "LANG": "C.UTF-8", "RUNNER_TEMP": str(temp), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTEST_ADDOPTS": "-p no:randomly -p no:cacheprovider"}
        env.update(extra)
        return env

    def run_script(self, script: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """As a runner runs a step: bash, errexit and pipefail, in the checkout."""
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=work, env=env, capture_output=True, text=True, timeout=600)


# -- GitHub Actions ----------------------------------------------------------------------------

def github_value(expression: str, context: dict[str, str]) -> Any:
    """The few GitHub expressions the workflow uses: contexts, ==, !=, startsWith, &&, ||."""
    python = re.sub(r"startsWith\(([^,]+),\s*([^)]+)\)", r"(\1).startswith(\2)", expression)
    python = re.sub(r"\b((?:github|secrets|runner)\.\w+)", lambda m: repr(context.get(m.group(1), "")),
                    python)
    python = python.replace("&&", " and ").replace("||", " or ")
    return eval(python, {"__builtins__": {}})       # the workflow file is ours, not input


def github_text(text: str, context: dict[str, str]) -> str:
    return EXPRESSION.sub(lambda m: str(github_value(m.group(1), context)), text)


def github_job(runner: Runner, job: str, event: str, ref: str,
               extra: dict[str, str] | None = None) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run one job of the workflow for `event` on `ref`; (step name, result) of each step run,
    stopping at the first failure as a runner does."""
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    spec = workflow["jobs"][job]
    work = runner.checkout(ref)
    context = {"github.event_name": event, "github.ref": extra.get("GITHUB_REF", ref) if extra
               else ref, "github.job": job, "github.repository_id": "4242",
               "runner.temp": str(runner.temps[-1]),
               **{f"secrets.{k}": v for k, v in runner.secrets.items()}}
    if "if" in spec and not github_value(spec["if"], context):
        return []
    env = runner.environ(work, {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event,
                                "GITHUB_WORKFLOW": workflow["name"], "GITHUB_JOB": job,
                                "GITHUB_WORKSPACE": str(work), "GITHUB_REF": context["github.ref"],
                                "GITHUB_SHA": git(work, "rev-parse", "HEAD").strip(),
                                **(extra or {})})
    for block in (workflow.get("env", {}), spec.get("env", {})):
        env.update({k: github_text(str(v), context) for k, v in block.items()})
    done = []
    for step in spec["steps"]:
        if step.get("uses", "").startswith("actions/cache") and runner.cache is not None:
            target = work / step["with"]["path"]
            shutil.copytree(runner.cache, target, dirs_exist_ok=True)      # restore
        if "run" not in step or step.get("id") == "install":
            continue
        if "if" in step and not github_value(step["if"], context):
            continue
        result = runner.run_script(github_text(step["run"], context), work, env)
        done.append((step["name"], result))
        if result.returncode != 0:
            break
    if any(s.get("uses", "").startswith("actions/cache") for s in spec["steps"]):
        path = next(s["with"]["path"] for s in spec["steps"] if "cache" in s.get("uses", ""))
        if (work / path).exists():
            runner.cache = runner.base / "cache"
            shutil.copytree(work / path, runner.cache, dirs_exist_ok=True)  # save
    return done


def ok(steps: list[tuple[str, subprocess.CompletedProcess[str]]]) -> dict[str, str]:
    for name, result in steps:
        assert result.returncode == 0, f"step {name!r} failed:\n{result.stdout}{result.stderr}"
    return {name: result.stdout + result.stderr for name, result in steps}


@pytest.fixture
def project(tmp_path: Path, gpg_key: str, sandbox: dict[str, str]) -> tuple[Path, Runner]:
    """A two-module project pushed to a bare remote; the signing key as the secret holds it."""
    repo = mono_repo(tmp_path / "dev", module("alpha", "L2"), module("beta", "L2"))
    public = subprocess.run(["gpg", "--armor", "--export", gpg_key], capture_output=True,
                            check=True).stdout.decode()
    (repo / "ci").mkdir()
    (repo / "ci" / "testlog-keys.asc").write_text(public)
    commit_all(repo, "project")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    secret = subprocess.run(["gpg", "--armor", "--export-secret-keys", gpg_key],
                            capture_output=True, check=True).stdout.decode()
    runners = tmp_path / "runners"
    runners.mkdir()
    runner = Runner(runners, origin, {"TESTLOG_GPG_KEY": secret,
                                      "TESTLOG_ENV_KEY": "shared-env-key-0123456789"})
    yield repo, runner
    runner.close()


GITHUB_CHAIN = "refs/testlog/chains/gha-4242-test"      # TESTLOG_WRITER of the test job
GITLAB_CHAIN = "refs/testlog/chains/gitlab-7-test"


def origin_log(runner: Runner, chain: str = GITHUB_CHAIN) -> list[str]:
    """The subjects of the job's chain on origin, newest first; origin has no other log ref."""
    refs = git(runner.origin, "for-each-ref", "--format=%(refname)").split()
    assert [r for r in refs if "testlog" in r] in ([], [chain]), refs
    return git(runner.origin, "log", "--format=%s", chain).splitlines()


@pytest.mark.slow
def test_the_github_workflow_records_gates_publishes_seals_and_verifies(project, gpg_key: str):
    repo, runner = project
    # A push to main: recorded (signed with the secret key), published.
    steps = ok(github_job(runner, "test", "push", "main", {"GITHUB_REF": "refs/heads/main"}))
    assert list(steps) == ["Identity and signing key", "Bring the log", "Record the tests",
                           "Publish the log"]
    assert "origin has no chains" in steps["Bring the log"]
    assert f"(signed by {gpg_key})" in steps["Record the tests"]
    assert origin_log(runner) == ["TEST_SUITE_EXECUTED job PASS 2 passed 0 failed"]
    assert git(runner.origin, "log", "-1", "--format=%G? %GF", GITHUB_CHAIN).split() == \
        ["G", gpg_key]

    # A pull request touching alpha: recorded, and only alpha is gated against main.
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "alpha" / "tests" / "test_alpha.py").write_text(HALF_TEST.format(pkg="alpha"))
    commit_all(repo, "alpha: fewer tests")
    git(repo, "push", "-q", "origin", "feature")
    steps = github_job(runner, "test", "pull_request", "origin/feature",
                       {"GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature",
                        "GITHUB_REF": "refs/pull/1/merge"})
    names = [name for name, _ in steps]
    assert names == ["Identity and signing key", "Bring the log", "Record the tests",
                     "Gate the modules this pull request touches"]
    gate = steps[-1][1]
    assert gate.returncode == 1, gate.stdout + gate.stderr          # the PR fails its gate
    assert "alpha: 75.00% < target 80% (lane L2)" in gate.stdout
    assert "beta" not in gate.stdout
    assert len(origin_log(runner)) == 1                             # PRs publish nothing

    # A tag: recorded, sealed, published.
    git(repo, "checkout", "-q", "main")
    git(repo, "tag", "v1.0")
    git(repo, "push", "-q", "origin", "v1.0")
    steps = ok(github_job(runner, "test", "push", "v1.0", {"GITHUB_REF": "refs/tags/v1.0"}))
    assert "Seal this release's runs" in steps
    assert [s.split()[0] for s in origin_log(runner)] == ["AUDIT_SEALED", "TEST_SUITE_EXECUTED",
                                                         "TEST_SUITE_EXECUTED"]
    assert len(git(runner.origin, "rev-list", GITHUB_CHAIN).split()) == 3  # one chain, appended to

    # Nightly: a full verify first (nothing cached), then only what was published since.
    assert github_job(runner, "test", "schedule", "main") == []
    steps = ok(github_job(runner, "verify", "schedule", "main"))
    assert "verify: OK" in steps["Verify what was published since"]
    assert runner.cache is not None
    ok(github_job(runner, "test", "push", "main", {"GITHUB_REF": "refs/heads/main"}))
    steps = ok(github_job(runner, "verify", "schedule", "main"))
    out = steps["Verify what was published since"]
    assert "verify: OK" in out and "commits (one linear chain)               1 " in out, out


# -- GitLab CI -------------------------------------------------------------------------------------

def gitlab_rule_matches(rule: dict[str, Any], env: dict[str, str]) -> bool:
    """`if: $VAR == "value"` rules, as the file uses them."""
    if "if" not in rule:
        return True
    found = re.fullmatch(r'\$(\w+) == "([^"]*)"', rule["if"].strip())
    assert found, rule["if"]
    return env.get(found.group(1), "") == found.group(2)


def gitlab_job(runner: Runner, job: str, ref: str,
               variables: dict[str, str]) -> tuple[int, str] | None:
    """One job of the pipeline (None when its rules skip it): before_script and script, each
    line a shell command as the runner sends it, in one shell."""
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    spec = pipeline[job]
    work = runner.checkout(ref)
    env = runner.environ(work, {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(work),
                                "CI_PROJECT_ID": "7", "CI_RUNNER_ID": "3", "CI_JOB_NAME": job,
                                "CI_PROJECT_PATH": "group/project", "CI_SERVER_HOST": "gitlab.test",
                                "CI_DEFAULT_BRANCH": "main",
                                **{k: v for k, v in runner.secrets.items()}, **variables})
    for name, value in pipeline["variables"].items():
        env[name] = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), str(value))
    for rule in spec.get("rules", []):
        if gitlab_rule_matches(rule, env):
            if rule.get("when") == "never":
                return None
            break
    else:
        return None
    if runner.cache is not None and "cache" in spec:
        shutil.copytree(runner.cache, work / spec["cache"]["paths"][0], dirs_exist_ok=True)
    setup = [line for line in pipeline["default"]["before_script"] if "pip install" not in line]
    script = "\n".join([*setup, *spec["script"]])
    result = runner.run_script(script, work, env)
    if "cache" in spec and (work / spec["cache"]["paths"][0]).exists():
        runner.cache = runner.base / "cache"
        shutil.copytree(work / spec["cache"]["paths"][0], runner.cache, dirs_exist_ok=True)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_the_gitlab_pipeline_records_gates_publishes_and_verifies(project, gpg_key: str):
    repo, runner = project
    code, out = gitlab_job(runner, "test", "main", {"CI_PIPELINE_SOURCE": "push",
                                                    "CI_COMMIT_BRANCH": "main"})
    assert code == 0, out
    assert f"(signed by {gpg_key})" in out
    assert origin_log(runner, GITLAB_CHAIN) == ["TEST_SUITE_EXECUTED job PASS 2 passed 0 failed"]

    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "beta" / "tests" / "test_beta.py").write_text(HALF_TEST.format(pkg="beta"))
    commit_all(repo, "beta: fewer tests")
    git(repo, "push", "-q", "origin", "feature")
    code, out = gitlab_job(runner, "test", "origin/feature", {
        "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"})
    assert code == 1, out
    assert "beta: 75.00% < target 80% (lane L2)" in out and "alpha" not in out.split("Coverage")[-1]
    assert len(origin_log(runner, GITLAB_CHAIN)) == 1

    assert gitlab_job(runner, "verify", "main", {"CI_PIPELINE_SOURCE": "push"}) is None
    assert gitlab_job(runner, "test", "main", {"CI_PIPELINE_SOURCE": "schedule"}) is None
    code, out = gitlab_job(runner, "verify", "main", {"CI_PIPELINE_SOURCE": "schedule"})
    assert code == 0 and "verify: OK" in out, out
    code, out = gitlab_job(runner, "verify", "main", {"CI_PIPELINE_SOURCE": "schedule"})
    assert code == 0 and "commits (one linear chain)               0 " in out, out


# -- shallow clones ---------------------------------------------------------------------------

def test_a_shallow_clone_is_told_to_fetch_the_history(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]):
    repo = mono_repo(tmp_path / "dev", module("alpha", "L2"))
    (repo / "alpha" / "code.py").write_text("def double(x):\n    return x + x\n")
    commit_all(repo, "second")
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    code = main(["-C", str(clone), "gate", "--affected", "--from", "HEAD~1"])
    err = capsys.readouterr().err
    assert code == 2                     # an unknown revision is the user's input
    assert err == ("git-testlog: error: --from 'HEAD~1' is not a commit here (give a commit, "
                   "branch or tag; "
                   "this clone is shallow: fetch the whole history (`fetch-depth: 0` for "
                   "actions/checkout, `GIT_DEPTH: 0` in GitLab CI, or `git fetch --unshallow`))\n")
