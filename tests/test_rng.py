"""Each RNG module meets the protocol: seed, capture (raw fast path = public API bytes),
restore, digest; and libraries imported later are seeded the moment they load."""
from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import pytest

from testlog.rng import (
    REGISTRY,
    by_name,
    loaded_rngs,
    numpy_legacy,
    python_random,
    seeded_digest,
    torch_cpu,
)

np = pytest.importorskip("numpy")


def _draw(name: str) -> None:
    {"python": random.random, "numpy": lambda: np.random.standard_normal(),
     "torch": lambda: sys.modules["torch"].rand(1)}[name]()


@pytest.fixture(params=["python", "numpy", "torch"])
def rng(request):
    if request.param == "numpy":
        np.random.rand()                     # numpy.random is loaded lazily
    if request.param == "torch":
        pytest.importorskip("torch")
    module = by_name(request.param)
    saved = module.capture()
    yield module
    module.restore(saved)


def test_protocol(rng):
    assert rng.loaded() and rng in loaded_rngs()
    rng.seed(1234)
    seeded = rng.capture()
    assert rng.digest(seeded) == hashlib.sha256(seeded).hexdigest()
    _draw(rng.NAME)
    moved = rng.capture()
    assert moved != seeded
    rng.restore(seeded)
    assert rng.capture() == seeded
    rng.seed(1234)
    assert rng.capture() == seeded
    rng.seed(1235)
    assert rng.capture() != seeded


@pytest.fixture
def kept_states():
    """Put every loaded RNG back as it was after the test."""
    saved = [(m, m.capture()) for m in loaded_rngs()]
    yield
    for module, state in saved:
        module.restore(state)


def test_python_raw_read_equals_getstate_including_cached_gauss(kept_states):
    random.seed(5)
    random.gauss(0, 1)                       # leaves a cached second Gaussian
    assert python_random.capture() == python_random._public_capture()
    assert python_random.capture()[-9] == 1
    assert python_random._raw_offset is not None


def test_numpy_raw_read_equals_get_state_including_cached_gauss(kept_states):
    np.random.seed(5)
    for _ in range(3):
        assert numpy_legacy.capture() == numpy_legacy._public_state(numpy_legacy._global())
        np.random.standard_normal()
    assert numpy_legacy._gauss_offset is not None


def test_torch_state_is_the_generator_bytes():
    torch = pytest.importorskip("torch")
    assert torch_cpu.capture() == bytes(torch.default_generator.get_state().numpy())


def test_registry_names_are_unique():
    names = [m.NAME for m in REGISTRY]
    assert len(names) == len(set(names)) == 4
    with pytest.raises(KeyError, match="known"):
        by_name("nope")


IMPORT_PROBE = """
import sys
from testlog.plugin.capture import Capturer
capturer = Capturer({seed})
from testlog.rng.imports import SeedOnImport
SeedOnImport({{"numpy.random"}}, capturer.on_import).install()
capturer.seed_session()
import numpy as np
print(np.random.rand(), capturer.session_states["numpy"])
"""


def test_numpy_imported_after_session_start_is_seeded_on_import():
    runs = [subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(seed=seed)],
                           capture_output=True, text=True, check=True).stdout.split()
            for seed in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    np.random.seed(__import__("testlog.core.seeds", fromlist=["x"]).session_seed(7))
    assert float(runs[0][0]) == np.random.rand()


@pytest.mark.parametrize("module", [python_random, numpy_legacy, torch_cpu],
                         ids=lambda m: m.NAME)
@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31, 2**32 - 1])
def test_seeded_state_is_what_seeding_captures(module, seed):
    """A run stores reseeded starting states as "the seeded ones": derivable without the library."""
    if module is torch_cpu:
        pytest.importorskip("torch")
    module.seed(seed)
    assert module.seeded_state(seed) == module.capture()
    assert seeded_digest(module.NAME, seed) == module.digest(module.capture())


def test_the_twister_words_do_not_need_numpy():
    from testlog.rng.mt19937 import _init_genrand_python, init_genrand
    for seed in (0, 7, 2**32 - 1):
        assert _init_genrand_python(seed) == init_genrand(seed)
    assert seeded_digest("torch_cuda", 1) is None and seeded_digest("testlog_rng", 1) is None


@pytest.mark.parametrize("numpy_importable", [True, False])
def test_many_seeds_load_numpy_once_with_the_same_words(numpy_importable: bool):
    """A process without NumPy loaded (the writer, an auditor) regenerates the first seeds in
    plain Python, then loads NumPy when it is installed: the words never change."""
    pytest.importorskip("numpy")
    script = f"""
import struct, sys
if not {numpy_importable}:
    sys.modules["numpy"] = None            # installed but not importable here
from testlog.rng import mt19937
mt19937.IMPORT_NUMPY_AFTER = 3
def plain(seed):                           # the reference recurrence, written out again
    words = [seed]
    for i in range(1, 624):
        words.append((1812433253 * (words[-1] ^ (words[-1] >> 30)) + i) & 0xFFFFFFFF)
    return struct.pack("<624I", *words)
loaded = []
for seed in range(8):
    assert mt19937.key_bytes(seed, 4) == plain(seed), seed
    assert mt19937.key_bytes(seed, 8) == struct.pack("<624Q", *struct.unpack("<624I", plain(seed)))
    loaded.append(sys.modules.get("numpy") is not None)
print(loaded.index(True) if True in loaded else -1)
"""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # three seeds in plain Python make the count: NumPy loads for the fourth
    assert out.stdout.strip() == ("3" if numpy_importable else "-1")
