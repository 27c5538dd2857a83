"""The one module that talks to ssh-keygen: SSH signatures over commit bytes as git makes
them with `gpg.format=ssh` (`ssh-keygen -Y sign -n git`), checked against the signing key
before they are used, and checked against an allowed-signers file when verifying.

The key is named as git names it in `user.signingkey`: a private key file, a public key file
whose private half is beside it or in ssh-agent, or a literal public key (`key::ssh-… AAAA…`)
held by ssh-agent. Every ssh-keygen call ends within the signing timeout.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from gitstore.errors import GitStoreError
from gitstore.signer import DEFAULT_SIGN_TIMEOUT
from gitstore.sigstatus import BAD, GOOD, UNTRUSTED
from gitstore.timedrun import Finished, TimedOut, run_timed

NAMESPACE = b"git"          # git signs and verifies commits in this namespace
_BEGIN, _END = b"-----BEGIN SSH SIGNATURE-----", b"-----END SSH SIGNATURE-----"
_KEY_TYPE = re.compile(r"(ssh-|ecdsa-sha2-|sk-ssh-|sk-ecdsa-sha2-)[A-Za-z0-9@.+-]+")
_PRIVATE_PEM = re.compile(rb"-----BEGIN (?:RSA |DSA |EC |ENCRYPTED )?PRIVATE KEY-----")
_OPENSSH_PRIVATE = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_MAX_KEY_FILE = 1 << 20


# -- the SSH wire format ---------------------------------------------------------------------

def _strings(data: bytes, pos: int, count: int) -> tuple[list[bytes], int]:
    """`count` length-prefixed strings from `data` at `pos`; ValueError when it is short."""
    out = []
    for _ in range(count):
        if pos + 4 > len(data):
            raise ValueError("truncated")
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        if pos + 4 + size > len(data):
            raise ValueError("truncated")
        out.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return out, pos


def key_fingerprint(blob: bytes) -> str:
    """`SHA256:…` as ssh-keygen -l prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_key_from_line(line: str) -> bytes | None:
    """The key blob of `ssh-ed25519 AAAA… [comment]`, or None when the text is not one."""
    words = line.strip().split()
    if len(words) < 2 or not _KEY_TYPE.fullmatch(words[0]):
        return None
    try:
        blob = base64.b64decode(words[1], validate=True)
        ([kind], _) = _strings(blob, 0, 1)
    except (binascii.Error, ValueError):
        return None
    return blob if kind.decode(errors="replace") == words[0] else None


def _armored_body(text: bytes, begin: bytes, end: bytes) -> bytes | None:
    text = text.strip()
    if not (text.startswith(begin) and text.endswith(end)):
        return None
    try:
        return base64.b64decode(b"".join(text[len(begin):-len(end)].split()), validate=True)
    except binascii.Error:
        return None


@dataclass(frozen=True)
class SshSignature:
    public_key: bytes
    namespace: bytes


def parse_signature(signature: bytes) -> SshSignature | None:
    """The signing key and namespace of an armored SSH signature; None if it is not one."""
    blob = _armored_body(signature, _BEGIN, _END)
    if blob is None or not blob.startswith(b"SSHSIG") or len(blob) < 10:
        return None
    try:
        (public_key, namespace), _ = _strings(blob, 10, 2)
    except ValueError:
        return None
    return SshSignature(public_key, namespace)


def is_ssh_signature(signature: bytes) -> bool:
    return signature.lstrip().startswith(_BEGIN)


def openssh_private_public_key(text: bytes) -> tuple[bytes, bool] | None:
    """(public key blob, whether a passphrase protects it) from an OpenSSH private key file,
    read from its unencrypted header; None when the text is not one."""
    blob = _armored_body(text, _OPENSSH_PRIVATE, b"-----END OPENSSH PRIVATE KEY-----")
    magic = b"openssh-key-v1\0"
    if blob is None or not blob.startswith(magic):
        return None
    try:
        (cipher, _kdf, _options), pos = _strings(blob, len(magic), 3)
        pos += 4                                    # the number of keys: git signs with the first
        (public_key,), _ = _strings(blob, pos, 1)
    except ValueError:
        return None
    return public_key, cipher != b"none"


# -- running ssh-keygen ------------------------------------------------------------------------

class SshKeygen:
    """ssh-keygen (or git's gpg.ssh.program); every call ends within `timeout` seconds."""

    def __init__(self, program: str | None = None, timeout: float = DEFAULT_SIGN_TIMEOUT) -> None:
        self.name = program or "ssh-keygen"
        found = shutil.which(self.name)
        if found is None:
            raise GitStoreError(f"ssh-keygen program {self.name!r} not found (install the OpenSSH "
                                "client, or set gpg.ssh.program)")
        self.binary, self.timeout = found, timeout

    def run(self, args: list[str], input: bytes | None = None, doing: str = "") -> Finished:
        try:
            return run_timed([self.binary, *args], input=input, timeout=self.timeout,
                             env=_prompt_env())
        except TimedOut:
            raise GitStoreError(
                f"{self.name} gave no answer{' ' + doing if doing else ''} within "
                f"{self.timeout:g}s and was stopped (a passphrase prompt nobody answers, or a "
                "hung ssh-agent; raise the signing timeout if it needs longer)") from None
        except OSError as exc:
            raise GitStoreError(f"cannot run {self.name!r}: {exc.strerror or exc}") from None


def _prompt_env() -> dict[str, str]:
    """Never a graphical passphrase prompt that nobody may see (a terminal prompt fails by
    itself where there is no terminal)."""
    return {**os.environ, "SSH_ASKPASS_REQUIRE": "never"}


def failure(proc: Finished) -> str:
    lines = [ln.strip() for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()
             and not ln.startswith("Signing data on standard input")]
    return lines[-1] if lines else f"exit status {proc.returncode}"


# -- signing ------------------------------------------------------------------------------------

def literal_key(key: str) -> str | None:
    """The public key text of `key::ssh-… AAAA…` (or a bare `ssh-… AAAA…`), else None."""
    text = key.strip()
    if text.startswith("key::"):
        return text[5:]
    return text if _KEY_TYPE.match(text) and " " in text else None


class SshSigner:
    """Signs with one SSH key as git does with gpg.format=ssh; `fingerprint` is SHA256:…"""

    scheme = "ssh"

    def __init__(self, key: str, program: str | None = None,
                 timeout: float = DEFAULT_SIGN_TIMEOUT) -> None:
        self.key = key
        self.tool = SshKeygen(program, timeout)
        literal = literal_key(key)
        self.key_file: str | None = None
        self.literal: str | None = literal
        if literal is not None:
            blob = public_key_from_line(literal)
            if blob is None:
                raise GitStoreError(f"SSH signing key {key!r} is not a public key "
                                    "(key::<type> <base64>)")
            need_agent(f"SSH signing key {key[:40]!r} is a literal public key")
            self.public_key = blob
        else:
            self.key_file = os.path.abspath(os.path.expanduser(key))
            self.public_key = self._key_of_file(self.key_file)
        self.fingerprint = key_fingerprint(self.public_key)

    @property
    def label(self) -> str:
        return f"ssh:{self.fingerprint}"

    def _key_of_file(self, path: str) -> bytes:
        """The public key for a key file; refuses what cannot sign."""
        shown = self.key
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_KEY_FILE)
        except FileNotFoundError:
            raise GitStoreError(f"SSH signing key {shown} does not exist (user.signingkey with "
                                "gpg.format=ssh names a private key file)") from None
        except OSError as exc:
            raise GitStoreError(f"cannot read SSH signing key {shown}: {exc.strerror}") from None
        private = openssh_private_public_key(data)
        if private is not None:
            return private[0]
        if _PRIVATE_PEM.search(data):
            return self._public_of_pem(path)
        blob = public_key_from_line(data.decode(errors="replace"))
        if blob is not None:
            if not os.path.isfile(path.removesuffix(".pub")) or not path.endswith(".pub"):
                need_agent(f"SSH signing key {shown} is a public key without its private key "
                           "beside it")
            return blob
        raise GitStoreError(f"SSH signing key {shown} is not an SSH private key (nor a public "
                            "key whose private half is beside it or in ssh-agent)")

    def _public_of_pem(self, path: str) -> bytes:
        """A PEM private key holds no public line: its .pub, else ssh-keygen derives it."""
        try:
            with open(path + ".pub", encoding="utf-8", errors="replace") as handle:
                blob = public_key_from_line(handle.read(_MAX_KEY_FILE))
        except OSError:
            blob = None
        if blob is None:
            proc = self.tool.run(["-y", "-f", path], doing="reading the public key")
            blob = public_key_from_line(proc.stdout.decode(errors="replace"))
            if proc.returncode != 0 or blob is None:
                raise GitStoreError(f"cannot read the public half of SSH signing key {self.key} "
                                    f"({failure(proc)}): put it beside it as {path}.pub")
        return blob

    def sign(self, payload: bytes) -> bytes:
        """An armored SSH signature in namespace `git`, checked, without the trailing newline."""
        with tempfile.TemporaryDirectory(prefix="sshsign-") as scratch:
            key_file = self.key_file
            extra = []
            if key_file is None:          # a literal key: ssh-agent holds its private half
                key_file = os.path.join(scratch, "key.pub")
                with open(key_file, "w", encoding="utf-8") as handle:
                    handle.write(str(self.literal) + "\n")
                extra = ["-U"]
            proc = self.tool.run(["-Y", "sign", "-n", NAMESPACE.decode(), "-f", key_file, *extra],
                                 input=payload, doing="while signing")
        signature = proc.stdout.replace(b"\r\n", b"\n").strip()
        if proc.returncode != 0 or not is_ssh_signature(signature):
            reason = failure(proc)
            hint = ": a key with a passphrase needs ssh-agent when no terminal can prompt" \
                if "passphrase" in reason.lower() else ""
            raise GitStoreError(f"{self.tool.name} could not sign with SSH key {self.key} "
                                f"({reason}){hint}")
        problem = self.signature_problem(payload, signature)
        if problem:
            raise GitStoreError(f"{self.tool.name} returned a signature that {problem}: it was "
                                "not used")
        return signature

    def signature_problem(self, payload: bytes, signature: bytes) -> str | None:
        parsed = parse_signature(signature)
        if parsed is None:
            return "is not an SSH signature"
        if parsed.public_key != self.public_key:
            return f"was made by key {key_fingerprint(parsed.public_key)}, not {self.fingerprint}"
        if parsed.namespace != NAMESPACE:
            return f"is in namespace {parsed.namespace.decode(errors='replace')!r}, not 'git'"
        proc = check_signature(self.tool, payload, signature, ["-Y", "check-novalidate",
                                                               "-n", NAMESPACE.decode()])
        return None if proc.returncode == 0 else f"does not verify ({failure(proc)})"


def need_agent(what: str) -> None:
    if not os.environ.get("SSH_AUTH_SOCK"):
        raise GitStoreError(f"{what}, and no ssh-agent runs (SSH_AUTH_SOCK is unset): name the "
                            "private key file, or add the key to ssh-agent")


def check_signature(tool: SshKeygen, payload: bytes, signature: bytes,
                    args: list[str]) -> Finished:
    """`ssh-keygen <args> -s <signature file>` with the payload on stdin."""
    with tempfile.NamedTemporaryFile(suffix=".sig") as sig_file:
        sig_file.write(signature + b"\n")
        sig_file.flush()
        return tool.run([*args, "-s", sig_file.name], input=payload, doing="while verifying")


# -- verifying against an allowed-signers file ----------------------------------------------

@dataclass(frozen=True)
class AllowedSigner:
    principals: str
    options: str
    public_key: bytes

    @property
    def cert_authority(self) -> bool:
        return any(o.strip().lower() == "cert-authority" for o in self.options.split(","))

    @property
    def time_bound(self) -> bool:
        return "valid-after" in self.options.lower() or "valid-before" in self.options.lower()


def _fields(line: str) -> Iterator[str]:
    """Whitespace-separated fields; double quotes keep spaces inside one."""
    for match in re.finditer(r'(?:[^\s"]+|"[^"]*")+', line):
        yield match.group(0)


def parse_allowed_signers(text: str) -> list[AllowedSigner] | None:
    """The entries of an allowed-signers file (`principals [options] keytype key`); None when
    a line is not one."""
    entries = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = list(_fields(line))
        options = ""
        if len(fields) >= 4 and not _KEY_TYPE.fullmatch(fields[1]):
            options, fields = fields[1], [fields[0], *fields[2:]]
        blob = public_key_from_line(" ".join(fields[1:3])) if len(fields) >= 3 else None
        if blob is None:
            return None
        entries.append(AllowedSigner(fields[0], options, blob))
    return entries


class AllowedSigners:
    """The SSH keys `gpg.ssh.allowedSignersFile`-style file trusts; checks signatures in
    namespace `git` with ssh-keygen (at the commit's time, as git does)."""

    def __init__(self, path: str, entries: list[AllowedSigner], program: str | None = None,
                 timeout: float = DEFAULT_SIGN_TIMEOUT) -> None:
        self.path, self.entries = os.path.abspath(path), entries
        self.program, self.timeout = program, timeout
        self.fingerprints = frozenset(key_fingerprint(e.public_key) for e in entries
                                      if not e.cert_authority)

    @classmethod
    def from_file(cls, path: str, data: bytes, program: str | None = None,
                  timeout: float = DEFAULT_SIGN_TIMEOUT) -> AllowedSigners | None:
        """None when `data` is not an allowed-signers file."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        entries = parse_allowed_signers(text)
        if not entries:
            return None
        return cls(path, entries, program, timeout)

    def check(self, payload: bytes, signature: bytes) -> tuple[str, str | None]:
        """(GOOD, BAD or UNTRUSTED, the signing key's SHA256 fingerprint when readable)."""
        parsed = parse_signature(signature)
        if parsed is None:
            return BAD, None
        fingerprint = key_fingerprint(parsed.public_key)
        tool = SshKeygen(self.program, self.timeout)
        entry = next((e for e in self.entries if e.public_key == parsed.public_key
                      and not e.cert_authority), None)
        if entry is not None:
            principal = entry.principals.strip('"').split(",")[0]
        elif any(e.cert_authority for e in self.entries):
            found = check_signature(tool, payload, signature,
                                    ["-Y", "find-principals", "-f", self.path])
            principal = found.stdout.decode(errors="replace").strip().split("\n")[0]
            if found.returncode != 0 or not principal:
                return UNTRUSTED, fingerprint
        else:
            return UNTRUSTED, fingerprint
        args = ["-Y", "verify", "-f", self.path, "-I", principal, "-n", NAMESPACE.decode()]
        when = commit_time(payload)
        if when is not None and (entry is None or entry.time_bound):
            args.append("-Overify-time=" + time.strftime("%Y%m%d%H%M%S", time.localtime(when)))
        proc = check_signature(tool, payload, signature, args)
        return (GOOD if proc.returncode == 0 else BAD), fingerprint


def commit_time(payload: bytes) -> int | None:
    """The committer time of a commit's bytes (git verifies SSH signatures as of then)."""
    found = re.search(rb"\ncommitter [^\n]* (\d+) [-+]\d{4}\n", payload)
    return int(found.group(1)) if found else None
