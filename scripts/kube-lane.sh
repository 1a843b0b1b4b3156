#!/usr/bin/env bash
# Prepares the real Kubernetes lane for the tests: unpacks kube-apiserver, kube-controller-manager (and the node's and
# Helm's binaries) into $BUILD_DIR/k8s-bin, checking them against SHA256SUMS, from
#   $POETRYOPS_K8S_BIN_DIR   (plain or .xz binaries), else
#   ../shared/k8s/bin         (beside the repository: what CI has)
# Prints one line saying whether the lane runs. With POETRYOPS_REQUIRE_KUBE_LANE=1 (set by .ci/run) a missing lane is
# an error (exit 1), never a skip. etcd comes from Debian (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DEST=$BUILD_DIR/k8s-bin
SRC=${POETRYOPS_K8S_BIN_DIR:-../shared/k8s/bin}
NAMES=(kube-apiserver kube-controller-manager kube-scheduler kubelet helm)

missing() {
  echo "kube lane: $1" >&2
  if [ "${POETRYOPS_REQUIRE_KUBE_LANE:-0}" = 1 ]; then
    echo "kube lane: POETRYOPS_REQUIRE_KUBE_LANE=1, so this is an error" >&2
    exit 1
  fi
  exit 0
}

if [ ! -e "$SRC/kube-apiserver" ] && [ ! -e "$SRC/kube-apiserver.xz" ]; then
  missing "skipped: no kube-apiserver in $SRC; set POETRYOPS_K8S_BIN_DIR to a folder of the v1.28 binaries (plain or .xz) to run the real Kubernetes tests"
fi
command -v etcd >/dev/null 2>&1 || missing "skipped: etcd is not installed (apt-get install etcd-server, done by scripts/setup.sh)"

mkdir -p "$DEST"
for n in "${NAMES[@]}"; do
  want=""
  [ -f "$SRC/SHA256SUMS" ] && want=$(awk -v n="$n" '$2 == n {print $1}' "$SRC/SHA256SUMS")
  if [ -x "$DEST/$n" ]; then
    [ -z "$want" ] && continue
    [ "$(cat "$DEST/.$n.sha256" 2>/dev/null)" = "$want" ] && continue
  fi
  if [ -f "$SRC/$n.xz" ]; then
    echo "kube lane: unpacking $n" >&2
    xz -dc "$SRC/$n.xz" > "$DEST/$n.tmp"
  elif [ -f "$SRC/$n" ]; then
    cp "$SRC/$n" "$DEST/$n.tmp"
  else
    [ "$n" = kube-apiserver ] || [ "$n" = kube-controller-manager ] && missing "skipped: no $n in $SRC"
    continue
  fi
  if [ -n "$want" ]; then
    got=$(sha256sum "$DEST/$n.tmp" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      rm -f "$DEST/$n.tmp"
      echo "kube lane: $SRC/$n does not match $SRC/SHA256SUMS (got $got)" >&2
      exit 1
    fi
    echo "$want" > "$DEST/.$n.sha256"
  fi
  chmod +x "$DEST/$n.tmp"
  mv -f "$DEST/$n.tmp" "$DEST/$n"
done
echo "kube lane: runs against kube-apiserver $("$DEST/kube-apiserver" --version 2>/dev/null | awk '{print $2}') from $SRC and $(etcd --version 2>/dev/null | head -1)" >&2
