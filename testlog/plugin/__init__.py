"""pytest entry point (pytest11: testlog). Cheap to import: the recorder loads only when enabled
by `--testlog` or the ini option `testlog = true`."""
from __future__ import annotations

import argparse
from typing import Any

import pytest


def _seed(text: str) -> int:
    from testlog.core.seeds import parse_seed
    try:
        return parse_seed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testlog", "git-testlog: record this run to the log branch")
    add = group.addoption
    add("--testlog", action="store_true", default=False,
        help="record every test (seed, RNG states, inputs, outputs, timing, errors) and commit "
             "the run to the log branch")
    add("--testlog-seed", type=_seed, default=None, metavar="N",
        help="base seed; each test's seed derives from it and the nodeid (default: "
             "pytest-randomly's seed when active, else random; always recorded)")
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
    parser.addini("testlog", type="bool", default=False,
                  help="record every run, as if --testlog were given")
    from testlog.plugin.options import add_options
    add_options(group)


def enabled(config: pytest.Config) -> bool:
    """--testlog, the ini switch, or --testlog-out (asking for the files is asking to record)."""
    return bool(config.getoption("testlog") or config.getini("testlog")
                or config.getoption("testlog_out"))


def pytest_cmdline_main(config: pytest.Config) -> None:
    if config.getoption("testlog_replay"):     # after xdist's own option handling (tryfirst)
        from testlog.plugin.replay import prepare
        prepare(config)
    elif enabled(config):
        # Registered before any plugin is configured, so it runs after every other plugin's
        # clean-up (they run last-in, first-out): the writer process finishes the run while
        # pytest ends (its garbage collections take ~0.1 s each with torch loaded).
        config.add_cleanup(lambda: report_run(config))
        config.stash[REPORT_AT_EXIT] = True


REPORT_AT_EXIT: pytest.StashKey[bool] = pytest.StashKey()


def report_run(config: pytest.Config) -> None:
    writer = config.pluginmanager.get_plugin("testlog-writer")
    if writer is not None:
        writer.report()


@pytest.hookimpl(trylast=True)   # after pytest-randomly has resolved its seed
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("testlog_replay"):     # replaying, not recording
        from testlog.plugin.replay import install
        install(config)
    elif enabled(config):
        from testlog.plugin.recorder import install
        install(config)


@pytest.fixture
def testlog(request: pytest.FixtureRequest) -> Any:
    """Declare inputs and outputs: `testlog.input(path_or_value)`, `testlog.output(name, value)`."""
    from testlog.plugin.fixtures import handle_for
    return handle_for(request)


@pytest.fixture
def testlog_rng(request: pytest.FixtureRequest) -> Any:
    """A numpy.random.Generator seeded from this test's seed."""
    from testlog.plugin.fixtures import generator_for
    return generator_for(request)
