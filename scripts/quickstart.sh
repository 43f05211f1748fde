#!/bin/sh
# The main job on the embedded default model: install dependencies, build, and print the
# next-token logits of "The quick brown fox" from the tiny random-weight gpt-oss shipped in
# models/tiny-gpt-oss (its outputs are meaningless by design: the weights are random).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGPTOSS_BUILD_TESTS=OFF -DGPTOSS_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target gptoss_cli tiny_model
./build/gptoss logits --model build/models/tiny-gpt-oss --tokens 976,4853,19705,68347
