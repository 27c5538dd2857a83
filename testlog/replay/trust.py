"""The replay trust rule: a replay runs code, so before anything executes it decides whether
the recorded run may say which code.

- Confinement, never waived: every node id, the rootdir, the paths options name and every path
  the dirty diff touches stay inside the checkout (checked on the recorded text before the
  checkout, and with symlinks resolved after it: `check_inside`).
- Trust: with trusted keys configured (`trusted_keys`, `--trusted-keys`) the run's log commit
  must be signed by one of them. A run signed by a trusted key may name any source (a squashed
  commit's tree, its dirty diff). Any other run must name a source reachable from the user's
  own refs (branches, tags, remote branches; never only from log refs), and its dirty diff
  must be the user's own: every file it touches the same as in the user's working tree.
- Recorded pytest options are repeated from an allow-list (options.py); others are refused.

`--trust-run` waives trust and options (the report records what it waived), never confinement.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitstore import GOOD, TrustedCerts, patch_paths, patch_problem, tree_reachable, user_refs

from testlog.errors import TestlogError
from testlog.replay.options import recorded_options, relative_inside
from testlog.replay.plan import ReplayPlan, files_of

TRUST_FLAG = "--trust-run"


@dataclass
class Trust:
    """What the rule found: who signed the run, and what `--trust-run` waived."""
    signer: str | None = None           # the trusted key that signed it
    problems: list[str] = field(default_factory=list)
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"signed_by": self.signer, "forced": self.forced,
                "waived": list(self.problems) if self.forced else []}

    def settle(self, label: str) -> None:
        """Refuse the replay when a problem stands and it was not forced."""
        if self.problems and not self.forced:
            raise TestlogError(f"refusing to replay {label}: {'; '.join(self.problems)}. A "
                               f"replay runs the recorded code: pass {TRUST_FLAG} if you know "
                               "where this run comes from (the report says it was forced)")


def confinement_problem(plan: ReplayPlan, patch: bytes) -> str | None:
    """What in the recorded run points outside the checkout (checked before any checkout)."""
    for path in files_of(plan.nodeids):
        if not relative_inside(path):
            return f"node id path {path!r} is outside the checkout"
    if plan.rootdir is not None and not relative_inside(plan.rootdir):
        return f"recorded rootdir {plan.rootdir!r} is outside the checkout"
    problem = patch_problem(patch)
    return f"the recorded dirty diff is refused: {problem}" if problem else None


def excluded_refs(common_dir: str, branch: str) -> list[str]:
    """The log branch and its remote-tracking copies (refs/remotes/<remote>/<branch>): they
    hold the log, never a witness that a source is the user's own."""
    short = branch.removeprefix("refs/heads/")
    return [branch] + [r for r in user_refs(common_dir)
                       if r.startswith("refs/remotes/") and r.split("/", 3)[-1] == short]


def judge(plan: ReplayPlan, payload: bytes, gpgsig: bytes, patch: bytes,
          certs: TrustedCerts | None, common_dir: str | None, branch: str,
          tree: tuple[str, str] | None, forced: bool,
          shards: tuple[tuple[str, bytes, bytes], ...] = ()) -> Trust:
    """The rule, up to what needs the checkout (`own_diff`, `check_inside`). A sharded run
    (`shards`: each shard's label, payload and signature) is trusted as signed only when every
    shard is signed by a trusted key."""
    problem = confinement_problem(plan, patch)
    if problem is not None:
        raise TestlogError(f"refusing to replay: {problem} (edited by hand?)")
    trust = Trust(forced=forced)
    if certs is not None:
        signed = [(label, signature_problem(certs, payload_, sig))
                  for label, payload_, sig in (shards or (("it", payload, gpgsig),))]
        problems = [(label, why) for label, (_signer, why) in signed if why]
        if not problems:
            trust.signer = signed[0][1][0]
        for label, why in problems:
            who = "it" if not shards else f"shard {label}"
            trust.problems.append(f"trusted keys are configured and {who} {why}")
    if trust.signer is None and tree is not None and common_dir is not None:
        commit = plan.source.get("commit")
        if not tree_reachable(common_dir, tree[0], commit, excluded_refs(common_dir, branch)):
            trust.problems.append(f"its source (tree {tree[0][:12]}) is in none of your "
                                  "branches, tags or remote branches")
    refused = recorded_options(plan.pytest_args).refused
    if refused:
        trust.problems.append("its recorded pytest options load code or reach outside the "
                              f"checkout: {', '.join(refused)}")
    return trust


def signature_problem(certs: TrustedCerts, payload: bytes,
                      gpgsig: bytes) -> tuple[str | None, str | None]:
    """(the trusted key that signed a commit, None) or (None, why it is not trusted)."""
    check = certs.check(payload, gpgsig) if gpgsig else None
    if check is not None and check.status == GOOD:
        return check.fingerprint, None
    return None, ("is unsigned" if not gpgsig else
                  f"is signed by {check.fingerprint if check else '?'}, not a trusted key")


def own_diff(trust: Trust, patch: bytes, src: str, user_top: str | None) -> None:
    """An untrusted run's dirty diff must be the user's own: each file it touches is, in the
    checkout, what the user's working tree holds now (a deleted file absent from both)."""
    if trust.signer is not None or not patch.strip():
        return
    for path in sorted({p.decode("utf-8", "surrogateescape") for p in patch_paths(patch)}):
        ours = _read(os.path.join(src, *path.split("/")))
        theirs = _read(os.path.join(user_top, *path.split("/"))) if user_top else b"?"
        if ours != theirs:
            trust.problems.append(f"its dirty diff changes {path}, which your working tree "
                                  "does not hold as the diff leaves it")
            return


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def check_inside(src: str, rootdir: str, plan: ReplayPlan) -> None:
    """After the checkout: the rootdir, each recorded test file and each path an option names
    resolve (symlinks followed) inside the checkout."""
    top = os.path.realpath(src)

    def inside(path: str) -> bool:
        real = os.path.realpath(path)
        return real == top or real.startswith(top + os.sep)
    if not inside(rootdir):
        raise TestlogError(f"refusing to replay: the recorded rootdir resolves outside the "
                           f"checkout (to {os.path.realpath(rootdir)})")
    named = [*files_of(plan.nodeids), *recorded_options(plan.pytest_args).paths]
    for path in named:
        full = os.path.join(rootdir, *path.split("/"))
        if os.path.lexists(full) and not inside(full):
            raise TestlogError(f"refusing to replay: {path!r} resolves outside the checkout "
                               f"(to {os.path.realpath(full)})")
