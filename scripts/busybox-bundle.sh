#!/usr/bin/env bash
# Makes an OCI bundle rootfs from Debian's static busybox: scripts/busybox-bundle.sh DIR
set -euo pipefail
dir=${1:?usage: busybox-bundle.sh DIR}
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/etc"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
