"""Signing that checks itself: the exact key, a signature verified before it is used, a time
limit on every gpg call, and the writers' lock never held while gpg works."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gitstore import GitStoreError

from tests.fixtures import git, make_repo
from tests.recorder_helpers import pytest_env, run_pytest
from tests.store_helpers import object_files, open_store
from tests.waiting import wait_until

ONE_TEST = {"tests/test_one.py": "def test_one():\n    pass\n"}


def gpg(home: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["gpg", "--batch", "--passphrase", "", *args], input=input,
                          env={**os.environ, "GNUPGHOME": str(home)}, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def fingerprint(home: Path, uid: str) -> str:
    listing = gpg(home, "--with-colons", "--list-keys", uid)
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory):
    """A keyring with a good key, an expired one, a revoked one and one whose primary secret
    is gone (only its signing subkey can sign). ed25519: generated in milliseconds."""
    home = tmp_path_factory.mktemp("checked-gnupg")
    home.chmod(0o700)
    gpg(home, "--quick-gen-key", "Good <good@example.com>", "ed25519", "cert,sign", "never")
    gpg(home, "--faked-system-time", "20200101T000000", "--quick-gen-key",
        "Expired <expired@example.com>", "ed25519", "cert,sign", "1d")
    gpg(home, "--quick-gen-key", "Revoked <revoked@example.com>", "ed25519", "cert,sign", "never")
    revoked = fingerprint(home, "revoked@example.com")
    certificate = (home / "openpgp-revocs.d" / f"{revoked}.rev").read_text()
    gpg(home, "--import", input=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
    gpg(home, "--quick-gen-key", "Subkey Only <sub@example.com>", "ed25519", "cert,sign", "never")
    primary = fingerprint(home, "sub@example.com")
    gpg(home, "--quick-add-key", primary, "ed25519", "sign", "never")
    grip = next(line.split(":")[9] for line in
                gpg(home, "--with-colons", "--with-keygrip", "--list-secret-keys", primary)
                .splitlines() if line.startswith("grp"))
    (home / "private-keys-v1.d" / f"{grip}.key").unlink()       # `sec#`: the primary is gone
    keys = {name: fingerprint(home, f"{name}@example.com")
            for name in ("good", "expired", "revoked", "sub")}
    yield home, keys
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   capture_output=True)


@pytest.fixture
def keys(keyring, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home, fingerprints = keyring
    monkeypatch.setenv("GNUPGHOME", str(home))
    return fingerprints


def nothing_written(repo: Path, objects: set[str]) -> None:
    assert object_files(repo) == objects
    assert git(repo, "rev-parse", "-q", "--verify", "testlog", check=False) == ""


@pytest.mark.parametrize("which,reason", [("expired", "has expired on 2020-01-02"),
                                          ("revoked", "is revoked")])
def test_an_unusable_key_is_refused_not_swapped_for_another(repo: Path, keys: dict[str, str],
                                                           which: str, reason: str):
    """gpg itself (`--default-key`) would sign with the good key of the keyring instead."""
    objects = object_files(repo)
    with pytest.raises(GitStoreError) as caught:
        with open_store(repo, sign_key=keys[which]) as store:
            store.write({"a": b"1"}, "must not appear")
    assert str(caught.value) == (f"gpg key {keys[which]!r} ({keys[which]}) {reason}: renew it or "
                                 "pass another key (nothing was signed with any other key)")
    nothing_written(repo, objects)


def test_a_key_named_by_its_user_id_signs_with_the_usable_one(repo: Path, keys: dict[str, str],
                                                              keyring):
    """Two certificates answer to "example.com": the first usable one signs, and the log
    names the key that really signed."""
    with open_store(repo, sign_key="Good <good@") as store:
        assert store.signer.fingerprint == keys["good"]
        sha = store.write({"a": b"1"}, "one")
    assert git(repo, "log", "-1", "--format=%G? %GF", sha).split() == ["G", keys["good"]]


def test_a_subkey_only_key_signs_with_its_signing_subkey(repo: Path, keys: dict[str, str],
                                                         keyring):
    home, _ = keyring
    subkey = [line.split(":")[9] for line in
              gpg(home, "--with-colons", "--list-keys", keys["sub"]).splitlines()
              if line.startswith("fpr")][1]
    with open_store(repo, sign_key=keys["sub"]) as store:
        assert (store.signer.fingerprint, store.signer.signing_fingerprint) == (keys["sub"], subkey)
        sha = store.write({"a": b"1"}, "one")
    git(repo, "verify-commit", sha)
    assert git(repo, "log", "-1", "--format=%GF %GP", sha).split() == [subkey, keys["sub"]]
    # The primary itself, forced with `!`, cannot sign: its secret part is gone.
    with pytest.raises(GitStoreError, match=r"\) cannot sign: its primary key has no secret part in this keyring: "):
        open_store(repo, sign_key=keys["sub"] + "!")


def wrapper(tmp_path: Path, name: str, body: str) -> Path:
    """A gpg.program that is Python: `body` runs for a signing call, anything else is gpg."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport os, subprocess, sys\nargs = sys.argv[1:]\n"
                    f"if '--detach-sign' not in args:\n    os.execvp('gpg', ['gpg', *args])\n"
                    f"{body}\n")
    path.chmod(0o755)
    return path


GARBAGE = ("sys.stderr.write('[GNUPG:] SIG_CREATED D 22 8 00 1 ABCD\\n')\n"
           "print('-----BEGIN PGP SIGNATURE-----\\n\\nZ2FyYmFnZQ==\\n-----END PGP SIGNATURE-----')")
# A real signature by the right key, over other bytes than it was given.
OTHER_BYTES = "sys.exit(subprocess.run(['gpg', *args], input=b'other bytes').returncode)"
# A real signature over the right bytes, by another key of the keyring.
OTHER_KEY = ("at = args.index('--local-user')\nargs[at + 1] = os.environ['OTHER_KEY']\n"
             "os.execvp('gpg', ['gpg', *args])")


@pytest.mark.parametrize("body,problem", [
    (GARBAGE, "is not an OpenPGP signature"),
    (OTHER_BYTES, "does not verify with key"),
    (OTHER_KEY, "was made by key "),
])
def test_a_signature_that_does_not_check_is_never_used(repo: Path, keys: dict[str, str],
                                                       tmp_path: Path, body: str, problem: str,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OTHER_KEY", keys["sub"])
    git(repo, "config", "gpg.program", str(wrapper(tmp_path, "lying-gpg", body)))
    objects = object_files(repo)
    with open_store(repo, sign_key=keys["good"]) as store:
        with pytest.raises(GitStoreError) as caught:
            store.write({"a": b"1"}, "must not appear")
    assert str(caught.value).startswith(f"gpg ({tmp_path / 'lying-gpg'}) returned a signature "
                                        f"that {problem}"), caught.value
    assert str(caught.value).endswith(": it was not used")
    assert "\n" not in str(caught.value)
    nothing_written(repo, objects)


class HungGpg:
    """A gpg.program that marks that signing started, then never answers (the process that
    hangs is the one started: `exec`). Its `sleep` has an argument of its own, so that only
    its processes are ever looked for (other test sessions share the machine)."""

    def __init__(self, tmp_path: Path) -> None:
        self.mark = tmp_path / "signing-started"
        self.path = tmp_path / "hung-gpg"
        self.seconds = f"600.{secrets.randbelow(10**6):06d}"
        self.path.write_text(f"#!/bin/sh\ncase \"$*\" in *--detach-sign*)\n    : > '{self.mark}'\n"
                             f"    exec sleep {self.seconds}\nesac\nexec gpg \"$@\"\n")
        self.path.chmod(0o755)

    def sleepers(self) -> list[int]:
        """Its `sleep` processes still alive (Linux /proc)."""
        wanted = f"sleep\x00{self.seconds}\x00".encode()
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == wanted:
                    found.append(int(pid))
            except OSError:
                pass
        return found

    def stop(self) -> None:
        for pid in self.sleepers():
            os.kill(pid, signal.SIGKILL)


def test_a_hung_gpg_is_stopped_at_the_timeout(repo: Path, keys: dict[str, str], tmp_path: Path):
    hung = HungGpg(tmp_path)
    git(repo, "config", "gpg.program", str(hung.path))
    objects = object_files(repo)
    try:
        with open_store(repo, sign_key=keys["good"], sign_timeout=1.0) as store:
            with pytest.raises(GitStoreError) as caught:
                store.write({"a": b"1"}, "must not appear")
        assert str(caught.value).startswith(f"gpg ({hung.path}) gave no answer while signing "
                                            "within 1s and was stopped")
        assert hung.mark.exists()
        nothing_written(repo, objects)
        assert not hung.sleepers(), "the hung gpg was left running"
    finally:
        hung.stop()


HUNG_WRITER = """
import sys
from gitstore import GitStoreError
from tests.store_helpers import open_store
with open_store(sys.argv[1], sign_key=sys.argv[2]) as store:
    store.write({"hung": b"1"}, "never")
"""


def test_the_writers_lock_is_free_while_gpg_hangs(repo: Path, keys: dict[str, str],
                                                   tmp_path: Path, sandbox: dict[str, str]):
    """One writer's gpg hangs; another writer of the branch commits meanwhile, well within a
    short lock timeout."""
    gpg_program = HungGpg(tmp_path)
    git(repo, "config", "gpg.program", str(gpg_program.path))
    hung = subprocess.Popen([sys.executable, "-c", HUNG_WRITER, str(repo), keys["good"]],
                            cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: gpg_program.mark.exists() or hung.poll() is not None,
                   "the first writer signs")
        assert hung.poll() is None, hung.stdout.read() if hung.stdout else ""
        with open_store(repo, sign_key=False, lock_timeout=5.0) as store:
            sha = store.write({"other": b"2"}, "written while gpg hangs")
        assert git(repo, "rev-parse", "testlog").strip() == sha
    finally:
        hung.kill()
        hung.wait()
        gpg_program.stop()


def test_a_run_whose_key_expired_goes_to_pending_with_one_line(tmp_path: Path, keys: dict[str, str],
                                                              sandbox: dict[str, str]):
    repo = make_repo(tmp_path / "proj", ONE_TEST)
    git(repo, "config", "user.signingkey", keys["expired"])
    env = pytest_env(sandbox, GNUPGHOME=os.environ["GNUPGHOME"])
    proc = run_pytest(repo, env, "--testlog")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [entry] = (repo / ".git" / "testlog" / "pending").iterdir()
    assert proc.stdout.endswith(
        f"testlog: could not commit the run to refs/heads/testlog: gpg key {keys['expired']!r} "
        f"({keys['expired']}) has expired on 2020-01-02: renew it or pass another key (nothing "
        "was signed with any other key)\n"
        f"testlog: saved to {entry}; run `git testlog commit-pending` to commit it\n"), proc.stdout
    assert git(repo, "branch", "--list", "testlog") == ""


def test_a_run_whose_gpg_hangs_goes_to_pending_at_the_configured_timeout(
        tmp_path: Path, keys: dict[str, str], sandbox: dict[str, str]):
    repo = make_repo(tmp_path / "proj", ONE_TEST)
    hung = HungGpg(tmp_path)
    git(repo, "config", "gpg.program", str(hung.path))
    git(repo, "config", "user.signingkey", keys["good"])
    git(repo, "config", "testlog.sign-timeout", "2")
    try:
        proc = run_pytest(repo, pytest_env(sandbox, GNUPGHOME=os.environ["GNUPGHOME"]),
                          "--testlog")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert hung.mark.exists()
        [entry] = (repo / ".git" / "testlog" / "pending").iterdir()
        assert f"testlog: could not commit the run to refs/heads/testlog: gpg ({hung.path}) gave " \
               "no answer while signing within 2s and was stopped" in proc.stdout, proc.stdout
        assert f"testlog: saved to {entry}" in proc.stdout
        assert not hung.sleepers()
    finally:
        hung.stop()


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_bad_sign_timeout_stops_pytest_before_any_test(tmp_path: Path, sandbox: dict[str, str],
                                                         value: str):
    repo = make_repo(tmp_path / "proj", ONE_TEST)
    git(repo, "config", "testlog.sign-timeout", value)
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"testlog: sign_timeout must be a positive number of seconds, not {value!r} (from git " \
           "config testlog.*)" in proc.stderr
    assert "test_one" not in proc.stdout
