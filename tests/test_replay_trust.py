"""The replay trust rule against a shared log: run commits crafted with git plumbing, pushed to
the attacker's chain on a bare remote (`refs/testlog/chains/attacker`) and fetched by a victim
with `git testlog fetch`, each trying to make the victim's replay run code that is not the
project's. Each attack is made on the run file in the format the recorder writes now (the
compact `__run.jsonl`, its records digest recomputed) and in the full format (`__run.json`,
which readers still accept when the commit's event names it). Nothing of it may run (a marker
file it would write), the victim's home and clone stay as they were, no ref moves, and the
refusal is one line; `--trust-run` is the one way past it, and the report says so."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from testlog.core.canonical import canonical_json, dumps_normal, signed_record
from testlog.core.compact import iter_records, parse_compact, records_digest
from testlog.rng import seeded_digest
from tests.attack_helpers import (
    ATTACKER,
    CHAIN,
    event_of,
    files_state,
    folder,
    forged_like,
    home_state,
    one_line,
    raw_tree,
    refs_of,
    tree_entries,
    with_entries,
)
from tests.audit_helpers import edited_tree, export_key
from tests.fixtures import git
from tests.recorder_helpers import run_data
from tests.replay_support import PY, cli, last_report, project, record, sandboxed

SIMPLE = '''\
import random


def test_one(testlog):
    testlog.output("x", random.random())


def test_two():
    assert True
'''


@dataclass
class World:
    base: Path
    origin: Path
    attacker: Path
    sha: str                 # an honest run of the project, recorded by the attacker's clone
    marker: Path             # what any code of the attacker's writes when it runs
    outside: Path            # a folder outside every checkout, holding the attacker's code
    elsewhere: Path          # where the project's committed __pycache__ symlink points

    def evil(self) -> str:
        return f"open({str(self.marker)!r}, 'w').write('ran')\n"


@pytest.fixture(scope="module")
def world(sandbox, tmp_path_factory) -> World:
    base = tmp_path_factory.mktemp("trust")
    with sandboxed(sandbox, base / "tmp"):
        marker, outside, elsewhere = base / "MARKER", base / "outside", base / "elsewhere"
        outside.mkdir()
        elsewhere.mkdir()
        w = World(base, base / "origin.git", base / "attacker", "", marker, outside, elsewhere)
        (outside / "test_evil.py").write_text(w.evil() + "def test_x():\n    pass\n")
        (outside / "evilplugin.py").write_text(w.evil())
        repo = project(w.attacker, {"tests/test_simple.py": SIMPLE})
        os.symlink(outside, repo / "escape")                    # committed symlinks of the
        os.symlink(elsewhere, repo / "tests" / "__pycache__")   # project itself
        git(repo, "add", "escape", "tests/__pycache__")
        git(repo, "commit", "-qm", "symlinks")
        w.sha = record(repo, "tests")
        for path in elsewhere.iterdir():                        # bytecode of the recording
            path.unlink()
        git(base, "init", "-q", "--bare", str(w.origin))
        git(repo, "remote", "add", "origin", str(w.origin))
        git(repo, "push", "-q", "origin", "main")
        git(repo, "config", "testlog.writer", ATTACKER)
        assert cli("-C", str(repo), "push")[0] == 0             # its chain, as anyone's
    return w


@pytest.fixture
def victim(world: World, sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with sandboxed(sandbox, tmp_path / "tmp"):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
        clone = tmp_path / "victim"
        git(tmp_path, "clone", "-q", str(world.origin), str(clone))
        git(clone, "config", "testlog.writer", "victim")
        yield clone


@pytest.fixture(params=["compact", "full"])
def fmt(request) -> str:
    """The run file format the attacker forges."""
    return request.param


def full_run(repo: Path, sha: str, change: Callable[[dict], None]) -> tuple[str, bytes]:
    """(path, bytes) of the run recorded at `sha` in the full format, changed by
    `change(data)`, records re-digested (as anyone can)."""
    data = run_data(repo, sha)
    change(data)
    data["records"] = [signed_record({k: v for k, v in r.items() if k != "signature"})
                       for r in data["records"]]
    return event_of(repo, sha)["artifact"].removesuffix("l"), canonical_json(data)


def compact_run(repo: Path, sha: str, change: Callable[[dict], None]) -> tuple[str, bytes]:
    """(path, bytes) of the compact run file recorded at `sha`, its header's run block and its
    test lines changed by `change({"run": ..., "records": [line, ...]})`, the header's count and
    records digest recomputed (as anyone can)."""
    artifact = event_of(repo, sha)["artifact"]
    first, *rest = git(repo, "show", f"{sha}:{artifact}").splitlines()
    header = json.loads(first)
    doc = {"run": header["run"], "records": [json.loads(line) for line in rest]}
    change(doc)

    def encoded(digest: str) -> bytes:
        header["records"].update(count=len(doc["records"]), records_sha256=digest)
        return b"".join([dumps_normal(header), b"\n",
                         *(canonical_json(line) + b"\n" for line in doc["records"])])
    run = parse_compact(encoded(""), artifact)
    digest = records_digest([r["signature"] for r in iter_records(run, seeded_digest)])
    return artifact, encoded(digest)


def forge(world: World, fmt: str, change: Callable[[dict], None],
          files: dict[str, bytes] | None = None, trees: dict[bytes, str] | None = None) -> str:
    """A run commit on the honest one, its run file changed by `change(data)` (`fmt`: the
    compact file, or the full format in its place), `files` added, `trees` (name -> tree id)
    added at the top, its event naming the new run file and linked to the honest run's;
    pushed to the attacker's chain on the remote with plain git."""
    repo = world.attacker
    path, run = (compact_run if fmt == "compact" else full_run)(repo, world.sha, change)
    recorded = event_of(repo, world.sha)["artifact"]
    tree = edited_tree(repo, world.sha, {recorded: None, path: run, **(files or {})})
    for name, sub in (trees or {}).items():
        tree = with_entries(repo, tree, (b"40000", name, sub))
    sha = forged_like(repo, world.sha, tree, world.sha, path, run)
    git(repo, "push", "-q", "--force", "origin", f"{sha}:{CHAIN}")
    return sha


def with_patch(patch: bytes) -> tuple[Callable[[dict], None], dict[str, bytes]]:
    path = "runs/attack__tests__dirty.patch"

    def change(data: dict) -> None:
        data["run"]["source"].update(dirty=True, dirty_diff_path=path)
    return change, {path: patch}


def refused(world: World, victim: Path, sha: str, *expected: str, args: tuple[str, ...] = (),
            fetch: bool = True) -> str:
    """The victim's replay of `sha` refuses it: one line, nothing ran, nothing changed.
    `fetch`: the victim takes the attacker's chain with git testlog fetch first."""
    if fetch:
        assert cli("-C", str(victim), "fetch")[0] == 0
    git(victim, "merge-base", "--is-ancestor", sha, CHAIN)      # on the chain the victim took
    tip = refs_of(victim)
    before = files_state(victim), home_state(), files_state(world.outside)
    code, out, err = cli("-C", str(victim), "replay", sha[:12], "--python", PY, "--no-sign", *args)
    assert code == 1 and out == "", out
    for text in expected:
        assert text in one_line(err), err
    assert not world.marker.exists(), "the attacker's code ran"
    assert (files_state(victim), home_state(), files_state(world.outside)) == before
    assert refs_of(victim) == tip                                    # no report committed
    return err


def new_file_patch(path: str, content: str) -> bytes:
    lines = content.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n{body}").encode()


# -- the attacks ------------------------------------------------------------------------------

def test_a_source_shipped_inside_the_log_commit_is_refused(world: World, victim: Path, fmt: str):
    repo = world.attacker
    payload = raw_tree(repo, tree_entries(repo, folder(repo, {b"conftest.py": world.evil().encode()}))
                       + [(b"40000", b"tests", bytes.fromhex(
                           git(repo, "rev-parse", f"{world.sha}:runs").strip()))])
    sha = forge(world, fmt, lambda d: d["run"]["source"].update(commit=None, tree=payload),
                trees={b"payload": payload})
    refused(world, victim, sha, f"its source (tree {payload[:12]}) is in none of your branches",
            "--trust-run")


def test_a_dirty_diff_adding_code_is_refused(world: World, victim: Path, fmt: str):
    change, files = with_patch(new_file_patch("tests/conftest.py", world.evil()))
    sha = forge(world, fmt, change, files)
    refused(world, victim, sha, "its dirty diff changes tests/conftest.py, which your working "
            "tree does not hold")


def test_a_dirty_diff_making_a_symlink_out_is_refused_even_when_forced(world: World, victim: Path,
                                                                        fmt: str):
    link = (f"diff --git a/tests/conftest.py b/tests/conftest.py\nnew file mode 120000\n"
            f"--- /dev/null\n+++ b/tests/conftest.py\n@@ -0,0 +1 @@\n"
            f"+{world.outside / 'evilplugin.py'}\n\\ No newline at end of file\n").encode()
    change, files = with_patch(link)
    sha = forge(world, fmt, change, files)
    refused(world, victim, sha, "the recorded dirty diff is refused: it creates a symlink",
            args=("--trust-run",))


def test_a_dirty_diff_writing_outside_the_checkout_is_refused(world: World, victim: Path, fmt: str):
    change, files = with_patch(new_file_patch("../../escaped.py", "x = 1"))
    sha = forge(world, fmt, change, files)
    refused(world, victim, sha, "it writes '../../escaped.py' (a '..' segment)",
            args=("--trust-run",))


@pytest.mark.parametrize("nodeid", ["{outside}/test_evil.py::test_x", "../outside/test_evil.py::test_x",
                                    "tests/../../test_evil.py::test_x"])
def test_a_node_id_outside_the_checkout_is_refused(world: World, victim: Path, fmt: str,
                                                     nodeid: str):
    name = nodeid.format(outside=world.outside)

    def change(data: dict) -> None:
        data["records"][0]["test_name"] = name
        data["run"]["nodeids"][0] = name
    sha = forge(world, fmt, change)
    refused(world, victim, sha, f"node id path {name.split('::')[0]!r} is outside the checkout",
            args=("--trust-run",))


def test_options_that_load_code_are_refused_by_name(world: World, victim: Path, fmt: str):
    sha = forge(world, fmt, lambda d: d["run"]["pytest"].update(args=[
        "-o", f"pythonpath={world.outside}", "-p", "evilplugin", "-c", "/etc/pytest.ini",
        "-p", "no:randomly", "tests"]))
    refused(world, victim, sha, "its recorded pytest options load code or reach outside the "
            f"checkout: -o pythonpath={world.outside}, -p evilplugin, -c /etc/pytest.ini")


def test_a_rootdir_that_is_a_symlink_out_is_refused(world: World, victim: Path, fmt: str):
    def change(data: dict) -> None:
        data["run"]["rootdir"] = "escape"
        for entry in data["records"]:
            entry["test_name"] = "test_evil.py::" + entry["test_name"].split("::")[1]
        data["run"]["nodeids"] = [r["test_name"] for r in data["records"]]
    sha = forge(world, fmt, change)
    refused(world, victim, sha, "the recorded rootdir resolves outside the checkout",
            args=("--trust-run",))


# -- honest runs ------------------------------------------------------------------------------

def test_bytecode_never_follows_a_pycache_symlink(world: World, victim: Path):
    """The project's own tree has tests/__pycache__ -> elsewhere: replay compiles into its
    private directory, never through the symlink."""
    assert cli("-C", str(victim), "fetch")[0] == 0
    code, out, err = cli("-C", str(victim), "replay", world.sha[:12], "--python", PY, "--no-sign")
    assert (code, err) == (0, ""), out
    assert list(world.elsewhere.iterdir()) == []
    assert not world.marker.exists()


def test_with_trusted_keys_an_unsigned_run_is_refused_unless_forced(world: World, victim: Path,
                                                                     sandbox, gpg_key: str):
    """New model: git testlog fetch keeps the unsigned chain apart (exit 1), so the victim
    takes it with plain git fetch; replay refuses it all the same."""
    keys = export_key(sandbox["GNUPGHOME"], gpg_key, victim.parent / "trusted.asc")
    git(victim, "config", "testlog.trusted-keys", str(keys))
    code, _out, err = cli("-C", str(victim), "fetch")
    assert code == 1 and "kept apart" in err and "not signed by a trusted key" in err
    assert git(victim, "for-each-ref", CHAIN) == ""
    git(victim, "fetch", "-q", "origin", f"+{CHAIN}:{CHAIN}")
    refused(world, victim, world.sha, "trusted keys are configured and it is unsigned",
            "pass --trust-run if you know where this run comes from", fetch=False)
    code, out, err = cli("-C", str(victim), "replay", world.sha[:12], "--python", PY, "--no-sign",
                         "--trust-run")
    assert (code, err) == (0, ""), out
    assert "note: forced with --trust-run, although trusted keys are configured and it is " \
           "unsigned" in out
    report = last_report(victim)
    assert report["replay"]["trust"] == {
        "signed_by": None, "forced": True,
        "waived": ["trusted keys are configured and it is unsigned"]}
    page = git(victim, "show", "testlog:" + report["event"]["artifact"][:-4] + "md")
    assert "| trust | forced with --trust-run, although trusted keys are configured" in page


def test_a_trusted_run_replays_a_source_no_branch_holds(tmp_path: Path, monkeypatch, sandbox,
                                                        gpg_key: str):
    """Signed by a trusted key, a run may name a commit none of the user's refs hold (a branch
    deleted after a squash); unsigned, the same run is refused."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    repo = project(tmp_path / "repo", {"tests/test_simple.py": SIMPLE})
    git(repo, "switch", "-q", "-c", "feature")
    (repo / "tests" / "test_simple.py").write_text(SIMPLE + "\n\ndef test_three():\n    pass\n")
    git(repo, "commit", "-qam", "feature work")
    unsigned = record(repo, "tests")
    git(repo, "config", "user.signingkey", gpg_key)
    signed = record_signed(repo)
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-q", "-D", "feature")
    code, _out, err = cli("-C", str(repo), "replay", unsigned[:12], "--python", PY, "--no-sign")
    assert code == 1 and "is in none of your branches, tags or remote branches" in err
    keys = export_key(sandbox["GNUPGHOME"], gpg_key, tmp_path / "trusted.asc")
    code, out, err = cli("-C", str(repo), "replay", signed[:12], "--python", PY, "--no-sign",
                         "--trusted-keys", str(keys))
    assert (code, err) == (0, ""), out
    assert last_report(repo)["replay"]["trust"] == {"signed_by": gpg_key, "forced": False,
                                                    "waived": []}


def record_signed(repo: Path) -> str:
    import subprocess
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "--testlog", "tests"], cwd=repo, env=env, capture_output=True, text=True)
    assert "recorded as" in proc.stdout and "signed by" in proc.stdout, proc.stdout + proc.stderr
    return git(repo, "rev-parse", "testlog").strip()
