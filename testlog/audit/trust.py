"""Which keys `verify` trusts: an armored key file, or config `trusted_keys` (a key file or
fingerprints). A key that is merely in the gpg keyring is never trusted by being there."""
from __future__ import annotations

import os
import re

from gitstore import GitStoreError, TrustedCerts, export_public_keys, git_config

from testlog.config import Setting
from testlog.errors import UsageError

_FINGERPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


def certs_from_file(path: str) -> TrustedCerts:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read trusted keys file {path}: {exc.strerror} (export one "
                           "with `gpg --armor --export KEYID > KEYS.asc`)") from None
    try:
        return TrustedCerts.from_armored(data, source=f"trusted keys file {path}")
    except GitStoreError as exc:
        raise UsageError(f"{exc} (export one with `gpg --armor --export KEYID > KEYS.asc`)") from None


def certs_from_setting(setting: Setting, root: str, git_dir: str) -> TrustedCerts | None:
    """`trusted_keys` from config: a path to a key file (relative to the repository root),
    or fingerprints separated by commas or spaces whose key material comes from the keyring."""
    value = setting.value
    if not value:
        return None
    text = str(value).strip()
    path = text if os.path.isabs(text) else os.path.join(root, text)
    if os.path.isfile(path):
        return certs_from_file(path)
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
        return certs_from_file(keys_file)
    return certs_from_setting(setting, root, git_dir)
