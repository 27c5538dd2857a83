"""gitstore.location checks log branch names without dulwich: stock git is the judge."""
from __future__ import annotations

import subprocess
import sys

import pytest

from gitstore import GitStoreError
from gitstore.location import full_ref, valid_ref_name

NAMES = ["refs/heads/testlog", "refs/heads/a..b", "refs/heads/.x", "refs/heads/x.lock",
         "refs/heads/x.", "refs/heads/x/", "refs/heads//x", "refs/heads/a b", "refs/heads/a~b",
         "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*", "refs/heads/a[",
         "refs/heads/a\\b", "refs/heads/a@{b", "refs/heads/@", "@", "refs/heads/a\x01",
         "refs/heads/a\x7f", "refs/heads/ünï", "refs/heads/a.lock/b", "refs/heads/a/.b",
         "refs/heads/a@b", "refs/heads/-x", "refs/tags/v1.0", "refs/heads/a.b.c", "refs",
         "/refs/heads/x", "refs/heads/x.lockx", "refs/heads/{x}", "refs/heads/#x",
         "refs/notes/testlog", "refs/heads/team/ci-log"]


@pytest.mark.parametrize("name", NAMES)
def test_ref_names_are_judged_as_git_check_ref_format_does(name: str):
    git_says = subprocess.run(["git", "check-ref-format", name]).returncode == 0
    assert valid_ref_name(name) is git_says


def test_full_ref_completes_short_names_and_refuses_bad_ones():
    assert full_ref("testlog") == "refs/heads/testlog"
    assert full_ref("refs/notes/log") == "refs/notes/log"
    with pytest.raises(GitStoreError, match="invalid log branch name 'a..b'"):
        full_ref("a..b")


def test_importing_location_loads_no_dulwich():
    code = ("import sys, gitstore.location, gitstore.source, testlog.plugin.recorder; "
            "print(sorted(m for m in sys.modules if m.startswith('dulwich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
