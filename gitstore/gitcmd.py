"""The one place that runs the `git` program."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence

from gitstore.errors import GitStoreError
from gitstore.gitenv import without_git_location


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment git runs in: none of the location variables a hook or a wrapper may
    have exported, and messages in C (they are parsed)."""
    env = without_git_location(os.environ)
    env["LC_ALL"] = "C"
    env.update(extra or {})
    return env


def run_git(args: Sequence[str], cwd: str | os.PathLike[str], *, input: bytes | None = None,
            check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git with a clean location environment; raise GitStoreError on failure when `check`."""
    if shutil.which("git") is None:
        raise GitStoreError("git is not installed or not on PATH (install git)")
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env=git_env(env))
    if check and proc.returncode != 0:
        raise failed(args, proc.returncode, proc.stderr)
    return proc


def failed(args: Sequence[str], code: int, stderr: bytes) -> GitStoreError:
    """The one-line error of a git command that exited `code`: its last line of stderr."""
    detail = stderr.decode(errors="replace").strip().splitlines()
    return GitStoreError(f"git {_subcommand(args)} failed: {detail[-1] if detail else code}")


def _subcommand(args: Sequence[str]) -> str:
    """The git command in `args`, past any leading `-c key=value` settings."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "git"


def git_pipeline(first: Sequence[str], second: Sequence[str],
                 cwd: str | os.PathLike[str]) -> bytes:
    """stdout of `git <first> | git <second>`: both run at once, nothing held in between."""
    if shutil.which("git") is None:
        raise GitStoreError("git is not installed or not on PATH (install git)")
    env = git_env()
    with tempfile.TemporaryFile() as first_err:
        with subprocess.Popen(["git", *first], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=first_err, env=env) as producer:
            consumer = subprocess.run(["git", *second], cwd=cwd, stdin=producer.stdout,
                                      capture_output=True, env=env)
        first_err.seek(0)
        failures = [(second, consumer.returncode, consumer.stderr),
                    (first, producer.returncode, first_err.read())]
    for args, code, err in failures:       # the consumer first: its death kills the producer
        if code != 0:
            raise failed(args, code, err)
    return consumer.stdout


def git_chunks(args: Sequence[str], cwd: str | os.PathLike[str], input: bytes = b"",
               size: int = 1 << 20) -> Iterator[bytes]:
    """git's stdout chunk by chunk as it comes: an output that grows with the history is never
    held whole. GitStoreError, once it is all read, when git failed."""
    if shutil.which("git") is None:
        raise GitStoreError("git is not installed or not on PATH (install git)")
    with tempfile.TemporaryFile() as source, tempfile.TemporaryFile() as err:
        source.write(input)
        source.seek(0)
        proc = subprocess.Popen(["git", *args], cwd=cwd, stdin=source, stdout=subprocess.PIPE,
                                stderr=err, env=git_env())
        assert proc.stdout is not None
        done = False
        try:
            while chunk := proc.stdout.read(size):
                yield chunk
            done = True
        finally:
            if not done:
                proc.kill()                # left before the end: git must not wait on us
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise failed(args, code, err.read())


def git_output(args: Sequence[str], cwd: str | os.PathLike[str]) -> str:
    return run_git(args, cwd).stdout.decode().strip()


def git_config(cwd: str | os.PathLike[str], key: str) -> str | None:
    """`git config --get` (honours includeIf, which dulwich ignores); None when unset."""
    proc = run_git(["config", "--get", key], cwd, check=False)
    value = proc.stdout.decode().strip() if proc.returncode == 0 else ""
    return value or None


def git_config_section(cwd: str | os.PathLike[str], section: str) -> dict[str, str]:
    """All `section.key` values from git config (later files win), keys without the section."""
    proc = run_git(["config", "-z", "--get-regexp", rf"^{section}\."], cwd, check=False)
    values: dict[str, str] = {}
    for item in proc.stdout.decode(errors="replace").split("\0"):
        if item:
            name, _, value = item.partition("\n")
            values[name[len(section) + 1:]] = value
    return values


SHALLOW_HINT = ("this clone is shallow: fetch the whole history (`fetch-depth: 0` for "
                "actions/checkout, `GIT_DEPTH: 0` in GitLab CI, or `git fetch --unshallow`)")


def is_shallow(cwd: str | os.PathLike[str]) -> bool:
    proc = run_git(["rev-parse", "--is-shallow-repository"], cwd, check=False)
    return proc.stdout.decode().strip() == "true"


def shallow_hint(cwd: str | os.PathLike[str]) -> str:
    """"; <how to get the missing history>" in a shallow clone, else "": for any message
    about a commit that is not here."""
    return f"; {SHALLOW_HINT}" if is_shallow(cwd) else ""


def refs_matching(cwd: str | os.PathLike[str], patterns: Sequence[str]) -> list[tuple[str, str]]:
    """(ref, sha) of the refs matching `patterns` (for-each-ref's: prefixes or globs), by name."""
    out = run_git(["for-each-ref", "--format=%(objectname) %(refname)", *patterns],
                  cwd).stdout.decode()
    return sorted((ref, sha) for sha, _, ref in (line.partition(" ") for line in out.splitlines()))


def is_ancestor(cwd: str | os.PathLike[str], ancestor: str, descendant: str) -> bool:
    """True when `ancestor` is `descendant` or in its history (False if either is unknown)."""
    proc = run_git(["merge-base", "--is-ancestor", ancestor, descendant], cwd, check=False)
    return proc.returncode == 0


def empty_tree(cwd: str | os.PathLike[str]) -> str:
    """The empty tree's id in this repository's hash (SHA-1 or SHA-256); nothing is written."""
    return run_git(["hash-object", "-t", "tree", "--stdin"], cwd, input=b"").stdout.decode().strip()


def approxidate(cwd: str | os.PathLike[str], text: str) -> int:
    """Seconds since the epoch of a date as git reads one (`2026-11-01`, `2 weeks ago`); git
    reads what it cannot parse as "now", which the caller may want to tell apart."""
    if "\n" in text or text.startswith("-"):
        raise GitStoreError(f"not a date: {text!r}")
    out = run_git(["rev-parse", f"--since={text}"], cwd).stdout.decode().strip()
    if not out.startswith("--max-age=") or not out[len("--max-age="):].isdigit():
        raise GitStoreError(f"not a date: {text!r}")
    return int(out[len("--max-age="):])


def first_parents(cwd: str | os.PathLike[str], tips: Sequence[str], exclude: Sequence[str] = ()
                  ) -> list[tuple[str, str | None]]:
    """(commit, its first parent or None) of the commits reachable from `tips` but not from
    `exclude`, parents before children."""
    args = ["rev-list", "--topo-order", "--reverse", "--parents", *tips,
            *(f"^{sha}" for sha in exclude), "--"]
    lines = (line.split() for line in run_git(args, cwd).stdout.decode().splitlines())
    return [(ids[0], ids[1] if len(ids) > 1 else None) for ids in lines if ids]
