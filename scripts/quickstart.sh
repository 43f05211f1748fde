#!/bin/sh
# The main job on the embedded default model: install dependencies, build the program and the
# Python module, install the module, and generate an answer from the tiny random-weight gpt-oss
# shipped in models/tiny-gpt-oss. Its weights are random: the answer is gibberish by design.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGPTOSS_BUILD_TESTS=OFF -DGPTOSS_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target gptoss_cli gptoss_python tiny_model
cmake --install build --component python
./build/gptoss generate -m build/models/tiny-gpt-oss --prompt "Explain the Chudnovsky algorithm to compute pi." \
  --max-tokens 64
