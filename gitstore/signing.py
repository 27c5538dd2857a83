"""The one module that talks to gpg (through python-gnupg): detached signatures over commit bytes."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

import gnupg

from gitstore.errors import GitStoreError

GOOD, BAD, UNKNOWN_KEY, UNSIGNED, SIGNED = "good", "bad", "unknown-key", "unsigned", "signed"


def _gpg(program: str | None) -> gnupg.GPG:
    binary = program or "gpg"
    if shutil.which(binary) is None:
        raise GitStoreError(f"gpg program {binary!r} not found (install gnupg, or set gpg.program)")
    try:
        # GNUPGHOME is honoured by gpg itself; passing None keeps the caller's environment.
        return gnupg.GPG(gpgbinary=binary, gnupghome=os.environ.get("GNUPGHOME"))
    except (OSError, ValueError) as exc:
        raise GitStoreError(f"cannot run gpg program {binary!r}: {exc}") from exc


class Signer:
    """Signs with one secret key; `fingerprint` is the full fingerprint of that key."""

    def __init__(self, key: str, program: str | None = None) -> None:
        self.gpg = _gpg(program)
        self.key = key
        self.fingerprint = self._secret_fingerprint(key)

    def _secret_fingerprint(self, key: str) -> str:
        wanted = key.upper().removeprefix("0X")
        for k in self.gpg.list_keys(secret=True):
            ids = [k["fingerprint"], k["keyid"], *(s[0] for s in k.get("subkeys", []))]
            if any(i.upper().endswith(wanted) for i in ids) or any(key in u for u in k["uids"]):
                return k["fingerprint"]
        raise GitStoreError(
            f"no secret key {key!r} in the gpg keyring (check GNUPGHOME, or pass another key)")

    def sign(self, payload: bytes) -> bytes:
        """An ASCII-armored detached signature, without the trailing newline (git's layout)."""
        # Without a terminal a pinentry prompt would hang: fail instead of asking.
        mode = "ask" if sys.stdin is not None and sys.stdin.isatty() else "error"
        sig = self.gpg.sign(payload, keyid=self.fingerprint, detach=True,
                            extra_args=["--pinentry-mode", mode])
        if not sig.data or sig.status != "signature created":
            raise GitStoreError(
                f"gpg could not sign with key {self.key!r} ({sig.status or 'no signature'}): "
                "a key with a passphrase needs its passphrase cached in gpg-agent")
        return bytes(sig.data).rstrip(b"\n")


def verify(payload: bytes, signature: bytes, program: str | None = None) -> tuple[str, str | None]:
    """(status, signer fingerprint) of a detached signature, checked against the keyring."""
    gpg = _gpg(program)
    with tempfile.NamedTemporaryFile(suffix=".asc") as sig_file:
        sig_file.write(signature + b"\n")
        sig_file.flush()
        result = gpg.verify_data(sig_file.name, payload)
    if result.valid:
        return GOOD, result.pubkey_fingerprint or result.fingerprint
    if result.status == "no public key":
        return UNKNOWN_KEY, None
    return BAD, None


def export_public_keys(fingerprints: list[str], program: str | None = None) -> bytes:
    """The armored public keys of `fingerprints` from the keyring (key material, not trust)."""
    gpg = _gpg(program)
    known = {k["fingerprint"].upper() for k in gpg.list_keys()}
    for fpr in fingerprints:
        if fpr.upper() not in known:
            raise GitStoreError(f"key {fpr} is not in the gpg keyring (import it with "
                                "`gpg --import`, or name an armored key file instead)")
    exported = gpg.export_keys(fingerprints)
    if not exported:
        raise GitStoreError(f"gpg exported nothing for {', '.join(fingerprints)}")
    return exported.encode() if isinstance(exported, str) else exported
