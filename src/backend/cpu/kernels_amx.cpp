// The bf16 product of long inputs on AMX (Sapphire Rapids and later). TDPBF16PS multiplies an
// A tile of 16 rows × 32 bf16 columns by a B tile of 16 column pairs × 16 columns into 16 × 16
// float32 sums: 8192 multiply-adds per instruction, against vdpbf16ps's 32.
// The weights are the A tiles, dequantized straight into 32-column tiles of 32 rows (1 KiB of
// contiguous bytes per tile load; no packing step); the inputs are the B tiles,
// interleaved by column pairs once per call (prepare_inputs). The sums come out as
// [weight row][input] and are stored transposed. Compiled with the AVX-512 flags plus -mamx-tile
// -mamx-bf16 (see CMakeLists.txt); nothing here runs unless amx_kernels finds the instructions
// and Linux grants the tile state.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

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

// AMX's input layout: per group of 16 rows, one 64-byte tile row per column pair (16 rows × 2
// values): group g starts at out + g·16·k, pair p of it at + p·32.
void amx_prepare_inputs(const float* x, int64_t n, int64_t k, uint16_t* out) {
  for (int64_t g = 0; g < n; g += 16)
    avx512bf16_interleave_pairs(x + g * k, std::min<int64_t>(16, n - g), k, out + g * k, 32);
}

// The sums of tile `tile` (weight rows × 16 inputs) into y, transposed. (GCC's tile intrinsics
// take the tile number as a literal: hence a macro, not a function.)
#define GPTOSS_STORE_SUMS(tile, at, inputs, rows)                         \
  if ((inputs) > 0 && (rows) > 0) {                                       \
    _tile_stored(tile, sums, 64);                                         \
    avx512bf16_store_transposed(sums, inputs, rows, at, y_stride);        \
  }

// The 32 weight rows (two A tiles) times kGroups (1 or 2) groups of 16 inputs (B tiles): each
// step of 32 columns loads every tile once for 2·kGroups products.
template <int kGroups>
void tile_block(const uint16_t* inputs, const uint16_t* weights, int64_t m, int64_t k, int64_t count, float* y,
                int64_t y_stride) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (kGroups == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t c = 0; c < k; c += 32) {
    _tile_loadd(6, weights + c * kBf16WeightRows, 64);            // rows 0–15
    _tile_loadd(7, weights + c * kBf16WeightRows + 16 * 32, 64);  // rows 16–31
    _tile_loadd(4, inputs + 16 * c, 64);              // pairs c/2 … c/2 + 15 of inputs 0–15
    _tile_dpbf16ps(0, 6, 4);
    _tile_dpbf16ps(1, 7, 4);
    if constexpr (kGroups == 2) {
      _tile_loadd(5, inputs + 16 * k + 16 * c, 64);  // inputs 16–31
      _tile_dpbf16ps(2, 6, 5);
      _tile_dpbf16ps(3, 7, 5);
    }
  }
  alignas(64) float sums[16 * 16];
  GPTOSS_STORE_SUMS(0, y, count, m)
  GPTOSS_STORE_SUMS(1, y + 16, count, m - 16)
  if constexpr (kGroups == 2) {
    GPTOSS_STORE_SUMS(2, y + 16 * y_stride, count - 16, m)
    GPTOSS_STORE_SUMS(3, y + 16 * y_stride + 16, count - 16, m - 16)
  }
}
#undef GPTOSS_STORE_SUMS

// Inputs 32 at a time (two groups of amx_prepare_inputs' layout).
void amx_bf16_products(const uint16_t* inputs, int64_t n, const uint16_t* weights, int64_t m, int64_t k, float* y,
                       int64_t y_stride) {
  load_tile_config();
  for (int64_t i = 0; i < n; i += 32) {
    const int64_t count = std::min<int64_t>(32, n - i);
    if (count > 16) tile_block<2>(inputs + i * k, weights, m, k, count, y + i * y_stride, y_stride);
    else tile_block<1>(inputs + i * k, weights, m, k, count, y + i * y_stride, y_stride);
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
    k.prepare_inputs = amx_prepare_inputs;
    k.pack_weights = nullptr;
    k.bf16_products = amx_bf16_products;
    return k;
  }();
  return &kernels;
}

}  // namespace gptoss
