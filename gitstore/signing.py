"""The one module that talks to gpg: the exact key to sign with, detached signatures over
commit bytes checked against that key before anything uses them, and a time limit on every
gpg call.

gpg's own choice of key is not relied upon: asked for a key by `--default-key`, it signs with
another key of the keyring when the named one has expired or is revoked, and a `gpg.program`
wrapper may print anything. So the key is picked here (the named (sub)key, or the newest
usable signing key of the named certificate), forced with `--local-user <fingerprint>!`, and
each signature is verified against that key's public certificate before it is returned.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gitstore.errors import GitStoreError
from gitstore.signer import DEFAULT_SIGN_TIMEOUT
from gitstore.sigstatus import BAD, GOOD, UNKNOWN_KEY
from gitstore.timedrun import Finished, TimedOut, run_timed

# gpg's validity letters (colon listings) that make a key unusable, and what they mean.
UNUSABLE = {"e": "has expired", "r": "is revoked", "i": "is invalid", "d": "is disabled"}
_HEX = re.compile(r"[0-9A-F]+")


class Gpg:
    """One gpg program (git's gpg.program, else `gpg`); every call ends within `timeout` s."""

    def __init__(self, program: str | None = None, timeout: float = DEFAULT_SIGN_TIMEOUT) -> None:
        self.name = program or "gpg"
        found = shutil.which(self.name)
        if found is None:
            raise GitStoreError(f"gpg program {self.name!r} not found (install gnupg, or set "
                                "gpg.program)")
        self.binary, self.timeout = found, timeout

    def run(self, args: list[str], input: bytes | None = None, doing: str = "") -> Finished:
        try:
            return run_timed([self.binary, "--batch", "--no-tty", *args], input=input,
                             timeout=self.timeout)
        except TimedOut:
            raise GitStoreError(
                f"gpg ({self.name}) gave no answer{' ' + doing if doing else ''} within "
                f"{self.timeout:g}s and was stopped (a hung gpg-agent or pinentry, or a slow "
                "smartcard; raise the signing timeout if it needs longer)") from None
        except OSError as exc:
            raise GitStoreError(f"cannot run gpg program {self.name!r}: "
                                f"{exc.strerror or exc}") from None

    @property
    def version(self) -> tuple[int, ...]:
        return _version(self.binary, self.timeout)


@functools.lru_cache(maxsize=8)
def _version(binary: str, timeout: float) -> tuple[int, ...]:
    """(major, minor) of a gpg binary; (2, 1) when it does not say (a wrapper, say)."""
    try:
        first = run_timed([binary, "--version"], timeout=timeout).stdout.split(b"\n", 1)[0]
    except (OSError, TimedOut):
        return (2, 1)
    found = re.search(rb"(\d+)\.(\d+)", first)
    return (int(found.group(1)), int(found.group(2))) if found else (2, 1)


# -- which key ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SecretKey:
    """A primary key or subkey from `gpg --list-secret-keys --with-colons`."""
    fingerprint: str
    keyid: str
    validity: str        # field 2: e expired, r revoked, i invalid, d disabled, ...
    capabilities: str    # field 12 (a primary's upper-case letters sum up its certificate)
    created: int
    expires: int | None
    secret: bool         # field 15: "#" is a stub (the secret part is elsewhere, or gone)

    @property
    def can_sign(self) -> bool:
        return "s" in self.capabilities

    def named_by(self, wanted: str) -> bool:
        return self.fingerprint.endswith(wanted) or self.keyid.endswith(wanted)


@dataclass
class Certificate:
    primary: SecretKey
    subkeys: list[SecretKey] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[SecretKey]:
        return [self.primary, *self.subkeys]


def _unescape(text: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def parse_secret_keys(listing: str) -> list[Certificate]:
    """Certificates with secret parts from a `--with-colons --fixed-list-mode` listing."""
    certs: list[Certificate] = []
    waiting: tuple[str, list[str]] | None = None     # a sec/ssb record until its fpr line
    for line in listing.splitlines():
        f = line.split(":")
        if f[0] in ("sec", "ssb") and len(f) > 14:
            waiting = (f[0], f)
        elif f[0] == "fpr" and waiting is not None and len(f) > 9:
            kind, k = waiting
            key = SecretKey(f[9].upper(), k[4].upper(), k[1], k[11], int(k[5] or 0),
                            int(k[6]) if k[6].isdigit() else None, k[14] != "#")
            if kind == "sec":
                certs.append(Certificate(key))
            elif certs:
                certs[-1].subkeys.append(key)
            waiting = None
        elif f[0] == "uid" and certs and len(f) > 9:
            certs[-1].uids.append(_unescape(f[9]))
    return certs


def _day(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return " on " + datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d")


def unusable_reason(cert: Certificate, key: SecretKey) -> str | None:
    """Why `key` of `cert` cannot make a signature now (to follow "gpg key X"), or None."""
    primary = cert.primary
    if primary.validity in UNUSABLE:
        return UNUSABLE[primary.validity] + (_day(primary.expires) if primary.validity == "e" else "")
    if "D" in primary.capabilities:
        return "is disabled"
    which = "its primary key" if key is primary else f"its subkey {key.fingerprint}"
    if key.validity in UNUSABLE:
        return f"cannot sign: {which} " + UNUSABLE[key.validity] + \
            (_day(key.expires) if key.validity == "e" else "")
    if not key.can_sign:
        return f"cannot sign: {which} has no signing capability"
    if not key.secret:
        return f"cannot sign: {which} has no secret part in this keyring"
    return None


def signing_key_of(cert: Certificate) -> tuple[SecretKey | None, str]:
    """The key gpg would sign with for this certificate: its newest usable signing subkey,
    else its primary key; (None, why) when there is none."""
    usable = [k for k in cert.subkeys if unusable_reason(cert, k) is None]
    if usable:
        return max(usable, key=lambda k: k.created), ""
    reason = unusable_reason(cert, cert.primary)
    if reason is None:
        return cert.primary, ""
    if cert.primary.validity in UNUSABLE or "D" in cert.primary.capabilities:
        return None, reason
    return None, "has no usable signing key here (no signing subkey with its secret part " \
                 "that has not expired or been revoked)"


def choose_key(certs: Iterable[Certificate], key: str) -> tuple[Certificate, SecretKey]:
    """(certificate, the exact (sub)key to sign with) for a key named as git users name it: a
    fingerprint or key id (`!` forces that very subkey), or text of a user id."""
    wanted = key.strip().upper().removeprefix("0X")
    exact = wanted.endswith("!")
    wanted = wanted.removesuffix("!")
    by_id = len(wanted) >= 8 and _HEX.fullmatch(wanted) is not None
    refusals = []
    for cert in certs:
        if by_id:
            named = [k for k in cert.keys if k.named_by(wanted)]
            if not named:
                continue
            chosen: SecretKey | None = named[0] if exact else None
            reason = unusable_reason(cert, named[0]) if exact else ""
            if not exact:
                chosen, reason = signing_key_of(cert)
        elif any(key.strip().lower() in uid.lower() for uid in cert.uids):
            chosen, reason = signing_key_of(cert)
        else:
            continue
        if chosen is not None and not reason:
            return cert, chosen
        refusals.append(f"gpg key {key!r} ({cert.primary.fingerprint}) {reason}")
    if refusals:
        raise GitStoreError(f"{refusals[0]}: renew it or pass another key (nothing was signed "
                            "with any other key)")
    raise GitStoreError(
        f"no secret key {key!r} in the gpg keyring (check GNUPGHOME, or pass another key)")


# -- signing ----------------------------------------------------------------------------------

class GpgSigner:
    """Signs with one exact OpenPGP key. `fingerprint` is its certificate's primary
    fingerprint (what verifiers name); `signing_fingerprint` the (sub)key that signs."""

    scheme = "gpg"

    def __init__(self, key: str, program: str | None = None,
                 timeout: float = DEFAULT_SIGN_TIMEOUT) -> None:
        self.gpg = Gpg(program, timeout)
        self.key = key
        listing = self.gpg.run(["--with-colons", "--fixed-list-mode", "--list-secret-keys"],
                               doing="listing the secret keys")
        if listing.returncode != 0:
            raise GitStoreError(f"cannot run gpg program {self.gpg.name!r}: "
                                f"{gpg_failure(listing.stderr.decode(errors='replace'))} (exit "
                                f"status {listing.returncode} listing the secret keys)")
        cert, signing = choose_key(parse_secret_keys(listing.stdout.decode(errors="replace")), key)
        self.fingerprint = cert.primary.fingerprint
        self.signing_fingerprint = signing.fingerprint
        self._certificate: Any = None

    @property
    def label(self) -> str:
        return f"gpg:{self.fingerprint}"

    def sign(self, payload: bytes) -> bytes:
        """An ASCII-armored detached signature by exactly this key, verified, without the
        trailing newline (git's layout)."""
        args = ["--status-fd", "2", "--armor", "--detach-sign",
                "--local-user", f"{self.signing_fingerprint}!", *pinentry_args(self.gpg)]
        proc = self.gpg.run(args, input=payload, doing="while signing")
        if proc.returncode != 0 or b"[GNUPG:] SIG_CREATED " not in proc.stderr \
                or not proc.stdout.strip():
            reason = gpg_failure(proc.stderr.decode(errors="replace"))
            hint = ": a key with a passphrase needs it cached in gpg-agent when no terminal " \
                   "can prompt" if re.search(r"pinentry|passphrase|cancel", reason, re.I) else ""
            raise GitStoreError(f"gpg could not sign with key {self.key!r} ({reason}){hint}")
        signature = proc.stdout.replace(b"\r\n", b"\n").rstrip(b"\n")
        problem = signature_problem(self.certificate(), self.signing_fingerprint, payload,
                                    signature)
        if problem:
            raise GitStoreError(f"gpg ({self.gpg.name}) returned a signature that {problem}: "
                                "it was not used")
        return signature

    def certificate(self) -> Any:
        """The public certificate of the key, read from the keyring once."""
        if self._certificate is None:
            import pysequoia  # in-process verification; loaded when the first signature is made
            exported = self.gpg.run(["--export", self.fingerprint],
                                    doing="exporting the public key").stdout
            try:
                self._certificate = pysequoia.Cert.from_bytes(exported)
            except (RuntimeError, ValueError) as exc:
                raise GitStoreError(f"gpg ({self.gpg.name}) gave no readable public key for "
                                    f"{self.fingerprint} ({_first_line(exc)})") from None
            if self._certificate.fingerprint.upper() != self.fingerprint:
                raise GitStoreError(f"gpg ({self.gpg.name}) exported another key than "
                                    f"{self.fingerprint}")
        return self._certificate


def signature_problem(cert: Any, signing_fingerprint: str, payload: bytes,
                      signature: bytes) -> str | None:
    """What is wrong with `signature` as one made by `signing_fingerprint` (a key of `cert`)
    over `payload`; None when it verifies."""
    import pysequoia
    try:
        sig = pysequoia.Sig.from_bytes(signature)
    except (RuntimeError, ValueError):
        return "is not an OpenPGP signature"
    issuer = (sig.issuer_fingerprint or sig.issuer_key_id or "").upper()
    if issuer and not signing_fingerprint.endswith(issuer):
        return f"was made by key {issuer}, not {signing_fingerprint}"
    try:
        result = pysequoia.verify(bytes=payload, store=lambda _ids: [cert], signature=sig)
    except RuntimeError as exc:
        return f"does not verify with key {signing_fingerprint} ({_first_line(exc)})"
    for valid in result.valid_sigs:
        if valid.certificate.upper() == cert.fingerprint.upper() \
                and valid.signing_key.upper() == signing_fingerprint:
            return None
    return f"was not made by key {signing_fingerprint}"


def _first_line(exc: Exception) -> str:
    # pysequoia appends a Rust backtrace when RUST_BACKTRACE is set.
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def pinentry_args(gpg: Gpg) -> list[str]:
    """gpg options so that a passphrase prompt can never block a run nobody watches.

    Only a foreground process on a terminal may ask (on that terminal); anything else (CI,
    hooks, background jobs, pipes) gets gpg's immediate `No pinentry` failure instead.
    """
    if gpg.version < (2, 1):
        return []            # gpg 1 never prompts under --batch
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


def status_lines(output: bytes) -> dict[str, list[str]]:
    """gpg's `[GNUPG:] KEYWORD args` lines: {KEYWORD: args of its last line}."""
    found: dict[str, list[str]] = {}
    for line in output.decode(errors="replace").splitlines():
        if line.startswith("[GNUPG:] "):
            words = line[9:].split()
            if words:
                found[words[0]] = words[1:]
    return found


# -- verifying against the keyring, exporting --------------------------------------------------

def verify(payload: bytes, signature: bytes, program: str | None = None,
           timeout: float = DEFAULT_SIGN_TIMEOUT) -> tuple[str, str | None]:
    """(status, signer's primary fingerprint) of a detached OpenPGP signature, checked
    against the keyring (a signature made before its key expired stays good)."""
    gpg = Gpg(program, timeout)
    with tempfile.NamedTemporaryFile(suffix=".asc") as sig_file:
        sig_file.write(signature + b"\n")
        sig_file.flush()
        proc = gpg.run(["--status-fd", "1", "--verify", sig_file.name, "-"], input=payload,
                       doing="while verifying")
    status = status_lines(proc.stdout)
    valid = status.get("VALIDSIG")
    if valid and ("GOODSIG" in status or "EXPKEYSIG" in status) and "BADSIG" not in status:
        return GOOD, (valid[9] if len(valid) > 9 else valid[0]).upper()
    if "NO_PUBKEY" in status:
        return UNKNOWN_KEY, None
    return BAD, None


def export_public_keys(fingerprints: list[str], program: str | None = None,
                       timeout: float = DEFAULT_SIGN_TIMEOUT) -> bytes:
    """The armored public keys of `fingerprints` from the keyring (key material, not trust)."""
    gpg = Gpg(program, timeout)
    listing = gpg.run(["--with-colons", "--fixed-list-mode", "--list-keys"],
                      doing="listing the keys").stdout.decode(errors="replace")
    known, after_pub = set(), False
    for line in listing.splitlines():
        kind = line.split(":", 1)[0]
        if kind == "fpr" and after_pub:
            known.add(line.split(":")[9].upper())
        after_pub = kind == "pub"
    for fpr in fingerprints:
        if fpr.upper() not in known:
            raise GitStoreError(f"key {fpr} is not in the gpg keyring (import it with "
                                "`gpg --import`, or name an armored key file instead)")
    exported = gpg.run(["--armor", "--export", *fingerprints], doing="exporting keys").stdout
    if not exported.strip():
        raise GitStoreError(f"gpg exported nothing for {', '.join(fingerprints)}")
    return exported
