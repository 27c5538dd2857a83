"""Tests that draw random numbers: what `pytest --testlog` records and `git testlog replay` re-runs.

They live outside the modules (no manifest here), so the coverage gates do not count them.
"""
import random
from pathlib import Path

import numpy as np
import pytest

from memory.store import Store

DATA = Path(__file__).parent / "data" / "signal.csv"


def test_store_keeps_the_latest_random_items(testlog):
    store = Store(capacity=3)
    for _ in range(10):
        store.remember(f"item-{random.randint(0, 999)}")
    testlog.output("recalled", store.recall())
    assert len(store.recall()) == 3


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_noisy_signal_statistics(testlog, scale):
    signal = np.loadtxt(DATA, delimiter=",")
    testlog.input(DATA)
    noisy = signal * scale + np.random.normal(0.0, 0.01, size=signal.shape)
    testlog.output("noisy", noisy)
    testlog.output("mean", float(noisy.mean()))
    assert abs(noisy.mean() - signal.mean() * scale) < 0.05


def test_generator_fixture_draws(testlog, testlog_rng):
    draws = testlog_rng.integers(0, 100, size=5)
    testlog.output("draws", draws)
    assert draws.shape == (5,)


def test_torch_tensor_output(testlog):
    torch = pytest.importorskip("torch")
    weights = torch.randn(3, 3)
    testlog.output("weights", weights)
    assert weights.shape == (3, 3)


@pytest.mark.skip(reason="shows a SKIP record")
def test_not_ready():
    raise AssertionError("never runs")
