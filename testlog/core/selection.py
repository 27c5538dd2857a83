"""Partial runs are named apart: the suite of a run that selected its tests with -k, -m, node
ids, --lf, --sw or --deselect carries the selection (`tests~k-3f2a`), so its files never
replace those of the suite's full run at the tip of the log branch. Pure.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from testlog.core.canonical import canonical_json, sha256_hex

SEPARATOR = "~"          # suite~selection: `~` never appears in a derived suite name
DIGEST_CHARS = 4


@dataclass(frozen=True)
class Selection:
    """How a run chose some of its suite's tests (pytest's options as the session saw them)."""
    keyword: str = ""                    # -k EXPR
    markexpr: str = ""                   # -m EXPR
    nodeids: tuple[str, ...] = ()        # arguments naming tests (`path::name`)
    last_failed: bool = False            # --lf
    stepwise: bool = False               # --sw / --stepwise-skip
    deselect: tuple[str, ...] = ()       # --deselect

    def kinds(self) -> list[str]:
        found = [("k", bool(self.keyword)), ("m", bool(self.markexpr)), ("id", bool(self.nodeids)),
                 ("lf", self.last_failed), ("sw", self.stepwise), ("desel", bool(self.deselect))]
        return [kind for kind, present in found if present]

    def as_dict(self) -> dict[str, object]:
        return {"keyword": self.keyword or None, "markexpr": self.markexpr or None,
                "nodeids": list(self.nodeids), "last_failed": self.last_failed,
                "stepwise": self.stepwise, "deselect": list(self.deselect)}

    def text(self) -> str:
        """The selection as options: `-k 'a and not b' -m slow --lf`."""
        words: list[str] = []
        if self.keyword:
            words += ["-k", self.keyword]
        if self.markexpr:
            words += ["-m", self.markexpr]
        words += list(self.nodeids)
        if self.last_failed:
            words.append("--lf")
        if self.stepwise:
            words.append("--sw")
        for nodeid in self.deselect:
            words += ["--deselect", nodeid]
        return " ".join(shlex.quote(w) for w in words)

    def suffix(self) -> str:
        """`k-3f2a`: the kinds of selection, and a digest of what was selected."""
        digest = sha256_hex(canonical_json(self.as_dict()))[:DIGEST_CHARS]
        return f"{'+'.join(self.kinds())}-{digest}"


def selection_of(*, keyword: str | None, markexpr: str | None, args: list[str],
                 last_failed: bool, stepwise: bool, deselect: list[str] | None) -> Selection | None:
    """The run's selection, or None for a run of whole files and directories."""
    selection = Selection(keyword=(keyword or "").strip(), markexpr=(markexpr or "").strip(),
                          nodeids=tuple(a for a in args if "::" in a),
                          last_failed=bool(last_failed), stepwise=bool(stepwise),
                          deselect=tuple(deselect or ()))
    return selection if selection.kinds() else None


def partial_suite(suite: str, selection: Selection | None) -> str:
    """`tests` -> `tests~k-3f2a` for a selected run; the suite itself for a full one."""
    return suite if selection is None else f"{suite}{SEPARATOR}{selection.suffix()}"


def base_suite(suite: str) -> str:
    """The suite a partial run selected from (`tests~k-3f2a` -> `tests`)."""
    return suite.split(SEPARATOR, 1)[0]
