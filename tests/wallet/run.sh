#!/usr/bin/env bash
# The wallet interoperability test: a holder built on the reference libraries
# (@openid4vc/openid4vci, @sd-jwt/sd-jwt-vc, installed from npm here) redeems a SAND
# credential offer over TLS (a test CA made with openssl, trusted through
# NODE_EXTRA_CA_CERTS), the transaction code read from a real SMTP sink
# (tests/smtp_sink.py); its presentation verifies; the credential is revoked once the
# graduate deletes the attestation.
#
# Needs: the `sand` binary (SAND_BIN, default target/debug/sand), node + npm, openssl,
# python3 with aiosmtpd; tests/run.sh installs them.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
sand=${SAND_BIN:-$root/target/debug/sand}
[ -x "$sand" ] || { echo "wallet: $sand is missing (cargo build -p sand-server)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "wallet: openssl is missing" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

npm ci --prefix "$root/tests/wallet" --no-audit --no-fund --loglevel=error >/dev/null \
    || { echo "wallet: could not install the holder's packages from npm" >&2; exit 1; }

# a test CA, and the proxy's certificate for localhost signed by it
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=SAND wallet test CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=localhost" -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/tls.ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/tls.ext" -out "$work/tls.pem" 2>/dev/null

# the real SMTP sink: its port on its first line; it serves until its stdin closes
mkdir -p "$work/mail"
mkfifo "$work/sink-in" "$work/sink-out"
(exec python3 "$root/tests/smtp_sink.py" "$work/mail" < "$work/sink-in" > "$work/sink-out" 2> "$work/sink.err") &
pids+=("$!")
exec {sink_in}> "$work/sink-in"
exec {sink_out}< "$work/sink-out"
read -r -t 30 smtp_port <&"$sink_out" || { echo "wallet: the SMTP sink did not start" >&2; cat "$work/sink.err" >&2; exit 1; }

mkdir -p "$work/sand"
SAND_BIN="$sand" WORK="$work/sand" SMTP_PORT="$smtp_port" MAIL_DIR="$work/mail" \
    TLS_CERT="$work/tls.pem" TLS_KEY="$work/tls.key" NODE_EXTRA_CA_CERTS="$work/ca.pem" \
    timeout --kill-after=10 300 node "$root/tests/wallet/interop.mjs"
