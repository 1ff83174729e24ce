#!/usr/bin/env bash
# Times `pull` of a debootstrapped minimal Debian (gzip layer, pushed by skopeo to a registry
# on 127.0.0.1) with berth, podman and, if its daemon answers, docker, side by side in one
# hyperfine run; reports ratios and berth's peak RSS during a pull.
#
#   bench/pull.sh [RUNS]        (root; needs network access to Debian's mirror once)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in hyperfine podman skopeo docker-registry debootstrap jq time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release -p berth-cli >/dev/null
berth=$PWD/target/release/berth
out=$PWD/bench/out
mkdir -p "$out"
rootfs=$(scripts/debian-rootfs.sh /var/cache/berth-test)
work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/registry.sh start "$work/registry" "$port" >/dev/null
ref=127.0.0.1:$port/bench/debian:bookworm
# A private dockerd (its own data root, socket and containerd namespace; no networking
# changes), so docker is measured even where no docker daemon runs.
dockerd_pid=
if [ -z "${DOCKER_HOST:-}" ] && ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null; then
  mkdir -p "$work/docker"
  echo '{}' > "$work/docker/daemon.json"
  dockerd --config-file "$work/docker/daemon.json" --data-root "$work/docker/data" \
    --exec-root "$work/docker/exec" --pidfile "$work/docker/dockerd.pid" \
    -H "unix://$work/docker/docker.sock" --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --userland-proxy=false --storage-driver=overlay2 \
    --exec-opt=native.cgroupdriver=cgroupfs --containerd-namespace=berth-bench \
    --containerd-plugins-namespace=berth-bench-plugins >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST=unix://$work/docker/docker.sock
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
fi
cleanup() {
  scripts/registry.sh stop "$work/registry" >/dev/null 2>&1 || true
  if [ -n "$dockerd_pid" ]; then
    docker rmi -f "$ref" >/dev/null 2>&1 || true
    kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null || true
  fi
  podman rmi -f "$ref" >/dev/null 2>&1 || true
  docker rmi -f "$ref" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export BERTH_ROOT=$work/store
"$berth" import "$rootfs" bench/debian:bookworm >/dev/null
"$berth" save -o "$work/debian.tar" bench/debian:bookworm
# skopeo gzips the layer on the way, as a registry would hold it.
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/debian.tar" "docker://$ref"
rm -rf "$BERTH_ROOT" "$work/debian.tar"
size=$(stat -c %s "$rootfs")
echo "image: $(numfmt --to=iec "$size") uncompressed, one gzip layer"

cmds=(
  --prepare "$berth rmi -f $ref >/dev/null 2>&1; $berth image prune -af >/dev/null" -n "berth pull" "$berth pull -q $ref"
  --prepare "podman rmi -f $ref >/dev/null 2>&1 || true" -n "podman pull" "podman pull -q --tls-verify=false $ref"
)
if docker info >/dev/null 2>&1; then
  cmds+=(--prepare "docker rmi -f $ref >/dev/null 2>&1 || true" -n "docker pull" "docker pull -q $ref")
else
  echo "docker: no daemon answers, so docker is not measured"
fi
hyperfine --runs "$runs" --export-json "$out/pull.json" "${cmds[@]}" >/dev/null
"$berth" rmi -f "$ref" >/dev/null 2>&1; "$berth" image prune -af >/dev/null
rss=$( { /usr/bin/time -f %M "$berth" pull -q "$ref" >/dev/null; } 2>&1 | tail -1)
jq -r --arg rss "$rss" '.results | map({(.command): .median}) | add as $m
  | "berth pull: \($m["berth pull"] * 1000 | floor) ms",
    "podman pull: \($m["podman pull"] * 1000 | floor) ms (berth/podman \(($m["berth pull"] / $m["podman pull"]) * 100 | floor / 100))",
    (if $m["docker pull"] then "docker pull: \($m["docker pull"] * 1000 | floor) ms (berth/docker \(($m["berth pull"] / $m["docker pull"]) * 100 | floor / 100))" else empty end),
    "berth pull peak RSS: \($rss) KiB"' "$out/pull.json"
