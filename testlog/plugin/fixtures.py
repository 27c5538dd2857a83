"""The `testlog` and `testlog_rng` fixtures' objects (plugin.py declares the fixtures).

They work without `--testlog` too: values are still checked and hashed, nothing is recorded.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

from testlog.core.hashing import describe_value
from testlog.core.seeds import derive_seed
from testlog.plugin.capture import TestCapture, generator_digest
from testlog.plugin.inputs import describe_path, is_path_input
from testlog.plugin.keys import RUNNER_KEY

UNRECORDED_BASE_SEED = 0


class TestlogHandle:
    """Declares a test's inputs and outputs; each call returns the SHA-256 it recorded."""
    __test__ = False

    def __init__(self, capture: TestCapture | None, rootdir: str, seed: int) -> None:
        self._capture, self._rootdir, self.seed = capture, rootdir, seed
        self._inputs: dict[str, dict[str, Any]] = {}
        self._outputs: dict[str, dict[str, Any]] = {}
        if capture is not None:
            capture.inputs, capture.outputs = self._inputs, self._outputs

    @property
    def recording(self) -> bool:
        return self._capture is not None

    def input(self, path_or_value: Any, name: str | None = None) -> str:
        """A file or directory (hashed by content) or a value the test consumes."""
        if is_path_input(path_or_value):
            desc = describe_path(os.fspath(path_or_value), self._rootdir)
            name = name or desc["path"]
        else:
            desc = describe_value(path_or_value)
            name = name or f"input_{len(self._inputs) + 1}"
        self._inputs[name] = desc
        return desc["hash"]

    def output(self, name: str, value: Any) -> str:
        """A named result: numbers, str, bytes, lists/dicts, numpy arrays, torch tensors."""
        if not isinstance(name, str) or not name:
            raise ValueError("testlog.output needs a non-empty name")
        if name in self._outputs:
            raise ValueError(f"testlog.output {name!r} was already recorded for this test")
        desc = describe_value(value)
        self._outputs[name] = desc
        return desc["hash"]


def _current(request: pytest.FixtureRequest) -> tuple[TestCapture | None, int]:
    runner = request.config.stash.get(RUNNER_KEY, None)
    capture = runner.capturer.current if runner is not None else None
    if capture is not None and capture.nodeid == request.node.nodeid:
        return capture, capture.seed
    base = request.config.getoption("testlog_seed", None)
    return None, derive_seed(base if base is not None else UNRECORDED_BASE_SEED, request.node.nodeid)


def handle_for(request: pytest.FixtureRequest) -> TestlogHandle:
    capture, seed = _current(request)
    return TestlogHandle(capture, str(request.config.rootpath), seed)


def generator_for(request: pytest.FixtureRequest) -> Any:
    """numpy.random.default_rng(<the test's seed>); its states are recorded as `testlog_rng`."""
    if importlib.util.find_spec("numpy") is None:
        pytest.fail("the testlog_rng fixture is a numpy Generator, and numpy is not installed "
                    "here: `pip install numpy` (or git-testlog[numpy])", pytrace=False)
    import numpy
    capture, seed = _current(request)
    generator = numpy.random.default_rng(seed)
    if capture is not None:
        capture.generator = generator
        capture.before["testlog_rng"] = generator_digest(generator)
    return generator
