"""gitstore's audit capabilities against real git and gpg: in-process signature checks, batched
reads, bundles, and restarting the branch at a new root."""
from __future__ import annotations

from pathlib import Path

import gnupg
import pytest

from gitstore import GitStoreError, is_ancestor
from gitstore.batch import (
    changed_paths_between,
    changes_per_commit,
    commits_in_range,
    last_change,
    object_contents,
    object_info,
)
from gitstore.bundle import bundle_heads, bundle_is_complete, create_bundle, file_sha256
from gitstore.epoch import Step, restart, split_author
from gitstore.signing import export_public_keys
from gitstore.verify import BAD, GOOD, UNSIGNED, UNTRUSTED, TrustedCerts

from tests.audit_helpers import other_key  # noqa: F401  (fixture)
from tests.fixtures import git
from tests.store_helpers import open_store


@pytest.fixture
def trusted(sandbox: dict[str, str], gpg_key: str) -> TrustedCerts:
    return TrustedCerts.from_armored(gnupg.GPG(gnupghome=sandbox["GNUPGHOME"]).export_keys(gpg_key).encode())


def _sign(sandbox: dict[str, str], key: str, data: bytes) -> bytes:
    return gnupg.GPG(gnupghome=sandbox["GNUPGHOME"]).sign(data, keyid=key, detach=True).data


def test_signature_checks_good_bad_untrusted_unsigned(trusted, sandbox, gpg_key, other_key):
    payload = b"tree abc\n\nmessage\n"
    good = trusted.check(payload, _sign(sandbox, gpg_key, payload))
    assert (good.status, good.fingerprint) == (GOOD, gpg_key.upper())
    assert trusted.check(payload + b"x", _sign(sandbox, gpg_key, payload)).status == BAD
    untrusted = trusted.check(payload, _sign(sandbox, other_key, payload))
    assert (untrusted.status, untrusted.fingerprint) == (UNTRUSTED, other_key.upper())
    assert trusted.check(payload, b"").status == UNSIGNED
    assert trusted.check(payload, b"-----BEGIN PGP SIGNATURE-----\ngarbage").status == BAD


def test_trust_comes_from_the_allowlist_not_the_keyring(sandbox, gpg_key, other_key):
    both = export_public_keys([gpg_key, other_key])
    only_one = TrustedCerts.from_armored(both, only=[gpg_key])
    assert only_one.fingerprints == {gpg_key.upper()}
    assert TrustedCerts.from_armored(both).fingerprints == {gpg_key.upper(), other_key.upper()}
    with pytest.raises(GitStoreError, match="not in the gpg keyring"):
        export_public_keys(["0" * 40])
    with pytest.raises(GitStoreError, match="holds no readable OpenPGP public key"):
        TrustedCerts.from_armored(b"not a key", source="k.asc")


def _chain(repo: Path, key: str | None) -> list[str]:
    with open_store(repo, sign_key=key if key else False) as store:
        return [store.write({"a.txt": b"1", "d/b.txt": b"2"}, "one"),
                store.write({"a.txt": b"11", "d/b.txt": None, "c.txt": b"3"}, "two"),
                store.write({"c.txt": b"33"}, "three")]


def test_batched_reads(repo: Path):
    one, two, three = _chain(repo, None)
    infos = object_info(repo, [f"{one}:a.txt", f"{two}:d/b.txt", f"{three}:c.txt"])
    assert infos[1] is None and infos[0].kind == "blob" and infos[2].size == 2
    assert object_contents(repo, [infos[0].sha, infos[2].sha, "f" * 40]) == {
        infos[0].sha: b"1", infos[2].sha: b"33"}
    assert [e.sha for e in commits_in_range(repo, three)] == [one, two, three]
    assert [e.sha for e in commits_in_range(repo, three, one)] == [two, three]
    assert changes_per_commit(repo, [one, two]) == {
        one: [("A", "a.txt"), ("A", "d/b.txt")],
        two: [("M", "a.txt"), ("A", "c.txt"), ("D", "d/b.txt")]}
    assert changed_paths_between(repo, one, three) == ["a.txt", "c.txt", "d/b.txt"]
    assert last_change(repo, three, "a.txt") == two
    assert is_ancestor(repo, one, three) and not is_ancestor(repo, three, one)
    assert not is_ancestor(repo, "0" * 40, three)


def test_bundle_holds_the_history_and_refuses_a_moved_ref(repo: Path, tmp_path: Path):
    shas = _chain(repo, None)
    path = str(tmp_path / "arch" / "log.bundle")
    digest = create_bundle(str(repo), path, "refs/heads/testlog", shas[-1])
    assert digest == file_sha256(path)
    assert bundle_heads(str(repo), path) == {"refs/heads/testlog": shas[-1]}
    assert bundle_is_complete(str(repo), path)
    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", str(clone))
    git(clone, "fetch", "-q", path, "refs/heads/testlog:refs/heads/restored")
    assert git(clone, "rev-list", "restored").split() == shas[::-1]
    with pytest.raises(GitStoreError, match="already exists"):
        create_bundle(str(repo), path, "refs/heads/testlog", shas[-1])
    with pytest.raises(GitStoreError, match="moved while it was being archived"):
        create_bundle(str(repo), str(tmp_path / "b2.bundle"), "refs/heads/testlog", shas[0])
    assert not (tmp_path / "b2.bundle").exists() and not (tmp_path / "b2.bundle.partial").exists()


def test_restart_builds_a_signed_root_chain_with_one_swap(repo: Path, gpg_key: str):
    one, two, three = _chain(repo, gpg_key)
    with open_store(repo, sign_key=gpg_key) as store:
        base_tree = git(repo, "rev-parse", f"{two}^{{tree}}").strip()
        shas = restart(store, three, base_tree, [
            Step({"epoch.json": b"{}"}, "epoch", {"Testlog-Event": "RETENTION_EPOCH"}),
            Step({"c.txt": b"33"}, "three again", author="Old Author <old@example.com>",
                 author_time=1_000_000_000)])
        assert store.tip == shas[-1]
    assert git(repo, "rev-list", "--parents", shas[0]).split() == [shas[0]]
    assert git(repo, "rev-parse", f"{shas[1]}^") .strip() == shas[0]
    assert git(repo, "show", f"{shas[1]}:c.txt") == "33"
    assert git(repo, "show", f"{shas[0]}:a.txt") == "11"
    assert git(repo, "log", "-1", "--format=%an %at", shas[1]).strip() == "Old Author 1000000000"
    for sha in shas:
        git(repo, "verify-commit", sha)
    git(repo, "fsck", "--strict")


def test_restart_refuses_when_the_branch_moved(repo: Path):
    one, two, three = _chain(repo, None)
    with open_store(repo, sign_key=False) as store:
        with pytest.raises(GitStoreError, match="moved"):
            restart(store, two, None, [Step({"x": b"1"}, "root")])
        assert store.tip == three


@pytest.mark.parametrize("header, expected", [
    ("A U Thor <a@example.com> 1700000000 +0000", ("A U Thor <a@example.com>", 1700000000)),
    ("<> 5 -0100", ("<>", 5)),
])
def test_split_author(header, expected):
    assert split_author(header) == expected


def test_split_author_refuses_garbage():
    with pytest.raises(GitStoreError, match="unreadable author"):
        split_author("nobody")
