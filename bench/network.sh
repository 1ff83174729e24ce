#!/usr/bin/env bash
# Networking side by side with podman, inside a network namespace of its own (bridges,
# veths and rules never touch the host's; no traffic leaves it):
#   - what `--network bridge` adds to `run --rm IMAGE true` over `--network none`;
#   - throughput (iperf3) from the host to a container through a published port
#     (127.0.0.1), and from container to container over a user network;
#   - the time to start 100 containers on one user network.
#
#   bench/network.sh [RUNS]        (root)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BERTH_BENCH_NETNS:-}" ]; then
  exec env BERTH_BENCH_NETNS=1 unshare --net -- bash "$0" "$@"
fi
ip link set lo up
runs=${1:-50}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in hyperfine podman busybox-static jq nftables iperf3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
  RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target x86_64-unknown-linux-gnu -p berth-cli >/dev/null
berth=$PWD/target/x86_64-unknown-linux-gnu/release/berth
out=$PWD/bench/out
mkdir -p "$out"
work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
export BERTH_ROOT=$work/store
unset BERTH_DEFAULT_NETWORK
# podman with a store of its own, and the ulimits it needs here on every run.
cat > "$work/podman" <<EOF
#!/bin/sh
if [ "\$1" = run ]; then shift; set -- run --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "\$@"; fi
exec podman --root $work/podman-store --runroot $work/podman-run "\$@"
EOF
chmod +x "$work/podman"
pod=("$work/podman")
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
cleanup() {
  "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1 || true
  "${pod[@]}" rm -af >/dev/null 2>&1 || true
  "${pod[@]}" system reset -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
scripts/busybox-bundle.sh "$work/bb" >/dev/null
tar -C "$work/bb/rootfs" -cf "$work/rootfs.tar" .
"$berth" import "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
"${pod[@]}" import -q "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
img=localhost/bench/bb:1
# The bridges exist before timing: the first container on each makes its own.
"$berth" run --rm --network bridge "$img" true
"${pod[@]}" run --rm --network bridge "$img" true

hyperfine --runs "$runs" --warmup 3 --export-json "$out/network-run.json" \
  -n "berth none" "$berth run --rm --network none $img /bin/true" \
  -n "berth bridge" "$berth run --rm --network bridge $img /bin/true" \
  -n "podman none" "${pod[*]} run --rm --network none $img /bin/true" \
  -n "podman bridge" "${pod[*]} run --rm --network bridge $img /bin/true" >/dev/null
med() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$out/network-run.json"; }

# Throughput with iperf3 (TCP, 3 s), the host's binary run in the busybox image through
# read-only binds of /usr (and the /lib, /lib64 links into it), for both engines alike.
host=(-v /usr:/usr:ro -v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro)
gbits() { jq -r '.end.sum_received.bits_per_second / 1e9'; }
published() { # engine...
  "$@" run -d --name sink -p 127.0.0.1:15201:5201 "${host[@]}" "$img" /usr/bin/iperf3 -s -1 >/dev/null
  sleep 1
  iperf3 -c 127.0.0.1 -p 15201 -t 3 -J | gbits
  "$@" rm -f sink >/dev/null
}
berth_pub=$(published "$berth")
podman_pub=$(published "${pod[@]}")

between() { # network engine...
  local net=$1; shift
  "$@" run -d --name sink --network "$net" "${host[@]}" "$img" /usr/bin/iperf3 -s -1 >/dev/null
  sleep 1
  "$@" run --rm --network "$net" "${host[@]}" "$img" /usr/bin/iperf3 -c sink -t 3 -J | gbits
  "$@" rm -f sink >/dev/null
}
"$berth" network create benchnet >/dev/null
"${pod[@]}" network create benchnet >/dev/null
berth_c2c=$(between benchnet "$berth")
podman_c2c=$(between benchnet "${pod[@]}")

hundred() { # engine...
  local t0 t1
  t0=$(date +%s.%N)
  for i in $(seq 1 100); do "$@" run -d --network benchnet --name "n$i" "$img" sleep 600 >/dev/null; done
  t1=$(date +%s.%N)
  "$@" rm -f $(seq -f 'n%g' 1 100) >/dev/null
  calc "$t1 - $t0"
}
berth_100=$(hundred "$berth")
podman_100=$(hundred "${pod[@]}")

bn=$(med "berth none"); bb=$(med "berth bridge"); pn=$(med "podman none"); pb=$(med "podman bridge")
printf 'run --rm, median ms: berth none %.1f, bridge %.1f (+%.1f); podman none %.1f, bridge %.1f (+%.1f)\n' \
  "$bn" "$bb" "$(calc "$bb - $bn")" "$pn" "$pb" "$(calc "$pb - $pn")"
printf 'host -> container through 127.0.0.1 published port, Gbit/s: berth %.2f, podman %.2f (ratio %.2f)\n' \
  "$berth_pub" "$podman_pub" "$(calc "$berth_pub / $podman_pub")"
printf 'container -> container on a user network, Gbit/s: berth %.2f, podman %.2f (ratio %.2f)\n' \
  "$berth_c2c" "$podman_c2c" "$(calc "$berth_c2c / $podman_c2c")"
printf '100 containers started on one user network, s: berth %.2f, podman %.2f (ratio %.3f)\n' \
  "$berth_100" "$podman_100" "$(calc "$berth_100 / $podman_100")"
