"""What signs a commit: the one protocol the OpenPGP signer (signing.py) and the SSH signer
(sshsigning.py) meet, so that building and storing commits does not care which it holds."""
from __future__ import annotations

from typing import Protocol

# How long a signing program (gpg, ssh-keygen) may take for one call before it is killed.
DEFAULT_SIGN_TIMEOUT = 60.0


class Signer(Protocol):
    scheme: str          # "gpg" or "ssh"
    fingerprint: str     # the key as verifiers name it: an OpenPGP primary fingerprint, SHA256:…
    key: str             # the key as it was given (a key id, a path)

    @property
    def label(self) -> str:
        """`<scheme>:<fingerprint>`: who signed, as the product records it."""
        ...

    def sign(self, payload: bytes) -> bytes:
        """An armored detached signature over `payload` without a trailing newline (git's
        layout in the gpgsig header), already checked against the key it claims to be by."""
        ...
