"""Whether one seal holds together: zip, manifest and detached signature (pure)."""
from __future__ import annotations

import os

from gitstore import BAD, SignatureCheck

from testlog.audit.bundlefile import parse_manifest, seal_contents_problems
from testlog.core.canonical import sha256_hex

SEAL_FILES = {"zip": "the sealed zip", "sig": "the seal's detached signature",
              "manifest": "the seal's sha256sum manifest"}


def seal_problems(zip_path: str, zip_: bytes | None, manifest: bytes | None, has_sig: bool,
                  sig_check: SignatureCheck | None) -> list[tuple[str, str]]:
    """(which file: zip|sig|manifest, problem) for one seal; a missing file is a problem."""
    missing = [(k, f"{SEAL_FILES[k]} is missing") for k, present in
               (("zip", zip_ is not None), ("sig", has_sig), ("manifest", manifest is not None))
               if not present]
    if zip_ is None:
        return missing
    problems = missing + [("zip", p) for p in seal_contents_problems(zip_)]
    if manifest is not None:
        problems += manifest_problems(zip_path, zip_, manifest)
    if sig_check is not None:
        problems += signature_problems(sig_check)
    return problems


def manifest_problems(zip_path: str, zip_: bytes, manifest: bytes) -> list[tuple[str, str]]:
    name = os.path.basename(zip_path)
    try:
        listed = parse_manifest(manifest)
    except ValueError as exc:
        return [("manifest", str(exc))]
    if name not in listed:
        return [("manifest", f"does not list {name}")]
    if listed[name] != sha256_hex(zip_):
        return [("zip", "does not match its manifest (edited after sealing)")]
    return []


def signature_problems(check: SignatureCheck) -> list[tuple[str, str]]:
    if check.ok:
        return []
    if check.status == BAD:
        return [("zip", "does not match its detached signature (changed after sealing, or the "
                        "signature is damaged)")]
    signer = check.fingerprint or "an unnamed key"
    return [("sig", f"detached signature of the zip: signed by {signer}, which is not a "
                    "trusted key")]
