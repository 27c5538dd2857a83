"""A shortcut for the OpenPGP signatures a long branch is made of: checked with OpenSSL
(`cryptography`) once pysequoia has accepted the same key in the same state.

pysequoia checks an RSA-2048 signature in about 0.5 ms (a pure-Rust RSA); OpenSSL in 0.02 ms.
The shortcut only ever says GOOD, and only when pysequoia would: the key must be one that
pysequoia has already accepted a signature from (`learn`), nothing that decides the key's
validity may change between that signature and this one, and the signature must have the plain
shape gpg and sequoia write. Anything else, a failed check included, returns None and pysequoia
decides, so every verdict but GOOD-by-a-known-key still comes from pysequoia.

Why the key's state cannot differ: both signatures are made after the newest signature in the
certificate, back-signatures included (so the same self-signatures are in force), and after
every key in it was created; before any expiry the certificate names (key or self-signature
expiry, back-signatures' too, whichever is earliest, counted from its earliest key); the
certificate holds no revocation at all, and the key is in no other trusted certificate
(pysequoia would pick one of them by time). Certificates outside the algorithms and hashes whose
policy never changes over time (RSA >= 2048 bits or Ed25519; SHA-256/384/512) get no shortcut.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

PUBLIC_KEY, PUBLIC_SUBKEY, SIGNATURE = 6, 14, 2
RSA_ALGORITHMS = (1, 3)                  # RSA (encrypt or sign), RSA sign-only
EDDSA_LEGACY = 22
ED25519_OID = bytes.fromhex("2b06010401da470f01")
HASHES = {8: "sha256", 9: "sha384", 10: "sha512"}
PREHASHED = {"sha256": Prehashed(hashes.SHA256()), "sha384": Prehashed(hashes.SHA384()),
             "sha512": Prehashed(hashes.SHA512())}
BINARY_DOCUMENT = 0x00
REVOCATIONS = (0x20, 0x28, 0x30)         # key, subkey, certification revocation
CREATION_TIME, SIGNATURE_EXPIRY, KEY_EXPIRY = 2, 3, 9
ISSUER_KEY_ID, NOTATION, EMBEDDED_SIGNATURE, ISSUER_FINGERPRINT = 16, 20, 32, 33
FOREVER = 2**63


class Unsupported(Exception):
    """Bytes outside the shapes handled here (pysequoia reads them instead)."""


def _packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) of each packet; only definite lengths (partial lengths are Unsupported)."""
    at, end = 0, len(data)
    while at < end:
        head = data[at]
        if not head & 0x80:
            raise Unsupported("not a packet header")
        if head & 0x40:                                   # new format
            tag = head & 0x3F
            first = _byte(data, at + 1)
            if first < 192:
                length, at = first, at + 2
            elif first < 224:
                length, at = ((first - 192) << 8) + _byte(data, at + 2) + 192, at + 3
            elif first == 255:
                length, at = int.from_bytes(_slice(data, at + 2, 4), "big"), at + 6
            else:
                raise Unsupported("partial body length")
        else:                                             # old format
            tag, kind = (head >> 2) & 0x0F, head & 3
            if kind == 3:
                raise Unsupported("indeterminate length")
            size = 1 << kind
            length, at = int.from_bytes(_slice(data, at + 1, size), "big"), at + 1 + size
        yield tag, _slice(data, at, length)
        at += length


def _byte(data: bytes, at: int) -> int:
    if at >= len(data):
        raise Unsupported("truncated")
    return data[at]


def _slice(data: bytes, at: int, length: int) -> bytes:
    if at + length > len(data):
        raise Unsupported("truncated")
    return data[at:at + length]


def _mpi(data: bytes, at: int) -> tuple[bytes, int]:
    """A canonical multiprecision integer (no leading zero octet) and the offset after it."""
    bits = int.from_bytes(_slice(data, at, 2), "big")
    value = _slice(data, at + 2, (bits + 7) // 8)
    if not value or value[0].bit_length() != (bits - 1) % 8 + 1:
        raise Unsupported("non-canonical MPI")
    return value, at + 2 + len(value)


def _subpackets(area: bytes) -> Iterator[tuple[int, bool, bytes]]:
    """(type, critical, data) of each subpacket of a signature's subpacket area."""
    at = 0
    while at < len(area):
        first = area[at]
        if first < 192:
            length, at = first, at + 1
        elif first < 255:
            length, at = ((first - 192) << 8) + _byte(area, at + 1) + 192, at + 2
        else:
            length, at = int.from_bytes(_slice(area, at + 1, 4), "big"), at + 5
        body = _slice(area, at, length)
        if not body:
            raise Unsupported("empty subpacket")
        yield body[0] & 0x7F, bool(body[0] & 0x80), body[1:]
        at += length


@dataclass(frozen=True)
class Signature:
    """The parts of a v4 signature packet the check needs."""
    kind: int
    algorithm: int
    hash_name: str
    created: int
    issuer: bytes                # the v4 fingerprint of the signing key
    hashed: bytes                # version through the hashed subpackets: what the hash covers
    prefix: bytes                # the digest's first two octets, as the signer wrote them
    values: tuple[bytes, ...]    # the MPIs: s (RSA), or r and s (EdDSA)


def _signature(body: bytes) -> Signature:
    if len(body) < 6 or body[0] != 4:
        raise Unsupported("not a v4 signature")
    kind, algorithm, hash_id = body[1], body[2], body[3]
    if hash_id not in HASHES:
        raise Unsupported("hash algorithm")
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    hashed_area = _slice(body, 6, hashed_end - 6)
    unhashed_length = int.from_bytes(_slice(body, hashed_end, 2), "big")
    unhashed_area = _slice(body, hashed_end + 2, unhashed_length)
    created, issuer, key_ids = None, None, []
    for sub, critical, data in _subpackets(hashed_area):
        if sub == CREATION_TIME and created is None and len(data) == 4:
            created = int.from_bytes(data, "big")
        elif sub == ISSUER_FINGERPRINT and issuer is None and len(data) == 21 and data[0] == 4:
            issuer = data[1:]
        elif sub == ISSUER_KEY_ID and len(data) == 8:
            key_ids.append(data)
        elif sub == NOTATION and not critical and _is_notation(data):
            pass                   # sequoia adds a salt notation; a non-critical one is ignored
        else:
            raise Unsupported(f"hashed subpacket {sub}")
    for sub, _critical, data in _subpackets(unhashed_area):
        if sub == ISSUER_KEY_ID and len(data) == 8:
            key_ids.append(data)
        elif sub == ISSUER_FINGERPRINT and len(data) == 21 and data[0] == 4:
            key_ids.append(data[-8:])
        else:
            raise Unsupported(f"unhashed subpacket {sub}")
    if created is None or issuer is None or any(k != issuer[-8:] for k in key_ids):
        raise Unsupported("creation time or issuer")
    at = hashed_end + 2 + unhashed_length
    prefix = _slice(body, at, 2)
    values = []
    at += 2
    while at < len(body):
        value, at = _mpi(body, at)
        values.append(value)
    return Signature(kind, algorithm, HASHES[hash_id], created, issuer, body[:hashed_end],
                     prefix, tuple(values))


def _is_notation(data: bytes) -> bool:
    """A well-formed notation whose name is UTF-8 (sequoia cannot parse one that is not)."""
    if len(data) < 8:
        return False
    name_length = int.from_bytes(data[4:6], "big")
    if 8 + name_length + int.from_bytes(data[6:8], "big") != len(data):
        return False
    try:
        data[8:8 + name_length].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detached(signature: bytes) -> Signature:
    """The one signature packet of a binary detached signature."""
    found = list(_packets(signature))
    if len(found) != 1 or found[0][0] != SIGNATURE:
        raise Unsupported("not exactly one signature packet")
    return _signature(found[0][1])


@dataclass(frozen=True)
class Key:
    fingerprint: bytes
    created: int
    algorithm: int
    public: Any                  # a cryptography public key


def _key(body: bytes) -> Key:
    if len(body) < 6 or body[0] != 4:
        raise Unsupported("not a v4 key")
    created, algorithm = int.from_bytes(body[1:5], "big"), body[5]
    if algorithm in RSA_ALGORITHMS:
        modulus, at = _mpi(body, 6)
        exponent, at = _mpi(body, at)
        if len(modulus) < 256:
            raise Unsupported("RSA key under 2048 bits")
        try:
            public: Any = RSAPublicNumbers(int.from_bytes(exponent, "big"),
                                           int.from_bytes(modulus, "big")).public_key()
        except ValueError:
            raise Unsupported("RSA key OpenSSL refuses") from None
    elif algorithm == EDDSA_LEGACY:
        oid = _slice(body, 7, _byte(body, 6))
        point, at = _mpi(body, 7 + len(oid))
        if oid != ED25519_OID or len(point) != 33 or point[0] != 0x40:
            raise Unsupported("EdDSA key other than Ed25519")
        public = Ed25519PublicKey.from_public_bytes(point[1:])
    else:
        raise Unsupported("key algorithm")
    if at != len(body):
        raise Unsupported("trailing key material")
    fingerprint = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()
    return Key(fingerprint, created, algorithm, public)


@dataclass(frozen=True)
class Certificate:
    """The keys of one certificate and the time window in which its state cannot change."""
    primary: str                 # the primary key's fingerprint, upper-case hex
    keys: dict[bytes, Key]
    settled: int                 # the newest signature in the certificate
    until: int                   # the earliest expiry it names (FOREVER if none)


def certificate(data: bytes) -> Certificate:
    """The shortcut's view of a binary certificate; Unsupported when it is not a stable one."""
    keys: list[Key] = []
    settled = 0
    ends: list[int] = []
    key_lifetimes: list[int] = []
    key_times: list[int] = []
    for tag, body in _packets(data):
        if tag in (PUBLIC_KEY, PUBLIC_SUBKEY):
            key_times.append(int.from_bytes(_slice(body, 1, 4), "big"))
        if tag == PUBLIC_KEY:
            if keys:
                raise Unsupported("more than one primary key")
            keys.append(_key(body))
        elif tag == PUBLIC_SUBKEY:
            if not keys:
                raise Unsupported("a subkey before the primary key")
            try:
                keys.append(_key(body))
            except Unsupported:
                continue           # an encryption subkey (cv25519, ...) signs nothing
        elif tag == SIGNATURE:
            created, lifetimes, keys_lifetimes = _signature_times(body)
            # A back-signature (embedded in a subkey's binding) counts as much as its binding.
            for embedded in _embedded_signatures(body):
                inner_created, inner_lifetimes, inner_keys = _signature_times(embedded)
                settled = max(settled, inner_created)
                ends.extend(inner_created + lifetime for lifetime in inner_lifetimes)
                key_lifetimes.extend(inner_keys)
            settled = max(settled, created)
            ends.extend(created + lifetime for lifetime in lifetimes)
            key_lifetimes.extend(keys_lifetimes)
    if not keys:
        raise Unsupported("no key")
    # No signature is good before its key exists.
    settled = max([settled, *key_times])
    # A key lifetime counts from its key's creation: the earliest key gives the earliest end.
    until = min(ends + [min(key_times) + lifetime for lifetime in key_lifetimes] + [FOREVER])
    return Certificate(keys[0].fingerprint.hex().upper(), {k.fingerprint: k for k in keys},
                       settled, until)


def _signature_times(body: bytes) -> tuple[int, list[int], list[int]]:
    """(creation time, signature lifetimes, key lifetimes) of a certificate's v4 signature
    with a hash whose policy never changes; Unsupported for any other."""
    if len(body) < 6 or body[0] != 4 or body[1] in REVOCATIONS or body[3] not in HASHES:
        raise Unsupported("certificate signature")
    created = None
    lifetimes: list[int] = []
    key_lifetimes: list[int] = []
    for sub, _critical, value in _subpackets(_slice(body, 6, int.from_bytes(body[4:6], "big"))):
        if sub in (CREATION_TIME, SIGNATURE_EXPIRY, KEY_EXPIRY) and len(value) != 4:
            raise Unsupported("malformed time subpacket")
        number = int.from_bytes(value, "big")
        if sub == CREATION_TIME:
            created = number
        elif sub == SIGNATURE_EXPIRY and number:
            lifetimes.append(number)
        elif sub == KEY_EXPIRY and number:
            key_lifetimes.append(number)
    if created is None:
        raise Unsupported("certificate signature without a creation time")
    return created, lifetimes, key_lifetimes


def _embedded_signatures(body: bytes) -> list[bytes]:
    """The signatures embedded in a v4 signature (back-signatures), from either area."""
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    unhashed_length = int.from_bytes(_slice(body, hashed_end, 2), "big")
    areas = (_slice(body, 6, hashed_end - 6), _slice(body, hashed_end + 2, unhashed_length))
    return [value for area in areas for sub, _critical, value in _subpackets(area)
            if sub == EMBEDDED_SIGNATURE]


def key_fingerprints(data: bytes) -> list[bytes]:
    """The v4 fingerprint of every key and subkey of a certificate, whatever its algorithm;
    Unsupported when one is not a v4 key."""
    found = []
    for tag, body in _packets(data):
        if tag in (PUBLIC_KEY, PUBLIC_SUBKEY):
            if not body or body[0] != 4:
                raise Unsupported("not a v4 key")
            found.append(hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest())
    return found


class QuickSignatures:
    """GOOD for a signature by a key pysequoia has accepted in the same state, else None."""

    def __init__(self, certificates: list[bytes]) -> None:
        self._certificates: dict[bytes, Certificate] = {}
        self._accepted: dict[bytes, Certificate] = {}
        # A key in two certificates (even one the shortcut cannot use) may answer for either:
        # pysequoia picks one by validity at the signature's time; the shortcut stays out.
        seen: dict[bytes, int] = {}
        try:
            for data in certificates:
                for fingerprint in key_fingerprints(data):
                    seen[fingerprint] = seen.get(fingerprint, 0) + 1
        except Unsupported:
            return                          # a certificate not read here: no shortcut at all
        for data in certificates:
            try:
                cert = certificate(data)
            except Unsupported:
                continue
            for fingerprint in cert.keys:
                if seen[fingerprint] == 1:
                    self._certificates[fingerprint] = cert

    def learn(self, payload: bytes, signature: bytes, primary: str) -> None:
        """pysequoia found `signature` GOOD by the certificate `primary`: its key may take the
        shortcut from now on if the signature lies in the certificate's settled window."""
        try:
            sig = detached(signature)
        except Unsupported:
            return
        cert = self._certificates.get(sig.issuer)
        if cert is not None and cert.primary == primary.upper() and \
                self._verifies(cert, sig, payload):
            self._accepted[sig.issuer] = cert

    def good(self, payload: bytes, signature: bytes) -> str | None:
        """The primary fingerprint when `signature` is a valid one over `payload` by a key
        accepted before, in the same settled window; None otherwise (ask pysequoia)."""
        try:
            sig = detached(signature)
        except Unsupported:
            return None
        cert = self._accepted.get(sig.issuer)
        if cert is None or not self._verifies(cert, sig, payload):
            return None
        return cert.primary

    @staticmethod
    def _verifies(cert: Certificate, sig: Signature, payload: bytes) -> bool:
        key = cert.keys[sig.issuer]
        if sig.kind != BINARY_DOCUMENT or sig.algorithm != key.algorithm or \
                not cert.settled <= sig.created < cert.until or sig.created > time.time():
            return False
        trailer = b"\x04\xff" + len(sig.hashed).to_bytes(4, "big")
        digest = hashlib.new(sig.hash_name, payload + sig.hashed + trailer).digest()
        if digest[:2] != sig.prefix:
            return False
        try:
            if key.algorithm == EDDSA_LEGACY:
                if len(sig.values) != 2 or any(len(v) > 32 for v in sig.values):
                    return False
                key.public.verify(b"".join(v.rjust(32, b"\0") for v in sig.values), digest)
            else:
                size = (key.public.key_size + 7) // 8
                if len(sig.values) != 1 or len(sig.values[0]) > size:
                    return False
                key.public.verify(sig.values[0].rjust(size, b"\0"), digest, PKCS1v15(),
                                  PREHASHED[sig.hash_name])
        except InvalidSignature:
            return False
        return True
