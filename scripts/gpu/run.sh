#!/bin/bash
# Runs on the H200 machine (through the device tool, in its copy of the working tree) what
# scripts/gpu/pack.sh packed: the GPU tests, then gptoss bench on full-size random-weight
# checkpoints (MLX q5 gs32 and the Hugging Face MXFP4 layout). Logs and JSON go to $OUT.
#   scripts/gpu/run.sh tests | bench | kernels | all
set -uo pipefail
stage="${1:-all}"
root="$PWD"
out="${OUT:-/tmp/gpu-out}"
mkdir -p "$out"
# The binaries hold this machine's build paths (the test data, the tiny model, the CLI).
if [ "$root" != /work/main ]; then mkdir -p /work && ln -sfn "$root" /work/main; fi
tar xJf devbin/bin.tar.xz
mkdir -p devbin/lib && tar xJf devbin/lib.tar.xz -C devbin/lib
export LD_LIBRARY_PATH="$root/devbin/lib"
mkdir -p build/models/tiny-gpt-oss
cp models/tiny-gpt-oss/*.json build/models/tiny-gpt-oss/
for f in models/tiny-gpt-oss/*.xz; do
  n=$(basename "$f" .xz)
  [ -f "build/models/tiny-gpt-oss/$n" ] || xz -dc "$f" > "build/models/tiny-gpt-oss/$n"
done
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
status=0

if [ "$stage" = tests ] || [ "$stage" = all ]; then
  # One process per suite: a kernel fault poisons its process's CUDA context.
  for suite in CudaLinear CudaDownCombine CudaAttention CudaMoeRouting CudaSampling '*CudaBackendOps' CudaCli; do
    echo "== cuda_tests $suite"
    timeout 300 build/tests/cuda/cuda_tests --gtest_brief=1 --gtest_filter="$suite.*" 2>&1 |
      tee "$out/cuda_tests-${suite#\*}.log" | tail -25
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
  done
  echo "== cuda_server"
  GPTOSS_CLI="$root/build/gptoss" GPTOSS_TINY_MODEL_DIR="$root/build/models/tiny-gpt-oss" \
    timeout 300 python3 tests/cuda/server_test.py 2>&1 | tee "$out/cuda_server.log" | tail -8
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  echo "== cuda_model_tests"
  timeout 300 build/tests/cuda/cuda_model_tests --gtest_brief=1 2>&1 | tee "$out/cuda_model_tests.log" | tail -25
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

if [ "$stage" = bench ] || [ "$stage" = all ]; then
  g=build/gptoss
  [ -d /tmp/q5 ] || $g synth --config 20b --q-bits 5 --q-group-size 32 --out /tmp/q5 >/dev/null
  [ -d /tmp/hf ] || $g synth --config 20b --out /tmp/hf >/dev/null
  for m in q5 hf; do
    echo "== bench $m"
    timeout 120 $g bench -m /tmp/$m --device cuda -p 512 -n 128 2>&1 | tee "$out/bench-$m.txt"
    timeout 120 $g bench -m /tmp/$m --device cuda -p 2048 -n 32 --json > "$out/bench-$m-2048.json" 2>&1
    grep -E '"(prompt|decode)_tokens_per_second"|time_to_first|read_bandwidth|percent' "$out/bench-$m-2048.json"
  done
  echo "== q5 without CUDA graphs"
  GPTOSS_CUDA_GRAPHS=0 timeout 120 $g bench -m /tmp/q5 --device cuda -p 512 -n 64 2>&1 | tail -2
  echo "== q5 per-op profile"
  timeout 120 $g bench -m /tmp/q5 --device cuda -p 512 -n 32 --profile 2>&1 | tee "$out/profile-q5.txt" | tail -30
fi
if [ "$stage" = kernels ]; then
  timeout 300 build/bench/cuda_kernel_bench 2>&1 | tee "$out/kernels.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
exit $status
