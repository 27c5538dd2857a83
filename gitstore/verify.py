"""Detached signatures checked against an explicit allowlist: OpenPGP in-process (pysequoia),
SSH signatures against an allowed-signers file (with ssh-keygen, as git does).

A gpg process per signature costs 5-9 ms; pysequoia verifies in 0.2-0.5 ms (RSA), and the
signatures of a key it already accepted take OpenSSL's shortcut in about 0.04 ms (quicksig.py):
that is what makes checking every commit of a long branch affordable. Trust is the allowlist alone: a key
that merely sits in a keyring is not trusted. Signing stays with gpg (gitstore.signing) and
ssh-keygen (gitstore.sshsigning).
"""
from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pysequoia

from gitstore.errors import GitStoreError
from gitstore.quicksig import QuickSignatures
from gitstore.sigstatus import BAD, GOOD, UNSIGNED, UNTRUSTED
from gitstore.sshsigning import AllowedSigners, is_ssh_signature, key_fingerprint, parse_signature


@dataclass(frozen=True)
class SignatureCheck:
    status: str                 # GOOD, BAD, UNTRUSTED or UNSIGNED
    fingerprint: str | None     # GOOD: the trusted primary key; otherwise the issuer, if named
    scheme: str = "gpg"         # "gpg" (OpenPGP) or "ssh" (its fingerprint is SHA256:…)

    @property
    def ok(self) -> bool:
        return self.status == GOOD

    @property
    def label(self) -> str:
        """Who signed, as a signer's `label` names it: `gpg:<fingerprint>`, `ssh:SHA256:…`."""
        return f"{self.scheme}:{self.fingerprint}"


def _first_line(exc: Exception) -> str:
    # pysequoia appends a Rust backtrace when RUST_BACKTRACE is set.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


_ARMOR = re.compile(rb"-----BEGIN PGP SIGNATURE-----\n\n([A-Za-z0-9+/=\n]*?)\n"
                    rb"(?:=[A-Za-z0-9+/]{4}\n)?-----END PGP SIGNATURE-----\n?")


def dearmored(signature: bytes) -> bytes | None:
    """The binary packets of a signature in the plain armor gpg and sequoia write (no armor
    headers); None for any other form, which pysequoia's own parser then reads.
    Decoding base64 here costs a tenth of what the armor parser does per commit; what is
    decoded is checked exactly as the armored form would be (the armor is transport only)."""
    found = _ARMOR.fullmatch(signature)
    if found is None:
        return None
    try:
        return binascii.a2b_base64(found.group(1).replace(b"\n", b""))
    except binascii.Error:
        return None


class TrustedCerts:
    """The certificates whose signatures count as trusted, by primary fingerprint."""

    def __init__(self, certs: Iterable[pysequoia.Cert],
                 allowed_signers: AllowedSigners | None = None) -> None:
        self._certs = list(certs)
        self.allowed_signers = allowed_signers
        self.fingerprints = frozenset(c.fingerprint.upper() for c in self._certs) | \
            (allowed_signers.fingerprints if allowed_signers else frozenset())
        self._quick: QuickSignatures | None = None

    def _shortcut(self) -> QuickSignatures:
        # Made on first use: a verify in forked workers builds it once per worker.
        if self._quick is None:
            self._quick = QuickSignatures([bytes(c) for c in self._certs])
        return self._quick

    @classmethod
    def from_allowed_signers(cls, path: str, data: bytes, program: str | None = None,
                             source: str = "key data") -> TrustedCerts:
        """The SSH keys of an allowed-signers file (`principal [options] ssh-… AAAA…`)."""
        allowed = AllowedSigners.from_file(path, data, program)
        if allowed is None:
            raise GitStoreError(f"{source} is not an allowed-signers file")
        return cls([], allowed)

    @classmethod
    def from_armored(cls, data: bytes, source: str = "key data",
                     only: Iterable[str] | None = None) -> TrustedCerts:
        """The public keys in an armored (or binary) key file, or just those in `only`."""
        try:
            certs = pysequoia.Cert.split_bytes(data)
        except RuntimeError as exc:
            raise GitStoreError(f"{source} holds no readable OpenPGP public key "
                                f"({_first_line(exc)})") from None
        if only is not None:
            wanted = {f.upper() for f in only}
            certs = [c for c in certs if c.fingerprint.upper() in wanted]
        if not certs:
            raise GitStoreError(f"{source} holds no OpenPGP public key")
        return cls(certs)

    def _issuer_is_trusted(self, issuer: str | None) -> bool:
        return issuer is not None and any(f.endswith(issuer) for f in self.fingerprints)

    def check(self, payload: bytes, signature: bytes) -> SignatureCheck:
        """GOOD only for a valid signature over `payload` by one of the trusted keys."""
        if not signature:
            return SignatureCheck(UNSIGNED, None)
        if is_ssh_signature(signature):
            return self._check_ssh(payload, signature)
        binary = dearmored(signature)
        if binary is not None:
            primary = self._shortcut().good(payload, binary)
            if primary is not None and primary in self.fingerprints:
                return SignatureCheck(GOOD, primary)
        try:
            sig = pysequoia.Sig.from_bytes(binary or signature)
        except RuntimeError:
            return SignatureCheck(BAD, None)
        issuer = (sig.issuer_fingerprint or sig.issuer_key_id or "").upper() or None
        try:
            result = pysequoia.verify(bytes=payload, store=lambda _ids: self._certs, signature=sig)
        except RuntimeError:
            return SignatureCheck(BAD if self._issuer_is_trusted(issuer) else UNTRUSTED, issuer)
        for valid in result.valid_sigs:
            if valid.certificate.upper() in self.fingerprints:
                if binary is not None:
                    self._shortcut().learn(payload, binary, valid.certificate)
                return SignatureCheck(GOOD, valid.certificate.upper())
        return SignatureCheck(UNTRUSTED, issuer)

    def _check_ssh(self, payload: bytes, signature: bytes) -> SignatureCheck:
        if self.allowed_signers is None:
            parsed = parse_signature(signature)
            return SignatureCheck(UNTRUSTED if parsed else BAD,
                                  key_fingerprint(parsed.public_key) if parsed else None, "ssh")
        status, fingerprint = self.allowed_signers.check(payload, signature)
        return SignatureCheck(status, fingerprint, "ssh")
