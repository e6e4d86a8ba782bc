// Element-wise maths of the forward and backward passes, in C so the compiler vectorises the
// loops (Swift's generic SIMD min/max/select lower to per-lane code on Linux); and the malloc
// settings of the training loop, which Swift's Glibc module does not bring.
#ifndef SPLADE_MATH_H
#define SPLADE_MATH_H
#include <limits.h>
#include <malloc.h>
#include <stddef.h>

/// x[i] = gelu(x[i]) = x · ½ · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26.
void splade_gelu(float *x, size_t count);

/// x[i] = e^(x[i] − shift), within 3 ulp of expf for arguments ≤ 88.7 (clamped below at −87.3).
void splade_exp_shifted(float *x, size_t count, float shift);

/// Serve large blocks from the heap (up to 1 GiB; above, mmap as before) and never give its freed top back:
/// blocks a loop frees are then reused by its next round without page faults or the kernel's zeroing of pages.
static inline void splade_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

/// Asks the processor to bring the cache line holding `address` in ahead of a read.
static inline void splade_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
