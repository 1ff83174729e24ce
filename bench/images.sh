#!/usr/bin/env bash
# Times import, load and save of the busybox image with berth and podman side by side in one
# hyperfine run, and reports berth's time as a ratio of podman's.
#
#   bench/images.sh [RUNS]        (root; needs podman, hyperfine, busybox-static)
# Pull from a loopback registry is measured by bench/pull.sh (with the registry client).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in hyperfine podman busybox-static jq; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release -p berth-cli >/dev/null
berth=$PWD/target/release/berth
out=$PWD/bench/out
mkdir -p "$out"
work=$(mktemp -d /tmp/berth-bench-img.XXXXXX)
trap 'rm -rf "$work"; podman rmi -f localhost/bench/bb:1 >/dev/null 2>&1 || true' EXIT
scripts/busybox-bundle.sh "$work/bb" >/dev/null
tar -C "$work/bb/rootfs" -cf "$work/rootfs.tar" .
export BERTH_ROOT=$work/store
"$berth" import "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
"$berth" save -o "$work/image.tar" localhost/bench/bb:1
P="podman"
$P load -q -i "$work/image.tar" >/dev/null
reset_berth="$berth rmi -f localhost/bench/bb:1 >/dev/null 2>&1 || true"
reset_podman="$P rmi -f localhost/bench/bb:1 >/dev/null 2>&1 || true"
hyperfine --runs "$runs" --warmup 2 --export-json "$out/images.json" \
  --prepare "$reset_berth" -n "berth import" "$berth import $work/rootfs.tar localhost/bench/bb:1" \
  --prepare "$reset_podman" -n "podman import" "$P import -q $work/rootfs.tar localhost/bench/bb:1" \
  --prepare "$reset_berth" -n "berth load" "$berth load -q -i $work/image.tar" \
  --prepare "$reset_podman" -n "podman load" "$P load -q -i $work/image.tar" \
  --prepare "rm -f $work/s.tar" -n "berth save" "$berth save -o $work/s.tar localhost/bench/bb:1" \
  --prepare "rm -f $work/s.tar" -n "podman save" "$P save -q -o $work/s.tar localhost/bench/bb:1" \
  >/dev/null
jq -r '.results | map({(.command): .median}) | add as $m
  | ["import", "load", "save"][] as $op
  | "\($op): berth \($m["berth " + $op] * 1000 | floor) ms, podman \($m["podman " + $op] * 1000 | floor) ms, ratio \(($m["berth " + $op] / $m["podman " + $op]) * 100 | floor / 100)"' \
  "$out/images.json"
