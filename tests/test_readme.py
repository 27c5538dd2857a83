"""The README and docs/ as a user meets them: the five commands work on a project, the set-up
commands are the two of this repository, the pre-commit config works as pasted, every link
and anchor resolves."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures import git
from tests.gate_repos import HALF_TEST, commit_all, module, mono_repo
from tests.recorder_helpers import pytest_env

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
BIN = os.path.dirname(sys.executable)


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end > 0 else None]


def commands(block: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_starts_with_the_user():
    text = README.read_text()
    intro = text.split("\n## ", 1)[0].strip().splitlines()
    assert intro[0] == "# git-testlog" and len([ln for ln in intro[1:] if ln.strip()]) <= 5
    adopt = commands(blocks(section(text, "## Add it to your project"), "sh")[0])
    assert len(adopt) == 5
    assert adopt[0].startswith("pip install") and "git+https://" in adopt[0]
    assert [c.split()[:3] for c in adopt[1:]] == [["pytest", "--testlog"],
                                                 ["git", "testlog", "log"],
                                                 ["git", "testlog", "replay"],
                                                 ["git", "testlog", "gate"]]
    assert commands(blocks(section(text, "## This repository"), "sh")[0]) == ["make demo",
                                                                              "make test"]
    assert len(text) < 10_000, "the deep detail belongs in docs/"


def test_the_five_commands_work_on_a_project(tmp_path: Path, sandbox: dict[str, str]):
    """Everything after the install, as written, in a project with two modules and a change."""
    repo = mono_repo(tmp_path / "proj", module("alpha", "L2"), module("beta", "L2"))
    git(repo, "config", "user.signingkey", "")            # unsigned: the sandbox has no key set
    (repo / "alpha" / "tests" / "test_alpha.py").write_text(HALF_TEST.format(pkg="alpha"))
    commit_all(repo, "alpha: fewer tests")
    (repo / "alpha" / "code.py").write_text((repo / "alpha" / "code.py").read_text() + "\n")
    env = pytest_env(sandbox, PATH=BIN + os.pathsep + os.environ["PATH"],
                     PYTEST_ADDOPTS="-p no:randomly -p no:cacheprovider")
    adopt = commands(blocks(section(README.read_text(), "## Add it to your project"), "sh")[0])
    results = []
    for command in adopt[1:]:
        command = command.replace("pytest ", f"{sys.executable} -m pytest ", 1)
        results.append(subprocess.run(command, shell=True, cwd=repo, env=env,
                                      capture_output=True, text=True, timeout=600))
    record, look, replay, gate = results
    assert record.returncode == 0 and "recorded as" in record.stdout, record.stdout
    assert look.returncode == 0 and "run  proj  PASS" in look.stdout, look.stdout
    assert replay.returncode == 0 and "REPLAY_VERIFIED" in replay.stdout, replay.stdout
    assert gate.returncode == 1, gate.stdout + gate.stderr        # alpha is below its target
    assert "alpha: 75.00% < target 80% (lane L2)" in gate.stdout and "beta" not in gate.stdout


def precommit_configs() -> list[dict]:
    text = section((ROOT / "docs" / "gates.md").read_text(), "## Hooks: the pre-commit framework")
    return [yaml.safe_load(block) for block in blocks(text, "yaml")]


def test_the_remote_precommit_config_names_hooks_that_exist_at_a_commit():
    published = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    remote = [r for c in precommit_configs() for r in c["repos"] if r["repo"] != "local"]
    assert remote, "the docs show how to use this repository's hooks"
    for repo in remote:
        assert re.fullmatch(r"[0-9a-f]{40}", str(repo["rev"])), "a commit: no tags are published"
        assert {h["id"] for h in repo["hooks"]} <= published


@pytest.mark.slow
def test_the_local_precommit_config_works_as_pasted(tmp_path: Path, sandbox: dict[str, str]):
    [local] = [c for c in precommit_configs() if c["repos"][0]["repo"] == "local"]
    repo = mono_repo(tmp_path / "proj", module("alpha", "L2"), module("beta", "L2"))
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(local))
    git(repo, "add", ".pre-commit-config.yaml")
    (repo / "alpha" / "tests" / "test_alpha.py").write_text("def test_it():\n    assert 1 == 2\n")
    git(repo, "add", "alpha")
    env = pytest_env(sandbox, PATH=BIN + os.pathsep + os.environ["PATH"],
                     PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    proc = subprocess.run([BIN + "/pre-commit", "run", "--hook-stage", "pre-commit"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr      # alpha's staged test fails
    assert "tests of the modules the staged files touch" in proc.stdout
    assert "alpha: tests failed" in proc.stdout and "beta" not in proc.stdout, proc.stdout


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_and_anchor_resolves(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        assert where.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(where), f"{page.name}: {target}"
