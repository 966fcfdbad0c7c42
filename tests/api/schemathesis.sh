#!/usr/bin/env bash
# Schemathesis (PyPI) against the served OpenAPI document: property-based requests to
# every operation; fails on any 5xx and on any answer that does not conform to the
# document (status code, content type, headers, body schema).
#
# Usage: bash tests/api/schemathesis.sh [path/to/sand]   (default target/debug/sand)
# SAND_SCHEMATHESIS_EXAMPLES sets the examples per operation (default 60).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

die() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

SCHEMATHESIS_VERSION=4.32.5
SAND=${1:-target/debug/sand}
[ -x "$SAND" ] || die "$SAND is not built (cargo build -p sand-server)"
SAND=$(realpath "$SAND")

venv=target/tools/schemathesis-$SCHEMATHESIS_VERSION
if [ ! -x "$venv/bin/schemathesis" ]; then
    printf '==> installing schemathesis %s from PyPI into %s\n' "$SCHEMATHESIS_VERSION" "$venv" >&2
    python3 -m venv "$venv" || die "could not create a Python virtual environment"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        || die "could not install schemathesis with pip"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# the demo service on its own SQLite database and a free port; verification limits
# raised so that the generated requests exercise the operations, not the rate limiter
cat > "$work/sand.toml" <<TOML
listen = "127.0.0.1:0"
demo = true
verifications_per_minute = 1000000
wrong_answers_per_key_per_client = 1000000
wrong_answers_per_key = 1000000
file_checks_per_minute = 1000000
TOML
# demonstration records (the demo people's baccalauréat général 2021, académie de Lyon,
# among them), so that a graduate can attach a diploma for the signed-in operations
(cd "$work" && "$SAND" demo generate --records 2000 --seed 1 --out demo > /dev/null \
    && "$SAND" import --quiet demo > /dev/null) || die "could not import the demonstration records"
exec 3< <(cd "$work" && SAND_CONFIG=sand.toml SAND_READY_JSON=true exec "$SAND" serve 2> "$work/server.log")
server_pid=$!
address=
# the machine-readable readiness line (--ready-json) gives the address bound on port 0
while read -r -u 3 line; do
    case "$line" in
        '{"event":"ready"'*) address=$(printf '%s' "$line" | python3 -c 'import json, sys; print(json.load(sys.stdin)["listen"])'); break ;;
    esac
done
[ -n "$address" ] || { cat "$work/server.log" >&2; die "the service did not start"; }

venv=$(realpath "$venv")
config=$(realpath tests/api/schemathesis.toml)
# a signed-in graduate with an attached diploma: the /moi operations answer for real
# (deleting the profile is left out: it would end the session for every later request)
mkdir "$work/fixtures"
cookie=$(python3 tests/api/session.py "http://$address" "$work/fixtures") \
    || { tail -n 50 "$work/server.log" >&2; die "could not sign a graduate in for the run"; }
# one fixed seed, so that the test command gives the same verdict on the same code;
# SAND_SCHEMATHESIS_SEED=N runs another one, SAND_SCHEMATHESIS_SEED=random a new one
# each time (exploration, printed for replay)
seed=${SAND_SCHEMATHESIS_SEED:-20261207}
if [ "$seed" = random ]; then seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); fi
printf '==> schemathesis seed %s (replay: SAND_SCHEMATHESIS_SEED=%s)\n' "$seed" "$seed" >&2
# schemathesis keeps its cache in the working directory: the run's own
# some generated verifications and file checks carry the graduate's real key and
# attestation (tests/api/hooks.py), so that valid answers meet the document too
hooks=$(realpath tests/api/hooks.py)
# one worker: with two, Hypothesis drew examples in two threads at once and a run once
# failed inside schemathesis' own generation ("Inconsistent results", no request sent)
(cd "$work" && SAND_ST_SESSION="${cookie#*=}" SCHEMATHESIS_HOOKS="$hooks" SAND_ST_FIXTURES="$work/fixtures" "$venv/bin/schemathesis" --config-file "$config" run "http://$address/api/v1/openapi.json" \
    --checks all \
    --exclude-name 'DELETE /moi' \
    --max-examples "${SAND_SCHEMATHESIS_EXAMPLES:-60}" --workers 1 --seed "$seed" --no-color) \
    || { tail -n 50 "$work/server.log" >&2; die "schemathesis found answers that break the API's contract (seed $seed)"; }
# the signed-in operations were really exercised: some answered 2xx with the session
signed_in_ok=$(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | grep -c 'path=/api/v1/moi.*status=2' || true)
printf '==> signed-in operations answered 2xx %s times\n' "$signed_in_ok" >&2
[ "$signed_in_ok" -gt 0 ] || die "no signed-in operation succeeded: the session did not work"
# and the valid answers were seen: a live key verified, alone and in a batch, and an
# intact attestation
for answer in valide valide_lot intacte; do
    n=$(grep -cx "$answer" "$work/fixtures/seen.txt" 2>/dev/null || true)
    printf '==> answers "%s" checked against the document: %s\n' "$answer" "${n:-0}" >&2
    [ "${n:-0}" -gt 0 ] || die "no \"$answer\" answer was generated: the hooks did not reach the service"
done
if grep -q '"level":"ERROR"\|ERROR' "$work/server.log"; then
    grep 'ERROR' "$work/server.log" | head -n 20 >&2
    die "the service logged errors during the run"
fi
