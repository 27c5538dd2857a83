"""Which keys `verify` and `replay` trust: an armored OpenPGP key file, an SSH allowed-signers
file (as git's gpg.ssh.allowedSignersFile), or config `trusted_keys` (such a file, or
fingerprints). A key that is merely in the gpg keyring is never trusted by being there."""
from __future__ import annotations

import os
import re

from gitstore import GitStoreError, TrustedCerts, export_public_keys, git_config

from testlog.config import Setting
from testlog.errors import UsageError

_FINGERPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


KEY_FILE_HINT = ("export one with `gpg --armor --export KEYID > KEYS.asc`, or give an SSH "
                 "allowed-signers file: `<principal> <ssh-… AAAA…>` per line")


def certs_from_file(path: str, git_dir: str | None = None) -> TrustedCerts:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read trusted keys file {path}: {exc.strerror} "
                         f"({KEY_FILE_HINT})") from None
    source = f"trusted keys file {path}"
    try:
        if b"-----BEGIN PGP" not in data and is_allowed_signers(data):
            program = git_config(git_dir, "gpg.ssh.program") if git_dir else None
            return TrustedCerts.from_allowed_signers(path, data, program, source)
        return TrustedCerts.from_armored(data, source=source)
    except GitStoreError as exc:
        raise UsageError(f"{exc} ({KEY_FILE_HINT})") from None


def is_allowed_signers(data: bytes) -> bool:
    """True when the file's first entry reads as `<principals> [options] ssh-… AAAA…`."""
    lines = [ln.strip() for ln in data.decode("utf-8", errors="replace").splitlines()]
    first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
    return any(w.startswith(("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")) for w in first.split()[1:3])


def certs_from_setting(setting: Setting, root: str, git_dir: str) -> TrustedCerts | None:
    """`trusted_keys` from config: a path to a key file (relative to the repository root),
    or fingerprints separated by commas or spaces whose key material comes from the keyring."""
    value = setting.value
    if not value:
        return None
    text = str(value).strip()
    path = text if os.path.isabs(text) else os.path.join(root, text)
    if os.path.isfile(path):
        return certs_from_file(path, git_dir)
    fingerprints = [f for f in re.split(r"[\s,]+", text) if f]
    bad = [f for f in fingerprints if not _FINGERPRINT.match(f)]
    if bad:
        raise UsageError(f"trusted_keys ({setting.source}): {bad[0]!r} is neither a key file "
                           "nor a full 40-hex fingerprint")
    armored = export_public_keys(fingerprints, git_config(git_dir, "gpg.program"))
    return TrustedCerts.from_armored(armored, source="the gpg keyring", only=fingerprints)


def trusted_certs(keys_file: str | None, setting: Setting, root: str,
                  git_dir: str) -> TrustedCerts | None:
    """The command line's key file wins over config; None when neither names any key."""
    if keys_file:
        return certs_from_file(keys_file, git_dir)
    return certs_from_setting(setting, root, git_dir)
