"""Every test runs with a throwaway HOME, GNUPGHOME and git config; a trap guards the real ones."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.fixtures import gen_key, make_repo

REAL_HOME = Path(os.path.expanduser("~"))
GUARDED = [REAL_HOME / ".gnupg", REAL_HOME / ".gitconfig", REAL_HOME / ".config" / "git"]

pytest_plugins = ["pytester"]


def _snapshot(paths: list[Path]) -> dict[str, float]:
    seen = {}
    for root in paths:
        if root.is_file():
            seen[str(root)] = root.stat().st_mtime
        elif root.is_dir():
            for dirpath, _, names in os.walk(root):
                for n in names:
                    p = os.path.join(dirpath, n)
                    try:
                        seen[p] = os.stat(p).st_mtime
                    except FileNotFoundError:
                        pass
    return seen


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("sandbox")
    home, gnupg = base / "home", base / "gnupg"
    home.mkdir()
    gnupg.mkdir(mode=0o700)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Testlog Test\n\temail = test@example.com\n"
                         "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"
                         # Packing inside the write keeps every test's repository still once
                         # the write returns; test_store_packing covers the detached packer.
                         "[testlog]\n\tpackInBackground = false\n")
    return {"HOME": str(home), "GNUPGHOME": str(gnupg), "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config")}


@pytest.fixture(scope="session")
def gpg_key(sandbox: dict[str, str]) -> str:
    """Fingerprint of a passphrase-less key in the throwaway keyring."""
    fpr = gen_key(sandbox["GNUPGHOME"])
    yield fpr
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, **sandbox},
                   capture_output=True)


@pytest.fixture(autouse=True)
def isolated_env(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Point HOME, GNUPGHOME and git config at the sandbox; fail if the real ones change."""
    before = _snapshot(GUARDED)
    for key, value in sandbox.items():
        monkeypatch.setenv(key, value)
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TESTLOG_SIGN_KEY"):
        monkeypatch.delenv(key, raising=False)
    yield
    assert _snapshot(GUARDED) == before, "a test touched the real home directory or keyring"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")
