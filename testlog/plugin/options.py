"""The plugin's command-line options and ini keys (cheap: nothing else is imported)."""
from __future__ import annotations

import argparse
from typing import Any

NO_ENTROPY_MARKER = "testlog_no_entropy"
NO_ENTROPY_MARKER_HELP = (
    f"{NO_ENTROPY_MARKER}: git-testlog neither records the OS entropy this test draws (it may be "
    "key material) nor feeds it back on replay")


def _seed(text: str) -> int:
    from testlog.core.seeds import parse_seed
    try:
        return parse_seed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shard(text: str) -> tuple[int, int]:
    from testlog.core.shards import parse_shard
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_id(text: str) -> str:
    from testlog.core.shards import check_run_id
    try:
        return check_run_id(text, "--testlog-run-id")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_options(parser: Any) -> None:
    """Every option and ini key of the plugin (pytest's `parser`)."""
    group = parser.getgroup("testlog", "git-testlog: record this run to the log branch")
    add = group.addoption
    add("--testlog", action="store_true", default=False,
        help="record every test (seed, RNG states, inputs, outputs, timing, errors) and commit "
             "the run to the log branch")
    add("--no-testlog", dest="testlog_off", action="store_true", default=False,
        help="do not record this run, whatever turns recording on (the ini option `testlog = "
             "true`, --testlog or --testlog-out in PYTEST_ADDOPTS)")
    add("--testlog-seed", type=_seed, default=None, metavar="N",
        help="base seed; each test's seed derives from it and the nodeid (default: "
             "pytest-randomly's seed when active, else random; always recorded). Without "
             "--testlog it seeds each test the same way and records nothing (what an error "
             "entry's reproduction command does)")
    add("--testlog-suite", default=None, metavar="NAME",
        help="suite name in file names (default: from the test paths, tests/unit -> unit)")
    add("--testlog-branch", default=None, metavar="REF",
        help="log branch (default: refs/heads/testlog)")
    add("--testlog-sign-key", default=None, metavar="KEY",
        help="GPG key to sign the commit with (default: git's user.signingkey, if set)")
    add("--testlog-no-sign", action="store_true", default=False,
        help="commit unsigned even when a signing key is configured")
    add("--testlog-out", default=None, metavar="DIR",
        help="write the files to DIR instead of committing (works outside git; implies "
             "--testlog)")
    add("--testlog-full-state", action="store_true", default=False,
        help="store every test's full RNG states, not only their digests")
    add("--testlog-no-reseed", action="store_true", default=False,
        help="do not reseed RNGs before each test (full states are stored instead)")
    add("--testlog-no-capture-hash", action="store_true", default=False,
        help="do not hash what each test printed or logged (by default the SHA-256 of pytest's "
             "captured stdout, stderr and log text, per phase, is recorded, never the text, "
             "and a replay compares it)")
    add("--testlog-shard", type=_shard, default=None, metavar="K/N",
        help="run and record shard K of N: the collected tests whose node id hashes to K "
             "(every test in exactly one shard, on any machine); the N shards, recorded with "
             "one run id, read as one run")
    add("--testlog-run-id", type=_run_id, default=None, metavar="ID",
        help="the run id every shard of a run shares (default: the CI's pipeline id: "
             "GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, CI_PIPELINE_ID, BUILDKITE_BUILD_ID, "
             "CIRCLE_WORKFLOW_ID, BUILD_BUILDID, BUILD_TAG)")
    add("--testlog-no-entropy", action="store_true", default=False,
        help="do not record the OS entropy tests draw (os.urandom, secrets, SystemRandom, "
             "random.seed(), uuid4, numpy's unseeded generators, torch.seed()). By default their "
             "bytes are stored beside the run so that a replay can feed them back: they may be "
             "key material. @pytest.mark.testlog_no_entropy excludes one test")
    parser.addini("testlog", type="bool", default=False,
                  help="record every run, as if --testlog were given")
    add_replay_options(group)


def add_replay_options(group: Any) -> None:
    group.addoption(
        "--testlog-replay", default=None, metavar="REV",
        help="replay a recorded run instead of recording: REV is its log commit (sha, "
             "abbreviation, testlog~N) or a --testlog-out directory or run.json. Its tests run "
             "in the recorded order from their recorded RNG states and are judged against the "
             "record; the report is committed to the log branch. Run it in a checkout of the "
             "recorded source (`git testlog replay REV` makes one for you)")
    group.addoption("--testlog-replay-context", default=None, metavar="FILE",
                    help="settings written by `git testlog replay` (not for direct use)")
    group.addoption("--testlog-replay-probe", default=None, metavar="FILE",
                    help="replay only to write each test's fingerprint to FILE, for a replay "
                         "that checks hash order under another PYTHONHASHSEED (not for direct "
                         "use)")
