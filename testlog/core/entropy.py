"""Operating-system entropy the tests drew: what a test's record says of it, the run's side
file that holds the bytes (`runs/<day>__<suite>__entropy.bin`), and feeding them back. Pure.

A *stream* is every draw of one scope, in order: one test (its setup, call, teardown and every
attempt), or one collector while it collects (a test module's import-time draws: its node id;
"" is the session, anything drawn outside a collector and a test). The process that runs the
tests hands over each stream as a *dump*: `{"kinds": "us", "chunks": [b"…", b"…"]}` (one kind
letter and one bytes object per draw), or, past LIMIT bytes, only its count, size and digest
(`{"kinds": None, "count": n, "size": s, "sha256": hex}`): such a stream is not replayable.

A test's record holds `entropy: {"draws", "bytes", "sha256"}` (and `"replayable": false` past
the limit) only when it drew: a test that draws nothing adds nothing. The digest is SHA-256
over each draw framed as kind letter + 4-byte big-endian length + bytes, so it binds the order
and sizes of the draws as well as their bytes.

The side file: a header line, then one chunk per kept stream (collection scopes first, by id;
then tests by name and order): a canonical JSON line
`{"collect": id | "test": name, "order": n, "draws": [[kind, size, repeat], …], "sha256": …}`,
exactly the stream's bytes, and a newline (so that each chunk's header starts a line).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from testlog.core import branchjson, schema
from testlog.core.canonical import dumps_normal

URANDOM = "u"       # os.urandom (uuid.uuid4 calls it)
GETRANDOM = "g"     # os.getrandom
SYSTEM = "s"        # random.SystemRandom and secrets (random._urandom); numpy's SeedSequence()
SEED = "r"          # random.seed() / random.Random() without an argument
TORCH = "t"         # torch.seed(), torch.Generator.seed()
KINDS = {URANDOM: "os.urandom", GETRANDOM: "os.getrandom",
         SYSTEM: "random.SystemRandom/secrets", SEED: "random.seed()", TORCH: "torch.seed()"}
SEED_BYTES = 32     # what random.seed() without an argument draws (CPython's own draw is C's)
TORCH_SEED_BYTES = 8  # torch.seed() gives a 64-bit seed

LIMIT = 64 * 1024   # bytes of one stream kept for replay; above it only its digest
MAX_DRAWS = 1 << 20  # draws one chunk of a side file may list (it comes from the branch)
FORMAT = "testlog-entropy"
SESSION = ""        # the collection scope of everything outside a collector and a test

Dump = Mapping[str, Any]


class EntropyError(ValueError):
    """A side file, or a chunk of it, that is not what the recorder wrote."""


class Digest:
    """The stream digest, fed one draw at a time (see the module's docstring)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, kind: str, data: bytes) -> None:
        self._hash.update(kind.encode("ascii") + len(data).to_bytes(4, "big"))
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def stream_digest(kinds: str, chunks: Sequence[bytes]) -> str:
    digest = Digest()
    for kind, data in zip(kinds, chunks):
        digest.add(kind, data)
    return digest.hexdigest()


def kept(dump: Dump) -> bool:
    """Whether a dump holds its bytes (at most LIMIT of them)."""
    return dump.get("kinds") is not None


def block(dump: Dump) -> dict[str, Any]:
    """What a record (or the determinism file, for a collection scope) says of a stream."""
    if not kept(dump):
        return {"bytes": int(dump["size"]), "draws": int(dump["count"]),
                "replayable": False, "sha256": str(dump["sha256"])}
    chunks = dump["chunks"]
    return {"bytes": sum(len(c) for c in chunks), "draws": len(chunks),
            "sha256": stream_digest(dump["kinds"], chunks)}


def runs_of(kinds: str, chunks: Sequence[bytes]) -> list[list[Any]]:
    """[[kind, size, repeat], …]: consecutive draws of one kind and size counted once."""
    out: list[list[Any]] = []
    for kind, data in zip(kinds, chunks):
        if out and out[-1][0] == kind and out[-1][1] == len(data):
            out[-1][2] += 1
        else:
            out.append([kind, len(data), 1])
    return out


def chunk(scope: dict[str, Any], dump: Dump) -> bytes:
    """A stream's chunk of the side file (b"" when it is not kept). `scope`: {"test": name,
    "order": n} or {"collect": id}."""
    if not kept(dump):
        return b""
    kinds, chunks = dump["kinds"], dump["chunks"]
    head = dumps_normal({**scope, "draws": runs_of(kinds, chunks),
                         "sha256": stream_digest(kinds, chunks)})
    return b"".join([head, b"\n", *chunks, b"\n"])


def side_file(chunks: Sequence[bytes]) -> bytes | None:
    """The run's side file from its chunks in file order; None when there is none."""
    chunks = [c for c in chunks if c]
    if not chunks:
        return None
    head = dumps_normal({"chunks": len(chunks), "format": FORMAT, "limit": LIMIT,
                         "schema_version": schema.ENTROPY})
    return b"".join([head, b"\n", *chunks])


def settings(captured: bool) -> dict[str, Any]:
    """The run block's `entropy`: whether it was captured, and the limit."""
    return {"captured": True, "limit": LIMIT} if captured else {"captured": False}


# -- reading ---------------------------------------------------------------------------------

Draws = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class SideFile:
    """A parsed side file: the draws of each test ((name, order)) and collection scope."""
    tests: dict[tuple[str, int], Draws] = field(default_factory=dict)
    collection: dict[str, Draws] = field(default_factory=dict)


def _line(data: bytes, at: int, where: str) -> tuple[Any, int]:
    end = data.find(b"\n", at)
    if end < 0:
        raise EntropyError(f"{where}: a chunk has no header line")
    try:
        return branchjson.loads(data[at:end], max_bytes=1 << 24), end + 1
    except ValueError as exc:
        raise EntropyError(f"{where}: a chunk's header is {exc}") from None


def _draw_sizes(runs: Any, where: str) -> list[tuple[str, int]]:
    if not isinstance(runs, list):
        raise EntropyError(f"{where}: a chunk lists no draws")
    sizes: list[tuple[str, int]] = []
    for run in runs:
        ok = isinstance(run, list) and len(run) == 3 and run[0] in KINDS and all(
            isinstance(x, int) and not isinstance(x, bool) for x in run[1:])
        if not ok or run[1] < 0 or run[2] < 1 or len(sizes) + run[2] > MAX_DRAWS:
            raise EntropyError(f"{where}: a chunk's draws are not [kind, size, repeat] "
                               f"(at most {MAX_DRAWS} draws)")
        sizes.extend([(run[0], run[1])] * run[2])
    return sizes


def _scope(head: dict[str, Any], where: str) -> tuple[str, Any]:
    if isinstance(head.get("collect"), str) and "test" not in head:
        return "collect", head["collect"]
    order = head.get("order")
    if isinstance(head.get("test"), str) and isinstance(order, int) and not isinstance(order, bool):
        return "test", (head["test"], order)
    raise EntropyError(f"{where}: a chunk names no test or collector")


def parse_side_file(data: bytes, where: str) -> SideFile:
    """Every chunk of a side file, checked against its own digest; EntropyError otherwise."""
    head, at = _line(data, 0, where)
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise EntropyError(f"{where}: not an entropy file")
    problem = schema.version_problem(head.get("schema_version"), schema.ENTROPY)
    if problem:
        raise EntropyError(f"{where} has {problem}")
    out = SideFile()
    while at < len(data):
        chunk_head, at = _line(data, at, where)
        if not isinstance(chunk_head, dict):
            raise EntropyError(f"{where}: a chunk's header is not an object")
        kind, key = _scope(chunk_head, where)
        draws = []
        for draw_kind, size in _draw_sizes(chunk_head.get("draws"), where):
            if at + size > len(data):
                raise EntropyError(f"{where}: the file ends inside the draws of {key!r}")
            draws.append((draw_kind, data[at:at + size]))
            at += size
        if data[at:at + 1] != b"\n":
            raise EntropyError(f"{where}: the draws of {key!r} are not followed by a newline")
        at += 1
        if stream_digest("".join(k for k, _ in draws), [d for _, d in draws]) \
                != chunk_head.get("sha256"):
            raise EntropyError(f"{where}: the draws of {key!r} do not match their digest")
        target: dict[Any, Draws] = out.tests if kind == "test" else out.collection
        if key in target:
            raise EntropyError(f"{where}: {key!r} has two chunks")
        target[key] = tuple(draws)
    if len(out.tests) + len(out.collection) != head.get("chunks"):
        raise EntropyError(f"{where}: the header counts {head.get('chunks')!r} chunks, the file "
                           f"holds {len(out.tests) + len(out.collection)}")
    return out


def matches(draws: Draws, recorded: Any) -> bool:
    """Whether kept draws are the ones a record's (or determinism file's) block names."""
    return isinstance(recorded, dict) and recorded.get("sha256") == stream_digest(
        "".join(k for k, _ in draws), [d for _, d in draws])


def replayable(recorded: Any) -> bool:
    """Whether a block names draws that were kept (within the limit)."""
    return isinstance(recorded, dict) and recorded.get("replayable", True) is not False


def collection_blocks(determinism: Mapping[str, Any]) -> dict[str, Any]:
    """The determinism file's block of each collection scope ({} when there is none)."""
    entropy = determinism.get("entropy")
    blocks = entropy.get("collection") if isinstance(entropy, dict) else None
    return dict(blocks) if isinstance(blocks, dict) else {}


def side_file_problem(side: SideFile | None, records: Sequence[Mapping[str, Any]],
                      collection: Mapping[str, Any]) -> str | None:
    """What does not hold between a run's side file and what its records and determinism
    file say (every replayable stream there, with its digest; nothing else); None when all
    does."""
    side = side or SideFile()
    wanted: dict[tuple[str, Any], Any] = {
        ("test", (r.get("test_name"), r.get("order"))): r.get("entropy") for r in records
        if r.get("entropy") is not None}
    wanted.update({("collect", scope): b for scope, b in collection.items()})
    held: dict[tuple[str, Any], Draws] = {("test", k): v for k, v in side.tests.items()}
    held.update({("collect", k): v for k, v in side.collection.items()})
    for key, recorded in sorted(wanted.items(), key=repr):
        name = _scope_name(key)
        if not isinstance(recorded, dict):
            return f"the entropy block of {name} is not an object"
        if not replayable(recorded):
            if key in held:
                return f"it holds the entropy of {name}, which its record says was not kept"
        elif key not in held:
            return f"the entropy of {name} is missing"
        elif not matches(held[key], recorded):
            return f"the entropy of {name} does not match its digest"
    extra = sorted((k for k in held if k not in wanted), key=repr)
    if extra:
        return f"it holds entropy for {_scope_name(extra[0])}, which no record names"
    return None


def _scope_name(key: tuple[str, Any]) -> str:
    if key[0] == "test":
        return f"test {key[1][0]!r}"
    return "the session" if key[1] == SESSION else f"the collection of {key[1]!r}"


# -- replay -----------------------------------------------------------------------------------

class Feed:
    """The recorded draws of one scope, handed back in order. A draw takes the next recorded
    one of the same kind and size (recorded draws passed over are ones this run no longer
    makes: a library that drew once per process, earlier); a draw with none left to take
    means the code draws more, or otherwise, than when recorded: from then on `differs` says
    which, and the scope gets real entropy."""

    def __init__(self, draws: Draws, feeding: bool = True) -> None:
        self.draws = draws
        self.feeding = feeding      # False: nothing to feed, only count (nothing recorded)
        self.position = 0
        self.asked = 0
        self.fed = 0
        self.differs: str | None = None

    def take(self, kind: str, size: int) -> bytes | None:
        """The recorded bytes for this draw; None: real entropy (not feeding, or the draws
        differ)."""
        self.asked += 1
        if self.differs is not None or not self.feeding:
            return None
        draws = self.draws
        for index in range(self.position, len(draws)):
            if draws[index][0] == kind and len(draws[index][1]) == size:
                self.position = index + 1
                self.fed += 1
                return draws[index][1]
        recorded = (f"{len(draws)} recorded draw{'s' if len(draws) != 1 else ''}, "
                    f"{self.fed} fed back" if draws else "none was recorded")
        self.differs = (f"draw {self.asked} ({KINDS[kind]}, {size} bytes) is not in the "
                        f"record ({recorded}); real entropy from there on")
        return None

    def result(self) -> dict[str, Any]:
        """What the replay of this scope saw (for the judge and the report)."""
        out: dict[str, Any] = {"asked": self.asked, "fed": self.fed,
                               "recorded": len(self.draws), "feeding": self.feeding}
        if self.differs is not None:
            out["differs"] = self.differs
        return out


def derived_bytes(key: bytes, scope: str, index: int, size: int) -> bytes:
    """Entropy every xdist worker draws alike outside its tests: SHAKE-256 of a key the
    controller drew for the session, the scope and the draw's index in it (so all workers
    import a test module with the same values, as one process would)."""
    seed = key + b"\0" + scope.encode("utf-8", "surrogatepass") + b"\0" + index.to_bytes(8, "big")
    return hashlib.shake_256(seed).digest(size)


def unkept_warning(names: Sequence[str]) -> str | None:
    """The run's warning naming the scopes whose entropy was past LIMIT (kept as a digest
    only: not replayable); None when there is none. At most 5 are named."""
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"OS entropy above the {LIMIT}-byte limit was kept as a digest only, not "
            f"replayable: {shown}")


def describe(block_: Any) -> str:
    """A record's entropy block in words (`3 draws, 48 bytes`)."""
    if not isinstance(block_, dict):
        return "no entropy"
    draws, size = block_.get("draws"), block_.get("bytes")
    return f"{draws} draw{'s' if draws != 1 else ''}, {size} bytes"

