#!/usr/bin/env bash
# Builds berth-runc and runs a real container from a busybox bundle, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release -p berth-runc
runc_bin=$PWD/target/release/berth-runc
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
scripts/busybox-bundle.sh "$bundle"
cd "$bundle"
"$runc_bin" spec
# runc's default spec wants a terminal; the demo prints to plain stdout instead.
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from $(hostname), pid $$ in a new pid namespace; id; grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status"]' \
  config.json > config.json.new && mv config.json.new config.json
"$runc_bin" --root /run/berth-demo run "demo-$$"
