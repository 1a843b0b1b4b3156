#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (unit and integration) with ctest,
# including the real Kubernetes lane when ../shared/k8s (or POETRYOPS_K8S_BIN_DIR) is there.
#   scripts/test.sh                 # everything
#   scripts/test.sh -L unit         # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
scripts/kube-lane.sh   # the real Kubernetes lane: one line says whether it runs
exec ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
