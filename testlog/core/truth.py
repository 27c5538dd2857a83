"""The words a true/false setting may be written with (setup.cfg, git config, environment)."""
from __future__ import annotations

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def is_false(text: str) -> bool:
    """Whether `text` is one of the words for false."""
    return text.strip().lower() in FALSE_WORDS


def truth(text: str) -> bool | None:
    """True or False for one of the words, None for anything else."""
    word = text.strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
