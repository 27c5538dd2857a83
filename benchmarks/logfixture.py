"""Shared by bench_log.py and bench_audit.py: a throwaway sandbox (HOME, git config, GNUPGHOME),
keys, run files made by the real recorder code, and log chains built fast but byte for byte as
`commit_event` writes them.

- `synthetic_run` feeds made-up test outcomes and captures (seeds derived from the base seed,
  before-states the seeded ones, after-states random for the tests that "drew" numbers) through
  the recorder's own `RecordBook`/`run_bundle`: the compact run file, run.log, summaries,
  timing CSV, errors and determinism header are exactly what a pytest session of those tests
  would commit, and they differ from run to run.
- `ChainBuilder` turns such files into commits the way `commit_event` does (the static README
  on the first commit, the `Testlog-Event-Record` trailer, `Testlog-Previous-Event` linking to
  the parent's event, `Testlog-Schema: 2`), signed in process with pysequoia (~1 ms instead of
  a gpg process), with the objects streamed into one pack file instead of loose objects.

Not a benchmark itself (run_all.py runs only bench_*.py).
"""
from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import gnupg
import pysequoia
from dulwich.objects import DEFAULT_OBJECT_FORMAT, Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.pack import pack_object_header, write_pack_index

from gitstore.store import linked_message

from testlog.core import layout
from testlog.core.chronicle import TEST_SUITE_EXECUTED, make_event
from testlog.core.layout import TRAILER_PREVIOUS_EVENT
from testlog.core.records import TestOutcome
from testlog.core.runfiles import Harvest, RunBundle, RunContext, run_bundle
from testlog.core.seeds import derive_seed, session_seed
from testlog.core.timefmt import utc_iso
from testlog.rng import seeded_digest
from testlog.store.events import STATIC_INDEX, event_digest, event_trailers

GIT_LOCATION = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
                "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE")
IDENTITY = b"Bench Signer <bench@example.com>"


# -- the sandbox -------------------------------------------------------------------------------

def sandbox(base: Path, pack_in_background: bool = True) -> dict[str, str]:
    """HOME, git config and GNUPGHOME under `base`, set in os.environ too (in-process stores
    read them); the environment for subprocesses."""
    home, gnupg_home = base / "home", base / "gnupg"
    home.mkdir(parents=True, exist_ok=True)
    gnupg_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Bench Signer\n\temail = bench@example.com\n"
                      "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"
                      "[advice]\n\tdetachedHead = false\n"
                      f"[testlog]\n\tpackInBackground = {str(pack_in_background).lower()}\n")
    values = {"HOME": str(home), "GNUPGHOME": str(gnupg_home), "GIT_CONFIG_GLOBAL": str(config),
              "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config")}
    for name in (*GIT_LOCATION, "TESTLOG_SIGN_KEY", "TESTLOG_WRITER", "PYTEST_ADDOPTS"):
        os.environ.pop(name, None)
    os.environ.update(values)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TESTLOG_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)       # a warm bytecode cache, as users have
    return env


def stop_agent(gnupg_home: str | Path) -> None:
    """gpg starts an agent per GNUPGHOME; stop it before that home is deleted or left behind."""
    if Path(gnupg_home).exists():
        subprocess.run(["gpgconf", "--homedir", str(gnupg_home), "--kill", "gpg-agent"],
                       capture_output=True)


def git(cwd: Path | str, *args: str, env: dict[str, str] | None = None,
        input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True,
                          check=True).stdout.decode()


# -- keys --------------------------------------------------------------------------------------

def make_key(gnupg_home: str | Path, name: str = "Bench Signer",
             email: str = "bench@example.com", fast: bool = False) -> str:
    """A passphrase-less key in that keyring (RSA 2048, or ed25519 with `fast`); its
    fingerprint."""
    gpg = gnupg.GPG(gnupghome=str(gnupg_home))
    kind = {"key_type": "EDDSA", "key_curve": "ed25519"} if fast else \
        {"key_type": "RSA", "key_length": 2048}
    key = gpg.gen_key(gpg.gen_key_input(name_real=name, name_email=email, no_protection=True,
                                        **kind))
    if not key.fingerprint:
        raise SystemExit(f"gpg made no key in {gnupg_home}: {key.stderr}")
    return str(key.fingerprint)


def export_public(gnupg_home: str | Path, fingerprints: Iterable[str], path: Path) -> Path:
    path.write_text(gnupg.GPG(gnupghome=str(gnupg_home)).export_keys(list(fingerprints)))
    return path


class SequoiaSigner:
    """Signs commits in process with the key's secret half (what gpg would produce: a detached
    armored OpenPGP signature, without the trailing newline git leaves out)."""

    def __init__(self, gnupg_home: str | Path, fingerprint: str) -> None:
        gpg = gnupg.GPG(gnupghome=str(gnupg_home))
        secret = gpg.export_keys(fingerprint, secret=True, passphrase="", expect_passphrase=False)
        if not secret:
            raise SystemExit(f"gpg exported no secret key from {gnupg_home}")
        self._signer = pysequoia.Tsk.from_bytes(secret.encode()).signer()
        self.label = f"gpg:{fingerprint}"

    def sign(self, payload: bytes) -> bytes:
        return pysequoia.sign(self._signer, payload,
                              mode=pysequoia.SignatureMode.DETACHED).rstrip(b"\n")


# -- run files from the recorder's own code ------------------------------------------------------

@dataclass(frozen=True)
class FakeSource:
    commit: str | None
    tree: str | None
    diff: bytes = b""
    untracked: tuple[str, ...] = ()
    dirty: bool = False


# What the recorder puts in every record's environment (a real run's block is ~250 bytes).
RECORD_ENVIRONMENT = {"python": "3.11.7", "implementation": "CPython", "platform": "linux",
                      "machine": "x86_64", "pytest": "9.2.0",
                      "packages": {"numpy": "2.4.6", "torch": "2.13.0+cpu"},
                      "env_digest": "sha256:" + "5e" * 32, "cpu_count": 2}
RUN_ENVIRONMENT = {**RECORD_ENVIRONMENT, "hostname": "bench", "cwd": "/work/project"}


@cache
def _seeded(name: str, seed: int) -> str | None:
    return seeded_digest(name, seed)


def synthetic_run(tests: int, *, suite: str, day: date, started_ns: int, base_seed: int,
                  rng: random.Random, drawing: float = 0.3,
                  rngs: tuple[str, ...] = ("python", "numpy"),
                  source: tuple[str, str] = ("ab" * 20, "cd" * 20)) -> RunBundle:
    """A passing run of `tests` tests as the recorder would commit it. A share `drawing` of the
    tests move their RNGs (a fresh, incompressible after-state digest each); the rest leave
    them at the seeded state. Timings vary from run to run, so no two runs share a blob."""
    ctx = RunContext(
        suite=suite, day=day, base_seed=base_seed, session_seed=session_seed(base_seed),
        started_ns=started_ns, source=FakeSource(*source), pythonhashseed="0",
        record_environment=RECORD_ENVIRONMENT, run_environment=RUN_ENVIRONMENT,
        pytest_args=["-q", "--testlog", f"--testlog-suite={suite}"], pytest_version="9.2.0",
        reseed=True, full_state=False, randomly={}, rootdir=".", derive=_seeded)
    harvest = Harvest()
    clock_ns, perf_ns, captures = started_ns, 1_000_000_000, []
    per_file = 50
    for i in range(tests):
        nodeid = f"tests/test_{suite}_{i // per_file:03d}.py::test_case[{i}]"
        seed = derive_seed(base_seed, nodeid)
        before = {name: _seeded(name, seed) or "00" * 32 for name in rngs}
        after = dict(before)
        if rng.random() < drawing:
            after = {name: rng.getrandbits(256).to_bytes(32, "big").hex() for name in rngs}
        duration = rng.randrange(50_000, 3_000_000)
        captures.append({"nodeid": nodeid, "seed": seed, "worker": None, "before": before,
                         "after": after, "start_ns": perf_ns, "end_ns": perf_ns + duration,
                         "wall_ns": clock_ns, "cpu_ns": duration - rng.randrange(0, 40_000),
                         "rss": 60_000_000 + rng.randrange(0, 1000) * 4096,
                         "inputs": {}, "outputs": {}, "errors": []})
        phases = {"setup": ("passed", False), "call": ("passed", False),
                  "teardown": ("passed", False)}
        harvest.outcomes.append(TestOutcome(nodeid, phases, order=i))
        clock_ns += duration + 20_000
        perf_ns += duration + 20_000
    harvest.add_captures(captures)
    harvest.finished_ns = clock_ns
    return run_bundle(ctx, harvest)


# -- commits as commit_event writes them, into one pack ------------------------------------------

class PackWriter:
    """Objects appended to one pack file (undeltified, zlib level 1 like loose objects); close()
    names it as git does and writes its index. `git repack -a -d -f` then gives the objects
    the deltas that packing would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")
        self.file.write(b"PACK" + struct.pack(">II", 2, 0))      # count patched in close()
        self.entries: list[tuple[bytes, int, int]] = []
        self.offsets: dict[bytes, int] = {}

    def add(self, obj: ShaFile) -> bytes:
        """Add the object unless it is in already; its hex id."""
        sha = obj.sha().digest()
        if sha not in self.offsets:
            data = obj.as_raw_string()
            offset = self.file.tell()
            header = pack_object_header(obj.type_num, None, len(data), DEFAULT_OBJECT_FORMAT)
            body = bytes(header) + zlib.compress(data, 1)
            self.file.write(body)
            self.entries.append((sha, offset, zlib.crc32(body)))
            self.offsets[sha] = offset
        return obj.id

    def close(self) -> None:
        self.file.seek(8)
        self.file.write(struct.pack(">I", len(self.entries)))
        self.file.close()
        data = self.path.read_bytes()
        checksum = hashlib.sha1(data).digest()
        with open(self.path, "ab") as handle:
            handle.write(checksum)
        # git's name for it (pack-<checksum>), so that `git repack -a -d` replaces it
        final = self.path.with_name(f"pack-{checksum.hex()}.pack")
        os.replace(self.path, final)
        self.path = final
        with open(final.with_suffix(".idx"), "wb") as handle:
            write_pack_index(handle, sorted(self.entries), checksum, version=2)


class ChainBuilder:
    """A new chain of log commits, each holding a run's files and its event exactly as
    `commit_event` writes them."""

    def __init__(self, repo_git_dir: Path, signer: SequoiaSigner | None) -> None:
        self.pack = PackWriter(repo_git_dir / "objects" / "pack" / "tmp-bench.pack")
        self.signer = signer
        self.tip: str | None = None
        self.event: dict[str, Any] | None = None          # the tip's event
        self.files: dict[str, dict[str, bytes]] = {}      # {directory ("" = root): {name: blob}}
        self.commits: list[str] = []

    def add_run(self, bundle: RunBundle, when: int) -> str:
        """Commit the run's files at `when` (seconds): its sha."""
        return self.add(bundle.files, bundle.artifact, bundle.verdict, bundle.summary,
                        bundle.trailers, when)

    def add(self, files: dict[str, bytes | None], artifact: str, verdict: str, summary: str,
            trailers: dict[str, str], when: int) -> str:
        data = files[artifact]
        assert data is not None
        label = self.signer.label if self.signer else "unsigned"
        event = make_event(TEST_SUITE_EXECUTED, artifact, data, verdict, label,
                           timestamp=utc_iso(when))
        changes = dict(files)
        if self.tip is None:
            changes[layout.INDEX] = STATIC_INDEX
        previous = self.event

        def parent_trailers(parent: str | None) -> dict[str, str]:
            return {TRAILER_PREVIOUS_EVENT: event_digest(previous)} if parent and previous \
                else {}
        message = linked_message(summary, event_trailers(event, trailers), parent_trailers,
                                 self.tip)
        tree = self._tree(changes)
        commit = Commit()
        commit.tree = ObjectID(tree)
        commit.parents = [ObjectID(self.tip.encode())] if self.tip else []
        commit.author = commit.committer = IDENTITY
        commit.author_time = commit.commit_time = when
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = message
        if self.signer is not None:
            commit.gpgsig = self.signer.sign(commit.as_raw_string())
        self.tip, self.event = self.pack.add(commit).decode(), event
        self.commits.append(self.tip)
        return self.tip

    def _tree(self, changes: dict[str, bytes | None]) -> bytes:
        """The root tree id after `changes` (paths at most one directory deep, as run files)."""
        for path, data in changes.items():
            directory, _, name = path.rpartition("/")
            if data is None:
                self.files.get(directory, {}).pop(name, None)
                continue
            blob = Blob.from_string(data)
            self.files.setdefault(directory, {})[name] = self.pack.add(blob)
        root = Tree()
        for name, sha in self.files.get("", {}).items():
            root.add(name.encode(), 0o100644, ObjectID(sha))
        for directory, entries in self.files.items():
            if not directory or not entries:
                continue
            sub = Tree()
            for name, sha in entries.items():
                sub.add(name.encode(), 0o100644, ObjectID(sha))
            root.add(directory.encode(), 0o040000, ObjectID(self.pack.add(sub)))
        return self.pack.add(root)

    def close(self) -> None:
        self.pack.close()

