// The bf16 product of long inputs on AMX (Sapphire Rapids and later). TDPBF16PS multiplies a
// tile of 16 inputs × 32 bf16 columns by a tile of 16 column pairs × 16 weight rows into 16 × 16
// float32 sums: 8192 multiply-adds per instruction, against vdpbf16ps's 32.
// The weight tile is exactly pack_bf16's layout (one 64-byte row per column pair, 32 rows = 128
// bytes apart), and the input tile is 16 rows of to_bf16's output, so AMX reuses the AVX512-BF16
// set's packing and replaces only the product. Compiled with the AVX-512 flags plus -mamx-tile
// -mamx-bf16 (see CMakeLists.txt); nothing here runs unless amx_kernels finds the instructions
// and Linux grants the tile state.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/kernels.h"

namespace gptoss {
namespace {

// CPUID leaf 7 sub-leaf 0, EDX: bit 22 AMX-BF16, bit 24 AMX-TILE.
bool cpu_has_amx_bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0 && (edx & (1u << 22)) != 0 && (edx & (1u << 24)) != 0;
}

// Linux enables the 8 KiB tile data state (XFEATURE_XTILEDATA, 18) only for a process that asks
// (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16+; Documentation/arch/x86/xstate.rst); the grant
// covers every thread of the process. Without it the first tile instruction raises SIGILL.
bool os_grants_amx() {
  constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXtileData = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXtileData) != 0) return false;
  unsigned long granted = 0;
  return syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) == 0 && (granted & (1ul << kXtileData)) != 0;
}

// LDTILECFG's 64-byte operand (palette 1): tiles 0–3 hold float32 sums, 4–5 inputs, 6–7 weights;
// all 16 rows × 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

void load_tile_config() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = 16;
  }
  _tile_loadconfig(&config);
}

// The first `inputs` × `rows` of a 16 × 16 block of sums (stored from a tile) into y.
void copy_sums(const float* sums, float* y, int64_t y_stride, int64_t inputs, int64_t rows) {
  for (int64_t i = 0; i < std::min<int64_t>(inputs, 16); ++i)
    std::memcpy(y + i * y_stride, sums + i * 16, sizeof(float) * static_cast<size_t>(std::clamp<int64_t>(rows, 0, 16)));
}

// A sum tile straight into y when all its 16 × 16 values are wanted, else through `sums`.
// (GCC's tile intrinsics take the tile number as a literal: hence a macro, not a function.)
#define GPTOSS_STORE_SUMS(tile, at, inputs, rows)                          \
  if ((inputs) >= 16 && (rows) >= 16) {                                    \
    _tile_stored(tile, at, y_stride * 4);                                  \
  } else {                                                                 \
    _tile_stored(tile, sums, 64);                                          \
    copy_sums(sums, at, y_stride, inputs, rows);                           \
  }

// kGroups (1 or 2) groups of 16 inputs times the 32 packed rows: 2·kGroups sum tiles, each step
// of 32 columns loads both weight tiles once for all input tiles.
template <int kGroups>
void tile_block(const uint16_t* x, int64_t x_stride, const uint16_t* packed, int64_t m, int64_t k, int64_t inputs,
                float* y, int64_t y_stride) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (kGroups == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const auto x_bytes = static_cast<long>(x_stride * 2);
  for (int64_t c = 0; c < k; c += 32) {
    // Column pair p = c/2 of rows 0–15 starts at packed[p·64], of rows 16–31 at packed[p·64 + 32].
    _tile_loadd(6, packed + c * 32, 128);
    _tile_loadd(7, packed + c * 32 + 32, 128);
    _tile_loadd(4, x + c, x_bytes);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (kGroups == 2) {
      _tile_loadd(5, x + 16 * x_stride + c, x_bytes);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  alignas(64) float sums[16 * 16];
  GPTOSS_STORE_SUMS(0, y, inputs, m)
  GPTOSS_STORE_SUMS(1, y + 16, inputs, m - 16)
  if constexpr (kGroups == 2) {
    GPTOSS_STORE_SUMS(2, y + 16 * y_stride, inputs - 16, m)
    GPTOSS_STORE_SUMS(3, y + 16 * y_stride + 16, inputs - 16, m - 16)
  }
}
#undef GPTOSS_STORE_SUMS

// Inputs 32 at a time. x has its rows up to a multiple of 16 readable (kBf16InputRows).
void amx_bf16_products(const uint16_t* x, int64_t n, int64_t x_stride, const uint16_t* packed, int64_t m, int64_t k,
                       float* y, int64_t y_stride) {
  load_tile_config();
  for (int64_t i = 0; i < n; i += 32) {
    const int64_t inputs = std::min<int64_t>(32, n - i);
    if (inputs > 16) tile_block<2>(x + i * x_stride, x_stride, packed, m, k, inputs, y + i * y_stride, y_stride);
    else tile_block<1>(x + i * x_stride, x_stride, packed, m, k, inputs, y + i * y_stride, y_stride);
  }
  // Back to the initial tile state: context switches save 8 KiB less, and the core may enter
  // its deeper idle states again.
  _tile_release();
}

}  // namespace

const CpuKernels* amx_kernels() {
  const CpuKernels* base = avx512_kernels();
  if (base == nullptr || base->bf16_products == nullptr || !cpu_has_amx_bf16()) return nullptr;
  static const bool granted = os_grants_amx();
  if (!granted) return nullptr;
  static const CpuKernels kernels = [base] {
    CpuKernels k = *base;
    k.name = "amx";
    k.bf16_products = amx_bf16_products;
    return k;
  }();
  return &kernels;
}

}  // namespace gptoss
