// Shared by the kernel files of libsplade_cuda: error recording, the per-thread device, launch checks.
#pragma once
#include <cuda_runtime.h>
#include "../include/splade_cuda.h"

namespace splade_cuda {
// Records a failure for splade_cuda_last_error() and returns `code`.
int fail(int code, const char *format, ...);
// The result of a kernel launch: a launch error, or with SPLADE_CUDA_SYNC=1 also the kernel's own failure.
int launched(const char *kernel);
bool initialized();
// The entry of every call that touches the device: ARGUMENT before splade_cuda_init, else makes the initialised
// device current on the calling thread (cudaSetDevice is per thread; a thread-local flag makes repeats free).
int enter();
// A device buffer the library keeps between calls (per-call index arrays: no cudaMalloc in the steady state).
// reserve() grows it to at least `bytes` (doubling); growing frees the old buffer, and cudaFree waits for the
// device first, so no queued work still reads it. Callers serialise their use with a lock of their own.
struct Scratch {
    void *pointer = nullptr;
    size_t bytes = 0;
};
int reserve(Scratch &scratch, size_t bytes, const char *what);
constexpr int kThreads = 256;
inline unsigned blocks_for(size_t count, int threads = kThreads) {
    size_t b = (count + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : (b > 65535u * 32u ? 65535u * 32u : b));
}
// Whether a kernel may access `pointer` `bytes` at a time (a vector load or store needs its own alignment).
inline bool aligned(const void *pointer, uintptr_t bytes) { return (uintptr_t)pointer % bytes == 0; }
// The bfloat16 nearest x, rounding ties to even, on the bit pattern: adding 0x7FFF plus the lowest kept bit carries
// into the upper half exactly when the lower half is above 0x8000, or equal to it with the upper half odd (a carry
// out of the mantissa is the next binade, or infinity). A NaN keeps its sign and upper payload, made quiet so that
// cutting the lower payload cannot leave infinity. Bit for bit as host/emulation.c's bfloat16_bits.
__device__ inline uint16_t bfloat16_bits(float x) {
    uint32_t bits = __float_as_uint(x);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// 16 bytes as one vector access or as its elements, through a union (type punning that nvcc and GCC define; writing a
// uint4's elements through a cast uint16_t pointer breaks C++'s aliasing rules, and g++ miscompiled that in the shim).
template <typename Element> union Chunk16 {
    uint4 vector;
    Element values[16 / sizeof(Element)];
};

// A bfloat16 widened to float32: exact (the bits are the float's upper half).
__device__ inline float bfloat16_value(uint16_t bits) { return __uint_as_float((uint32_t)bits << 16); }

// The last index i < count with starts[i] ≤ x (0 when none is, or count is 1: starts[0] is never read), by bisection
// over ascending starts: the sequence or block holding packed row x, empty ones starting where the next does.
template <typename Start, typename Value> __device__ inline int last_start_at_or_before(const Start *starts, int count,
                                                                                       Value x) {
    int low = 0, high = count;
    while (high - low > 1) {
        int middle = (low + high) >> 1;
        if (starts[middle] <= x) low = middle;
        else high = middle;
    }
    return low;
}

// SeededRandom (SplitMix64) without its sequential state: draw n has state seed + (n + 1)·γ, so every
// element computes its own draw and a mask equals the CPU's after `counter` earlier draws.
__device__ inline uint64_t splitmix64(uint64_t seed, uint64_t draw) {
    uint64_t z = seed + (draw + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Dropout's keep factor, in float on the host, as BertTrainingPass.dropoutMask computes it.
inline float dropout_keep(float probability) { return 1.0f / (1.0f - probability); }

// The mask value of draw `draw`: 0 when its unit u = (z >> 40)/2^24 (nextUnitFloat: 24 bits, so the conversion and the
// division are exact) is below the probability, else keep. Applied as one float multiply, as the CPU's x · mask, so −0
// and NaN come out alike.
__device__ inline float dropout_factor(uint64_t seed, uint64_t draw, float probability, float keep) {
    float u = (float)(splitmix64(seed, draw) >> 40) / 16777216.0f;
    return u < probability ? 0.0f : keep;
}

}  // namespace splade_cuda

#define SPLADE_REQUIRE(condition, message)                                                    \
    do {                                                                                      \
        if (!(condition)) return splade_cuda::fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s", message); \
    } while (0)
#define SPLADE_ENTER()                                                     \
    do {                                                                   \
        if (int enter_code_ = splade_cuda::enter()) return enter_code_;    \
    } while (0)
