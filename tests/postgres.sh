#!/usr/bin/env bash
# Sourced by tests/run.sh: makes a PostgreSQL server available to the tests and exports
# SAND_TEST_POSTGRES_URL (an administrator URL). Each test creates its own database.
#
# - SAND_TEST_POSTGRES_URL already set: used as is (checked to answer).
# - otherwise: a throw-away cluster (initdb) on a free port in a temporary directory,
#   stopped and removed when the test run ends. PostgreSQL's binaries are installed with
#   apt-get when missing. Fails loudly when none of this works.

pg_die() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

start_test_postgres() {
    if [ -n "${SAND_TEST_POSTGRES_URL:-}" ]; then
        command -v psql >/dev/null 2>&1 && { psql "$SAND_TEST_POSTGRES_URL" -Atc 'SELECT 1' >/dev/null \
            || pg_die "SAND_TEST_POSTGRES_URL is set but PostgreSQL does not answer there"; }
        echo "using PostgreSQL at SAND_TEST_POSTGRES_URL" >&2
        return
    fi
    local bindir
    bindir=$(pg_bindir) || true
    if [ -z "$bindir" ]; then
        echo "PostgreSQL is not installed: installing it with apt-get" >&2
        if [ "$(id -u)" -eq 0 ]; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
                || pg_die "could not install PostgreSQL with apt-get"
        else
            (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
                || pg_die "PostgreSQL is missing and cannot be installed (not root, no sudo): install the 'postgresql' package or set SAND_TEST_POSTGRES_URL"
        fi
        bindir=$(pg_bindir) || pg_die "PostgreSQL installed but initdb not found"
    fi

    SAND_PG_DIR=$(mktemp -d /tmp/sand-test-pg.XXXXXX)
    local as_owner=()
    if [ "$(id -u)" -eq 0 ]; then
        # initdb refuses to run as root: the cluster belongs to the postgres user
        id postgres >/dev/null 2>&1 || pg_die "running as root but there is no 'postgres' user to own the test cluster"
        chown postgres "$SAND_PG_DIR"
        as_owner=(runuser -u postgres --)
    fi
    "${as_owner[@]}" "$bindir/initdb" -D "$SAND_PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$SAND_PG_DIR/initdb.log" 2>&1 \
        || { cat "$SAND_PG_DIR/initdb.log" >&2; pg_die "initdb failed"; }
    # A free port is picked, then bound by the server: another process may take it in
    # between. Then the server cannot bind and says so; another port is tried.
    local port attempt log started=""
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
        log="$SAND_PG_DIR/server-$attempt.log"
        # durability is irrelevant for a throw-away test cluster: trade it for speed
        if "${as_owner[@]}" "$bindir/pg_ctl" -D "$SAND_PG_DIR/data" -l "$log" -w -t 60 \
            -o "-p $port -h 127.0.0.1 -k $SAND_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            start >/dev/null; then
            started=yes
            break
        fi
        grep -qi "could not bind\|address already in use" "$log" \
            || { cat "$log" >&2; pg_die "the test PostgreSQL server did not start"; }
        echo "port $port was taken meanwhile (attempt $attempt): trying another" >&2
    done
    [ -n "$started" ] || { cat "$log" >&2; pg_die "the test PostgreSQL server found no free port"; }
    SAND_PG_STOP=("${as_owner[@]}" "$bindir/pg_ctl" -D "$SAND_PG_DIR/data" -m immediate stop)
    trap stop_test_postgres EXIT
    export SAND_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "started a throw-away PostgreSQL ($("$bindir/postgres" --version)) on port $port" >&2
}

stop_test_postgres() {
    if [ -n "${SAND_PG_DIR:-}" ]; then
        "${SAND_PG_STOP[@]}" >/dev/null 2>&1 || true
        rm -rf "$SAND_PG_DIR"
    fi
}
