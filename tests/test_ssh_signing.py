"""SSH signing with gpg.format=ssh, end to end: stock `git verify-commit` accepts our commits
with gpg.ssh.allowedSignersFile, `verify --trusted-keys` takes an allowed-signers file, and
keys that cannot sign send the run to pending with one line."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from gitstore import GitStoreError, TrustedCerts

from testlog.cli import main
from tests.audit_helpers import record_run
from tests.fixtures import git, make_repo, user_state
from tests.recorder_helpers import event_at, pytest_env, run_pytest
from tests.store_helpers import fsck, object_files, open_store

ONE_TEST = {"tests/test_one.py": "def test_one():\n    pass\n"}


def ssh_key(where: Path, name: str, passphrase: str = "") -> Path:
    key = where / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f",
                    str(key)], check=True, capture_output=True)
    return key


def allowed_signers(where: Path, *keys: Path, principal: str = "ci@example.com") -> Path:
    path = where / "allowed_signers"
    path.write_text("".join(f'{principal} namespaces="git" {k.with_suffix(".pub").read_text()}'
                            for k in keys))
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return ssh_key(tmp_path, "id_ed25519")


def ssh_repo(repo: Path, signing_key: str) -> Path:
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", signing_key)
    return repo


def verify_commit(repo: Path, signers: Path, sha: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit",
                           sha], cwd=repo, capture_output=True, text=True)


@pytest.mark.parametrize("form", ["private key", "public key beside it", "~ path"])
def test_stock_git_verifies_our_ssh_signed_commits(repo: Path, key: Path, tmp_path: Path,
                                                   form: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    named = {"private key": str(key), "public key beside it": f"{key}.pub",
             "~ path": "~/id_ed25519"}[form]
    ssh_repo(repo, named)
    with open_store(repo) as store:
        assert store.signer.label.startswith("ssh:SHA256:")
        sha = store.write({"a": b"1"}, "one", {"Testlog-Suite": "unit"})
    header = git(repo, "cat-file", "commit", sha).split("\n\n", 1)[0]
    assert "\ngpgsig -----BEGIN SSH SIGNATURE-----\n" in header
    assert header.endswith(" -----END SSH SIGNATURE-----"), "no space-only line after the armor"
    signers = allowed_signers(tmp_path, key)
    proc = verify_commit(repo, signers, sha)
    assert proc.returncode == 0, proc.stderr
    assert 'Good "git" signature for ci@example.com' in proc.stderr
    (tmp_path / "strangers").mkdir()
    stranger = allowed_signers(tmp_path / "strangers", ssh_key(tmp_path, "stranger"))
    assert verify_commit(repo, stranger, sha).returncode != 0
    fsck(repo)


def test_log_verify_reads_the_allowed_signers_file(repo: Path, key: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]):
    ssh_repo(repo, str(key))
    with open_store(repo) as store:
        store.write({"a": b"1"}, "one")
    assert main(["-C", str(repo), "log", "--verify"]) == 0
    assert "unknown-key" in capsys.readouterr().out       # no allowed signers configured
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed_signers(tmp_path, key)))
    assert main(["-C", str(repo), "log", "--verify"]) == 0
    assert "  good  " in capsys.readouterr().out


def test_verify_trusts_an_allowed_signers_file(repo: Path, key: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]):
    ssh_repo(repo, str(key))
    with open_store(repo) as store:
        record_run(store, date(2025, 11, 1))
        record_run(store, date(2025, 11, 2))
    trusted = allowed_signers(tmp_path, key)
    code = main(["-C", str(repo), "verify", "--trusted-keys", str(trusted), "--require-signed"])
    out = capsys.readouterr().out
    assert code == 0, out
    (tmp_path / "other").mkdir()
    untrusted = allowed_signers(tmp_path / "other", ssh_key(tmp_path, "other-key"))
    code = main(["-C", str(repo), "verify", "--trusted-keys", str(untrusted), "--require-signed"])
    out = capsys.readouterr().out
    assert code == 1
    assert "which is not a trusted key" in out and "SHA256:" in out


def test_allowed_signers_with_options_and_several_principals(repo: Path, key: Path,
                                                            tmp_path: Path):
    """The file as people write it: comments, quoted principal lists, options with commas."""
    ssh_repo(repo, str(key))
    with open_store(repo) as store:
        sha = store.write({"a": b"1"}, "one")
    public = key.with_suffix(".pub").read_text().split()
    signers = tmp_path / "signers"
    signers.write_text(f'# team keys\n\n"ci@example.com,dev@example.com" '
                       f'namespaces="git,file",valid-after="20200101" {public[0]} {public[1]} ci\n')
    assert verify_commit(repo, signers, sha).returncode == 0
    with open_store(repo, sign_key=False) as store:
        entry = store.history(limit=1)[0]
    trusted = TrustedCerts.from_allowed_signers(str(signers), signers.read_bytes())
    check = trusted.check(entry.payload, entry.gpgsig)
    assert (check.status, check.label) == ("good", f"ssh:{store_fingerprint(key)}")


def store_fingerprint(key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def test_a_lying_ssh_program_is_caught(repo: Path, key: Path, tmp_path: Path):
    """gpg.ssh.program that signs with another key than the one configured."""
    other = ssh_key(tmp_path, "other")
    liar = tmp_path / "lying-ssh-keygen"
    liar.write_text(f"#!{sys.executable}\nimport os, sys\nargs = sys.argv[1:]\n"
                    "if 'sign' in args:\n    args[args.index('-f') + 1] = " + repr(str(other)) +
                    "\nos.execvp('ssh-keygen', ['ssh-keygen', *args])\n")
    liar.chmod(0o755)
    ssh_repo(repo, str(key))
    git(repo, "config", "gpg.ssh.program", str(liar))
    objects = object_files(repo)
    with open_store(repo) as store:
        with pytest.raises(GitStoreError, match=r"returned a signature that was made by key "
                                                r"SHA256:\S+, not SHA256:\S+: it was not used"):
            store.write({"a": b"1"}, "must not appear")
    assert object_files(repo) == objects


def test_a_key_with_a_passphrase_fails_at_once_without_a_terminal(repo: Path, tmp_path: Path):
    locked = ssh_key(tmp_path, "locked", passphrase="secret")
    ssh_repo(repo, str(locked))
    script = ("import sys\nfrom gitstore import GitStoreError\nfrom tests.store_helpers import "
              "open_store\ntry:\n    with open_store(sys.argv[1]) as store:\n"
              "        store.write({'a': b'1'}, 'one')\nexcept GitStoreError as exc:\n"
              "    print(exc)\n    sys.exit(3)\n")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    proc = subprocess.run([sys.executable, "-c", script, str(repo)], stdin=subprocess.DEVNULL,
                          start_new_session=True, capture_output=True, text=True, timeout=120,
                          env=env, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "a key with a passphrase needs ssh-agent when no terminal can prompt" in proc.stdout


def test_x509_is_refused_naming_the_setting(repo: Path, gpg_key: str):
    git(repo, "config", "gpg.format", "x509")
    with pytest.raises(GitStoreError) as caught:
        open_store(repo, sign_key=gpg_key)
    assert str(caught.value) == ("gpg.format=x509 (X.509 signing with gpgsm) is not supported: "
                                 "sign with OpenPGP (unset gpg.format) or SSH (gpg.format=ssh)")
    with open_store(repo, sign_key=False) as store:      # not signing: nothing to refuse
        store.write({"a": b"1"}, "unsigned")


# -- end to end: pytest --testlog --------------------------------------------------------------

def test_a_recorded_run_is_ssh_signed_and_verifies(tmp_path: Path, key: Path,
                                                   sandbox: dict[str, str]):
    repo = ssh_repo(make_repo(tmp_path / "proj", ONE_TEST), str(key))
    before = user_state(repo)
    proc = run_pytest(repo, pytest_env(sandbox), "--testlog")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recorded as" in proc.stdout and "(signed by SHA256:" in proc.stdout, proc.stdout
    signers = allowed_signers(tmp_path, key)
    assert verify_commit(repo, signers, "testlog").returncode == 0
    done = subprocess.run([sys.executable, "-m", "testlog", "verify", "--trusted-keys",
                           str(signers), "--require-signed"], cwd=repo, env=pytest_env(sandbox),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert event_at(repo)["signature"].startswith("ssh:SHA256:")
    assert user_state(repo) == before


@pytest.mark.parametrize("problem", ["missing", "not a key", "directory"])
def test_a_key_file_that_cannot_sign_sends_the_run_to_pending(tmp_path: Path,
                                                             sandbox: dict[str, str],
                                                             problem: str):
    repo = make_repo(tmp_path / "proj", ONE_TEST)
    named = tmp_path / "keys" / "id_ed25519"
    named.parent.mkdir()
    if problem == "not a key":
        named.write_text("just some text\n")
    elif problem == "directory":
        named.mkdir()
    ssh_repo(repo, str(named))
    env = {k: v for k, v in pytest_env(sandbox).items() if k != "SSH_AUTH_SOCK"}
    proc = run_pytest(repo, env, "--testlog")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reason = {"missing": f"SSH signing key {named} does not exist (user.signingkey with "
                         "gpg.format=ssh names a private key file)",
              "not a key": f"SSH signing key {named} is not an SSH private key (nor a public key "
                           "whose private half is beside it or in ssh-agent)",
              "directory": f"cannot read SSH signing key {named}: Is a directory"}[problem]
    [entry] = (repo / ".git" / "testlog" / "pending").iterdir()
    assert proc.stdout.endswith(
        f"testlog: could not commit the run to refs/heads/testlog: {reason}\n"
        f"testlog: saved to {entry}; run `git testlog commit-pending` to commit it\n"), proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
