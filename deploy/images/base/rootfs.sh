#!/usr/bin/env bash
# The recipe of the local base image, dbsbm-local/debian: a Debian 12 minbase root file
# system, configured the way Debian's official image is for containers. No image registry
# is needed, only Debian's package archive. scripts/docker-images.sh runs this into an
# empty folder and imports the result; the image carries this file's sha256 as a label,
# so editing this file is what makes the next run rebuild the base.
# Usage: deploy/images/base/rootfs.sh <empty folder>   (as root, with debootstrap installed)
set -euo pipefail

root="${1:?usage: $0 <empty folder>}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

debootstrap --variant=minbase bookworm "$root" "$mirror" >&2

cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
# Images install only what they name and keep no package cache or lists.
cat >"$root/etc/apt/apt.conf.d/90containers" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Acquire::Languages "none";
APT
# Package scripts must not start services inside an image build.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/tmp/*
