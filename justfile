# SAND's everyday commands. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the `sand` binary (pass arguments after `--`, e.g. `just run -- academies`).
run *ARGS:
    cargo run -- {{ARGS}}

# The whole test suite, exactly as CI runs it (installs what it needs).
test:
    bash tests/run.sh

# Run only the tests (no lints), optionally filtered: `just quick attach`.
quick *FILTER:
    cargo nextest run --workspace --all-features {{FILTER}}

# Formatting check, clippy, licences, the domain's purity and the module graph.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    cargo deny check licenses bans sources
    bash tests/check-domain-purity.sh
    python3 tests/check-module-graph.py

# Format the code.
fmt:
    cargo fmt --all

# Benchmarks, each printed beside a baseline measured in the same run.
bench: bench-matching bench-import bench-pdf bench-verify-timing

# Name normalisation and matching vs plain upper-casing.
bench-matching:
    cargo bench -p sand-domain --bench matching

# Import of 1 000 000 records into PostgreSQL (ordinary and initial load) and SQLite vs a raw
# COPY of the same file and the database's indexed floor; then as 4 000 batches of 250.
bench-import:
    bash -c 'source tests/postgres.sh && start_test_postgres && cargo bench -p sand-server --bench import'

# The service under load on PostgreSQL (1 000 000 records, 100 000 keys), measured with wrk
# against a trivial endpoint in the same run. Installs wrk with apt-get when missing.
bench-load:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
    bash -c 'source tests/postgres.sh && start_test_postgres && cargo bench -p sand-server --bench load'

# National scale (23 000 000 records by default, SAND_SCALE_RECORDS): the initial load's time
# and memory, attach, verification and catalogue p50/p99 at 1 M and at full size, sizes on
# disk, EXPLAIN. Not run by CI: about 13 minutes and 15 GB on a 2-core machine.
bench-scale:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
    bash -c 'source tests/postgres.sh && start_test_postgres && cargo bench -p sand-server --bench scale'

# Verification through HAProxy with one node, then two (a PostgreSQL primary and its streaming
# replica, the limits in Redis: the cluster tests' topology), beside the node alone and beside
# limits counted per node. Installs wrk and haproxy with apt-get when missing.
bench-cluster:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
    command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy >/dev/null)
    command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)
    cargo bench -p sand-server --bench cluster

# Refused verifications: a live key with a wrong name vs an unknown key, medians side by
# side (SQLite, and PostgreSQL on a throw-away cluster). Timing must not tell them apart.
bench-verify-timing:
    bash -c 'source tests/postgres.sh && start_test_postgres && cargo bench -p sand-server --bench verify_timing'

# Attestation PDFs per second on one thread vs a one-line PDF, and the size of one.
bench-pdf:
    cargo bench -p sand-attestation --bench render

# Write a sample attestation (a demonstration document unless SAND_SIGNING_KEY_FILE is set).
sample out="attestation-exemple.pdf":
    cargo run -- attestation sample --out {{out}}

# Write a demonstration data set (records, seed) into data/demo.
demo records="10000" seed="1":
    cargo run -- demo generate --records {{records}} --seed {{seed}} --out data/demo

# Mutation testing of the domain's core rules (cargo-mutants 27; installs it when missing):
# identity matching, control keys, verification, attaching. Lists the mutants no test caught.
mutants:
    command -v cargo-mutants >/dev/null || cargo install cargo-mutants --version 27.0.0 --locked
    cargo mutants -p sand-domain --no-shuffle \
        -f crates/sand-domain/src/identity/name.rs -f crates/sand-domain/src/identity/mod.rs \
        -f crates/sand-domain/src/control_key.rs -f crates/sand-domain/src/verification/mod.rs \
        -f crates/sand-domain/src/link/attach.rs

# Build the API documentation of the workspace and open nothing.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
