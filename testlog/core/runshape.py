"""The shape of what readers take from a log branch: every field of a run, a determinism file
or a chronicle event that log, show, replay, compare and seal use has the type they expect, or
the whole file is refused with one line naming the field. Pure.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from testlog.core.layout import check_suite
from testlog.core.records import STATUSES

Check = Callable[[Any], bool]
_SHA1 = re.compile(r"[0-9a-f]{40}")


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _sha(value: Any) -> bool:
    return isinstance(value, str) and _SHA1.fullmatch(value) is not None


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def _dict_of(check: Check) -> Check:
    return lambda value: isinstance(value, dict) and all(check(v) for v in value.values())


def _dict(value: Any) -> bool:
    return isinstance(value, dict)


def _suite(value: Any) -> bool:
    """A suite name is part of file names written from it: one safe segment."""
    try:
        return isinstance(value, str) and check_suite(value) == value
    except ValueError:
        return False


_STR_DICT = _optional(_dict_of(_str))
_STATUS: Check = lambda value: value in STATUSES     # noqa: E731

# field -> check; a field may be absent unless listed in REQUIRED.
SOURCE = {"commit": _optional(_sha), "tree": _optional(_sha), "dirty": _optional(_bool),
          "dirty_diff_path": _optional(_str), "untracked": _optional(_list_of(_str))}
PYTEST = {"args": _optional(_list_of(_str)), "version": _optional(_str)}
RUN = {"suite": _suite, "base_seed": _int, "session_seed": _optional(_int),
       "reseed": _optional(_bool), "pythonhashseed": _optional(_str),
       "session_states": _STR_DICT, "source": _optional(_dict), "environment": _optional(_dict),
       "pytest": _optional(_dict), "started": _optional(_str), "rootdir": _optional(_str),
       "files": _STR_DICT, "nodeids": _optional(_list_of(_str)),
       "source_commit": _optional(_sha), "source_tree": _optional(_sha),
       "shard": _optional(_dict), "entropy": _optional(_dict)}
SHARD = {"run_id": _str, "index": _int, "count": _int, "run_id_source": _optional(_str)}
RUN_REQUIRED = ("suite", "base_seed")
RECORD = {"test_name": _str, "status": _STATUS, "seed": _optional(_int), "order": _optional(_int),
          "worker": _optional(_str), "rng_state": _STR_DICT, "rng_state_after": _STR_DICT,
          "outputs": _optional(_dict), "inputs": _optional(_dict_of(_dict)),
          "duration_ms": _optional(_number), "determinism_check": _optional(_str),
          "timestamp_start": _optional(_str), "timestamp_end": _optional(_str),
          "signature": _optional(_str), "entropy": _optional(_dict)}
RECORD_REQUIRED = ("test_name", "status")
OUTPUTS = {"result_hash": _optional(_str), "values": _optional(_dict_of(_dict))}
ENVIRONMENT = {"env": _STR_DICT, "env_key": _optional(_dict)}
DETERMINISM = {"full_states": _STR_DICT, "entropy": _optional(_dict)}
EVENT = {"event": _str, "artifact": _str, "hash": _str, "timestamp": _optional(_str),
         "signature": _optional(_str), "verdict": _optional(_str)}


def fields_problem(data: Any, checks: Mapping[str, Check], where: str,
                   required: tuple[str, ...] = ()) -> str | None:
    """What is wrong with the fields of the object `data` (named `where`), or None."""
    if not isinstance(data, dict):
        return f"{where} is not an object"
    for name in required:
        if name not in data:
            return f"{where} has no {name}"
    for name, check in checks.items():
        if name in data and not check(data[name]):
            return f"{where}.{name} has the wrong type"
    return None


def run_problem(data: Any) -> str | None:
    """Why a parsed run file is not a run the readers can use; None when it is."""
    if not isinstance(data, dict):
        return "not a JSON object"
    run, records = data.get("run"), data.get("records")
    problem = fields_problem(run, RUN, "run", RUN_REQUIRED)
    if problem is not None or not isinstance(run, dict):
        return problem
    for name, checks in (("source", SOURCE), ("pytest", PYTEST), ("environment", ENVIRONMENT),
                         ("shard", SHARD)):
        if run.get(name) is not None:
            problem = fields_problem(run[name], checks, f"run.{name}")
            if problem is not None:
                return problem
    if not isinstance(records, list):
        return "records is not a list"
    for index, record in enumerate(records):
        problem = record_problem(record, index)
        if problem is not None:
            return problem
    return None


def record_problem(record: Any, index: int) -> str | None:
    where = f"record #{index}"
    problem = fields_problem(record, RECORD, where, RECORD_REQUIRED)
    if problem is None and record.get("outputs") is not None:
        problem = fields_problem(record["outputs"], OUTPUTS, f"{where}.outputs")
    if problem is None and isinstance(record.get("environment"), dict):
        problem = fields_problem(record["environment"], ENVIRONMENT, f"{where}.environment")
    return problem


def determinism_problem(data: Any) -> str | None:
    return fields_problem(data, DETERMINISM, "the determinism file")


def event_problem(event: Any) -> str | None:
    return fields_problem(event, EVENT, "the chronicle event", ("event", "artifact"))
