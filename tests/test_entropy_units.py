"""OS entropy (issue 19), piece by piece: the side file's format and its checks against the
records (core/entropy.py), feeding draws back, and the tap that intercepts every entry point
in this very process (plugin/entropy.py), installed and uninstalled around each test."""
from __future__ import annotations

import hashlib
import os
import random
import secrets
import uuid
from collections.abc import Iterator

import pytest

from testlog.core import entropy
from testlog.core.entropy import (
    LIMIT,
    EntropyError,
    Feed,
    SideFile,
    block,
    chunk,
    derived_bytes,
    parse_side_file,
    side_file,
    side_file_problem,
    stream_digest,
)
from testlog.core.triage import MODERATE, VERIFIED, Observation, triage
from testlog.plugin.entropy import EntropyTap, Stream


def dump(*draws: tuple[str, bytes]) -> dict:
    return {"kinds": "".join(k for k, _ in draws), "chunks": [d for _, d in draws]}


A = dump(("u", b"\x01" * 16), ("s", b"\x02" * 8))
B = dump(("r", b"\x03" * 32))


# -- the format ------------------------------------------------------------------------------

def test_the_digest_binds_kinds_sizes_order_and_bytes():
    framed = b"u" + (16).to_bytes(4, "big") + b"\x01" * 16 + b"s" + (8).to_bytes(4, "big") + \
        b"\x02" * 8
    assert stream_digest(A["kinds"], A["chunks"]) == hashlib.sha256(framed).hexdigest()
    variants = [("us", [b"\x01" * 8, b"\x01" * 8 + b"\x02" * 8]),      # same bytes, split
                ("su", [b"\x02" * 8, b"\x01" * 16]),                    # another order
                ("ss", [b"\x01" * 16, b"\x02" * 8])]                    # another kind
    digests = {stream_digest(k, c) for k, c in variants}
    assert len(digests) == 3 and stream_digest(A["kinds"], A["chunks"]) not in digests


def test_a_record_block_says_draws_bytes_and_digest_and_marks_what_was_not_kept():
    assert block(A) == {"bytes": 24, "draws": 2, "sha256": stream_digest("us", A["chunks"])}
    over = {"kinds": None, "count": 3, "size": LIMIT + 5, "sha256": "ab" * 32}
    assert block(over) == {"bytes": LIMIT + 5, "draws": 3, "replayable": False,
                           "sha256": "ab" * 32}
    assert chunk({"test": "t.py::x", "order": 0}, over) == b""


def test_a_side_file_round_trips_and_is_the_same_bytes_for_the_same_draws():
    parts = [chunk({"collect": "t.py"}, B), chunk({"test": "t.py::x", "order": 3}, A)]
    data = side_file(parts)
    assert data == side_file(list(parts))
    assert side_file([b"", b""]) is None
    parsed = parse_side_file(data, "e.bin")
    assert parsed.collection == {"t.py": (("r", b"\x03" * 32),)}
    assert parsed.tests == {("t.py::x", 3): (("u", b"\x01" * 16), ("s", b"\x02" * 8))}
    repeated = chunk({"collect": ""}, dump(*[("s", bytes([i]) * 16) for i in range(5)]))
    assert b'"draws":[["s",16,5]]' in repeated         # a loop of draws is listed once


def _head(**fields: object) -> bytes:
    from testlog.core.canonical import dumps_normal
    return dumps_normal({"chunks": 1, "format": "testlog-entropy", "limit": LIMIT,
                         "schema_version": 1, **fields}) + b"\n"


GOOD = chunk({"test": "t.py::x", "order": 0}, A)


@pytest.mark.parametrize(("data", "expected"), [
    (b"not json\n", "a chunk's header is"),
    (b'{"format": "other"}\n', "not an entropy file"),
    (_head(schema_version=9) + GOOD, "newer than this git-testlog"),
    (_head() + GOOD[:-3], "ends inside the draws"),
    (_head() + GOOD.replace(b"\x01" * 16, b"\x09" * 16), "do not match their digest"),
    (_head() + GOOD.replace(b'"order":0', b'"order":"0"'), "names no test or collector"),
    (_head() + GOOD.replace(b'[["u",16,1],["s",8,1]]', b'[["x",16,1]]'), "[kind, size, repeat]"),
    (_head() + GOOD.replace(b'["s",8,1]', b'["s",0,4000000]'), "at most"),
    (_head(chunks=2) + GOOD, "counts 2 chunks"),
    (_head(chunks=2) + GOOD + GOOD, "has two chunks"),
    (_head() + b"no newline", "has no header line"),
])
def test_a_damaged_side_file_is_one_clear_error(data, expected):
    with pytest.raises(EntropyError) as info:
        parse_side_file(data, "runs/x__entropy.bin")
    assert expected in str(info.value) and str(info.value).startswith("runs/x__entropy.bin")


def test_the_side_file_must_hold_exactly_what_the_records_name():
    side = parse_side_file(side_file([GOOD, chunk({"collect": "t.py"}, B)]), "e")
    record = {"test_name": "t.py::x", "order": 0, "entropy": block(A)}
    collection = {"t.py": block(B)}
    assert side_file_problem(side, [record], collection) is None
    other = {**record, "entropy": block(B)}
    assert "does not match its digest" in side_file_problem(side, [other], collection)
    assert "which no record names" in side_file_problem(side, [], collection)
    assert "missing" in side_file_problem(None, [record], {})
    unkept = {**record, "entropy": {**block(A), "replayable": False}}
    assert "was not kept" in side_file_problem(side, [unkept], collection)
    assert side_file_problem(SideFile(), [unkept], {}) is None
    assert side_file_problem(None, [{"test_name": "t.py::y", "order": 1}], {}) is None
    assert "not an object" in side_file_problem(side, [{**record, "entropy": 3}], collection)


# -- feeding back ----------------------------------------------------------------------------

def test_a_feed_hands_back_the_recorded_draws_in_order():
    feed = Feed((("u", b"a" * 16), ("s", b"b" * 8), ("u", b"c" * 16)))
    assert [feed.take("u", 16), feed.take("s", 8), feed.take("u", 16)] == [
        b"a" * 16, b"b" * 8, b"c" * 16]
    assert feed.result() == {"asked": 3, "fed": 3, "recorded": 3, "feeding": True}


def test_a_draw_no_longer_made_is_passed_over_and_one_more_draw_differs():
    feed = Feed((("u", b"a" * 32), ("s", b"b" * 16)))
    assert feed.take("s", 16) == b"b" * 16           # the u32 (drawn once per process) skipped
    assert feed.take("s", 16) is None                # one more: real entropy from here on
    assert feed.take("u", 32) is None                # even where a recorded one would fit
    assert feed.result()["differs"] == ("draw 2 (random.SystemRandom/secrets, 16 bytes) is "
                                        "not in the record (2 recorded draws, 1 fed back); real "
                                        "entropy from there on")


def test_a_test_that_drew_nothing_when_recorded_differs_at_its_first_draw():
    feed = Feed(())
    assert feed.take("t", 8) is None
    assert "none was recorded" in feed.result()["differs"]
    observing = Feed((), feeding=False)
    assert observing.take("u", 4) is None and "differs" not in observing.result()
    assert observing.result()["asked"] == 1


def test_entropy_draws_differ_is_moderate_and_explains_other_flags():
    differs = ("draw 1 (os.urandom, 16 bytes) is not in the record (none was recorded)",)
    assert triage(Observation("PASS", "PASS", entropy_differs=differs)).level == MODERATE
    verdict = triage(Observation("PASS", "PASS", entropy_differs=differs))
    assert verdict.reasons == (f"entropy draws differ: {differs[0]}",)
    critical = triage(Observation("PASS", "FAIL", entropy_differs=differs))
    assert critical.reasons == ("status PASS → FAIL", f"entropy draws differ: {differs[0]}")
    note = "it drew OS entropy (1 draw), which the run did not record"
    assert triage(Observation("PASS", "PASS", entropy_note=note)).level == VERIFIED
    assert triage(Observation("PASS", "PASS", hash_matches=False, numeric_delta=None,
                              entropy_note=note)).reasons == ("output hash mismatch", note)


def test_xdist_workers_derive_the_same_bytes_per_scope_and_draw():
    key = b"k" * 32
    assert derived_bytes(key, "t.py", 0, 16) == derived_bytes(key, "t.py", 0, 16)
    assert len({derived_bytes(key, s, i, 16) for s in ("t.py", "u.py") for i in (0, 1)}) == 4
    assert derived_bytes(b"o" * 32, "t.py", 0, 16) != derived_bytes(key, "t.py", 0, 16)
    assert derived_bytes(key, "", 0, 0) == b""


# -- the tap, in this process ----------------------------------------------------------------

@pytest.fixture
def tap() -> Iterator[EntropyTap]:
    installed = EntropyTap().install()
    try:
        yield installed
    finally:
        installed.uninstall()


def test_every_entry_point_is_recorded_in_its_scope():
    originals = (os.urandom, random._urandom, random.Random.__dict__["seed"], random.seed)
    tap = EntropyTap().install()
    tap.enter_test("t.py::x")
    drawn = os.urandom(4)
    token = secrets.token_bytes(5)
    system = random.SystemRandom().getrandbits(16)
    ident = uuid.uuid4()
    private = random.Random().random()
    random.seed()
    captured = tap.leave_test()
    assert captured["kinds"] == "ussurr"
    assert captured["chunks"][0] == drawn and captured["chunks"][1] == token
    assert int.from_bytes(captured["chunks"][2], "big") == system
    assert uuid.UUID(bytes=captured["chunks"][3], version=4) == ident
    assert [len(c) for c in captured["chunks"][4:]] == [32, 32]
    assert random.Random(int.from_bytes(captured["chunks"][4], "big")).random() == private
    tap.uninstall()
    assert (os.urandom, random._urandom, random.Random.__dict__["seed"], random.seed) == originals


def test_a_seeded_random_draws_nothing_and_excluded_tests_are_not_captured(tap):
    tap.exclude(frozenset({"t.py::secret"}))
    tap.enter_test("t.py::seeded")
    random.Random(42).random()
    random.seed(7)
    assert tap.leave_test() is None
    tap.enter_test("t.py::secret")
    os.urandom(16)
    assert tap.leave_test() is None
    assert tap.collection_dumps() == {}


def test_numpy_unseeded_generators_are_captured_and_seeded_ones_are_not(tap):
    pytest.importorskip("numpy")
    import numpy as np
    import numpy.random  # numpy.random is what the runner patches on import
    tap.on_import("numpy.random")
    tap.enter_test("t.py::n")
    np.random.RandomState(3).rand()
    np.random.default_rng(5).random()
    np.random.MT19937(4)
    assert tap.leave_test() is None
    tap.enter_test("t.py::n2")
    np.random.default_rng().random()
    np.random.SeedSequence()
    np.random.RandomState()
    np.random.PCG64()
    captured = tap.leave_test()
    assert captured["kinds"] == "ssss" and [len(c) for c in captured["chunks"]] == [16] * 4
    assert isinstance(np.random.mtrand._rand, np.random.RandomState)


def test_torch_seed_and_generator_seed_are_captured(tap):
    torch = pytest.importorskip("torch")
    tap.on_import("torch")
    tap.enter_test("t.py::torch")
    real_cuda_seed = torch.cuda.seed.__wrapped__       # patched: torch's own is wrapped
    seed = torch.seed()
    generator = torch.Generator()
    own = generator.seed()
    torch.cuda.seed()               # without CUDA torch's own: nothing drawn, nothing recorded
    torch.cuda.seed_all()
    captured = tap.leave_test()
    cuda = torch.cuda.is_available()
    assert captured["kinds"] == ("tttt" if cuda else "tt")
    assert [int.from_bytes(c, "big") for c in captured["chunks"]][:2] == [seed, own]
    assert torch.initial_seed() == seed and generator.initial_seed() == own
    assert isinstance(torch.default_generator, torch.Generator)
    tap.uninstall()
    assert torch.Generator is torch._C.Generator
    assert torch.cuda.seed is real_cuda_seed


def test_a_replay_tap_feeds_the_recorded_bytes(tap):
    class Feeds:
        def test_feed(self, nodeid):
            return Feed((("u", b"R" * 8), ("r", b"S" * 32)))

        def collect_feed(self, collector):
            return Feed((), feeding=False)

    tap.feeds = Feeds()
    tap.enter_test("t.py::x")
    assert os.urandom(8) == b"R" * 8
    expected = random.Random(int.from_bytes(b"S" * 32, "big")).random()
    assert random.Random().random() == expected
    assert os.urandom(8) != b"R" * 8                  # one more than recorded: real entropy
    seen = tap.leave_test()
    assert seen["fed"] == 2 and seen["asked"] == 3 and "draw 3 (os.urandom" in seen["differs"]


def test_a_stream_past_the_limit_keeps_only_its_digest():
    stream = Stream()
    draws = [("u", bytes([i % 256]) * 1000) for i in range(70)]
    for kind, data in draws:
        stream.add(kind, data)
    captured = stream.dump()
    assert captured == {"kinds": None, "count": 70, "size": 70_000,
                        "sha256": stream_digest("u" * 70, [d for _, d in draws])}
    assert block(captured)["replayable"] is False
    assert Stream().dump() is None


def test_collection_scopes_nest_and_derive_in_xdist_workers():
    worker = EntropyTap(derive_key=b"k" * 32).install()
    try:
        previous = worker.enter_collect("t.py")
        first = os.urandom(16)
        worker.leave_collect(previous)
        assert first == derived_bytes(b"k" * 32, "t.py", 0, 16)
        assert worker.collection_dumps() == {"t.py": {"kinds": "u", "chunks": [first]}}
        worker.enter_test("t.py::x")
        assert os.urandom(16) != derived_bytes(b"k" * 32, "t.py::x", 0, 16)   # tests: real
        assert worker.leave_test()["kinds"] == "u"
    finally:
        worker.uninstall()
    assert entropy.SESSION == ""


def test_the_warning_for_unkept_entropy_names_at_most_five():
    assert entropy.unkept_warning([]) is None
    names = [f"t.py::t{i}" for i in range(7)]
    assert entropy.unkept_warning(names) == (
        f"OS entropy above the {LIMIT}-byte limit was kept as a digest only, not replayable: "
        "t.py::t0, t.py::t1, t.py::t2, t.py::t3, t.py::t4 and 2 more")


def test_verify_deep_names_what_does_not_hold_between_a_run_and_its_side_file():
    from testlog.audit.checks import entropy_paths, entropy_problem
    from testlog.core.canonical import dumps_normal
    from testlog.core.compact import Defaults, compact_file, header_line
    path = "runs/20261207__unit__run.jsonl"
    side_path = "runs/20261207__unit__entropy.bin"

    def run_file(files: dict, *lines: dict) -> bytes:
        defaults = Defaults(1, {}, "seeded", frozenset(), 0)
        header = header_line({"suite": "unit", "base_seed": 1, "files": files}, defaults,
                             len(lines), "0" * 64)
        return compact_file(header, [dumps_normal(line) for line in lines])

    drawn = {"test_name": "t.py::a", "order": 0, "status": "PASS", "entropy": block(A)}
    side = side_file([chunk({"test": "t.py::a", "order": 0}, A)])
    plain = run_file({}, {"test_name": "t.py::a", "order": 0, "status": "PASS"})
    assert entropy_paths(plain, path) is None         # a run that drew nothing: nothing read
    data = run_file({"entropy": side_path}, drawn)
    assert entropy_paths(data, path) == (side_path, "determinism/20261207__unit__determinism.json")
    assert entropy_problem(data, path, side, None) is None
    assert entropy_problem(data, path, None, None) == f"its entropy file {side_path} is missing"
    other = side_file([chunk({"test": "t.py::a", "order": 0}, B)])
    assert "does not match its digest" in entropy_problem(data, path, other, None)
    moved = run_file({"entropy": "runs/elsewhere.bin"}, drawn)
    assert "not 'runs/20261207__unit__entropy.bin'" in entropy_problem(moved, path, side, None)


def test_the_replay_plan_feeds_a_captured_run_and_nothing_for_an_older_one():
    from testlog.replay.plan import build_plan
    drew = {"test_name": "t.py::a", "order": 0, "status": "PASS", "entropy": block(A)}
    quiet = {"test_name": "t.py::b", "order": 1, "status": "PASS"}
    side = SideFile(tests={("t.py::a", 0): (("u", A["chunks"][0]), ("s", A["chunks"][1]))},
                    collection={"t.py": (("s", b"\x05" * 16),)})
    run = {"suite": "unit", "base_seed": 7, "entropy": {"captured": True, "limit": LIMIT}}
    plan = build_plan(run, [drew, quiet], {}, side).entropy
    tests = {t.nodeid: t for t in build_plan(run, [drew, quiet], {}, side).tests}
    assert plan.test_draws(tests["t.py::a"]) == side.tests[("t.py::a", 0)]
    assert plan.test_draws(tests["t.py::b"]) == ()        # drew nothing: any draw differs
    assert plan.collection_draws("t.py") == side.collection["t.py"]
    assert plan.collection_draws("u.py") == ()
    # a run of schema 2 (or --testlog-no-entropy) says nothing of entropy: nothing to feed
    older = build_plan({"suite": "unit", "base_seed": 7}, [quiet], {}, None)
    assert not older.entropy.captured
    assert older.entropy.test_draws(older.tests[0]) is None
    assert older.entropy.collection_draws("t.py") is None
    # a test past the limit: nothing to feed (real entropy, and the reason says why)
    past = {**drew, "entropy": {**block(A), "replayable": False}}
    unkept = build_plan(run, [past], {}, SideFile())
    assert unkept.entropy.test_draws(unkept.tests[0]) is None
