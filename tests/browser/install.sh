#!/usr/bin/env bash
# Installs what the browser tests need, and only what is missing:
#   - Debian's chromium at /usr/bin/chromium (Playwright drives it; `playwright install` is not used),
#   - axe-core from npm, pinned by package-lock.json, into tests/browser/node_modules.
# Idempotent: a second run with everything in place does nothing and exits 0.
# The Python side (the `playwright` package) comes with the project's `test` extra.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chromium="${ARCHIPEL_CHROMIUM:-/usr/bin/chromium}"

fail() {
    echo "tests/browser/install.sh: $*" >&2
    exit 1
}

# --- chromium -------------------------------------------------------------------------------
if [ -x "$chromium" ]; then
    echo "browser tests: chromium present ($chromium)"
else
    echo "browser tests: chromium missing at $chromium, installing Debian's chromium"
    if [ "$(id -u)" -ne 0 ]; then
        fail "chromium is missing and this is not root: run 'sudo apt-get update && sudo apt-get install -y chromium' (or set ARCHIPEL_CHROMIUM to a Chromium binary)"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        fail "chromium is missing and apt-get is not available: install Chromium and set ARCHIPEL_CHROMIUM to its path"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -q; then
        fail "'apt-get update' failed: cannot install chromium"
    fi
    if ! apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; then
        fail "'apt-get install -y chromium' failed"
    fi
    [ -x "$chromium" ] || fail "chromium was installed but $chromium does not exist"
fi

# --- axe-core (npm) -------------------------------------------------------------------------
command -v npm >/dev/null 2>&1 || fail "npm is missing: install Node.js (Debian: apt-get install -y nodejs npm)"

lock="$here/package-lock.json"
stamp="$here/node_modules/.archipel-lock.sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -f "$here/node_modules/axe-core/axe.min.js" ]; then
    echo "browser tests: node_modules up to date"
else
    echo "browser tests: npm ci (axe-core, pinned by package-lock.json)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "'npm ci' failed in $here"
    [ -f "$here/node_modules/axe-core/axe.min.js" ] || fail "npm ci ran but axe-core/axe.min.js is missing"
    echo "$want" >"$stamp"
fi
