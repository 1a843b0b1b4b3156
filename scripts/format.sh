#!/usr/bin/env bash
# Applies .clang-format (clang-format 14, Debian bookworm) to the C++ sources.
#   scripts/format.sh                  # formats every tracked .cpp/.hpp in place
#   scripts/format.sh --check          # lists files that are not formatted and exits 1 (a ctest test runs this)
#   scripts/format.sh [--check] FILE…  # only these files
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
if ! command -v clang-format >/dev/null; then
  echo "format.sh: clang-format is not installed (scripts/setup.sh installs it)" >&2
  exit 2
fi
if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t files < <(find src include tests e2e bench -name '*.cpp' -o -name '*.hpp' | sort)
fi
if [ $check -eq 0 ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format for every file; its diagnostics start with the file's name.
mapfile -t bad < <(clang-format --dry-run --Werror "${files[@]}" 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u)
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted: %s\n' "${bad[@]}" >&2
  echo "format.sh: run scripts/format.sh ${bad[*]}" >&2
  exit 1
fi
echo "format.sh: ${#files[@]} files formatted as .clang-format says"
