"""Environment variables only as HMAC digests keyed per repository; values redacted from text."""
from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

from testlog.core.envdigest import KEY_ENV, env_digests, key_id, overall_digest
from testlog.core.redaction import Redactor as redactor
from testlog.store.environment import environment_blocks, repository_key, resolve_key
from tests.fixtures import git


def test_repository_key_is_created_private_once_and_never_committed(repo: Path):
    common = str(repo / ".git")
    key = repository_key(common)
    path = repo / ".git" / "testlog" / "env-key"
    assert len(key) == 32 and repository_key(common) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert git(repo, "status", "--porcelain") == ""


def test_key_from_environment_wins_and_outside_git_is_one_run_only(repo: Path):
    key, source = resolve_key({KEY_ENV: "shared-ci-key"}, str(repo / ".git"))
    assert (key, source) == (b"shared-ci-key", "environment")
    assert not (repo / ".git" / "testlog" / "env-key").exists()
    one, source = resolve_key({}, None)
    assert source == "ephemeral" and one != resolve_key({}, None)[0]


def test_digests_are_hmacs_of_name_and_value_and_skip_volatile_names():
    key = b"k" * 32
    digests = env_digests({"USER": "alice", "PYTEST_CURRENT_TEST": "x", KEY_ENV: "s"}, key)
    expected = hmac.new(key, b"USER=alice", hashlib.sha256).hexdigest()
    assert digests == {"USER": f"hmac-sha256:{expected}"}
    assert overall_digest(digests, key) != overall_digest(digests, b"other")
    assert key_id(key) == key_id(key) != key_id(b"other")


def test_blocks_hold_platform_facts_and_no_value():
    record, run = environment_blocks({"SECRET_TOKEN": "hunter2-very-secret"}, b"k" * 32, "repository")
    assert {"os", "arch", "python_version", "cpu", "numpy_version", "torch_version",
            "env_digest"} <= set(record)
    assert run["env"].keys() == {"SECRET_TOKEN"}
    assert "hunter2" not in repr((record, run))
    assert run["env_key"] == {"source": "repository", "id": key_id(b"k" * 32)}


def test_redactor_replaces_long_values_longest_first():
    redact = redactor({"HOME": "/home/alice", "PWD": "/home/alice/proj", "X": "1",
                       KEY_ENV: "the-key-value", "PYTEST_CURRENT_TEST": "t.py::x (call)"})
    assert redact("/home/alice/proj/t.py and /home/alice/.venv") == "${PWD}/t.py and ${HOME}/.venv"
    assert redact("x=1 the-key-value") == "x=1 ${TESTLOG_ENV_KEY}"
    assert redact("t.py::x (call)") == "t.py::x (call)"
    assert redactor({})("same") == "same"
