#!/usr/bin/env bash
# README command 1: installs what is missing, builds the poetryops binary, and runs the demo on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --build-only
BUILD_TARGET=poetryops scripts/build.sh >/dev/null
bin=${BUILD_DIR:-build}/poetryops
echo "== poetryops dockerfile generate examples/hello --output -"
"$bin" dockerfile generate examples/hello --output -
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" dockerfile generate examples/hello --output "$tmp" >/dev/null
echo
echo "== poetryops dockerfile lint (the generated Dockerfile)"
"$bin" dockerfile lint "$tmp/Dockerfile" && echo "clean: no findings"
