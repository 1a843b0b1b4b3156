#!/usr/bin/env bash
# README command 1: installs what is missing, builds the poetryops binary, and runs `poetryops demo` on embedded
# defaults (a GitOps repo, an OCI image-layout registry and a PoetryApp in a temp dir; nothing is left running).
# Extra arguments go to the demo, e.g. scripts/demo.sh --workdir /tmp/poetryops-demo
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --build-only
BUILD_TARGET=poetryops scripts/build.sh >/dev/null
exec "${BUILD_DIR:-build}/poetryops" demo "$@"
