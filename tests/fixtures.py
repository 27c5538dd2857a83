"""Small factories for real git repositories and a throwaway gpg keyring (no mocks)."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from gitstore import without_git_location


def git(cwd: str | os.PathLike[str], *args: str, input: bytes | None = None,
        check: bool = True) -> str:
    env = without_git_location(os.environ)
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode()


def make_repo(path: Path, files: dict[str, str] | None = None, *, commit: bool = True) -> Path:
    """A non-bare repo with `files` committed on main (or left unborn with commit=False)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in (files or {"README.md": "hello\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
    return path


def gen_key(gnupghome: str, name: str = "Testlog Test", email: str = "test@example.com",
            passphrase: str | None = None, fast: bool = False) -> str:
    """Generate an RSA key in `gnupghome` (an ed25519 one with `fast`); its fingerprint."""
    import gnupg
    gpg = gnupg.GPG(gnupghome=gnupghome)
    kind = {"key_type": "EDDSA", "key_curve": "ed25519"} if fast else \
        {"key_type": "RSA", "key_length": 2048}
    params = gpg.gen_key_input(name_real=name, name_email=email, **kind,
                               no_protection=passphrase is None, passphrase=passphrase)
    key = gpg.gen_key(params)
    assert key.fingerprint, key.stderr
    return key.fingerprint


def user_state(repo: Path) -> dict[str, str]:
    """Digests of everything the user owns: HEAD, index, other refs, worktree files, stash."""
    git_dir = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-dir").strip())
    state = {}
    for name in ("HEAD", "index", "MERGE_HEAD", "ORIG_HEAD", "REBASE_HEAD"):
        p = git_dir / name
        state[name] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "-"
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    state["refs"] = "\n".join(r for r in refs.splitlines() if "testlog" not in r)
    state["status"] = git(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored")
    for f in sorted(repo.rglob("*")):
        if ".git" not in f.relative_to(repo).parts and f.is_file():
            state[f"file:{f.relative_to(repo)}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return state
