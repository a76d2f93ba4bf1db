#!/bin/sh
# Entry point of the Archipel image. On the first start (no archipel.toml in $ARCHIPEL_DIR), it
# creates the island from the environment: ARCHIPEL_URL (its public https:// URL), ARCHIPEL_NAME,
# optionally ARCHIPEL_HANDLE; the database is ARCHIPEL_DATABASE_URL's (SQLite in the folder when
# unset). Then it runs the command it was given (by default `archipel serve /island`).
# ARCHIPEL_INIT=0 turns the first-start step off (compose.yaml leaves it to the `migrate` service).
set -eu
dir="${ARCHIPEL_DIR:-/island}"
if [ "${ARCHIPEL_INIT:-1}" = 1 ] && [ ! -f "$dir/archipel.toml" ]; then
    : "${ARCHIPEL_URL:?is not set: the public URL of the island, e.g. https://ile.example}"
    : "${ARCHIPEL_NAME:?is not set: the display name of the island}"
    echo "archipel-entrypoint: no island in $dir, creating it for $ARCHIPEL_URL" >&2
    if [ -n "${ARCHIPEL_HANDLE:-}" ]; then
        archipel init "$dir" --url "$ARCHIPEL_URL" --name "$ARCHIPEL_NAME" --handle "$ARCHIPEL_HANDLE"
    else
        archipel init "$dir" --url "$ARCHIPEL_URL" --name "$ARCHIPEL_NAME"
    fi
fi
exec "$@"
