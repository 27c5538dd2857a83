"""`git testlog replay`: check everything first (nothing is written on bad input), materialise
the recorded source in a temp directory, run `pytest --testlog-replay` there with the project's
interpreter under the recorded PYTHONHASHSEED, and hand back what the plugin reported."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from gitstore import GitStoreError, full_ref, locate, source_tree

from testlog.config import load_settings
from testlog.core.pytestargs import capture_option, rerun_options
from testlog.errors import TestlogError, UsageError
from testlog.gates.interpreter import project_python
from testlog.replay import hashprobe, loading
from testlog.replay.bytecode import seed_bytecode
from testlog.replay.checkout import (
    Workspace,
    checkout_source,
    close_workspace,
    copy_project,
    find_rootdir,
    open_workspace,
    source_key,
    stop_config_search,
)
from testlog.replay.environment import HASHSEED, PYCACHE
from testlog.replay.options import recorded_options
from testlog.replay.plan import ReplayPlan, build_plan, files_of
from testlog.replay.trust import Trust, check_inside, judge, own_diff
from testlog.store.state import open_log
from testlog.store.trust import trusted_certs

LOG_TAIL = 40


@dataclass(frozen=True)
class ReplayRequest:
    repo: str                   # -C: where the user is
    rev: str | None
    select: str | None          # -k EXPR
    keep: bool
    python: str | None
    from_dir: str | None
    branch: str | None
    sign_key: str | None
    no_sign: bool
    trust_run: bool = False     # --trust-run: replay what the trust rule would refuse
    trusted_keys: str | None = None
    hash_probe: bool = True     # a run recorded without PYTHONHASHSEED: probe a second seed


@dataclass(frozen=True)
class Located:
    recorded: loading.RecordedRun
    plan: ReplayPlan
    common_dir: str | None      # the repository holding the source (None: outside git)
    top: str | None             # its working tree
    branch: str
    trusted_keys: Any = None    # the trusted_keys setting


def _repository(path: str, from_dir: str | None) -> tuple[str | None, str | None]:
    try:
        common, _git_dir, top = locate(path)
        return common, top
    except GitStoreError as exc:
        if from_dir is None:
            raise UsageError(f"{exc}; a run recorded with --testlog-out outside git is "
                               "replayed with `git testlog replay --from-dir DIR`") from None
        return None, None


def locate_run(req: ReplayRequest) -> Located:
    """The run, its plan and where its source lives; raises on any bad input."""
    common, top = _repository(req.repo, req.from_dir)
    settings = load_settings(top or req.repo, {"branch": req.branch})
    try:
        branch = full_ref(settings["branch"].value)
    except GitStoreError as exc:
        raise UsageError(f"{exc} (--branch)") from None
    if req.from_dir is not None:
        recorded = loading.load_from_dir(req.from_dir, req.rev)
    else:
        if not req.rev:
            raise UsageError("which run? give its log commit (see `git testlog log`), or "
                               "--from-dir DIR for a run recorded with --testlog-out")
        with open_log(top or req.repo, branch, False) as store:
            store.require_chains()
            recorded = loading.load_from_branch(store, req.rev)
    try:
        plan = build_plan(recorded.run, recorded.records, recorded.determinism)
    except (KeyError, TypeError, ValueError) as exc:
        raise TestlogError(f"{recorded.label} is not a readable run ({exc!r})") from None
    if not plan.tests:
        raise TestlogError(f"run {recorded.label} recorded no test: nothing to replay")
    return Located(recorded, plan, common, top, branch, settings["trusted_keys"])


def check_source(found: Located) -> tuple[str, str] | None:
    """(tree, "commit"|"tree") of the recorded source; fails before anything is written when
    it is not in this clone. None: recorded outside git (the project is copied)."""
    source = found.plan.source
    if not (source.get("commit") or source.get("tree")):
        return None
    if found.common_dir is None:
        raise UsageError(f"run {found.recorded.label} was recorded at commit "
                           f"{str(source.get('commit'))[:12]}: replay it inside a clone of "
                           "that repository (-C PATH)")
    return source_tree(found.common_dir, source.get("commit"), source.get("tree"))


def trust_of(found: Located, req: ReplayRequest, tree: tuple[str, str] | None) -> Trust:
    """The replay trust rule (trust.py) as far as it goes before a checkout."""
    certs = trusted_certs(req.trusted_keys, found.trusted_keys, found.top or req.repo,
                          found.common_dir or req.repo) \
        if found.common_dir or req.trusted_keys else None
    recorded = found.recorded
    trust = judge(found.plan, recorded.payload, recorded.gpgsig, recorded.patch, certs,
                  found.common_dir, found.branch, tree, req.trust_run, recorded.shards)
    trust.settle(recorded.label)
    return trust


def prepare_tree(found: Located, req: ReplayRequest, tree: tuple[str, str] | None,
                 ws: Workspace, dest: str) -> str:
    """Fill `dest` (the workspace's src/, or the probe's checkout) with the source to replay;
    how: commit | tree | copy. The user's compiled test modules come along where they match
    the source byte for byte (bytecode.py), into the workspace's private bytecode directory."""
    user_top = found.top or os.path.abspath(req.repo)
    if tree is not None:
        checkout_source(found.common_dir or "", tree[0], dest, found.recorded.patch)
        how = tree[1]
    else:
        copy_project(user_top, dest, exclude=req.from_dir)
        how = "copy"
    seed_bytecode(user_top, dest, os.environ.get(PYCACHE) or None, ws.bytecode)
    return how


def replay_rootdir(src: str, recorded: str | None, files: list[str]) -> str:
    """The recorded rootdir inside the checkout; runs recorded before it was kept (or outside
    git) fall back to the directory holding most of the recorded test files. trust.check_inside
    then refuses one that resolves elsewhere through a symlink."""
    if recorded is not None:
        path = os.path.normpath(os.path.join(src, *recorded.split("/")))
        if os.path.isdir(path):
            return path
    return find_rootdir(src, files)


def pytest_command(python: str, found: Located, rootdir: str, rev: str, context: str,
                   select: str | None, forced: bool) -> list[str]:
    files = [f for f in files_of(found.plan.nodeids) if os.path.exists(os.path.join(rootdir, f))]
    options = recorded_options(found.plan.pytest_args)
    plan = found.plan
    cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={rootdir}",
           *options.kept, *(options.refused_args if forced else ()),
           *rerun_options(plan.pytest_args), *capture_option(plan.capture.get("mode")),
           f"--testlog-replay={rev}", f"--testlog-replay-context={context}"]
    if select:
        cmd += ["-k", select]
    return cmd + (files or ["."])


def replay_env(plan: ReplayPlan, ws: Workspace) -> dict[str, str]:
    """This environment under the recorded PYTHONHASHSEED; a run recorded without one is
    replayed under one derived from its base seed (the same on every replay: see
    hashprobe.py)."""
    env = dict(os.environ)
    # Bytecode (CPython's and pytest's rewritten modules) goes to the workspace's private
    # directory, never beside the sources: a `__pycache__` the recorded tree holds may be a
    # symlink to anywhere, or hold compiled files that are not what the sources say.
    env[PYCACHE] = ws.bytecode
    env.pop(HASHSEED, None)
    if hashprobe.unpinned(plan.pythonhashseed):
        env[HASHSEED] = hashprobe.replay_hashseed(plan.base_seed)
    else:
        env[HASHSEED] = str(plan.pythonhashseed)
    return env


def _failure_line(log: str, python: str, code: int) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    if any("unrecognized arguments: --testlog-replay" in line for line in lines):
        return (f"{python} cannot replay: git-testlog is not installed for it (install it "
                "there, or pass --python)")
    errors = [line for line in lines if "error" in line.lower()]
    detail = (errors or lines or [f"exit status {code}"])[-1]
    return f"pytest stopped before the replay finished (exit {code}): {detail}"


def run_pytest(cmd: list[str], cwd: str, env: dict[str, str], log_path: str) -> int:
    with open(log_path, "wb") as log:
        return subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode


def execute(found: Located, req: ReplayRequest, python: str, tree: tuple[str, str] | None,
            ws: Workspace, trust: Trust) -> tuple[int, list[str]]:
    src = ws.src
    materialized = prepare_tree(found, req, tree, ws, src)
    own_diff(trust, found.recorded.patch, src, found.top)
    trust.settle(found.recorded.label)
    rootdir = replay_rootdir(src, found.plan.rootdir, files_of(found.plan.nodeids))
    check_inside(src, rootdir, found.plan)
    paths = {name: os.path.join(ws.root, name) for name in ("context.json", "result.json",
                                                            "pytest.log", "probe-context.json")}
    context: dict[str, object] = {
               "repo": found.top, "branch": found.branch, "sign_key": req.sign_key,
               "no_sign": req.no_sign, "materialized": materialized,
               "directory": src if req.keep else None, "result": paths["result.json"],
               "trust": trust.as_dict(), "hash_probe": req.hash_probe}
    rev = found.recorded.sha or os.path.join(found.recorded.directory or "", found.recorded.artifact)
    forced = trust.forced and bool(trust.problems)
    if req.hash_probe and hashprobe.unpinned(found.plan.pythonhashseed):
        context["probe"] = probe_context(found, req, python, tree, ws, rev,
                                         paths["probe-context.json"], forced)
    with open(paths["context.json"], "w", encoding="utf-8") as handle:
        json.dump(context, handle)
    stop_config_search(ws)
    cmd = pytest_command(python, found, rootdir, rev, paths["context.json"], req.select, forced)
    code = run_pytest(cmd, rootdir, replay_env(found.plan, ws), paths["pytest.log"])
    if not os.path.exists(paths["result.json"]):
        with open(paths["pytest.log"], encoding="utf-8", errors="replace") as handle:
            raise TestlogError(_failure_line(handle.read(), python, code))
    with open(paths["result.json"], encoding="utf-8") as handle:
        result = json.load(handle)
    lines = list(result["terminal"])
    if result.get("error"):
        raise ReplayFailed(lines, result["error"])
    return int(result["exit"]), lines


def probe_context(found: Located, req: ReplayRequest, python: str, tree: tuple[str, str] | None,
                  ws: Workspace, rev: str, context_path: str, forced: bool) -> dict[str, object]:
    """How the replay starts its probe (the same tests under another PYTHONHASHSEED): in a
    checkout of its own, so that tests writing into their tree never meet the replay's; held
    to the same trust rule (its rootdir stays inside it)."""
    probe_src = os.path.join(ws.root, "probe")
    prepare_tree(found, req, tree, ws, probe_src)
    rootdir = replay_rootdir(probe_src, found.plan.rootdir, files_of(found.plan.nodeids))
    check_inside(probe_src, rootdir, found.plan)
    with open(context_path, "w", encoding="utf-8") as handle:
        json.dump({"repo": found.top, "branch": found.branch, "materialized": "probe"}, handle)
    command = pytest_command(python, found, rootdir, rev, context_path, req.select, forced)
    return {"command": command, "cwd": rootdir, "workdir": ws.root}


class ReplayFailed(TestlogError):
    """The replay ran but ended in an error (nothing selected, report not written)."""

    def __init__(self, lines: list[str], message: str) -> None:
        super().__init__(message)
        self.lines = lines


def replay(req: ReplayRequest) -> tuple[int, list[str]]:
    """(exit status, lines to print). Every check happens before the temp directory exists."""
    found = locate_run(req)
    python, _source = project_python(found.top, load_settings(found.top or req.repo)["python"],
                                     req.python)
    tree = check_source(found)
    trust = trust_of(found, req, tree)
    ws = open_workspace(source_key(tree[0], found.recorded.patch) if tree else None, req.keep)
    try:
        code, lines = execute(found, req, python, tree, ws, trust)
    finally:
        close_workspace(ws, req.keep)
    if req.keep:
        lines.append(f"kept the replay directory: {ws.root} (tests ran in {ws.src}; pytest "
                     "output in pytest.log)")
    return code, lines
