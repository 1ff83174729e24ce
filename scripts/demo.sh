#!/usr/bin/env bash
# Builds berth-runc and runs a real container from a busybox bundle, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release -p berth-runc -p berth-cli
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
runc_bin=$target_dir/release/berth-runc
berth_bin=$target_dir/release/berth
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
scripts/busybox-bundle.sh "$bundle"
# The same rootfs as an image in a throwaway store: import, list, save.
export BERTH_ROOT=$bundle/store
# The demo leaves the host's network alone: no bridge, veth or nftables rules (the README's
# Networks section shows those).
export BERTH_DEFAULT_NETWORK=none
tar -C "$bundle/rootfs" -cf "$bundle/rootfs.tar" .
"$berth_bin" import "$bundle/rootfs.tar" demo/busybox:latest
"$berth_bin" images
# A container from it, with Docker's defaults (capabilities, seccomp, masked paths).
"$berth_bin" run --rm --name demo demo/busybox sh -c \
  'echo hello from container $(hostname); grep -E "^(CapEff|Seccomp):" /proc/self/status'
"$berth_bin" run -d --name demo-bg demo/busybox sh -c 'echo running in the background; sleep 30'
sleep 1
"$berth_bin" ps
"$berth_bin" logs demo-bg
"$berth_bin" rm -f demo-bg
"$berth_bin" save -o "$bundle/busybox-image.tar" demo/busybox
"$berth_bin" rmi demo/busybox
rm -f "$bundle/rootfs.tar"
cd "$bundle"
"$runc_bin" spec
# runc's default spec wants a terminal; the demo prints to plain stdout instead.
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from $(hostname), pid $$ in a new pid namespace; id; grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status"]' \
  config.json > config.json.new && mv config.json.new config.json
"$runc_bin" --root /run/berth-demo run "demo-$$"
