"""The words a commit's or a file's signature check ends in (shared by gpg and pysequoia)."""

GOOD, BAD, UNKNOWN_KEY, UNTRUSTED, UNSIGNED, SIGNED = (
    "good", "bad", "unknown-key", "untrusted", "unsigned", "signed")
