"""Capturing the operating-system entropy tests draw, and feeding it back on replay.

While the tap is installed, every draw of OS entropy that Python code can reach goes through
`EntropyTap.draw`:
- `os.urandom` (`uuid.uuid4` calls it at call time) and `os.getrandom`;
- `random._urandom`, which random.py bound at import (so patching `os.urandom` does not reach
  it): `random.SystemRandom`, `secrets`, and numpy's `SeedSequence()` without entropy, which
  `default_rng()`, `RandomState()` and bit generators made without a seed use (numpy draws
  through `secrets.randbits`);
- `random.Random.seed` without an argument (CPython seeds in C, out of reach: the Python entry
  point draws SEED_BYTES here and seeds with them); `random.seed` is re-bound to the global
  instance's wrapped method;
- `torch.seed()` and `torch.Generator.seed()` (a subclass of torch's generator type, which
  cannot be patched, stands in for `torch.Generator`; isinstance still sees every generator),
  and `torch.cuda.seed()` / `seed_all()` where CUDA is available, patched when torch is
  imported.

`numpy.random.RandomState(seed)` with a seed draws OS entropy too (it makes an unseeded MT19937
first, then seeds it the legacy way): a subclass standing in for `numpy.random.RandomState`
makes that draw unseen, so that a test seeding its RandomState records no entropy.

A draw belongs to the scope running: a test (setup, call, teardown), a collector while it
collects (a test module's import), else the session (""). Recording keeps each scope's draws
(core/entropy.py: a dump); replaying feeds each scope the recorded draws (core/entropy.Feed).
Draws made while numpy.random or torch import are not recorded: testlog reseeds their RNGs
right after, and a replay process may import them at another moment.
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

from testlog.core.entropy import (
    GETRANDOM,
    LIMIT,
    SEED,
    SEED_BYTES,
    SESSION,
    SYSTEM,
    TORCH,
    TORCH_SEED_BYTES,
    URANDOM,
    Digest,
    Feed,
    derived_bytes,
)
from testlog.plugin.options import NO_ENTROPY_MARKER as MARKER

_real_urandom = os.urandom
# A test's scope until it draws: most tests draw nothing, and pay no Stream for it.
_UNDRAWN: Any = object()
_tap: EntropyTap | None = None      # the installed tap (one per process)


class Stream:
    """One scope's draws in this process, kept up to LIMIT bytes, then only digested. In an
    xdist worker the draws outside tests are derived from the session's key (`derive`)."""
    __slots__ = ("kinds", "chunks", "size", "count", "digest", "derive")

    def __init__(self, derive: tuple[bytes, str] | None = None) -> None:
        self.kinds: list[str] = []
        self.chunks: list[bytes] = []
        self.size = self.count = 0
        self.digest: Digest | None = None
        self.derive = derive

    def add(self, kind: str, data: bytes) -> None:
        self.count += 1
        self.size += len(data)
        if self.digest is not None:
            self.digest.add(kind, data)
            return
        self.kinds.append(kind)
        self.chunks.append(data)
        if self.size > LIMIT:              # past the limit: its digest only, never the bytes
            self.digest = Digest()
            for k, c in zip(self.kinds, self.chunks):
                self.digest.add(k, c)
            self.kinds, self.chunks = [], []

    def dump(self) -> dict[str, Any] | None:
        """What the run's writer gets (core/entropy.py); None when nothing was drawn."""
        if not self.count:
            return None
        if self.digest is not None:
            return {"kinds": None, "count": self.count, "size": self.size,
                    "sha256": self.digest.hexdigest()}
        return {"kinds": "".join(self.kinds), "chunks": self.chunks}


class FeedSource(Protocol):
    """Where a replay's tap finds the recorded draws of each scope."""
    def test_feed(self, nodeid: str) -> Feed | None: ...
    def collect_feed(self, collector: str) -> Feed: ...


class EntropyTap:
    """Routes every draw to its scope: recorded (`feeds` None) or fed back (a replay)."""

    def __init__(self, derive_key: bytes | None = None) -> None:
        self.feeds: FeedSource | None = None
        self.derive_key = derive_key
        self.lock = threading.RLock()
        self.excluded: frozenset[str] = frozenset()
        self.paused = 0
        self.collection: dict[str, Any] = {}          # collector id -> Stream or Feed
        self.current: Any = None                      # the running scope's Stream/Feed/None
        self.current_id = SESSION
        self.patches: list[tuple[Any, str, Any]] = []

    # -- scopes ---------------------------------------------------------------------------

    def _collect_scope(self, collector: str) -> Any:
        scope = self.collection.get(collector)
        if scope is None:
            if self.feeds is not None:
                scope = self.feeds.collect_feed(collector)
            else:
                key = self.derive_key
                scope = Stream((key, collector) if key is not None else None)
            self.collection[collector] = scope
        return scope

    def enter_collect(self, collector: str) -> str:
        """The collector's scope runs; returns the scope to go back to."""
        previous = self.current_id
        self.current = self._collect_scope(collector)
        self.current_id = collector
        return previous

    def leave_collect(self, previous: str) -> None:
        self.current = self._collect_scope(previous)
        self.current_id = previous

    def enter_test(self, nodeid: str) -> None:
        if nodeid in self.excluded:
            self.current = None                # not captured, not fed: real entropy
        elif self.feeds is not None:
            self.current = self.feeds.test_feed(nodeid)
        else:
            self.current = _UNDRAWN            # its Stream comes with its first draw

    def leave_test(self) -> dict[str, Any] | None:
        """The test's dump (recording) or what its replay saw (a Feed's result); None when
        it drew nothing (recording) or was excluded."""
        scope = self.current
        self.current = self._collect_scope(self.current_id)
        if scope is None or scope is _UNDRAWN:
            return None
        if isinstance(scope, Feed):
            return scope.result() if scope.asked or scope.draws else None
        return scope.dump()

    def exclude(self, nodeids: frozenset[str]) -> None:
        self.excluded = nodeids

    def collection_dumps(self) -> dict[str, dict[str, Any]]:
        """Every collection scope that drew (recording)."""
        out = {}
        for collector, scope in self.collection.items():
            dump = scope.dump() if isinstance(scope, Stream) else None
            if dump is not None:
                out[collector] = dump
        return out

    def collection_results(self) -> dict[str, dict[str, Any]]:
        """What the replay of each collection scope saw (a replay)."""
        return {c: f.result() for c, f in self.collection.items()
                if isinstance(f, Feed) and (f.asked or f.draws)}

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        """Draws in here are neither recorded nor fed (testlog's own, or a library's import
        whose RNG testlog reseeds right after)."""
        with self.lock:
            self.paused += 1
        try:
            yield
        finally:
            with self.lock:
                self.paused -= 1

    # -- draws ------------------------------------------------------------------------------

    def draw(self, kind: str, size: int, real: Callable[[int], bytes]) -> bytes:
        with self.lock:
            scope = self.current
            if scope is None or self.paused:
                return real(size)
            if isinstance(scope, Feed):
                data = scope.take(kind, size)
                return data if data is not None else real(size)
            if scope is _UNDRAWN:
                scope = self.current = Stream()
            if scope.derive is not None:
                data = derived_bytes(scope.derive[0], scope.derive[1], scope.count, size)
            else:
                data = real(size)
            scope.add(kind, data)
            return data

    # -- installing ---------------------------------------------------------------------------

    def install(self) -> EntropyTap:
        global _tap
        if _tap is not None:
            _tap.uninstall()
        _tap = self
        self.current = self._collect_scope(SESSION)
        self._patch(os, "urandom", _urandom)
        if hasattr(os, "getrandom"):
            self._patch(os, "getrandom", _getrandom(os.getrandom))
        self._patch(random, "_urandom", _system_urandom)
        self._patch(random.Random, "seed", _seed(random.Random.seed))
        self._patch(random, "seed", random._inst.seed)
        self.on_import("numpy.random")
        self.on_import("torch")
        return self

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self.patches.append((owner, name, owner.__dict__[name] if isinstance(owner, type)
                             else getattr(owner, name)))
        setattr(owner, name, value)

    def on_import(self, module: str) -> None:
        """A watched library was imported: patch its entry points (torch, numpy.random)."""
        if module == "numpy.random":
            self._patch_numpy()
        elif module == "torch":
            self._patch_torch()

    def _patched(self, owner: Any) -> bool:
        return any(patched is owner for patched, _n, _v in self.patches)

    def _patch_numpy(self) -> None:
        nprandom = sys.modules.get("numpy.random")
        mtrand = getattr(nprandom, "mtrand", None)
        if nprandom is None or mtrand is None or _tap is not self or self._patched(nprandom):
            return
        try:
            seeded = _random_state_type(mtrand.RandomState)
        except (AttributeError, TypeError):
            return
        self._patch(nprandom, "RandomState", seeded)
        self._patch(mtrand, "RandomState", seeded)

    def _patch_torch(self) -> None:
        torch = sys.modules.get("torch")
        if torch is None or _tap is not self or self._patched(torch):
            return
        try:
            generator = _generator_type(torch._C.Generator)
        except (AttributeError, TypeError):
            generator = None
        seed = _torch_seed(torch)
        for owner in (torch, getattr(torch, "random", None)):
            if owner is not None and hasattr(owner, "seed"):
                self._patch(owner, "seed", seed)
        if generator is not None:
            self._patch(torch, "Generator", generator)
        cuda = getattr(torch, "cuda", None)
        for owner in (cuda, getattr(cuda, "random", None)):
            for name, seed_all in (("seed", False), ("seed_all", True)):
                if owner is not None and callable(getattr(owner, name, None)):
                    self._patch(owner, name, _cuda_seed(torch, getattr(owner, name), seed_all))

    def uninstall(self) -> None:
        global _tap
        for owner, name, value in reversed(self.patches):
            setattr(owner, name, value)
        self.patches = []
        if _tap is self:
            _tap = None


# -- the patched entry points (they find the tap through `_tap`) -------------------------------

def _urandom(size: int, /) -> bytes:
    tap = _tap
    return tap.draw(URANDOM, size, _real_urandom) if tap is not None else _real_urandom(size)


def _system_urandom(size: int, /) -> bytes:
    tap = _tap
    return tap.draw(SYSTEM, size, _real_urandom) if tap is not None else _real_urandom(size)


def _getrandom(real: Callable[..., bytes]) -> Callable[..., bytes]:
    @functools.wraps(real)
    def getrandom(size: int, flags: int = 0) -> bytes:
        tap = _tap
        if tap is None:
            return real(size, flags)
        return tap.draw(GETRANDOM, size, lambda n: real(n, flags))
    return getrandom


def _seed_bits(kind: str, size: int) -> int:
    tap = _tap
    data = tap.draw(kind, size, _real_urandom) if tap is not None else _real_urandom(size)
    return int.from_bytes(data, "big")


def _seed(real: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(real)
    def seed(self: random.Random, a: Any = None, version: int = 2) -> None:
        if a is None:
            a = _seed_bits(SEED, SEED_BYTES)
        real(self, a, version)
    return seed


def _torch_seed(torch: Any) -> Callable[[], int]:
    def seed() -> int:
        """Seed every device's RNG with a non-deterministic 64-bit number (captured by
        git-testlog) and return it."""
        value = _seed_bits(TORCH, TORCH_SEED_BYTES)
        torch.manual_seed(value)
        return value
    return seed


def _cuda_seed(torch: Any, real: Callable[[], None], seed_all: bool) -> Callable[[], None]:
    """torch.cuda.seed() / seed_all(): the seed drawn through the tap (torch draws it in C,
    out of reach); without CUDA, torch's own, which does nothing."""
    @functools.wraps(real)
    def seed() -> None:
        if not torch.cuda.is_available():
            real()
            return
        value = _seed_bits(TORCH, TORCH_SEED_BYTES)
        (torch.cuda.manual_seed_all if seed_all else torch.cuda.manual_seed)(value)
    return seed


def _generator_type(base: type) -> type:
    """A subclass of torch's generator type whose seed() draws through the tap."""

    class _Meta(type(base)):                   # type: ignore[misc]
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, base)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, base)

    class Generator(base, metaclass=_Meta):
        __doc__ = base.__doc__

        def seed(self) -> int:
            if _tap is None:
                return int(base.seed(self))        # type: ignore[attr-defined]
            value = _seed_bits(TORCH, TORCH_SEED_BYTES)
            self.manual_seed(value)
            return value

    Generator.__module__, Generator.__qualname__ = "torch", "Generator"
    return Generator


def _random_state_type(base: type) -> type:
    """A subclass of numpy's RandomState whose seeded construction draws nothing we record."""

    class _Meta(type(base)):                   # type: ignore[misc]
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, base)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, base)

    class RandomState(base, metaclass=_Meta):
        __doc__ = base.__doc__

        def __init__(self, seed: Any = None) -> None:
            tap = _tap
            if seed is None or tap is None:
                super().__init__(seed)
                return
            with tap.pause():                  # the unseeded MT19937 it makes first
                super().__init__(seed)

    RandomState.__module__, RandomState.__qualname__ = base.__module__, "RandomState"
    return RandomState


# -- pytest ---------------------------------------------------------------------------------

class CollectionScopes:
    """Draws made while a collector collects (a test module's import-time draws) belong to
    it, whatever ran before: a replay that collects fewer or other files still feeds each
    module its own."""

    def __init__(self, tap: EntropyTap) -> None:
        self.tap = tap

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Iterator[None]:
        previous = self.tap.enter_collect(collector.nodeid)
        yield
        self.tap.leave_collect(previous)


def excluded_tests(items: list[pytest.Item]) -> frozenset[str]:
    """The tests marked testlog_no_entropy (their class or module marked included)."""
    return frozenset(item.nodeid for item in items if item.get_closest_marker(MARKER) is not None)


def new_tap(config: pytest.Config, derive_key: bytes | None = None) -> EntropyTap | None:
    """A tap for this session (not installed yet); None with --testlog-no-entropy."""
    if config.getoption("testlog_no_entropy", False):
        return None
    return EntropyTap(derive_key)


def install(config: pytest.Config, tap: EntropyTap) -> EntropyTap:
    """`tap` installed, with its collection hook registered."""
    tap.install()
    config.pluginmanager.register(CollectionScopes(tap), "testlog-entropy")
    return tap


def start(config: pytest.Config, derive_key: bytes | None = None) -> EntropyTap | None:
    """The installed tap when the run captures entropy (not --testlog-no-entropy); None
    otherwise."""
    tap = new_tap(config, derive_key)
    return install(config, tap) if tap is not None else None
