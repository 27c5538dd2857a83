"""pytest entry point (pytest11: testlog). Cheap to import: the recorder loads only when enabled
by `--testlog` or the ini option `testlog = true`."""
from __future__ import annotations

from typing import Any

import pytest

from testlog.plugin.keys import REPORT_AT_EXIT


def pytest_addoption(parser: pytest.Parser) -> None:
    from testlog.plugin.options import add_options
    add_options(parser)


def enabled(config: pytest.Config) -> bool:
    """--testlog, the ini switch, or --testlog-out (asking for the files is asking to record);
    --no-testlog wins over all of them."""
    if config.getoption("testlog_off"):
        return False
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


def report_run(config: pytest.Config) -> None:
    writer = config.pluginmanager.get_plugin("testlog-writer")
    if writer is not None:
        writer.report()


@pytest.hookimpl(trylast=True)   # after pytest-randomly has resolved its seed
def pytest_configure(config: pytest.Config) -> None:
    from testlog.plugin.options import NO_ENTROPY_MARKER_HELP
    config.addinivalue_line("markers", NO_ENTROPY_MARKER_HELP)
    if config.getoption("testlog_replay"):     # replaying, not recording
        from testlog.plugin.replay import install
        install(config)
        return
    if config.getoption("testlog_shard") is not None:
        from testlog.plugin.shards import install_shard
        install_shard(config)
    if enabled(config):
        from testlog.plugin.recorder import install
        install(config)
    elif config.getoption("testlog_seed") is not None:
        from testlog.plugin.recorder import install_seeding
        install_seeding(config)


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
