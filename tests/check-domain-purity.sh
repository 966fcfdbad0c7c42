#!/usr/bin/env bash
# Fails when sand-domain's normal (non-dev) dependency tree contains a crate that does
# input/output: databases, web, async runtimes, OpenID Connect, mail, HTTP clients.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

forbidden='^(sea-orm|sea-query|sqlx|sqlx-core|diesel|rusqlite|tokio-postgres|postgres|poem|poem-openapi|axum|actix-web|hyper|tokio|async-std|smol|openidconnect|oauth2|lettre|reqwest|ureq)$'

tree=$(cargo tree --locked -p sand-domain -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
found=$(printf '%s\n' "$tree" | grep -E "$forbidden" || true)
if [ -n "$found" ]; then
    echo "sand-domain must stay pure, but depends on:" >&2
    printf '  %s\n' $found >&2
    exit 1
fi
echo "sand-domain's $(printf '%s\n' "$tree" | wc -l) normal dependencies contain no I/O crate."
