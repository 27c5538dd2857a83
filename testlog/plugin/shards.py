"""`--testlog-shard K/N`: this session runs only the collected tests of shard K (a test's shard
is its node id's hash modulo N, core/shards.py), in every process that collects (xdist's
workers too). Registered whether or not the run is recorded; never while replaying (a replay
runs the recorded tests, whichever shard recorded them)."""
from __future__ import annotations

import pytest

from testlog.core.shards import shard_of

PLUGIN_NAME = "testlog-shard"
NO_TESTS_COLLECTED = 5


class ShardSelector:
    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.collected = 0          # tests collected here (after the user's own selection)
        self.others = 0             # of them, those left to the other shards
        self.selected = False       # whether this process collected at all (not xdist's controller)

    @pytest.hookimpl(trylast=True)      # after -k, -m, --deselect and other plugins' choice
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        mine = [item for item in items if shard_of(item.nodeid, self.count) == self.index]
        others = [item for item in items if shard_of(item.nodeid, self.count) != self.index]
        self.collected, self.others, self.selected = len(items), len(others), True
        items[:] = mine
        if others:
            config.hook.pytest_deselected(items=others)

    def pytest_report_header(self, config: pytest.Config) -> str:
        return (f"testlog: shard {self.index}/{self.count}: runs the collected tests whose node "
                f"id hashes to {self.index} (the other shards run the rest)")

    def empty_shard(self, exitstatus: int, xdist: bool) -> bool:
        """This shard got no test while the others got some (pytest's exit status 5, which a
        shard turns into 0: it did its part). Under xdist the controller collects nothing
        itself and takes status 5 as such a shard."""
        if exitstatus != NO_TESTS_COLLECTED:
            return False
        return (self.others > 0 and self.collected == self.others) if self.selected else xdist

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        xdist = getattr(session.config, "workerinput", None) is None and \
            session.config.pluginmanager.has_plugin("dsession")
        if self.empty_shard(int(exitstatus), xdist):
            session.exitstatus = pytest.ExitCode.OK


def install_shard(config: pytest.Config) -> ShardSelector | None:
    """Register the selector when --testlog-shard is given; it, or None."""
    spec = config.getoption("testlog_shard")
    if spec is None:
        return None
    selector = ShardSelector(*spec)
    config.pluginmanager.register(selector, PLUGIN_NAME)
    return selector
