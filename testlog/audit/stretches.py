"""A long chain checked on every core: its commits cut into stretches of STRETCH commits, each
checked by `check_range` in a process of its own as if the commit before it were a verified
base (its parent and its event are read from that commit, which the stretch before checks).
What each finds is added to the chain's report in the order of the chain, so the report is
the one a single process would write, on any number of cores.

The cut depends only on the number of commits. A chain of the first format is not cut: its
chronicle.ndjson is walked from its first commit to its tip.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from gitstore import ObjectStream, SignatureCheck

from testlog.audit import checks
from testlog.audit import report as rp
from testlog.audit.commitchecks import Chain, Event, Policy, check_range, event_of
from testlog.parallel import ordered_results

STRETCH = 500           # commits: ~0.4 s of work, against ~10 ms to start a stretch


def cuts(count: int) -> list[tuple[int, int]]:
    """[start, end) of each stretch of `count` commits: one below two stretches' worth."""
    if count < 2 * STRETCH:
        return [(0, count)]
    bounds = list(range(0, count, STRETCH))
    if count - bounds[-1] < STRETCH // 2:        # no short stretch at the end
        bounds.pop()
    return [(start, end) for start, end in zip(bounds, [*bounds[1:], count])]


@dataclass
class StretchResult:
    report: rp.Report
    checked: dict[str, tuple[int, list[str]]]        # run-file blobs: (records, problems)
    epochs: list[Event]
    epoch_sigs: dict[str, SignatureCheck]

    def add_to(self, chain: Chain, report: rp.Report) -> None:
        report.add(self.report)
        chain.checked.update(self.checked)
        chain.epochs += self.epochs
        chain.sigs.update(self.epoch_sigs)


def check_stretch(chain: Chain, policy: Policy, shas: Sequence[str], bounds: tuple[int, int],
                  shallow: frozenset[str]) -> StretchResult:
    """Check shas[start:end] with a stream of its own (it may run in a forked process)."""
    start, end = bounds
    report = rp.Report(chain.ref, chain.tip, "")
    with ObjectStream(chain.cwd) as stream:
        own = Chain(chain.store, chain.ref, chain.tip, chain.base, chain.state, stream, [],
                    checks.ChronicleWalk({0: 0}))
        previous = shas[start - 1] if start else chain.base
        own.previous_event = event_of(own, shas[start - 1]) if start else chain.previous_event
        check_range(own, policy, shas[start:end], previous, shallow, report)
    return StretchResult(report, own.checked, own.epochs,
                         {e.entry.sha: own.sigs[e.entry.sha] for e in own.epochs})


@contextmanager
def stretch_results(chain: Chain, policy: Policy, shas: Sequence[str],
                    shallow: frozenset[str]) -> Iterator[Iterator[StretchResult]]:
    """The results of the chain's stretches in order, being computed (on other cores where
    there are) while the caller does other work."""
    bounds = cuts(len(shas))
    with ordered_results(lambda i: check_stretch(chain, policy, shas, bounds[i], shallow),
                         len(bounds)) as results:
        yield results
