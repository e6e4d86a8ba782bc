#include "splade_math.h"
#include <stdint.h>
#include <string.h>

// e^x for x ≤ 88.7, within 3 ulp of expf: x = n·ln2 + r (ln2 in two parts so r is exact), e^r by its
// degree-6 Taylor polynomial, 2^n from the exponent bits. Clamped below at −87.3 (≈ 1.2e−38).
static inline float exp_poly(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    const float magic = 12582912.0f; // 1.5·2²³: rounds to nearest and leaves n in the low bits
    float shifted = x * 1.44269504088896341f + magic;
    float n = shifted - magic;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits;
    memcpy(&bits, &shifted, 4);
    int32_t exponent = ((bits - 0x4B400000) + 127) << 23;
    float scale;
    memcpy(&scale, &exponent, 4);
    return p * scale;
}

// erf(x) by A&S 7.1.26 (|error| < 1.5e-7 in exact arithmetic), PyTorch's vectorised CPU formula.
static inline float erf_as(float x) {
    float a = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    float y = 1.0f - poly * t * exp_poly(-a * a);
    return x < 0 ? -y : y;
}

// Each loop is compiled twice, for AVX2 and for baseline x86-64 (SSE2), and the loader picks the one
// the CPU runs: 8 lanes instead of 4 where available, the same binary everywhere.
#if defined(__x86_64__) && defined(__linux__)
#define SPLADE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SPLADE_VECTOR_CLONES
#endif

SPLADE_VECTOR_CLONES
void splade_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erf_as(v * 0.70710678118654752f));
    }
}

SPLADE_VECTOR_CLONES
void splade_exp_shifted(float *x, size_t count, float shift) {
    for (size_t i = 0; i < count; i++) x[i] = exp_poly(x[i] - shift);
}
