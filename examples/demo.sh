#!/usr/bin/env bash
# The README's demo on examples/monorepo, in a throwaway repository and a throwaway GNUPGHOME
# (your own keyring and git config are never used): record, replay, gate, seal, verify.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg" GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1
mkdir -m 700 "$GNUPGHOME"
git config --global user.name "git-testlog demo"
git config --global user.email "demo@example.invalid"
key=$(python "$here/demo_key.py")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cp -r "$here/monorepo" "$work/monorepo"
cd "$work/monorepo"
git init -q -b main && git add -A && git commit -q -m "demo monorepo"
git config user.signingkey "$key"

step "record: pytest --testlog commits the run as one signed commit on refs/heads/testlog"
python -m pytest -q -p no:randomly --testlog --testlog-seed=42 --testlog-suite=demo tests
git testlog log -n 3
git testlog show
git verify-commit testlog 2>&1 | grep -i "good signature"
git log -1 --format='%(trailers:key=Testlog-Event-Record)' testlog   # events ride in trailers

step "replay: re-execute that run from its log commit, outputs compared bit for bit"
git testlog replay testlog

step "gates: per-module coverage ledger and gate (consciousness is below its lane target)"
make -s cov-gate || echo "-> the gate failed: consciousness is below its target"
make -s cov-gate || echo "-> the same verdict, every module served from the ledger cache"
git ls-tree -r --name-only testlog -- ledger/coverage    # one file per day
git show "testlog:$(git ls-tree -r --name-only testlog -- ledger/coverage | tail -n 1)" | head -n 2

step "pre-push hook: only the modules a push touches are gated"
git init -q --bare "$work/origin.git" && git remote add origin "$work/origin.git"
git config core.hooksPath "$here/../hooks"
git push -q origin main || echo "-> push blocked by the coverage gate"
sed -i 's/"testing": {}/"testing": {"coverage_target": 25}/' consciousness/module.manifest.json
git commit -q --no-verify -am "consciousness: target 25 while its tests are written"
git push -q origin main && echo "-> push accepted: only consciousness was measured again"

step "benchmarks: p50/p95/p99 to ledger/bench/ and the SLO gate"
make -s bench module=identity
git diff --stat

step "audit: seal today's runs, export the bundle, check it with stock tools only"
git testlog seal --date "$(date -u +%Y-%m-%d)"
git testlog export testlog -o "$work/audit"
(cd "$work/audit" && sha256sum -c ./*.manifest.sha256 && gpg --verify ./*.zip.sig ./*.zip 2>&1 | grep -i "good signature")
gpg --armor --export "$key" > "$work/trusted.asc"
git testlog verify --trusted-keys "$work/trusted.asc"
git testlog push origin
git status --short --branch

step "site: a static trend site of the log (every chain), opened straight from disk"
python -m pytest -q -p no:randomly --testlog --testlog-seed=7 --testlog-suite=demo tests >/dev/null
site="${DEMO_SITE:-${TMPDIR:-/tmp}/git-testlog-demo-site}"   # outlives $work: open it after
git testlog site -o "$site"
