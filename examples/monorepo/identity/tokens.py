"""Deterministic identifiers, with a benchmark and a latency SLA."""
import hashlib


def token(name: str, rounds: int = 200) -> str:
    digest = name.encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()[:16]


def valid(value: str) -> bool:
    return len(value) == 16 and all(c in "0123456789abcdef" for c in value)
