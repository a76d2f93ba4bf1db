#!/bin/sh
# Entry point of the test's PostgreSQL image (Debian's postgresql-15): the part of the official
# image's interface that docker/compose.yaml uses. On the first start it creates the cluster in
# /var/lib/postgresql/data with POSTGRES_USER (password POSTGRES_PASSWORD) and POSTGRES_DB.
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$data" /run/postgresql
chown postgres:postgres "$data" /run/postgresql
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
    printf '%s\n' "${POSTGRES_PASSWORD:?}" >/run/postgresql/password
    chown postgres /run/postgresql/password
    as_postgres "$bin/initdb" --pgdata="$data" --username="${POSTGRES_USER:?}" \
        --pwfile=/run/postgresql/password --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm /run/postgresql/password
    echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
    echo "CREATE DATABASE \"${POSTGRES_DB:?}\" OWNER \"$POSTGRES_USER\";" \
        | as_postgres "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
    "$bin/postgres" -D "$data" -c listen_addresses='*'
