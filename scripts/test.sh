#!/bin/sh
# Builds and runs the whole test suite: a release build with warnings as errors, the same
# tests under AddressSanitizer + UndefinedBehaviorSanitizer, and every libFuzzer target for
# FUZZ_SECONDS (default 30) each. Tests that need a GPU are not part of it (see README).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"
fuzz_seconds="${FUZZ_SECONDS:-30}"
# The server's end-to-end tests drive it with the real `openai` npm client, pinned in the lock.
(cd tests/server/node && npm ci --no-audit --no-fund --loglevel=error)
# Every stage sets each option it relies on: the CMake cache keeps whatever an earlier
# configure chose (quickstart.sh configures build/ with GPTOSS_BUILD_TESTS=OFF), and a stage that
# finds no tests fails (--no-tests=error) rather than passing with "No tests were found!!!".

echo "== release build, warnings as errors (with the CUDA backend where nvcc is installed)"
# The GPU tests (label gpu) are built and, without a GPU, reported as skipped; the sanitizer and
# fuzz stages below leave the CUDA code out (nvcc does not build with the sanitizers).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGPTOSS_WERROR=ON -DGPTOSS_SANITIZE=OFF -DGPTOSS_BUILD_TESTS=ON \
  -DGPTOSS_BUILD_BENCH=ON -DGPTOSS_BUILD_FUZZ=OFF -DGPTOSS_BUILD_PYTHON=ON -DGPTOSS_CUDA=AUTO
cmake --build build -j"$jobs"
(cd build && ctest -j"$jobs" --output-on-failure --no-tests=error)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
# Left out: the Python module (an ASan-built extension cannot load into an ordinary Python); the
# full-size 20b-shaped conversion (2.8 B weights through the code paths the tiny conversions
# cover too, which under ASan alone would take a quarter of the CI budget); and the peak-memory
# comparison of long --max-kv-size runs (ASan's quarantine holds freed memory, so resident memory
# no longer measures the engine's; the rotating cache runs under ASan in the Session tests); the
# server's soak, for the same reason (its concurrent streams and disconnects run under ASan in
# server_openai_client).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPTOSS_WERROR=ON -DGPTOSS_SANITIZE=ON \
  -DGPTOSS_BUILD_TESTS=ON -DGPTOSS_BUILD_BENCH=OFF -DGPTOSS_BUILD_FUZZ=OFF -DGPTOSS_BUILD_PYTHON=OFF -DGPTOSS_CUDA=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest -j"$jobs" --output-on-failure --no-tests=error \
  -E "TwentyBShaped|MaxKvSizeKeepsLongRunsBoundedInMemory|server_soak")

echo "== ThreadSanitizer: one model shared by many threads"
# The tests whose subject is concurrency (the shared thread pool, Sessions on one model from many
# threads, schedulers stepped from several threads, the MoE decode's loops over shared slots),
# rebuilt with -fsanitize=thread.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPTOSS_WERROR=ON -DGPTOSS_TSAN=ON \
  -DGPTOSS_BUILD_TESTS=ON -DGPTOSS_BUILD_PYTHON=OFF -DGPTOSS_BUILD_BENCH=OFF -DGPTOSS_BUILD_FUZZ=OFF \
  -DGPTOSS_SANITIZE=OFF -DGPTOSS_CUDA=OFF
cmake --build build-tsan -j"$jobs" --target runtime_tests kernel_tests
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -j"$jobs" --output-on-failure --no-tests=error \
  -R "^(ThreadPool|ConcurrencyTest)\.|/Moe\.")

echo "== libFuzzer targets, ${fuzz_seconds}s each"
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPTOSS_WERROR=ON -DGPTOSS_SANITIZE=ON \
  -DGPTOSS_BUILD_FUZZ=ON -DGPTOSS_BUILD_TESTS=OFF -DGPTOSS_BUILD_BENCH=OFF -DGPTOSS_BUILD_PYTHON=OFF -DGPTOSS_CUDA=OFF
cmake --build build-fuzz -j"$jobs"
if ! ls build-fuzz/fuzz/fuzz_* >/dev/null 2>&1; then
  echo "no fuzz targets were built in build-fuzz/fuzz" >&2
  exit 1
fi
for fuzzer in build-fuzz/fuzz/fuzz_*; do
  name="$(basename "$fuzzer" | sed 's/^fuzz_//')"
  corpus="build-fuzz/corpus/$name"
  mkdir -p "$corpus"
  echo "-- $name"
  if ! "$fuzzer" -max_total_time="$fuzz_seconds" "$corpus" "fuzz/corpus/$name" >"$corpus.log" 2>&1; then
    cat "$corpus.log"
    exit 1
  fi
  tail -n 1 "$corpus.log"
done
echo "== all tests passed"
