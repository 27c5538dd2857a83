"""The OpenSSL shortcut for OpenPGP signatures (gitstore.quicksig) never says GOOD where
pysequoia would not: real gpg keys and signatures (RSA 2048 and ed25519), keys that expire,
are renewed, re-signed or revoked, signature shapes it leaves to pysequoia, and every byte of
a signature flipped."""
from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pysequoia
import pytest

from gitstore import GOOD, TrustedCerts
from gitstore.quicksig import FOREVER, QuickSignatures, Unsupported, certificate, detached
from gitstore.verify import dearmored

T0 = "20240101T000000"
DAY = 86_400


def gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["gpg", "--batch", "--passphrase", "", "--pinentry-mode", "loopback",
                           *args], input=input, env={**os.environ, "GNUPGHOME": str(home)},
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def at(seconds_after_t0: int) -> str:
    return f"{1_704_067_200 + seconds_after_t0}"       # gpg takes epoch seconds too


def fingerprint(home: Path, uid: str) -> str:
    listing = gpg(home, "--with-colons", "--list-keys", uid).decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


def sign(home: Path, key: str, payload: bytes, *options: str) -> bytes:
    return gpg(home, "--local-user", key + "!", "--armor", "--detach-sign", *options,
               input=payload)


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("quicksig-gnupg")
    home.chmod(0o700)
    made = {"rsa": ("rsa2048", "never"), "ed": ("ed25519", "never"),
            "expiring": ("ed25519", "2y"), "renewed": ("ed25519", "1d"),
            "resigned": ("ed25519", "never"), "revoked": ("ed25519", "never")}
    for name, (algorithm, expiry) in made.items():
        gpg(home, "--faked-system-time", at(0), "--quick-gen-key",
            f"{name} <{name}@example.com>", algorithm, "sign", expiry)
    keys = {name: fingerprint(home, f"{name}@example.com") for name in made}
    yield home, keys
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   capture_output=True)


def public(home: Path, key: str) -> bytes:
    return gpg(home, "--export", key)


def reference(cert: bytes, payload: bytes, signature: bytes) -> str | None:
    """pysequoia's own verdict: the primary fingerprint when it finds the signature GOOD."""
    certs = pysequoia.Cert.split_bytes(cert)
    try:
        result = pysequoia.verify(bytes=payload, store=lambda _ids: certs,
                                  signature=pysequoia.Sig.from_bytes(signature))
    except (RuntimeError, ValueError):
        return None
    return next((v.certificate.upper() for v in result.valid_sigs), None)


def binary(armored: bytes) -> bytes:
    found = dearmored(armored.rstrip(b"\n"))
    assert found is not None
    return found


PAYLOAD = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a@b> 1 +0000\n\nrun\n"


@pytest.mark.parametrize("name", ["rsa", "ed"])
def test_a_known_key_takes_the_shortcut_and_only_for_good_signatures(keyring, name: str):
    home, keys = keyring
    cert = public(home, keys[name])
    first = binary(sign(home, keys[name], PAYLOAD, "--faked-system-time", at(DAY)))
    second = binary(sign(home, keys[name], PAYLOAD + b"2", "--faked-system-time", at(2 * DAY)))
    quick = QuickSignatures([cert])
    assert quick.good(PAYLOAD, first) is None            # no shortcut before pysequoia said GOOD
    assert reference(cert, PAYLOAD, first) == keys[name]
    quick.learn(PAYLOAD, first, keys[name])
    assert quick.good(PAYLOAD + b"2", second) == keys[name]
    assert quick.good(PAYLOAD + b"3", second) is None       # another payload
    assert quick.good(PAYLOAD, second) is None
    quick.learn(PAYLOAD, first, "0" * 40)                    # another certificate named: ignored
    other = QuickSignatures([cert])
    other.learn(PAYLOAD, first, "0" * 40)
    assert other.good(PAYLOAD + b"2", second) is None


@pytest.mark.parametrize("name", ["rsa", "ed"])
def test_no_flipped_byte_makes_the_shortcut_disagree_with_pysequoia(keyring, name: str):
    """Every byte of the signature flipped in turn, and the payload's: the shortcut says GOOD
    only where pysequoia does (in practice nowhere), never a GOOD that pysequoia denies."""
    home, keys = keyring
    cert = public(home, keys[name])
    learned = binary(sign(home, keys[name], PAYLOAD, "--faked-system-time", at(DAY)))
    signature = binary(sign(home, keys[name], PAYLOAD, "--faked-system-time", at(2 * DAY)))
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, learned, keys[name])
    assert quick.good(PAYLOAD, signature) == keys[name]
    shortcut_goods = 0
    variants = [(PAYLOAD, signature[:k] + bytes([signature[k] ^ m]) + signature[k + 1:])
                for k in range(len(signature)) for m in (0x01, 0x80)]
    variants += [(PAYLOAD, signature[:k]) for k in range(len(signature))]
    variants += [(PAYLOAD, signature + b"\x00"), (PAYLOAD, signature + signature)]
    variants += [(PAYLOAD[:k] + bytes([PAYLOAD[k] ^ 1]) + PAYLOAD[k + 1:], signature)
                 for k in range(len(PAYLOAD))]
    for payload, variant in variants:
        verdict = quick.good(payload, variant)
        if verdict is not None:
            shortcut_goods += 1
            assert reference(cert, payload, variant) == verdict, variant.hex()
    assert shortcut_goods <= 2            # at most flips in the unhashed issuer hint


def expires_at(home: Path, key: str) -> int:
    listing = gpg(home, "--with-colons", "--list-keys", key).decode()
    return int(next(line.split(":")[6] for line in listing.splitlines()
                    if line.startswith("pub")))


def test_an_expiring_key_takes_the_shortcut_only_inside_its_lifetime(keyring):
    home, keys = keyring
    key = keys["expiring"]
    cert = public(home, key)
    view = certificate(cert)
    assert view.until == expires_at(home, key) < FOREVER
    inside = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(DAY)))
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, inside, key)
    assert quick.good(PAYLOAD, inside) == key == reference(cert, PAYLOAD, inside)
    # gpg signs nothing with an expired key: move the lifetime's end to the signature instead.
    created = detached(inside).created
    quick._accepted[detached(inside).issuer] = replace(view, until=created)
    assert quick.good(PAYLOAD, inside) is None
    quick._accepted[detached(inside).issuer] = replace(view, until=created + 1)
    assert quick.good(PAYLOAD, inside) == key


def test_a_renewed_key_agrees_with_pysequoia_before_and_after_renewal(keyring):
    """Expired after a day, renewed with no expiry on day 3 (gpg exports only the newest
    self-signature): a signature of day 4 takes the shortcut; one made in the first day is
    older than the certificate's newest self-signature and goes to pysequoia."""
    home, keys = keyring
    key = keys["renewed"]
    early = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(3600)))
    gpg(home, "--faked-system-time", at(3 * DAY), "--quick-set-expire", key, "0")
    cert = public(home, key)
    late = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(4 * DAY)))
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, late, key)
    assert quick.good(PAYLOAD, late) == key == reference(cert, PAYLOAD, late)
    assert quick.good(PAYLOAD, early) is None


def test_signatures_older_than_the_newest_self_signature_go_to_pysequoia(keyring):
    home, keys = keyring
    key = keys["resigned"]
    old = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(60)))
    gpg(home, "--faked-system-time", at(3600), "--quick-add-uid", key, "again <re@example.com>")
    cert = public(home, key)
    new = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(7200)))
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, new, key)
    assert quick.good(PAYLOAD, new) == key
    assert quick.good(PAYLOAD, old) is None
    assert reference(cert, PAYLOAD, old) == key         # still GOOD: pysequoia's to say


def test_a_certificate_with_a_revocation_gets_no_shortcut(keyring):
    home, keys = keyring
    key = keys["revoked"]
    before = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(DAY)))
    revocation = (home / "openpgp-revocs.d" / f"{key}.rev").read_text()
    gpg(home, "--import", input=revocation.replace(":-----BEGIN", "-----BEGIN").encode())
    cert = public(home, key)
    with pytest.raises(Unsupported):
        certificate(cert)
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, before, key)
    assert quick.good(PAYLOAD, before) is None
    trusted = TrustedCerts.from_armored(cert)
    assert trusted.check(PAYLOAD, sign_armored_again(before)).status != GOOD


def sign_armored_again(signature: bytes) -> bytes:
    return pysequoia.armor(signature, pysequoia.ArmorKind.Signature).encode().rstrip(b"\n")


@pytest.mark.parametrize("options,reason", [
    (("--digest-algo", "SHA1"), "hash algorithm"),
    (("--sig-notation", "!critical@example.com=1"), "hashed subpacket 20"),
    (("--sig-notation", "note@example.com=1", "--sig-policy-url", "https://example.com"),
     "hashed subpacket 26"),
])
def test_other_signature_shapes_go_to_pysequoia(keyring, options: tuple[str, ...], reason: str):
    home, keys = keyring
    key = keys["ed"]
    cert = public(home, key)
    learned = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(DAY)))
    odd = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(2 * DAY), *options))
    with pytest.raises(Unsupported, match=reason):
        detached(odd)
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, learned, key)
    assert quick.good(PAYLOAD, odd) is None


def test_a_non_critical_notation_keeps_the_shortcut(keyring):
    home, keys = keyring
    key = keys["ed"]
    cert = public(home, key)
    learned = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(DAY)))
    noted = binary(sign(home, key, PAYLOAD, "--faked-system-time", at(2 * DAY),
                        "--sig-notation", "note@example.com=1"))
    quick = QuickSignatures([cert])
    quick.learn(PAYLOAD, learned, key)
    assert quick.good(PAYLOAD, noted) == key == reference(cert, PAYLOAD, noted)


def test_trusted_certs_give_the_same_verdicts_with_and_without_the_shortcut(keyring):
    """Every signature of this file's keyring, checked twice (the second time after learning),
    against every key and against one key: the same status and fingerprint as pysequoia's."""
    home, keys = keyring
    signatures = []
    for key in keys.values():
        for day in (1, 2, 5, 800):
            proc = subprocess.run(["gpg", "--batch", "--local-user", key + "!", "--armor",
                                   "--detach-sign", "--faked-system-time", at(day * DAY)],
                                  input=PAYLOAD, env={**os.environ, "GNUPGHOME": str(home)},
                                  capture_output=True)
            if proc.returncode == 0:                       # an expired key signs nothing
                signatures.append(proc.stdout.rstrip(b"\n"))
    everything = gpg(home, "--export", *keys.values())
    exports = {"all": everything, **{name: public(home, k) for name, k in keys.items()}}
    for name, exported in exports.items():
        with_shortcut = TrustedCerts.from_armored(exported)
        without = TrustedCerts.from_armored(exported)
        without._quick = QuickSignatures([])               # never learns: pysequoia only
        for _ in range(2):
            for payload in (PAYLOAD, PAYLOAD + b"x"):
                for signature in signatures:
                    assert with_shortcut.check(payload, signature) == \
                        without.check(payload, signature)
        # The shortcut was really taken, except for the revoked key's certificate.
        assert bool(with_shortcut._shortcut()._accepted) == (name != "revoked"), name


# -- shapes gpg does not write, made by hand (found by an attacker's review) ------------------

def verdicts(ring: bytes, learned: bytes, payload: bytes, signature: bytes):
    """TrustedCerts.check after learning from `learned` (a GOOD signature over PAYLOAD), and
    pysequoia's own answer through a TrustedCerts that never takes the shortcut."""
    armored = [sign_armored_again(s) for s in (learned, signature)]
    shortcut = TrustedCerts.from_armored(ring)
    assert shortcut.check(PAYLOAD, armored[0]).status == GOOD
    without = TrustedCerts.from_armored(ring)
    without._quick = QuickSignatures([])
    return shortcut.check(payload, armored[1]), without.check(payload, armored[1]), shortcut


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa"])
def test_a_plain_hand_made_certificate_takes_the_shortcut(algorithm: str):
    from tests.openpgp_builder import DAY, T0, Key, certificate, document_signature
    primary = Key(algorithm, T0)
    ring = certificate(primary)
    got, want, trusted = verdicts(ring, document_signature(primary, PAYLOAD, T0 + DAY),
                                  PAYLOAD + b"x", document_signature(primary, PAYLOAD + b"x",
                                                                     T0 + 2 * DAY))
    assert got == want and got.status == GOOD and trusted._shortcut()._accepted


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa"])
@pytest.mark.parametrize("case", ["back-signature expires", "back-signature made later",
                                  "subkey made after its binding"])
def test_a_signing_subkey_s_own_times_are_honoured(algorithm: str, case: str):
    """The back-signature in a subkey's binding, and the subkey's creation time, bound when
    the subkey may sign: the shortcut agrees with pysequoia on either side of them."""
    from tests.openpgp_builder import (
        DAY,
        T0,
        Key,
        certificate,
        document_signature,
        sub,
        subkey_binding,
        u32,
    )
    primary = Key(algorithm, T0)
    if case == "back-signature expires":            # after 2 days
        subkey = Key(algorithm, T0)
        binding = subkey_binding(primary, subkey, T0, back_extra=sub(3, u32(2 * DAY)))
        learn_at, test_at = T0 + DAY, T0 + 3 * DAY
    elif case == "back-signature made later":       # 5 days after its binding
        subkey = Key(algorithm, T0)
        binding = subkey_binding(primary, subkey, T0, back_created=T0 + 5 * DAY)
        learn_at, test_at = T0 + 6 * DAY, T0 + 2 * DAY
    else:                                           # the subkey is 4 days younger
        subkey = Key(algorithm, T0 + 5 * DAY)
        binding = subkey_binding(primary, subkey, T0 + DAY, back_created=T0 + 5 * DAY)
        learn_at, test_at = T0 + 6 * DAY, T0 + 2 * DAY
    ring = certificate(primary, subkeys=((subkey, binding),))
    got, want, _ = verdicts(ring, document_signature(subkey, PAYLOAD, learn_at), PAYLOAD + b"x",
                            document_signature(subkey, PAYLOAD + b"x", test_at))
    assert got == want and want.status != GOOD


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa"])
def test_a_key_in_two_certificates_is_left_to_pysequoia(algorithm: str):
    """Bound into A on day 5 and into B on day 0: pysequoia answers A for a signature of day
    6, the one certificate where it was valid first; the shortcut must not answer B."""
    from tests.openpgp_builder import DAY, T0, Key, certificate, document_signature, subkey_binding
    a, b, shared = Key(algorithm, T0), Key(algorithm, T0), Key(algorithm, T0)
    ring = certificate(a, b"A <a@example.com>", ((shared, subkey_binding(a, shared, T0 + 5 * DAY)),)) + \
        certificate(b, b"B <b@example.com>", ((shared, subkey_binding(b, shared, T0)),))
    got, want, trusted = verdicts(ring, document_signature(shared, PAYLOAD, T0 + DAY),
                                  PAYLOAD + b"x", document_signature(shared, PAYLOAD + b"x",
                                                                     T0 + 6 * DAY))
    assert got == want and (want.status, want.fingerprint) == (GOOD, a.hex)
    assert not trusted._shortcut()._accepted


@pytest.mark.parametrize("name", [b"\xff@example.com", b"\xc0\xaf@example.com",
                                  b"\xed\xa0\x80@example.com"])
def test_a_notation_name_sequoia_cannot_read_is_left_to_pysequoia(name: bytes):
    from tests.openpgp_builder import DAY, T0, Key, certificate, document_signature, notation, sub
    primary = Key("ed25519", T0)
    odd = document_signature(primary, PAYLOAD + b"x", T0 + 2 * DAY, sub(20, notation(name)))
    got, want, _ = verdicts(certificate(primary), document_signature(primary, PAYLOAD, T0 + DAY),
                            PAYLOAD + b"x", odd)
    assert got == want and want.status != GOOD
