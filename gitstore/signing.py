"""The one module that talks to gpg (through python-gnupg): detached signatures over commit bytes."""
from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile

import gnupg

from gitstore.errors import GitStoreError
from gitstore.sigstatus import BAD, GOOD, UNKNOWN_KEY


def _gpg(program: str | None) -> gnupg.GPG:
    binary = program or "gpg"
    found = shutil.which(binary)
    if found is None:
        raise GitStoreError(f"gpg program {binary!r} not found (install gnupg, or set gpg.program)")
    try:
        # GNUPGHOME is honoured by gpg itself; passing None keeps the caller's environment.
        return _gpg_for(found, os.environ.get("GNUPGHOME"))
    except (OSError, ValueError) as exc:
        raise GitStoreError(f"cannot run gpg program {binary!r}: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _gpg_for(binary: str, home: str | None) -> gnupg.GPG:
    # Constructing one runs `gpg --version`: once per program and keyring, not per signature.
    return gnupg.GPG(gpgbinary=binary, gnupghome=home)


class Signer:
    """Signs with one secret key; `fingerprint` is the full fingerprint of that key."""

    def __init__(self, key: str, program: str | None = None) -> None:
        self.gpg = _gpg(program)
        self.key = key
        self.fingerprint = self._secret_fingerprint(key)

    def _secret_fingerprint(self, key: str) -> str:
        wanted = key.upper().removeprefix("0X").removesuffix("!")
        by_id = len(wanted) >= 8 and all(c in "0123456789ABCDEF" for c in wanted)
        for k in self.gpg.list_keys(secret=True):
            ids = [k["fingerprint"], k["keyid"], *(s[0] for s in k.get("subkeys", []))]
            ids += [s[2] for s in k.get("subkeys", []) if len(s) > 2 and s[2]]
            if by_id and any(i.upper().endswith(wanted) for i in ids):
                return k["fingerprint"]
            if not by_id and any(key.lower() in u.lower() for u in k["uids"]):
                return k["fingerprint"]
        raise GitStoreError(
            f"no secret key {key!r} in the gpg keyring (check GNUPGHOME, or pass another key)")

    def sign(self, payload: bytes) -> bytes:
        """An ASCII-armored detached signature, without the trailing newline (git's layout)."""
        # A subkey forced with `!` is passed as given; otherwise gpg picks the signing subkey.
        keyid = self.key if self.key.endswith("!") else self.fingerprint
        sig = self.gpg.sign(payload, keyid=keyid, detach=True, extra_args=pinentry_args(self.gpg))
        if not sig.data or sig.status != "signature created":
            raise GitStoreError(
                f"gpg could not sign with key {self.key!r} ({gpg_failure(sig.stderr)}): a key "
                "with a passphrase needs it cached in gpg-agent when no terminal can prompt")
        return bytes(sig.data).rstrip(b"\n")


def pinentry_args(gpg: gnupg.GPG) -> list[str]:
    """gpg options so that a passphrase prompt can never block a run nobody watches.

    Only a foreground process on a terminal may ask (on that terminal); anything else (CI,
    hooks, background jobs, pipes) gets gpg's immediate `No pinentry` failure instead.
    """
    if getattr(gpg, "version", None) and gpg.version < (2, 1):
        return []            # gpg 1 never prompts under --batch, which python-gnupg passes
    tty = foreground_tty()
    return ["--pinentry-mode", "ask", "--ttyname", tty] if tty else ["--pinentry-mode", "error"]


def foreground_tty() -> str | None:
    """The terminal on stdin when this process is in its foreground, else None."""
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return None
        return os.ttyname(fd)
    except (AttributeError, ValueError, OSError):
        return None


def gpg_failure(stderr: str) -> str:
    """gpg's own reason, from its last `gpg: ` line."""
    reasons = [line[5:] for line in (stderr or "").splitlines() if line.startswith("gpg: ")]
    return reasons[-1] if reasons else "no signature"


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
