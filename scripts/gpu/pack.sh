#!/bin/sh
# Packs what a GPU run needs from this machine's build into devbin/ (git-ignored, carried to
# the H200 machine by the device tool): the CLI, the GPU test binaries, and the shared libraries
# they link that the H200 machine's image lacks. Build first: cmake --build build --target
# gptoss_cli cuda_tests cuda_model_tests tiny_model cuda_kernel_bench.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p devbin
tar cJf devbin/bin.tar.xz build/gptoss build/tests/cuda/cuda_tests build/tests/cuda/cuda_model_tests \
  build/bench/cuda_kernel_bench
# Everything ldd lists except the C and C++ runtimes, which the newer image has.
libs=$(ldd build/gptoss build/tests/cuda/cuda_tests build/bench/cuda_kernel_bench | awk '/=> \// {print $3}' | sort -u |
       grep -v -E '/(libc|libm|libgcc_s|libstdc\+\+)\.so')
tar cJhf devbin/lib.tar.xz --transform 's,.*/,,' $libs
ls -la devbin
