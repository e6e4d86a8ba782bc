// Element-wise maths of the forward and backward passes, in C so the compiler vectorises the
// loops (Swift's generic SIMD min/max/select lower to per-lane code on Linux).
#ifndef SPLADE_MATH_H
#define SPLADE_MATH_H
#include <stddef.h>

/// x[i] = gelu(x[i]) = x · ½ · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26.
void splade_gelu(float *x, size_t count);

/// x[i] = e^(x[i] − shift), within 3 ulp of expf for arguments ≤ 88.7 (clamped below at −87.3).
void splade_exp_shifted(float *x, size_t count, float shift);

#endif
