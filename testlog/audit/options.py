"""What the audit commands share: dates, day counts and the archive directory."""
from __future__ import annotations

import os
from datetime import date, datetime, timezone

from testlog.config import Setting
from testlog.core.timefmt import UTC_SECONDS
from testlog.errors import UsageError
from testlog.store.state import ARCHIVE, state_path


def whole_days(setting: Setting, name: str) -> int:
    try:
        days = int(setting.value)
    except (TypeError, ValueError):
        days = -1
    if days < 0:
        raise UsageError(f"{name} ({setting.source}) must be a whole number of days, "
                           f"not {setting.value!r}")
    return days


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"invalid date {text!r}: use YYYY-MM-DD") from None


def parse_moment(text: str | None) -> datetime:
    """Now, or a date / UTC time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ), timezone-aware."""
    if text is None:
        return datetime.now(timezone.utc)
    for fmt in (UTC_SECONDS, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise UsageError(f"invalid time {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")


def archive_dir(values: dict[str, Setting], root: str, common_dir: str) -> str:
    """Where retention bundles go: config/CLI `archive_dir`, else <git dir>/testlog/archive."""
    chosen = values["archive_dir"].value
    if not chosen:
        return state_path(common_dir, ARCHIVE)
    return str(chosen) if os.path.isabs(str(chosen)) else os.path.join(root, str(chosen))


def check_archive_dir(path: str) -> None:
    """A directory retention can write its bundle to (or create): checked before prune writes
    anything, so that a bad one never leaves a rotation committed and the archive undone."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise UsageError(f"archive directory {path}: {probe} is not a directory (pass "
                         "--archive-dir DIR, or set archive_dir)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"archive directory {path}: {probe} is not writable (pass "
                         "--archive-dir DIR, or set archive_dir)")
