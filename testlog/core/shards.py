"""Sharded runs: a suite split over N processes or CI jobs (`--testlog-shard K/N`), each
recording one shard, all sharing a run id. The rules, pure:

- which shard a test belongs to: the first 8 bytes of SHA-256 over its node id, modulo N.
  A test's shard depends on its own id only, so the N shards cover every collected test
  exactly once on any machine, whatever else each one collects;
- the run id: `--testlog-run-id`, else the CI's pipeline id (`github-<run id>-<attempt>`,
  `gitlab-<pipeline id>`, …: prefixed, so that two CI systems never share one);
- the shard's suite (`tests~2of3`: its files never replace another shard's) and, unless
  `--testlog-seed` is given, a base seed derived from the run id (every shard seeds alike, so
  the N shards replay as one run);
- the shards of one run read as one: their totals, their verdict, what they must agree on.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testlog.core.counts import COUNT_KEYS, ERROR, FAIL, INTERRUPTED, PASS
from testlog.core.seeds import SEED_BITS
from testlog.core.selection import SEPARATOR

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_SUITE_SUFFIX = re.compile(r"~(\d+)of(\d+)$")
MAX_SHARDS = 10_000

# (prefix, the variables whose values make the id, joined by "-"): the first CI found wins.
CI_RUN_IDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("github", ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT")),    # GitHub Actions
    ("gitlab", ("CI_PIPELINE_ID",)),                        # GitLab CI
    ("buildkite", ("BUILDKITE_BUILD_ID",)),                 # Buildkite
    ("circleci", ("CIRCLE_WORKFLOW_ID",)),                  # CircleCI
    ("azure", ("BUILD_BUILDID",)),                          # Azure Pipelines
    ("jenkins", ("BUILD_TAG",)),                            # Jenkins (job name and build)
)


@dataclass(frozen=True)
class ShardSpec:
    """Shard `index` of `count` (1-based) of the run `run_id`."""
    index: int
    count: int
    run_id: str

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N; ValueError (one line) otherwise."""
    match = _SPEC.match(str(text))
    if match is None:
        raise ValueError(f"invalid shard {text!r}: give K/N, this shard's number and the number "
                         "of shards, e.g. --testlog-shard 2/3")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or count > MAX_SHARDS:
        raise ValueError(f"invalid shard {text!r}: the number of shards N must be 1 to "
                         f"{MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ValueError(f"invalid shard {text!r}: K must be 1 to {count} (shards are numbered "
                         "from 1)")
    return index, count


def check_run_id(value: str, source: str) -> str:
    """A run id: 1 to 128 letters, digits and `._:+-`, starting with a letter or digit."""
    text = str(value).strip()
    if not _RUN_ID.match(text):
        raise ValueError(f"invalid run id {value!r} (from {source}): use 1 to 128 letters, "
                         "digits, '.', '_', ':', '+' or '-', starting with a letter or digit")
    return text


def ci_run_id(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(run id, the variables it was read from) of the CI pipeline this runs in, or None."""
    for prefix, names in CI_RUN_IDS:
        first = (environ.get(names[0]) or "").strip()
        if not first:
            continue
        present = [n for n in names if (environ.get(n) or "").strip()]
        value = "-".join([prefix, *(environ[n].strip() for n in present)])
        return check_run_id(value, ", ".join(present)), ", ".join(present)
    return None


def resolve_run_id(given: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """(run id, where it came from): `--testlog-run-id`, else the CI's pipeline id; ValueError
    naming both when there is neither."""
    if given is not None and str(given).strip():
        return check_run_id(given, "--testlog-run-id"), "--testlog-run-id"
    found = ci_run_id(environ)
    if found is None:
        ci = ", ".join(names[0] for _prefix, names in CI_RUN_IDS)
        raise ValueError("--testlog-shard needs a run id shared by every shard: pass "
                         f"--testlog-run-id ID (none of {ci} is set)")
    return found


def shard_of(nodeid: str, count: int) -> int:
    """The shard (1-based) a test belongs to: its node id's SHA-256, modulo `count`."""
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_suite(suite: str, index: int, count: int) -> str:
    """`tests` -> `tests~2of3` (`tests~k-3f2a` -> `tests~k-3f2a~2of3`)."""
    return f"{suite}{SEPARATOR}{index}of{count}"


def run_suite(suite: str) -> str:
    """The suite of the whole sharded run: a shard's suite less its `~KofN`."""
    return _SUITE_SUFFIX.sub("", suite)


def run_base_seed(run_id: str) -> int:
    """The base seed every shard of a run takes when none is given: from the run id alone."""
    digest = hashlib.sha256(f"testlog-sharded-run\0{run_id}".encode()).digest()
    return int.from_bytes(digest[:SEED_BITS // 8], "big")


def trailer_value(index: int, count: int) -> str:
    return f"{index}/{count}"


def parse_trailer(run_id: str | None, shard: str | None) -> ShardSpec | None:
    """The shard a commit's trailers name; None when they name none or are malformed (a
    hand-edited commit is then read as an ordinary run)."""
    if not run_id or not shard:
        return None
    try:
        index, count = parse_shard(shard)
        return ShardSpec(index, count, check_run_id(run_id, "a trailer"))
    except ValueError:
        return None


def commit_conflict(new: ShardSpec, recorded: Sequence[tuple[ShardSpec, str]]) -> str | None:
    """Why shard `new` may not be committed beside the shards of its run already recorded
    ((spec, a name for the commit) each); None when it may."""
    for spec, where in recorded:
        if spec.run_id != new.run_id:
            continue
        if spec.index == new.index:
            return (f"shard {new.label} of run {new.run_id} is already recorded ({where}): "
                    "give this run its own --testlog-run-id")
        if spec.count != new.count:
            return (f"run {new.run_id} was recorded in {spec.count} shards ({where}), this "
                    f"shard says {new.count}: give this run its own --testlog-run-id")
    return None


# -- the shards of one run, read as one ------------------------------------------------------

# What the shards of one run must share to be replayed as one (run block key, in words).
MUST_AGREE = (("suite", "suite"), ("base_seed", "base seed"), ("reseed", "reseeding"),
              ("pythonhashseed", "PYTHONHASHSEED"), ("rootdir", "rootdir"))
SOURCE_MUST_AGREE = (("commit", "source commit"), ("tree", "source tree"),
                     ("dirty", "dirty flag"))


def disagreements(runs: Sequence[tuple[int, Mapping[str, Any]]]) -> list[str]:
    """What the shards' run blocks ((index, run) each) do not agree on, one phrase each."""
    if len(runs) < 2:
        return []
    out = []
    first_index, first = runs[0]

    def value(run: Mapping[str, Any], key: str, nested: bool) -> Any:
        if not nested:
            return run_suite(str(run.get(key))) if key == "suite" else run.get(key)
        source = run.get("source")
        return source.get(key) if isinstance(source, dict) else None
    for keys, nested in ((MUST_AGREE, False), (SOURCE_MUST_AGREE, True)):
        for key, words in keys:
            for index, run in runs[1:]:
                if value(run, key, nested) != value(first, key, nested):
                    out.append(f"{words} (shard {first_index}: {value(first, key, nested)!r}, "
                               f"shard {index}: {value(run, key, nested)!r})")
                    break
    return out


def combined_totals(totals: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's totals from its shards': every count summed, but `deselected`, which each
    shard counts with the tests it left to the others, is what the user's own selection
    (-k, -m, --deselect) deselected (exact without xdist, whose controller counts none)."""
    out: dict[str, Any] = {}
    keys = [*COUNT_KEYS, "tests", "flaky", "selected", "not_run", "collection_errors"]
    for key in keys:
        out[key] = sum(int(t.get(key) or 0) for t in totals)
    statuses: dict[str, int] = {}
    for t in totals:
        for status, n in (t.get("statuses") or {}).items():
            statuses[str(status)] = statuses.get(str(status), 0) + int(n or 0)
    out["statuses"] = statuses
    n, tests = len(totals), out["selected"]
    user = (out["deselected"] - (n - 1) * tests) // n if n else 0
    out["deselected"] = max(0, user)
    return out


_SEVERITY = {PASS: 0, FAIL: 1, INTERRUPTED: 2, ERROR: 3}


def combined_verdict(verdicts: Sequence[str], missing: Sequence[int]) -> str:
    """The run's verdict: its worst shard's (ERROR, INTERRUPTED, FAIL, PASS); INCOMPLETE while
    shards are missing."""
    if missing:
        return "INCOMPLETE"
    return max(verdicts, key=lambda v: _SEVERITY.get(v, 3), default=PASS)


def missing_text(run_id: str, count: int, missing: Sequence[int]) -> str:
    """`run X: 2 of 3 shards; missing 3/3 (not recorded here, or not fetched yet)`."""
    shown = ", ".join(f"{k}/{count}" for k in missing)
    return (f"run {run_id}: {count - len(missing)} of {count} shards; missing {shown} (not "
            "recorded here, or not fetched yet: `git testlog fetch`)")
