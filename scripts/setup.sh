#!/usr/bin/env bash
# Installs everything poetryops needs to build, test and run its demo on Debian bookworm (as root).
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

BUILD_PKGS=(cmake g++ clang libclang-rt-14-dev ninja-build ccache pkg-config libboost-all-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev
            libtomlplusplus-dev libcli11-dev libhowardhinnant-date-dev tzdata libgtest-dev libgmock-dev git ca-certificates
            clang-format)
TEST_PKGS=(docker-registry skopeo umoci apache2-utils openssl curl
           lighttpd lighttpd-mod-openssl openssh-server openssh-client
           prometheus buildah runc debootstrap fuse-overlayfs python3 python3-poetry
           etcd-server xz-utils
           containerd containernetworking-plugins conntrack iptables busybox-static)

want=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
# Packages such as docker-registry, prometheus and openssh-server would start system services on :5000/:9090/:22
# on a systemd host; tests start their own on loopback, so forbid service starts during install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
echo "setup.sh: installing ${missing[*]}" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
