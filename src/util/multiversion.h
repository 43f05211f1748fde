// GPTOSS_MULTIVERSION: compile a hot loop for AVX-512, AVX2 and plain x86-64, chosen at load
// time (GCC's target_clones, an ifunc). Off where the ifunc resolver would run before a
// sanitizer's runtime is ready (ASan, TSan: it crashes at load) and under clang.
#pragma once

#if defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define GPTOSS_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define GPTOSS_MULTIVERSION
#endif
