"""A small OpenPGP v4 builder for tests: certificates and signatures of shapes gpg does not
write (back-signatures with their own times, keys shared by two certificates, odd notations),
made with `cryptography`. Test code only: the product never writes OpenPGP itself."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_OID = bytes.fromhex("2b06010401da470f01")
HASH_IDS = {"sha256": 8, "sha512": 10}
HASH_OBJECTS = {"sha256": hashes.SHA256(), "sha512": hashes.SHA512()}
T0 = 1_704_067_200                      # 2024-01-01
DAY = 86_400


def mpi(value: bytes) -> bytes:
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


def packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        head = bytes([n])
    elif n < 8384:
        head = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        head = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + head + body


def sub(kind: int, data: bytes, critical: bool = False) -> bytes:
    body = bytes([kind | (0x80 if critical else 0)]) + data
    n = len(body)
    return (bytes([n]) if n < 192 else bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])) + body


def u32(value: int) -> bytes:
    return int(value).to_bytes(4, "big")


@dataclass
class Key:
    algorithm: str                      # "ed25519" or "rsa"
    created: int
    private: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.private is None:
            self.private = ed25519.Ed25519PrivateKey.generate() \
                if self.algorithm == "ed25519" else rsa.generate_private_key(65537, 2048)

    @property
    def pk_algorithm(self) -> int:
        return 22 if self.algorithm == "ed25519" else 1

    @property
    def body(self) -> bytes:
        head = b"\x04" + u32(self.created) + bytes([self.pk_algorithm])
        if self.algorithm == "ed25519":
            raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            return head + bytes([len(ED25519_OID)]) + ED25519_OID + mpi(b"\x40" + raw)
        numbers = self.private.public_key().public_numbers()
        return head + mpi(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")) + \
            mpi(numbers.e.to_bytes(4, "big"))

    @property
    def hashed_key(self) -> bytes:
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body

    @property
    def fingerprint(self) -> bytes:
        return hashlib.sha1(self.hashed_key).digest()

    @property
    def hex(self) -> str:
        return self.fingerprint.hex().upper()


def signature(signer: Key, kind: int, hashed_subpackets: bytes, data: bytes,
              unhashed: bytes | None = None, hash_name: str = "sha256") -> bytes:
    """A v4 signature packet's body over `data` (what is hashed before its own fields)."""
    hashed = bytes([4, kind, signer.pk_algorithm, HASH_IDS[hash_name]]) + \
        len(hashed_subpackets).to_bytes(2, "big") + hashed_subpackets
    digest = hashlib.new(hash_name, data + hashed + b"\x04\xff" +
                         len(hashed).to_bytes(4, "big")).digest()
    if signer.algorithm == "ed25519":
        made = signer.private.sign(digest)
        values = mpi(made[:32]) + mpi(made[32:])
    else:
        made = signer.private.sign(digest, padding.PKCS1v15(),
                                   utils.Prehashed(HASH_OBJECTS[hash_name]))
        values = mpi(made)
    unhashed = sub(16, signer.fingerprint[-8:]) if unhashed is None else unhashed
    return hashed + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + values


def standard(signer: Key, created: int, extra: bytes = b"") -> bytes:
    return sub(2, u32(created)) + sub(33, b"\x04" + signer.fingerprint) + extra


def user_id_binding(primary: Key, user_id: bytes, created: int) -> bytes:
    data = primary.hashed_key + b"\xb4" + len(user_id).to_bytes(4, "big") + user_id
    return signature(primary, 0x13, standard(primary, created, sub(27, b"\x03")), data)


def subkey_binding(primary: Key, subkey: Key, created: int, back_created: int | None = None,
                   back_extra: bytes = b"") -> bytes:
    """A signing subkey's binding with its back-signature (made `back_created`)."""
    data = primary.hashed_key + subkey.hashed_key
    back = signature(subkey, 0x19, standard(subkey, created if back_created is None
                                            else back_created, back_extra), data)
    return signature(primary, 0x18, standard(primary, created, sub(27, b"\x02") + sub(32, back)),
                     data, unhashed=sub(16, primary.fingerprint[-8:]))


def certificate(primary: Key, user_id: bytes = b"u <u@example.com>",
                subkeys: tuple[tuple[Key, bytes], ...] = ()) -> bytes:
    """Primary key, one user id bound at the key's creation, then (subkey, binding) pairs."""
    out = packet(6, primary.body) + packet(13, user_id) + \
        packet(2, user_id_binding(primary, user_id, primary.created))
    for key, binding in subkeys:
        out += packet(14, key.body) + packet(2, binding)
    return out


def document_signature(signer: Key, payload: bytes, created: int, extra: bytes = b"") -> bytes:
    """A detached binary signature over `payload`, as gpg makes for a commit."""
    return packet(2, signature(signer, 0x00, standard(signer, created, extra), payload))


def notation(name: bytes, value: bytes = b"v") -> bytes:
    return b"\0\0\0\0" + len(name).to_bytes(2, "big") + len(value).to_bytes(2, "big") + name + value
