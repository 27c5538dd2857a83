"""LogStore compresses loose objects like git (level 1) unless the repository says otherwise."""
from __future__ import annotations

from pathlib import Path

from tests.fixtures import git
from tests.store_helpers import open_store


def test_git_default_loose_compression_unless_configured(repo: Path):
    with open_store(repo, sign_key=False) as store:
        assert store.loose_level == 1
        store.write({"a.json": b"{}" * 1000}, "one")
    git(repo, "config", "core.looseCompression", "9")
    with open_store(repo, sign_key=False) as store:
        assert store.loose_level == 9
    assert git(repo, "show", "testlog:a.json") == "{}" * 1000
    git(repo, "fsck", "--strict")


def test_bulk_packs_use_level_1_unless_configured(repo: Path):
    with open_store(repo, sign_key=False) as store:
        assert store.pack_level == 1
    git(repo, "config", "core.compression", "7")
    with open_store(repo, sign_key=False) as store:
        assert (store.loose_level, store.pack_level) == (7, 7)
    git(repo, "config", "pack.compression", "9")
    with open_store(repo, sign_key=False) as store:
        assert store.pack_level == 9
        store.write({f"f/{i}.json": b"{}" * 2000 for i in range(600)}, "bulk")
    git(repo, "fsck", "--strict")
    assert git(repo, "show", "testlog:f/599.json") == "{}" * 2000
