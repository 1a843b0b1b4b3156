#!/usr/bin/env bash
# Local Debian bookworm base images for image-build tests and benchmarks, made without Docker Hub or PyPI.
#
#   scripts/base-images.sh rootfs
#       Makes (or finds in the cache) two root filesystem tarballs and prints `runtime=PATH` and `build=PATH`:
#         runtime: debootstrap --variant=minbase with python3 (what `python:3.11-slim` is to Docker Hub)
#         build:   runtime + python3-venv + python3-poetry (Poetry "preinstalled in the base image")
#   scripts/base-images.sh import --root R --runroot RR
#       Also imports both into that buildah storage (FROM scratch + ADD rootfs.tar /) and prints
#       `runtime=IMAGE` and `build=IMAGE` (localhost/poetryops-test/python-{runtime,build}:bookworm).
#   scripts/base-images.sh controller --root R --runroot RR
#       The base of the controller image's build stages (images/controller/Dockerfile, DEBIAN): a plain minbase
#       (no Python) with the runtime packages the Dockerfile would otherwise fetch (CONTROLLER_PKGS, the
#       Dockerfile's RUNTIME_PACKAGES), imported into that buildah storage; prints `controller=IMAGE`
#       (localhost/poetryops-test/controller-base:bookworm). A tarball of its own, with its own key: the two
#       above are not remade for it.
#   scripts/base-images.sh lock PROJECT_DIR
#       Re-locks PROJECT_DIR/poetry.lock with the build image's Poetry (1.3.2), offline, in a throw-away chroot:
#       how examples/hello/poetry.lock was made (no Poetry needed on the host).
#
# The tarballs are cached in ${POETRYOPS_TEST_CACHE:-/var/cache/poetryops-test}, keyed by a hash of the recipe below
# (mirror, suite, package lists, recipe version), so only the first run pays for debootstrap (~1-2 minutes).
# The Debian mirror is read from /etc/apt/sources.list* (override: POETRYOPS_DEBIAN_MIRROR). Needs root.
set -euo pipefail

SUITE=bookworm
RUNTIME_PKGS=python3
BUILD_PKGS="python3-venv python3-poetry"
RECIPE_VERSION=3
# Keep in step with RUNTIME_PACKAGES in images/controller/Dockerfile (a package missing here is fetched by the build).
CONTROLLER_PKGS="libssl3 libyaml-cpp0.7 libtomlplusplus3 libdate-tz3 tzdata git openssh-client ca-certificates tini"
CONTROLLER_RECIPE_VERSION=1
IMAGE_PREFIX=localhost/poetryops-test
CACHE=${POETRYOPS_TEST_CACHE:-/var/cache/poetryops-test}

die() { echo "base-images.sh: $*" >&2; exit 2; }

# The first deb URI serving SUITE/main in the host's apt sources (one-line and deb822 formats).
find_mirror() {
  if [ -n "${POETRYOPS_DEBIAN_MIRROR:-}" ]; then echo "$POETRYOPS_DEBIAN_MIRROR"; return; fi
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                        if ($(i+1)==s) { for (j=i+2;j<=NF;j++) if ($j=="main") { print $i; exit } } }' "$f"
  done | head -n1 | grep . && return
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas are separated by blank lines.
    awk -v s="$SUITE" 'BEGIN { RS=""; FS="\n" }
      { types=""; uris=""; suites=""; comps=""
        for (k=1;k<=NF;k++) { split($k, kv, ":[ \t]*"); key=kv[1]; val=substr($k, length(key)+2); sub(/^[ \t]+/, "", val)
          if (key=="Types") types=val; else if (key=="URIs") uris=val; else if (key=="Suites") suites=val;
          else if (key=="Components") comps=val }
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && (" " comps " ") ~ / main /) {
          split(uris, u, " "); print u[1]; exit } }' "$f"
  done | head -n1 | grep . && return
  die "no Debian mirror for $SUITE/main in /etc/apt/sources.list*; set POETRYOPS_DEBIAN_MIRROR"
}

# Like Debian's "slim" images (and so python:*-slim): no documentation, manual pages or translations, now or in
# packages installed later in a Dockerfile.
slim() {
  mkdir -p "$1/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
    >"$1/etc/dpkg/dpkg.cfg.d/docker-slim"
  # The apt settings of Docker Hub's Debian images: an `apt-get update && apt-get install` in a Dockerfile leaves no
  # package caches (/var/cache/apt/*.bin would add ~100 MB to that layer) and fetches no translations.
  printf '%s\n' \
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$1/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::Languages "none";' >"$1/etc/apt/apt.conf.d/docker-no-languages"
  printf '%s\n' 'Acquire::GzipIndexes "true";' 'Acquire::CompressionTypes::Order:: "gz";' \
    >"$1/etc/apt/apt.conf.d/docker-gzip-indexes"
  find "$1/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$1"/usr/share/man/* "$1"/usr/share/groff/* "$1"/usr/share/info/* "$1"/usr/share/lintian/* \
    "$1"/usr/share/linda/* "$1"/usr/share/locale/*
}

clean_apt() {  # keep the images small: no package lists or downloaded .debs
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/log/apt/*
}

make_tarballs() (  # a subshell, so its EXIT trap cleans up on failure too
  mirror=$1 key=$2
  work=$(mktemp -d "$CACHE/work.XXXXXX")
  trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
  echo "base-images.sh: debootstrap $SUITE from $mirror (once; cached under $CACHE)" >&2
  debootstrap --variant=minbase --include="${RUNTIME_PKGS// /,}" "$SUITE" "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  slim "$work/rootfs"
  clean_apt "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -cf "$work/runtime.tar" .

  cp /etc/resolv.conf "$work/rootfs/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$work/rootfs/usr/sbin/policy-rc.d"
  chmod +x "$work/rootfs/usr/sbin/policy-rc.d"
  mount -t proc proc "$work/rootfs/proc"
  # shellcheck disable=SC2086
  if ! chroot "$work/rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
      "apt-get -qq update && apt-get -qq install -y --no-install-recommends $BUILD_PKGS" \
      >"$work/apt.log" 2>&1; then
    tail -n 20 "$work/apt.log" >&2; die "installing $BUILD_PKGS in the build rootfs failed"
  fi
  umount "$work/rootfs/proc"
  rm -f "$work/rootfs/usr/sbin/policy-rc.d"
  : >"$work/rootfs/etc/resolv.conf"
  clean_apt "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -cf "$work/build.tar" .

  # Tarballs of older recipes are of no further use.
  find "$CACHE" -maxdepth 1 \( -name 'runtime-*.tar' -o -name 'build-*.tar' \) ! -name "*-$key.tar" -delete
  mv "$work/runtime.tar" "$CACHE/runtime-$key.tar"
  mv "$work/build.tar" "$CACHE/build-$key.tar"
)

ensure_tarballs() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
  mkdir -p "$CACHE"
  local mirror key
  mirror=$(find_mirror)
  key=$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$mirror" "$RUNTIME_PKGS" "$BUILD_PKGS" | sha256sum | cut -c1-16)
  RUNTIME_TAR="$CACHE/runtime-$key.tar"
  BUILD_TAR="$CACHE/build-$key.tar"
  # Concurrent runs (a test and a benchmark) wait for each other instead of bootstrapping twice.
  exec 9>"$CACHE/.lock"
  flock -w 900 9 || die "timed out waiting for $CACHE/.lock"
  if [ ! -f "$RUNTIME_TAR" ] || [ ! -f "$BUILD_TAR" ]; then
    make_tarballs "$mirror" "$key"
  fi
  flock -u 9
}

make_controller_tarball() (  # a subshell, so its EXIT trap cleans up on failure too
  mirror=$1 key=$2
  work=$(mktemp -d "$CACHE/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "base-images.sh: debootstrap $SUITE with $CONTROLLER_PKGS from $mirror (once; cached under $CACHE)" >&2
  debootstrap --variant=minbase --include="${CONTROLLER_PKGS// /,}" "$SUITE" "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  slim "$work/rootfs"
  clean_apt "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -cf "$work/controller-base.tar" .
  find "$CACHE" -maxdepth 1 -name 'controller-base-*.tar' ! -name "*-$key.tar" -delete
  mv "$work/controller-base.tar" "$CACHE/controller-base-$key.tar"
)

ensure_controller_tarball() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
  mkdir -p "$CACHE"
  local mirror key
  mirror=$(find_mirror)
  key=$(printf '%s\n' "$CONTROLLER_RECIPE_VERSION" "$SUITE" "$mirror" "$CONTROLLER_PKGS" | sha256sum | cut -c1-16)
  CONTROLLER_TAR="$CACHE/controller-base-$key.tar"
  exec 9>"$CACHE/.lock"
  flock -w 900 9 || die "timed out waiting for $CACHE/.lock"
  [ -f "$CONTROLLER_TAR" ] || make_controller_tarball "$mirror" "$key"
  flock -u 9
}

import_one() {  # import_one TARBALL IMAGE [CMD]
  local ctx
  ctx=$(mktemp -d)
  ln "$1" "$ctx/rootfs.tar" 2>/dev/null || cp "$1" "$ctx/rootfs.tar"
  printf 'FROM scratch\nADD rootfs.tar /\nCMD ["%s"]\n' "${3:-/usr/bin/python3}" >"$ctx/Dockerfile"
  if ! "${BUILDAH[@]}" build --isolation chroot --layers --timestamp 0 -t "$2" "$ctx" >"$ctx/log" 2>&1; then
    tail -n 20 "$ctx/log" >&2; rm -rf "$ctx"; die "buildah could not import $1"
  fi
  rm -rf "$ctx"
}

cmd=${1:-}
shift || true
case "$cmd" in
  rootfs)
    ensure_tarballs
    echo "runtime=$RUNTIME_TAR"
    echo "build=$BUILD_TAR"
    ;;
  import|controller)
    root="" runroot=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --root) root=$2; shift 2 ;;
        --runroot) runroot=$2; shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    [ -n "$root" ] && [ -n "$runroot" ] || die "$cmd needs --root DIR --runroot DIR"
    BUILDAH=(buildah --root "$root" --runroot "$runroot" --storage-driver overlay)
    if [ "$cmd" = controller ]; then
      ensure_controller_tarball
      import_one "$CONTROLLER_TAR" "$IMAGE_PREFIX/controller-base:$SUITE" /bin/sh
      echo "controller=$IMAGE_PREFIX/controller-base:$SUITE"
      exit 0
    fi
    ensure_tarballs
    import_one "$RUNTIME_TAR" "$IMAGE_PREFIX/python-runtime:$SUITE"
    import_one "$BUILD_TAR" "$IMAGE_PREFIX/python-build:$SUITE"
    echo "runtime=$IMAGE_PREFIX/python-runtime:$SUITE"
    echo "build=$IMAGE_PREFIX/python-build:$SUITE"
    ;;
  lock)
    project=${1:-}
    [ -f "$project/pyproject.toml" ] || die "lock needs a project directory with a pyproject.toml"
    ensure_tarballs
    tmp=$(mktemp -d)
    trap 'umount "$tmp/proc" 2>/dev/null || true; rm -rf "$tmp"' EXIT
    tar -C "$tmp" -xf "$BUILD_TAR"
    mkdir -p "$tmp/app"
    cp -a "$project/." "$tmp/app/"
    rm -rf "$tmp/app/.venv"
    mount -t proc proc "$tmp/proc"
    chroot "$tmp" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root sh -c 'cd /app && poetry lock --no-update --no-interaction' >&2
    cp "$tmp/app/poetry.lock" "$project/poetry.lock"
    echo "locked $project/poetry.lock" >&2
    ;;
  *)
    die "usage: base-images.sh rootfs | import --root DIR --runroot DIR | controller --root DIR --runroot DIR | lock PROJECT_DIR"
    ;;
esac
