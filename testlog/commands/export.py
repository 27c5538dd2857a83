"""`git testlog export <rev> -o DIR`: a run's files, or a seal's zip, manifest and signature,
written to a directory for auditors who do not use git."""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from gitstore import path_problem

from testlog.audit.bundlefile import sha256sum_manifest
from testlog.commands.arguments import add_branch_argument
from testlog.config import repo_settings
from testlog.core import layout
from testlog.core.chronicle import AUDIT_SEALED, TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT
from testlog.errors import TestlogError, UsageError
from testlog.store.runs import with_spec_files
from testlog.store.state import open_configured

HELP = "write a run's files, or a seal's zip + manifest + signature, to a directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", help="a run or seal commit on the log branch (sha, testlog~N)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="directory to create (must not exist, or be empty)")
    add_branch_argument(parser)


def exported_files(event: str | None, files: dict[str, bytes], rev: str) -> dict[str, bytes]:
    """A seal's three files side by side (so `sha256sum -c` and `gpg --verify` work there), or
    a run's files under their branch paths plus a manifest.sha256 of them."""
    if event == AUDIT_SEALED:
        return {os.path.basename(p): data for p, data in files.items() if p.startswith("audit/")}
    if event == TEST_SUITE_EXECUTED:
        return {**files, "manifest.sha256": sha256sum_manifest(files)}
    raise UsageError(f"{rev} is a {event or 'non-testlog'} commit, not a run or a seal "
                       "(see `git testlog log`)")


def write_directory(target: str, files: dict[str, bytes]) -> None:
    """All files or nothing: written in a temporary sibling directory, then renamed."""
    if not target.strip():
        raise UsageError("the export directory (-o) is empty: name a directory to create")
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise UsageError(f"{target} exists and is not an empty directory (pick a new one)")
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot export to {target}: {parent} is not a directory")
    for name in files:          # read-side checks passed them already: this is the last guard
        if path_problem(name) is not None:
            raise TestlogError(f"refusing to export {name!r}: {path_problem(name)}")
    staging = tempfile.mkdtemp(prefix=".testlog-export-", dir=parent)
    try:
        for name, data in files.items():
            path = os.path.join(staging, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def run(args: argparse.Namespace) -> int:
    values, _, _ = repo_settings(args.repo, {"branch": args.branch})
    with open_configured(args.repo, values, sign=False) as store:
        sha = store.resolve(args.rev)
        event = store.history(rev=sha, limit=1)[0].trailers.get(TRAILER_EVENT)
        paths = [p for s, p in store.changed_paths(sha)
                 if s != "D" and p not in (layout.CHRONICLE, layout.INDEX)]
        files = exported_files(event, with_spec_files({p: store.read(p, sha) for p in paths}),
                               args.rev)
    write_directory(args.output, files)
    print(f"exported {len(files)} files of {sha[:12]} to {args.output}")
    if event == AUDIT_SEALED:
        print("check them with: sha256sum -c *.manifest.sha256 && gpg --verify *.zip.sig *.zip")
    return 0
