#!/usr/bin/env bash
# Builds, once, a minimal Debian rootfs tarball for tests and benchmarks, and prints its path:
#
#   scripts/debian-rootfs.sh DIR     ->  DIR/debian-bookworm-rootfs.tar
#
# debootstrap --variant=minbase bookworm, from the Debian mirror this machine's apt already
# uses (/etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}; override with
# BERTH_DEBIAN_MIRROR=URL). Needs root and network access to that mirror only. If the tar
# exists it is not rebuilt. The rootfs is built in a temporary directory inside DIR and the
# tar is renamed into place, so a killed run never leaves a partial tarball under the final
# name; concurrent runs wait for each other (flock). About 160 MiB, uncompressed.
set -euo pipefail

dir=${1:?usage: debian-rootfs.sh DIR}
suite=bookworm
out="$dir/debian-$suite-rootfs.tar"

if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "debian-rootfs.sh: debootstrap needs root" >&2; exit 1; }

# The first non-security Debian mirror apt is configured with.
find_mirror() {
  local f
  {
    [ -f /etc/apt/sources.list ] && cat /etc/apt/sources.list
    for f in /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && cat "$f"; done
  } 2>/dev/null | awk '
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }   # [options]
      if ($(i) ~ /debian-security|security\.debian\.org/) next
      if ($(i+1) ~ /^(bookworm|stable|trixie|bullseye|sid|unstable|testing)$/) { print $(i); exit }
    }'
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: stanzas separated by blank lines; want Types: deb, a Suites without -security.
    awk -v RS= '
      /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && /(^|\n)Suites:/ && !/(^|\n)Enabled:[ \t]*no/ {
        n = split($0, lines, "\n"); uris = ""; suites = ""
        for (k = 1; k <= n; k++) {
          if (lines[k] ~ /^URIs:/) uris = lines[k]
          if (lines[k] ~ /^Suites:/) suites = lines[k]
        }
        if (suites ~ /-security/ || uris ~ /debian-security/) next
        sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/)
        if (u[1] != "") { print u[1]; exit }
      }' "$f"
  done
}

mirror=${BERTH_DEBIAN_MIRROR:-$(find_mirror | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$dir"
exec 9>"$dir/.debian-$suite-rootfs.lock"
flock 9
if [ -s "$out" ]; then # built by a concurrent run while we waited
  echo "$out"
  exit 0
fi

# Removes a work directory; debootstrap may have left /proc or /sys mounted in it if it died.
remove() {
  [ -d "$1" ] || return 0
  awk -v w="$1/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$1"
}
# A killed earlier run's leftovers (we hold the lock, so no run is using them).
for old in "$dir/.debian-$suite."*; do remove "$old"; done

work=$(mktemp -d "$dir/.debian-$suite.XXXXXX")
trap 'remove "$work"' EXIT
trap 'exit 130' INT TERM

start=$SECONDS
echo "debian-rootfs.sh: debootstrap --variant=minbase $suite from $mirror" >&2
if ! debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$work/rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$work/rootfs/debootstrap/debootstrap.log" >&2
  echo "debian-rootfs.sh: debootstrap failed" >&2
  exit 1
fi

# debootstrap's rootfs as it is (apt lists included), less what an image never carries:
# device nodes (the runtime makes them) and this host's name and resolver.
r="$work/rootfs"
find "$r/dev" -mindepth 1 -delete
rm -rf "$r/debootstrap" "$r/var/cache/apt/archives/"*.deb
rm -f "$r/etc/hostname" "$r/etc/resolv.conf"

tar --numeric-owner --xattrs --acls --sort=name -C "$r" -cf "$work/rootfs.tar" .
mv -T "$work/rootfs.tar" "$out"
echo "debian-rootfs.sh: built in $((SECONDS - start)) s, $(($(stat -c %s "$out") >> 20)) MiB" >&2
echo "$out"
