#!/usr/bin/env bash
# End-to-end tests in a real headless Chromium: starts the FranceConnect-like provider
# (tests/oidc-provider, also the back office's ProConnect-like provider) and SAND itself (`sand` alone: demo data on a fresh embedded
# SQLite, mail written to a directory), then runs journey.mjs with playwright-core and
# axe-core. Screenshots and the downloaded attestation land in target/e2e/.
#
# Needs: the `sand` binary built (SAND_BIN, default target/debug/sand), node + npm, and
# Chromium (/usr/bin/chromium, or CHROMIUM); tests/run.sh installs them.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
sand=${SAND_BIN:-$root/target/debug/sand}
artifacts=${ARTIFACTS:-$root/target/e2e}
[ -x "$sand" ] || { echo "e2e: $sand is missing (cargo build -p sand-server)" >&2; exit 1; }
command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || { echo "e2e: Chromium is missing" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for dir in tests/e2e tests/oidc-provider; do
    npm ci --prefix "$root/$dir" --no-audit --no-fund --loglevel=error >/dev/null
done

# SAND's port is chosen by the system, then handed to the provider as its redirect URI.
# Another process may take that port before SAND binds it: SAND then says so and stops,
# and both are started again on another port.
start_both() { # <attempt>; returns 2 when SAND's port was taken meanwhile
    local attempt=$1 line
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    public="http://localhost:$port"
    # the demonstration's back office listens on the next port (ProConnect's redirect URIs)
    staff_public="http://127.0.0.1:$((port + 1))"
    mkfifo "$work/oidc-stdin-$attempt" "$work/oidc-stdout-$attempt" "$work/sand-stdout-$attempt"
    (REDIRECT_URIS="$public/connexion/franceconnect/retour" POST_LOGOUT_REDIRECT_URIS="$public/" \
        AGENTS_REDIRECT_URIS="$staff_public/proconnect/retour" \
        AGENTS_POST_LOGOUT_REDIRECT_URIS="$staff_public/proconnect/deconnexion" \
        exec node "$root/tests/oidc-provider/server.mjs" < "$work/oidc-stdin-$attempt" > "$work/oidc-stdout-$attempt" 2> "$work/oidc.err") &
    pids+=("$!")
    exec {oidc_in}> "$work/oidc-stdin-$attempt"   # the provider serves until this closes
    exec {oidc_out}< "$work/oidc-stdout-$attempt"
    read -r -t 30 issuer <&"$oidc_out" || { echo "e2e: the OpenID Connect provider did not start" >&2; cat "$work/oidc.err" >&2; exit 1; }

    (cd "$work" && SAND_LISTEN="127.0.0.1:$port" SAND_MAIL_DIR="$work/mail" \
        SAND_FRANCECONNECT_ISSUER="$issuer" SAND_FRANCECONNECT_CLIENT_ID=sand-dev \
        SAND_FRANCECONNECT_CLIENT_SECRET=sand-dev-secret-0123456789abcdefghijklmnopqrstuvwxyz \
        SAND_PROCONNECT_ISSUER="$issuer" SAND_PROCONNECT_CLIENT_ID=sand-agents-dev \
        SAND_PROCONNECT_CLIENT_SECRET=sand-agents-secret-0123456789abcdefghijklmnopqrstuvwxyz \
        SAND_LOG=warn SAND_READY_JSON=true exec "$sand" > "$work/sand-stdout-$attempt" 2> "$work/sand.err") &
    pids+=("$!")
    exec {sand_out}< "$work/sand-stdout-$attempt"
    staff_passwords="{}"
    while read -r -t 120 line <&"$sand_out"; do
        # the demonstration agents, as SAND prints them: login, role, password, TOTP secret
        if [[ "$line" == *$'\t'*$'\t'*$'\t'* && "$line" == *demo.* ]]; then
            staff_passwords=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); f=sys.argv[2].strip().split("\t"); d[f[0]]=f[2]; print(json.dumps(d))' "$staff_passwords" "$line")
        fi
        # the machine-readable readiness line (--ready-json)
        if [[ "$line" == '{"event":"ready"'* ]]; then
            staff_url=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]).get("staff_listen"); print("http://" + s if s else "")' "$line")
            return 0
        fi
    done
    if grep -qi "address already in use\|adresse déjà utilisée" "$work/sand.err"; then
        exec {oidc_in}>&-   # stops this attempt's provider
        return 2
    fi
    echo "e2e: SAND did not start" >&2; cat "$work/sand.err" >&2; exit 1
}
started=""
for attempt in 1 2 3 4 5; do
    if start_both "$attempt"; then started=yes; break; fi
    echo "e2e: port $port was taken meanwhile (attempt $attempt): trying another" >&2
done
[ -n "$started" ] || { echo "e2e: no free port for SAND" >&2; exit 1; }
# keep draining SAND's standard output so that it never blocks on a full pipe
cat <&"$sand_out" > /dev/null &
pids+=("$!")
echo "e2e: SAND on $public, provider $issuer"

status=0
SAND_URL="$public" STAFF_URL="$staff_url" STAFF_PASSWORDS="$staff_passwords" \
    MAIL_DIR="$work/mail" ARTIFACTS="$artifacts" SAND_BIN="$sand" SAND_DIR="$work" \
    timeout --kill-after=10 900 node "$root/tests/e2e/journey.mjs" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- SAND's log ---" >&2; tail -n 50 "$work/sand.err" >&2
fi
exit "$status"
