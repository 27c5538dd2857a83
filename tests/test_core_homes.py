"""Rules that each had several copies and now have one home: schema versions, UTC times,
percentiles, the interpreter's run as `python -m testlog`."""
from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy
import pytest

from testlog.core import schema
from testlog.core.measures import latency_percentiles
from testlog.core.timefmt import IsoClock, utc_compact, utc_iso, utc_text
from testlog.errors import TestlogError


@pytest.mark.parametrize("value,current,readable", [
    (1, 1, True), ("1", 1, True), (0, 1, True), (None, 1, True),
    (2, 1, False), ("2", 1, False),
    ("10", 9, False), ("9", 10, True), (9, 10, True),      # numbers, not strings: "10" > "9"
    ("x", 9, False), (True, 9, False), (-1, 9, False), (1.0, 9, False), ("", 9, False)])
def test_versions_compare_as_numbers(value, current, readable):
    assert schema.readable(value, current) is readable


def test_check_version_names_the_file_and_the_fix():
    schema.check_version("1", 1, "f.json")
    with pytest.raises(TestlogError, match=r"^f.json has schema version 10, newer than this "
                                           r"git-testlog understands \(9\): upgrade git-testlog$"):
        schema.check_version("10", 9, "f.json")
    with pytest.raises(TestlogError, match=r"schema version 'x', which is not a version"):
        schema.check_version("x", 9, "f.json")
    with pytest.raises(TestlogError, match="not a version"):
        schema.check_version(None, 1, "f.json", missing=-1)


def test_utc_formats():
    moment = datetime(2025, 11, 1, 12, 0, 5, tzinfo=timezone.utc)
    seconds = moment.timestamp()
    assert utc_iso(seconds) == "2025-11-01T12:00:05Z"
    assert utc_text(moment.astimezone(timezone(timedelta(hours=2)))) == "2025-11-01T12:00:05Z"
    assert utc_compact(seconds) == "20251101T120005Z"
    clock = IsoClock()
    assert clock(int(seconds) * 10**9 + 7_654_321) == "2025-11-01T12:00:05.007Z"


def test_percentiles_are_numpys_linear_ones_without_numpy():
    rng = random.Random(7)
    for n in (1, 2, 5, 64, 1001):
        samples = [rng.lognormvariate(-7, 1) for _ in range(n)]
        expected = numpy.percentile(numpy.asarray(samples) * 1000.0, (50, 95, 99))
        assert latency_percentiles(samples) == {
            f"latency_p{p}_ms": round(float(v), 4) for p, v in zip((50, 95, 99), expected)}


def test_python_dash_m_testlog_is_the_cli():
    proc = subprocess.run([sys.executable, "-m", "testlog", "--version"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("git-testlog ")
