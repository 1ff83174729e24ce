#!/usr/bin/env bash
# Runs a throwaway distribution registry (Debian's docker-registry) on loopback for CI and
# tests. It listens on 127.0.0.1 only and has no debug, proxy or notification endpoints.
#
#   scripts/registry.sh start DIR PORT [HTPASSWD]   storage, config, log and pid under DIR
#   scripts/registry.sh stop DIR
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT [htpasswd-file] | stop DIR" >&2
  exit 2
}

# Prints the HTTP status of GET /v2/ (000 when nothing answers). bash's /dev/tcp keeps this
# free of curl; any status, 401 included, means the registry is serving.
v2_status() {
  local port=$1 line
  # Always called as $(v2_status ...), a subshell: silencing its stderr hides bash's
  # "connection refused" while the registry starts, and nothing else.
  exec 2>/dev/null
  if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    echo 000
    return
  fi
  printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" >&3
  if IFS= read -r -t 5 line <&3; then
    line=${line#HTTP/* }
    echo "${line%% *}"
  else
    echo 000
  fi
  exec 3>&-
}

start() {
  local dir=$1 port=$2 htpasswd=${3:-}
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || {
    echo "registry.sh: bad port: $port" >&2
    exit 2
  }
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/registry.pid" ] && alive "$(cat "$dir/registry.pid")"; then
    echo "registry.sh: already running in $dir (pid $(cat "$dir/registry.pid"))" >&2
    exit 1
  fi
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: warn"
    echo "  accesslog:"
    echo "    disabled: true"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $dir/data"
    echo "  delete:"
    echo "    enabled: true"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    echo "  headers:"
    echo "    X-Content-Type-Options: [nosniff]"
    if [ -n "$htpasswd" ]; then
      [ -r "$htpasswd" ] || {
        echo "registry.sh: cannot read $htpasswd" >&2
        exit 1
      }
      echo "auth:"
      echo "  htpasswd:"
      echo "    realm: berth-test"
      echo "    path: $(cd "$(dirname "$htpasswd")" && pwd)/$(basename "$htpasswd")"
    fi
  } >"$dir/config.yml"
  # setsid: the registry outlives this script and must not get the caller's terminal signals.
  setsid docker-registry serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/registry.pid"
  for _ in $(seq 1 100); do
    if ! alive "$pid"; then
      echo "registry.sh: docker-registry exited; log:" >&2
      cat "$dir/registry.log" >&2
      rm -f "$dir/registry.pid"
      exit 1
    fi
    if [ "$(v2_status "$port")" != 000 ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "registry.sh: no answer on 127.0.0.1:$port/v2/ after 10s; log:" >&2
  cat "$dir/registry.log" >&2
  kill "$pid" 2>/dev/null || true
  rm -f "$dir/registry.pid"
  exit 1
}

# Whether pid is a live process. A zombie counts as gone: the registry is reparented to
# init, which may take a while to reap it.
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop() {
  local dir=$1 pid
  [ -f "$dir/registry.pid" ] || return 0
  pid=$(cat "$dir/registry.pid")
  # Only signal the pid if it is still the registry we started, not a recycled pid.
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ]; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/registry.pid"
}

case "${1:-}" in
  start) [ $# -ge 3 ] && [ $# -le 4 ] || usage; start "$2" "$3" "${4:-}" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
