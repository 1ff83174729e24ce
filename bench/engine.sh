#!/usr/bin/env bash
# Times `run --rm IMAGE true` with berth, podman and (a private dockerd's) docker side by side
# in one hyperfine run, all with no network, and berth-runc's bare lifecycle of the same
# rootfs for reference; then sequential `berth run --rm` per second, and the monitor's RSS.
#
#   bench/engine.sh [RUNS]        (root)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in hyperfine podman busybox-static jq time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
# The shipped build, as bench/runtime.sh makes it: static (no dynamic loader at every start
# of the CLI and of each monitor), libseccomp linked in.
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
  RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target x86_64-unknown-linux-gnu -p berth-cli -p berth-runc >/dev/null
berth=$PWD/target/x86_64-unknown-linux-gnu/release/berth
runc=$PWD/target/x86_64-unknown-linux-gnu/release/berth-runc
out=$PWD/bench/out
mkdir -p "$out"
work=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
dockerd_pid=
cleanup() {
  podman rmi -f localhost/bench/bb:1 >/dev/null 2>&1 || true
  if [ -n "$dockerd_pid" ]; then kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
scripts/busybox-bundle.sh "$work/bb" >/dev/null
tar -C "$work/bb/rootfs" -cf "$work/rootfs.tar" .
export BERTH_ROOT=$work/store
"$berth" import "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
podman import -q "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
(cd "$work/bb" && "$runc" spec && jq '.process.terminal = false | .process.args = ["/bin/true"]' config.json > c && mv c config.json)
# berth's own spec (Docker's defaults: seccomp, capabilities, masked paths, /dev/shm...) run
# by the bare runtime: what the engine adds, apart from what Docker's defaults cost.
ref=$("$berth" run -d --name bench-ref localhost/bench/bb:1 sleep 3600)
mkdir -p "$work/bs" && cp -a "$work/bb/rootfs" "$work/bs/rootfs"
jq --arg r "$work/bs/rootfs" '.root.path = $r | .process.args = ["/bin/true"]
    | .process.terminal = false | del(.linux.cgroupsPath)' \
  "$BERTH_ROOT/containers/$ref/config.json" > "$work/bs/config.json"
cmds=(
  -n "berth run --rm" "$berth run --rm --network none localhost/bench/bb:1 /bin/true"
  -n "berth-runc run (berth's spec)" "$runc --root $work/runc run --bundle $work/bs bench-s-\$RANDOM"
  -n "podman run --rm" "podman run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/bench/bb:1 /bin/true"
  -n "berth-runc run" "$runc --root $work/runc run --bundle $work/bb bench-\$RANDOM"
)
if command -v dockerd >/dev/null; then
  mkdir -p "$work/docker" && echo '{}' > "$work/docker/daemon.json"
  dockerd --config-file "$work/docker/daemon.json" --data-root "$work/docker/data" \
    --exec-root "$work/docker/exec" --pidfile "$work/docker/dockerd.pid" \
    -H "unix://$work/docker/docker.sock" --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --userland-proxy=false --storage-driver=overlay2 \
    --exec-opt=native.cgroupdriver=cgroupfs --containerd-namespace=berth-bench \
    --containerd-plugins-namespace=berth-bench-plugins >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST=unix://$work/docker/docker.sock
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker import "$work/rootfs.tar" localhost/bench/bb:1 >/dev/null
  cmds+=(-n "docker run --rm" "docker run --rm --network none localhost/bench/bb:1 /bin/true")
fi
hyperfine --runs "$runs" --warmup 5 --export-json "$out/engine.json" "${cmds[@]}" >/dev/null
"$berth" rm -f bench-ref >/dev/null
start=$(date +%s.%N)
for _ in $(seq 1 50); do "$berth" run --rm --network none localhost/bench/bb:1 /bin/true; done
end=$(date +%s.%N)
rss=$("$berth" run -d --network none localhost/bench/bb:1 sleep 5)
sleep 1.5
mon=$(pgrep -f -- "__monitor $BERTH_ROOT $rss" | head -1)
mon_rss=$(awk '/VmRSS/ {print $2}' "/proc/$mon/status")
"$berth" rm -f "$rss" >/dev/null

# 200 detached containers: start them all, list them, weigh their monitors, remove them.
n=200
t0=$(date +%s.%N)
for i in $(seq 1 $n); do "$berth" run -d --network none --name "many$i" localhost/bench/bb:1 sleep 600 >/dev/null; done
t1=$(date +%s.%N)
running=$("$berth" ps -q | wc -l)
hyperfine --runs 20 --warmup 3 --export-json "$out/ps200.json" -N "$berth ps" >/dev/null
ps_ms=$(jq '.results[0].median * 1000 | . * 10 | floor / 10' "$out/ps200.json")
# Monitors shed what starting took after their container has run for a second.
sleep 1.5
mons=$(pgrep -f -- "__monitor $BERTH_ROOT " || true)
mon_rss_total=0; mon_pss_total=0
for p in $mons; do
  r=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  q=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  mon_rss_total=$((mon_rss_total + r)); mon_pss_total=$((mon_pss_total + q))
done
t2=$(date +%s.%N)
"$berth" rm -f $("$berth" ps -aq) >/dev/null
t3=$(date +%s.%N)
many=$(jq -n --arg n "$n" --arg up "$(echo "$t1 - $t0" | bc -l)" --arg down "$(echo "$t3 - $t2" | bc -l)" \
  --arg running "$running" --arg ps "$ps_ms" --arg rss "$mon_rss_total" --arg pss "$mon_pss_total" \
  '"\($n) detached containers: started in \($up | tonumber * 100 | floor / 100) s (\($running) running); ps \($ps) ms; monitors RSS \($rss | tonumber / 1024 | floor) MiB in all, PSS \($pss | tonumber / 1024 | floor) MiB; rm -f of all \($down | tonumber * 100 | floor / 100) s"')
jq -r --arg per "$(echo "50 / ($end - $start)" | bc -l)" --arg rss "$mon_rss" '.results | map({(.command): .median}) | add as $m
  | "berth run --rm: \($m["berth run --rm"] * 1000 | . * 10 | floor / 10) ms",
    "podman run --rm: \($m["podman run --rm"] * 1000 | floor) ms (berth/podman \(($m["berth run --rm"] / $m["podman run --rm"]) * 1000 | floor / 1000))",
    (if $m["docker run --rm"] then "docker run --rm: \($m["docker run --rm"] * 1000 | floor) ms (berth/docker \(($m["berth run --rm"] / $m["docker run --rm"]) * 1000 | floor / 1000))" else empty end),
    "berth-runc run: \($m["berth-runc run"] * 1000 | . * 10 | floor / 10) ms (berth run / bare runtime \(($m["berth run --rm"] / $m["berth-runc run"]) * 100 | floor / 100))",
    "berth-runc run of berth'"'"'s spec: \($m["berth-runc run (berth'"'"'s spec)"] * 1000 | . * 10 | floor / 10) ms (berth run / that \(($m["berth run --rm"] / $m["berth-runc run (berth'"'"'s spec)"]) * 100 | floor / 100))",
    "sequential berth run --rm: \($per | tonumber | floor) per second",
    "monitor RSS: \($rss) KiB"' "$out/engine.json"
echo "$many" | jq -r .
