#!/usr/bin/env bash
# Times the full lifecycle (create + start + wait + delete) of /bin/true under berth-runc,
# crun and runc, side by side in one hyperfine run, plain and with a 64 MiB memory limit,
# and reports ratios to crun and each runtime's peak RSS.
#
#   bench/runtime.sh [RUNS]        (root; installs hyperfine, crun, runc, time if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
export DEBIAN_FRONTEND=noninteractive
need=()
for p in hyperfine crun runc time jq busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
# crun refuses to start on a hybrid host without the hugetlb v1 controller.
if [ -d /sys/fs/cgroup/memory ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
fi
# The shipped build: static (no dynamic loader at every start), libseccomp linked in.
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
  RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target x86_64-unknown-linux-gnu -p berth-runc >/dev/null
berth=$PWD/target/x86_64-unknown-linux-gnu/release/berth-runc
out=$PWD/bench/out
mkdir -p "$out"
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
# berth-runc re-executes itself from a read-only view of its binary unless it already runs
# from a read-only mount (CVE-2019-5736). "berth-runc/ro" is the same binary installed on a
# read-only mount (as /usr is on many hosts), which skips that re-exec.
mkdir -p "$work/ro" && touch "$work/ro/berth-runc"
mount --bind "$berth" "$work/ro/berth-runc"
mount -o remount,bind,ro "$work/ro/berth-runc"
trap 'umount "$work/ro/berth-runc" 2>/dev/null; rm -rf "$work"' EXIT

make_bundle() { # DIR MEMORY_LIMIT_OR_EMPTY
  scripts/busybox-bundle.sh "$1"
  (cd "$1" && "$berth" spec)
  local filter='.process.terminal = false | .process.args = ["/bin/true"] | .root.readonly = true'
  [ -n "$2" ] && filter="$filter | .linux.resources.memory = {\"limit\": $2}"
  jq "$filter" "$1/config.json" > "$1/config.json.new" && mv "$1/config.json.new" "$1/config.json"
}
make_bundle "$work/plain" ""
make_bundle "$work/mem64" $((64 << 20))

declare -A bin=([berth-runc]=$berth [berth-runc/ro]=$work/ro/berth-runc
                [crun]=$(command -v crun) [runc]=$(command -v runc))
order=(berth-runc berth-runc/ro crun runc)

# Container creation is noisy here: the first cgroup migration waits out an RCU grace
# period and network namespaces are torn down asynchronously. So each case runs in rounds
# with the runtimes' order rotated, and we report the median over all rounds, the mean,
# and the CPU time (user + system, the steadiest figure).
rounds=3
per_round=$(( (runs + rounds - 1) / rounds ))
for case in plain mem64; do
  files=()
  for round in $(seq "$rounds"); do
    cmds=()
    for k in 0 1 2 3; do
      rt=${order[$(( (k + round) % 4 ))]}
      cmds+=(-n "$rt" "${bin[$rt]} --root $work/state-${rt//\//-} run --bundle $work/$case bench-$case-${rt//\//-}")
    done
    f="$out/runtime-$case-$round.json"
    hyperfine -N --warmup 10 --runs "$per_round" --export-json "$f" "${cmds[@]}" >/dev/null 2>&1
    files+=("$f")
  done
  stats() { # RUNTIME -> "median mean cpu" in ms
    jq -s -r --arg rt "$1" '
      [.[].results[] | select(.command==$rt)] as $r
      | ([$r[].times[]] | sort) as $t
      | [ $t[($t|length)/2|floor], ($t|add/length),
          ([$r[] | .user + .system] | add/length) ]
      | map(. * 1000) | @tsv' "${files[@]}"
  }
  read -r crun_med crun_mean crun_cpu < <(stats crun)
  echo "== lifecycle of /bin/true, $case ($((per_round * rounds)) runs each, $rounds rotated rounds)"
  printf '%-14s %9s %9s %9s %8s %8s %10s\n' runtime median mean cpu med/crun cpu/crun "peak RSS"
  for rt in "${order[@]}"; do
    read -r med mean cpu < <(stats "$rt")
    rss=0
    for _ in 1 2 3 4 5; do
      r=$( { /usr/bin/time -f %M "${bin[$rt]}" --root "$work/state-${rt//\//-}" run --bundle "$work/$case" "rss-${rt//\//-}" >/dev/null; } 2>&1 | tail -1)
      [ "$r" -gt "$rss" ] && rss=$r
    done
    printf '%-14s %7.2fms %7.2fms %7.2fms %7.2fx %7.2fx %6d KiB\n' "$rt" "$med" "$mean" "$cpu" \
      "$(echo "$med/$crun_med" | bc -l)" "$(echo "$cpu/$crun_cpu" | bc -l)" "$rss"
  done
done
