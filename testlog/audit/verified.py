"""The last verified tip of a log branch, kept under `<common dir>/testlog/verified/`.

It is what rollback and fork detection compare against, and where `--since` may start: a tip
verified under the same trust (or a narrower one) vouches for its whole ancestry, because
each signature covers the parent ids.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from urllib.parse import quote

from testlog.core import schema
from testlog.store.state import VERIFIED, state_path


@dataclass(frozen=True)
class VerifiedState:
    tip: str
    trusted: tuple[str, ...]        # fingerprints the tip was verified against
    require_signed: bool
    chronicle_lines: int            # the tip's chronicle: line count and SHA-256
    chronicle_sha256: str
    verified_at: str

    def vouches_for(self, trusted: frozenset[str], require_signed: bool) -> bool:
        """Still valid under this policy: no key it relied on dropped, no stricter signing rule."""
        return not self.weaker_than(trusted, require_signed)

    def weaker_than(self, trusted: frozenset[str], require_signed: bool) -> str | None:
        """How the policy this tip was verified under is weaker than the given one (it
        trusted keys this one does not, or allowed unsigned commits); None when it is not."""
        dropped = sorted(set(self.trusted) - trusted)
        if dropped:
            return (f"trusted {len(dropped)} key(s) not trusted now "
                    f"({', '.join(f[:16] for f in dropped)})")
        if require_signed and not self.require_signed:
            return "allowed unsigned commits" if self.trusted else \
                "had no trusted keys (signatures were not checked)"
        return None


def verified_path(common_dir: str, ref: str) -> str:
    return state_path(common_dir, VERIFIED, quote(ref, safe="") + ".json")


def load_state(common_dir: str, ref: str) -> VerifiedState | None:
    try:
        with open(verified_path(common_dir, ref), encoding="utf-8") as handle:
            data = json.load(handle)
        if data.pop("version", None) != schema.VERIFIED_STATE:
            return None
        data["trusted"] = tuple(data["trusted"])
        return VerifiedState(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None     # no state, or one we cannot read: verify as if never verified


def save_state(common_dir: str, ref: str, state: VerifiedState) -> None:
    path = verified_path(common_dir, ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump({"version": schema.VERIFIED_STATE, **asdict(state)}, handle, sort_keys=True, indent=1)
    os.replace(partial, path)
