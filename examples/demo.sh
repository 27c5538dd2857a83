#!/usr/bin/env bash
# The README's demo: copy examples/ into a throwaway repository, sign with a throwaway key
# (never your keyring), record to the log branch, and read it back with plain git.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg" GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1
mkdir -m 700 "$GNUPGHOME"
git config --global user.name "git-testlog demo"
git config --global user.email "demo@example.invalid"
key=$(python "$here/demo_key.py")
cp -r "$here/project" "$work/project"
cd "$work/project"
git init -q -b main && git add -A && git commit -q -m "demo project"
git config user.signingkey "$key"

echo "== storage layer: two signed writes to refs/heads/testlog"
python - <<'PY'
from gitstore import Append, LogStore
with LogStore.open(".") as store:
    store.write({"runs/hello.json": b'{"hello": 1}\n', "ledger/demo.ndjson": Append(b'{"n":1}\n')}, "demo: first")
    store.write({"ledger/demo.ndjson": Append(b'{"n":2}\n')}, "demo: second")
PY
git testlog log
echo "== stock git reads it: verify-commit, and the user's branch is untouched"
git verify-commit testlog 2>&1 | grep -i "good signature"
git show testlog:ledger/demo.ndjson
git status --short --branch
