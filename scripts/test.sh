#!/usr/bin/env bash
# Runs every test, as root: unit tests and the real-container integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads=4 "$@"
