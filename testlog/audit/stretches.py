"""A long chain checked on every core: its commits cut into stretches of STRETCH commits, each
checked in a process of its own: the trees its commits change (gitstore.tree_changes: unsafe
names, and the blob id of each file changed, so that artifacts are read by id), then
`check_range` as if the commit before it were a verified base (its parent and its event are
read from that commit, which the stretch before checks).
What each finds is added to the chain's report in the order of the chain, so the report is
the one a single process would write, on any number of cores.

The cut depends only on the number of commits. A chain of the first format is not cut: its
chronicle.ndjson is walked from its first commit to its tip.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitstore import ObjectStream, SignatureCheck, TreeProblem, tree_changes

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
    unsafe: list[TreeProblem]                        # in the trees its commits changed

    def add_to(self, chain: Chain, report: rp.Report) -> None:
        report.add(self.report)
        chain.checked.update(self.checked)
        chain.epochs += self.epochs
        chain.sigs.update(self.epoch_sigs)


def check_stretch(chain: Chain, policy: Policy, commits: Sequence[tuple[str, str | None]],
                  bounds: tuple[int, int], shallow: frozenset[str]) -> StretchResult:
    """Check commits[start:end] ((commit, first parent)) with streams of its own (it may run
    in a forked process): first the trees they change (git diff-tree), then each commit."""
    start, end = bounds
    part = commits[start:end]
    changes = tree_changes(chain.cwd, part)
    report = rp.Report(chain.ref, chain.tip, "")
    with ObjectStream(chain.cwd) as stream:
        own = Chain(chain.store, chain.ref, chain.tip, chain.base, chain.state, stream, [],
                    checks.ChronicleWalk({0: 0}))
        previous = commits[start - 1][0] if start else chain.base
        own.previous_event = event_of(own, commits[start - 1][0]) if start else \
            chain.previous_event
        check_range(own, policy, [sha for sha, _ in part], previous, shallow, report,
                    changes.files)
    return StretchResult(report, own.checked, own.epochs,
                         {e.entry.sha: own.sigs[e.entry.sha] for e in own.epochs},
                         changes.problems)


def check_in_stretches(chain: Chain, policy: Policy, commits: Sequence[tuple[str, str | None]],
                       shallow: frozenset[str]) -> list[StretchResult]:
    """The results of the chain's stretches, in order (computed on every core)."""
    bounds = cuts(len(commits))
    with ordered_results(lambda i: check_stretch(chain, policy, commits, bounds[i], shallow),
                         len(bounds)) as results:
        return list(results)
