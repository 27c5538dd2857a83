#!/usr/bin/env bash
# Builds tests/data/v1-log.bundle: a repository whose log branch was written by git-testlog's
# first on-disk format (schema 1), at commit 1cb9e4c of this repository (run it there: later versions write another format).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
work=$(mktemp -d)
export GNUPGHOME="$work/gnupg" GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1 HOME="$work/home"
mkdir -m 700 "$GNUPGHOME" "$HOME"
git config --global user.name "v1 writer"; git config --global user.email "v1@example.invalid"
git config --global init.defaultBranch main
cat > "$work/keyparams" <<P
%no-protection
Key-Type: RSA
Key-Length: 2048
Name-Real: v1 writer
Name-Email: v1@example.invalid
Expire-Date: 0
%commit
P
gpg --batch --gen-key "$work/keyparams" 2>/dev/null
fpr=$(gpg --list-secret-keys --with-colons | awk -F: '/^fpr/{print $10; exit}')
mkdir "$work/proj"; cd "$work/proj"; git init -q
mkdir tests
cat > tests/test_demo.py <<'PY'
import random


def test_random_draw(testlog):
    testlog.output("draw", random.random())


def test_plain():
    assert 1 + 1 == 2


def test_fails():
    assert 41 + 1 == 43
PY
git add -A; git commit -q -m "project"
git config user.signingkey "$fpr"
PY="$here/.venv/bin/python"
$PY -m pytest -q -p no:randomly -p no:cacheprovider --testlog --testlog-seed=7 --testlog-suite=unit tests || true
sed -i 's/41 + 1 == 43/41 + 1 == 42/' tests/test_demo.py; git commit -qam "fix"
PYTHONHASHSEED=0 $PY -m pytest -q -p no:randomly -p no:cacheprovider --testlog --testlog-seed=7 --testlog-suite=unit tests
PYTHONHASHSEED=0 $PY -m testlog replay testlog || true
$PY -m testlog seal
git bundle create "$here/tests/data/v1-log.bundle" main testlog
gpg --armor --export "$fpr" > "$here/tests/data/v1-log.keys.asc"
echo "fingerprint $fpr"
git log --oneline testlog
gpgconf --kill gpg-agent || true
rm -rf "$work"
