"""Signed log commits as stock git sees them; key selection; keys that cannot sign unattended."""
from __future__ import annotations

import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gitstore import GitStoreError

from tests.fixtures import gen_key, git
from tests.store_helpers import fsck, object_files, open_store


@pytest.fixture
def other_keyring(tmp_path: Path):
    """A second GNUPGHOME (its agent stopped afterwards)."""
    home = tmp_path / "other-gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   capture_output=True)


def test_signature_is_byte_compatible_with_git(repo: Path, gpg_key: str):
    with open_store(repo, sign_key=gpg_key) as store:
        sha = store.write({"a": b"1"}, "one", {"Testlog-Suite": "unit"})
    raw = git(repo, "cat-file", "commit", sha)
    header = raw.split("\n\n", 1)[0]
    assert "\ngpgsig -----BEGIN PGP SIGNATURE-----\n" in header
    assert header.endswith(" -----END PGP SIGNATURE-----"), "no space-only line after the armor"
    assert "\n \n-" not in raw
    git(repo, "verify-commit", sha)
    assert git(repo, "log", "-1", "--format=%G? %GF", sha).split() == ["G", gpg_key]
    fsck(repo)


@pytest.mark.parametrize("form", ["fingerprint", "lowercase", "long id", "short id", "0x long id",
                                  "email", "name"])
def test_every_usual_way_to_name_the_key(repo: Path, gpg_key: str, form: str):
    key = {"fingerprint": gpg_key, "lowercase": gpg_key.lower(), "long id": gpg_key[-16:],
           "short id": gpg_key[-8:], "0x long id": "0x" + gpg_key[-16:],
           "email": "test@example.com", "name": "Testlog Test"}[form]
    with open_store(repo, sign_key=key) as store:
        assert store.signer.fingerprint == gpg_key
        sha = store.write({"a": b"1"}, "one")
    assert git(repo, "log", "-1", "--format=%GF", sha).strip() == gpg_key


def test_signing_key_from_a_conditional_include(repo: Path, gpg_key: str, tmp_path: Path):
    """dulwich ignores includeIf; git's own config lookup must find the key."""
    included = tmp_path / "work.gitconfig"
    included.write_text(f"[user]\n\tsigningkey = {gpg_key}\n\tname = Included Name\n")
    global_config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    original = global_config.read_text()
    try:
        global_config.write_text(original + f'[includeIf "gitdir:{repo}/"]\n\tpath = {included}\n')
        with open_store(repo) as store:
            sha = store.write({"a": b"1"}, "one")
    finally:
        global_config.write_text(original)
    git(repo, "verify-commit", sha)
    assert git(repo, "log", "-1", "--format=%cn", sha).strip() == "Included Name"


def test_committer_from_the_environment(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Runner")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci@example.com")
    with open_store(repo, sign_key=False) as store:
        sha = store.write({"a": b"1"}, "one")
    assert git(repo, "log", "-1", "--format=%cn <%ce>", sha).strip() == "CI Runner <ci@example.com>"


def test_gpg_program_is_honoured(repo: Path, gpg_key: str, tmp_path: Path):
    calls = tmp_path / "calls.log"
    wrapper = tmp_path / "my-gpg"
    wrapper.write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\nexec gpg \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    git(repo, "config", "gpg.program", str(wrapper))
    with open_store(repo, sign_key=gpg_key) as store:
        sha = store.write({"a": b"1"}, "one")
    assert "--detach-sign" in calls.read_text() or "-sb" in calls.read_text()
    git(repo, "verify-commit", sha)


def test_verify_reports_good_unknown_key_and_bad(repo: Path, gpg_key: str, other_keyring: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    with open_store(repo, sign_key=gpg_key) as store:
        good = store.write({"a": b"1"}, "signed here")
    our_keyring = os.environ["GNUPGHOME"]
    stranger = gen_key(str(other_keyring), name="Stranger", email="stranger@example.com")
    monkeypatch.setenv("GNUPGHOME", str(other_keyring))
    with open_store(repo, sign_key=stranger) as store:
        unknown = store.write({"b": b"2"}, "signed by a key we do not have")
    monkeypatch.setenv("GNUPGHOME", our_keyring)
    raw = git(repo, "cat-file", "commit", unknown).replace("signed by a key", "forged by a key")
    forged = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", input=raw.encode()).strip()
    git(repo, "update-ref", "refs/heads/testlog", forged, unknown)
    with open_store(repo, sign_key=False) as store:
        entries = store.history(verify_signatures=True)
    assert [(e.summary, e.signature) for e in entries] == [
        ("forged by a key we do not have", "unknown-key"), ("signed here", "good")]
    assert entries[1].signer == gpg_key
    # Our own signature over bytes that were changed afterwards is "bad".
    raw = git(repo, "cat-file", "commit", good).replace("signed here", "signed there")
    tampered = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", input=raw.encode()).strip()
    git(repo, "update-ref", "refs/heads/testlog", tampered)
    with open_store(repo, sign_key=False) as store:
        assert store.history(verify_signatures=True)[0].signature == "bad"
    assert subprocess.run(["git", "verify-commit", tampered], cwd=repo,
                          capture_output=True).returncode != 0


# -- a key with a passphrase, nobody to type it ------------------------------------------

@pytest.fixture(scope="module")
def locked_keyring(tmp_path_factory: pytest.TempPathFactory):
    """A keyring whose only key wants a passphrase (generated once: it takes seconds)."""
    home = tmp_path_factory.mktemp("locked-gnupg")
    home.chmod(0o700)
    fpr = gen_key(str(home), name="Locked", email="locked@example.com", passphrase="x")
    yield home, fpr
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   capture_output=True)


@pytest.fixture
def passphrase_key(locked_keyring: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> str:
    home, fpr = locked_keyring
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True)   # nothing cached
    return fpr


def test_passphrase_key_fails_at_once_and_writes_nothing(repo: Path, passphrase_key: str):
    with open_store(repo, sign_key=False) as store:
        store.write({"a": b"1"}, "unsigned first")
    objects, tip = object_files(repo), git(repo, "rev-parse", "testlog")
    with open_store(repo, sign_key=passphrase_key) as store:
        with pytest.raises(GitStoreError, match="could not sign with key .*No pinentry.*cached"):
            store.write({"b": b"2", "c/d": b"3"}, "must not appear")
    assert object_files(repo) == objects
    assert git(repo, "rev-parse", "testlog") == tip


SIGN_ONCE = """
import sys
from gitstore import GitStoreError
from tests.store_helpers import open_store
try:
    with open_store(sys.argv[1], sign_key=sys.argv[2]) as store:
        store.write({"a": b"1"}, "one")
except GitStoreError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.parametrize("stdin", ["devnull", "terminal of another session"])
def test_passphrase_key_never_waits_for_a_prompt(repo: Path, passphrase_key: str, stdin: str):
    """No terminal in the foreground: gpg must fail rather than start a pinentry that waits.

    The second case is a background job of a shell that exports GPG_TTY (common advice): stdin
    is a terminal, so asking only when `isatty()` started pinentry-curses there, and it waited.
    """
    master, slave = pty.openpty()
    env = {**os.environ, "GPG_TTY": os.ttyname(slave)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SIGN_ONCE, str(repo), passphrase_key],
            stdin=subprocess.DEVNULL if stdin == "devnull" else slave, start_new_session=True,
            env=env, capture_output=True, text=True, timeout=120)   # a hang fails here
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 3, proc.stderr
    assert "No pinentry" in proc.stdout
    assert git(repo, "rev-parse", "-q", "--verify", "testlog", check=False) == ""
