#!/bin/sh
# scripts/test.sh must not depend on a CMake cache another script left behind, and must fail
# when a stage finds no tests: every configure sets GPTOSS_BUILD_TESTS, GPTOSS_BUILD_PYTHON,
# GPTOSS_BUILD_BENCH, GPTOSS_BUILD_FUZZ, GPTOSS_SANITIZE and GPTOSS_CUDA, and every ctest has
# --no-tests=error.
set -eu
script="$1"
# Joins backslash-continued lines so each command is one line.
commands="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$script")"
status=0
configures="$(printf '%s\n' "$commands" | grep -E '^[^#]*cmake -S' || true)"
[ -n "$configures" ] || { echo "no cmake configure in $script"; exit 1; }
printf '%s\n' "$configures" | while IFS= read -r line; do
  for option in GPTOSS_BUILD_TESTS GPTOSS_BUILD_PYTHON GPTOSS_BUILD_BENCH GPTOSS_BUILD_FUZZ GPTOSS_SANITIZE GPTOSS_CUDA; do
    case "$line" in
      *"-D$option="*) ;;
      *) echo "configure does not set $option: $line"; exit 1 ;;
    esac
  done
done || status=1
ctests="$(printf '%s\n' "$commands" | grep -E '^[^#]*ctest ' || true)"
[ -n "$ctests" ] || { echo "no ctest in $script"; exit 1; }
printf '%s\n' "$ctests" | while IFS= read -r line; do
  case "$line" in
    *--no-tests=error*) ;;
    *) echo "ctest without --no-tests=error: $line"; exit 1 ;;
  esac
done || status=1
exit "$status"
