"""A seal's bytes: a deterministic zip and `sha256sum` manifests (pure: bytes in, bytes out)."""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping

from testlog.core.canonical import sha256_hex

# The earliest time a zip can hold: entries carry no trace of when or where they were sealed.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_ATTR = (0o100644 & 0xFFFF) << 16
INNER_MANIFEST = "manifest.sha256"
MAX_UNZIPPED = 4 * 1024 * 1024 * 1024     # a seal is read whole: refuse a zip bomb first
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def deterministic_zip(files: Mapping[str, bytes]) -> bytes:
    """The same files always give the same bytes: sorted names, fixed time, mode and system."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3          # unix, so the mode bits below are honoured
            info.external_attr = FILE_ATTR
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def sha256sum_manifest(files: Mapping[str, bytes]) -> bytes:
    """`sha256sum` output for `files` (text mode, two spaces), sorted by name."""
    return "".join(f"{sha256_hex(files[name])}  {name}\n" for name in sorted(files)).encode()


def parse_manifest(data: bytes) -> dict[str, str]:
    """{name: sha256 hex} of a sha256sum manifest; ValueError naming a malformed line."""
    entries = {}
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        match = _MANIFEST_LINE.match(line)
        if not match:
            raise ValueError(f"manifest line {number} is not `<sha256>  <name>`")
        entries[match.group(2)] = match.group(1)
    return entries


def zip_members(data: bytes) -> dict[str, bytes]:
    """Every member of a zip, CRCs checked; ValueError when the zip is damaged."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
                raise ValueError(f"it would unpack to more than {MAX_UNZIPPED} bytes")
            bad = archive.testzip()
            members = {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"not a readable zip ({exc})") from None
    if bad is not None:
        raise ValueError(f"zip member {bad} is damaged (CRC mismatch)")
    return members


def seal_contents_problems(data: bytes) -> list[str]:
    """A seal zip must open and match the manifest.sha256 it carries, member for member."""
    try:
        members = zip_members(data)
        listed = parse_manifest(members.get(INNER_MANIFEST, b""))
    except ValueError as exc:
        return [str(exc)]
    if INNER_MANIFEST not in members:
        return [f"zip has no {INNER_MANIFEST}"]
    actual = {n: sha256_hex(b) for n, b in members.items() if n != INNER_MANIFEST}
    problems = [f"zip member {n} does not match {INNER_MANIFEST}"
                for n in sorted(actual) if listed.get(n) not in (None, actual[n])]
    problems += [f"zip member {n} is not listed in {INNER_MANIFEST}" for n in sorted(set(actual) - set(listed))]
    problems += [f"{INNER_MANIFEST} lists {n}, which the zip lacks" for n in sorted(set(listed) - set(actual))]
    return problems
