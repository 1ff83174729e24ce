#!/usr/bin/env bash
# Installs the Debian packages berth's build and tests need (idempotent; needs root).
set -euo pipefail
pkgs=(libseccomp-dev pkg-config busybox-static runc crun jq iproute2 procps util-linux bsdutils
      podman catatonit netavark containernetworking-plugins docker.io
      skopeo docker-registry apache2-utils debootstrap tmux nftables)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
