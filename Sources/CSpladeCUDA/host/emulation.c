/*
 * emulation.c: a host implementation of the C API of libsplade_cuda (splade_cuda.h), built by
 * `make cuda-host`, so that the Swift GPU code paths (the encoder, training) run without a GPU:
 * "device memory" is ordinary host memory and every function does what the header documents, with
 * the kernels' rounding (float where they compute in float, double where they use double). It checks
 * the Swift orchestration (buffers, offsets, call order), not the CUDA kernels: those are checked on
 * a GPU by CUDAKernelTests. Sums run sequentially where the GPU reduces in a tree or atomically, so
 * results can differ from a GPU's in the last bits, as the GPU's differ from run to run.
 */
#define _DEFAULT_SOURCE /* sysconf(_SC_PHYS_PAGES) under -std=c11 */

#include "splade_cuda.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char last_error[512];
static bool ready = false;

static int fail(int code, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(last_error, sizeof last_error, format, arguments);
    va_end(arguments);
    return code;
}

#define REQUIRE(condition, message)                                             \
    do {                                                                        \
        if (!(condition)) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s", message); \
    } while (0)
/* The entry of every call that touches the device, as runtime.cu's enter(): an error before splade_cuda_init
 * (a host has no per-thread current device to set). */
#define ENTER() REQUIRE(ready, "splade_cuda_init has not been called")

/* ---- Device, memory ---------------------------------------------------------------------- */

int splade_cuda_device_count(void) { return 1; }
int splade_cuda_runtime_version(void) { return 0; }
int splade_cuda_driver_version(void) { return 0; }

/* As runtime.cu: the one device (0) again is a no-op, another after it an argument error (one device per
 * process); before that, a device that does not exist (only 0 does here) is an argument error. */
int splade_cuda_init(int device) {
    if (ready && device == 0) return SPLADE_CUDA_OK;
    if (ready)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "already initialised on device 0: one device per process (device %d asked for)",
                    device);
    if (device != 0) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "no CUDA device %d (1 present)", device);
    ready = true;
    return SPLADE_CUDA_OK;
}

int splade_cuda_device_info(int device, char *name, size_t capacity, int *compute_capability, size_t *total_memory) {
    if (device != 0)
        return fail(SPLADE_CUDA_ERROR_CUDA, "cudaGetDeviceProperties: invalid device ordinal");
    if (name && capacity > 0) {
        strncpy(name, "host emulation of libsplade_cuda (no GPU)", capacity - 1);
        name[capacity - 1] = 0;
    }
    if (compute_capability) *compute_capability = 0;
    if (total_memory) {
        long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
        *total_memory = pages > 0 && page_size > 0 ? (size_t)pages * (size_t)page_size : 0;
    }
    return SPLADE_CUDA_OK;
}

const char *splade_cuda_last_error(void) { return last_error; }

/* cudaMalloc of 0 bytes would give no pointer, so the real library asks for at least 1 byte too. */
int splade_cuda_malloc(void **pointer, size_t bytes) {
    ENTER();
    REQUIRE(pointer, "null pointer");
    *pointer = malloc(bytes < 1 ? 1 : bytes);
    return *pointer ? SPLADE_CUDA_OK : fail(SPLADE_CUDA_ERROR_OUT_OF_MEMORY, "cudaMalloc: out of memory");
}

int splade_cuda_free(void *pointer) {
    ENTER();
    free(pointer);
    return SPLADE_CUDA_OK;
}

/* cudaMemcpy rejects a null pointer with cudaErrorInvalidValue; memcpy would crash instead. */
static int copy(void *destination, const void *source, size_t bytes, const char *what) {
    if (bytes == 0) return SPLADE_CUDA_OK;
    if (!destination || !source) return fail(SPLADE_CUDA_ERROR_KERNEL, "%s: invalid argument", what);
    memmove(destination, source, bytes);
    return SPLADE_CUDA_OK;
}

int splade_cuda_copy_to_device(void *destination, const void *source, size_t bytes) {
    ENTER();
    return copy(destination, source, bytes, "cudaMemcpy to device");
}
int splade_cuda_copy_to_host(void *destination, const void *source, size_t bytes) {
    ENTER();
    return copy(destination, source, bytes, "cudaMemcpy to host");
}
int splade_cuda_copy_device(void *destination, const void *source, size_t bytes) {
    ENTER();
    return copy(destination, source, bytes, "cudaMemcpy on device");
}

int splade_cuda_zero(void *pointer, size_t bytes) {
    ENTER();
    if (bytes == 0) return SPLADE_CUDA_OK;
    if (!pointer) return fail(SPLADE_CUDA_ERROR_KERNEL, "cudaMemset: invalid argument");
    memset(pointer, 0, bytes);
    return SPLADE_CUDA_OK;
}

/* Every call below has finished when it returns. */
int splade_cuda_synchronize(void) {
    ENTER();
    return SPLADE_CUDA_OK;
}

/* ---- Matrix products --------------------------------------------------------------------- */

/* cuBLAS's own checks (CUBLAS_STATUS_INVALID_VALUE = 7), which OpenBLAS would only print: the
 * row-major bounds of the header are those cuBLAS applies to the swapped column-major call. */
static bool gemm_arguments_valid(int transpose_a, int transpose_b, int m, int n, int k, int lda, int ldb, int ldc) {
    int a_cols = transpose_a ? m : k, b_cols = transpose_b ? k : n;
    return m >= 0 && n >= 0 && k >= 0 && lda >= (a_cols > 1 ? a_cols : 1) && ldb >= (b_cols > 1 ? b_cols : 1) &&
           ldc >= (n > 1 ? n : 1);
}

static void gemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int splade_cuda_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    ENTER();
    if (m == 0 || n == 0) return SPLADE_CUDA_OK;
    if (!gemm_arguments_valid(transpose_a, transpose_b, m, n, k, lda, ldb, ldc))
        return fail(SPLADE_CUDA_ERROR_KERNEL, "cublasSgemm failed with status 7");
    gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return SPLADE_CUDA_OK;
}

int splade_cuda_sgemm_strided_batched(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                                      const float *a, int lda, long long stride_a, const float *b, int ldb,
                                      long long stride_b, float beta, float *c, int ldc, long long stride_c,
                                      int batch) {
    ENTER();
    if (m == 0 || n == 0 || batch == 0) return SPLADE_CUDA_OK;
    if (batch < 0 || !gemm_arguments_valid(transpose_a, transpose_b, m, n, k, lda, ldb, ldc))
        return fail(SPLADE_CUDA_ERROR_KERNEL, "cublasSgemmStridedBatched failed with status 7");
    for (long long i = 0; i < batch; i++)
        gemm(transpose_a, transpose_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
             c + i * stride_c, ldc);
    return SPLADE_CUDA_OK;
}

/* One group of any of the three kinds (float32; bfloat16 A and B with a float32 C; all bfloat16), untyped: its sizes
 * for the checks, its matrices and strides (in elements of their own type) for the products. */
typedef struct {
    int m, n, k, batch, lda, ldb, ldc;
    const void *a, *b;
    void *c;
    long long stride_a, stride_b, stride_c;
} GroupShape;

/* Group i of an array of `type`: the three structs have the same fields, of other pointer types. */
#define GROUP_SHAPE(name, type)                                                                                    \
    static GroupShape name(const void *groups, int i) {                                                            \
        const type *g = (const type *)groups + i;                                                                  \
        return (GroupShape){g->m, g->n, g->k, g->batch, g->lda, g->ldb, g->ldc, g->a, g->b, g->c, g->stride_a,      \
                            g->stride_b, g->stride_c};                                                             \
    }
GROUP_SHAPE(float_group, splade_cuda_gemm_group)
GROUP_SHAPE(bf16_group, splade_cuda_gemm_group_bf16)
GROUP_SHAPE(bf16_out_group, splade_cuda_gemm_group_bf16_out)
#undef GROUP_SHAPE

/* As runtime.cu's grouped_products: every group checked before any product (a bad one is an ARGUMENT error and
 * changes nothing); SPLADE_CUDA_OK when the products may run (none with group_count = 0). */
static int check_groups(const char *name, int transpose_a, int transpose_b, const void *groups, int group_count,
                        GroupShape (*shape)(const void *, int)) {
    if (group_count < 0) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: negative group_count", name);
    if (group_count == 0) return SPLADE_CUDA_OK;
    if (!groups) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: null groups", name);
    long long problems = 0;
    for (int i = 0; i < group_count; i++) {
        GroupShape g = shape(groups, i);
        const char *problem = NULL;
        if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0) problem = "a negative size";
        else if (g.m == 0 || g.n == 0 || g.batch == 0) continue;
        else if (!gemm_arguments_valid(transpose_a, transpose_b, g.m, g.n, g.k, g.lda, g.ldb, g.ldc))
            problem = "a leading dimension smaller than a row";
        else if (!g.c || (g.k > 0 && (!g.a || !g.b))) problem = "a null matrix";
        if (problem)
            return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: group %d (m=%d n=%d k=%d batch=%d lda=%d ldb=%d ldc=%d) has %s",
                        name, i, g.m, g.n, g.k, g.batch, g.lda, g.ldb, g.ldc, problem);
        problems += g.batch;
    }
    if (problems > INT32_MAX) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: more than INT_MAX products", name);
    return SPLADE_CUDA_OK;
}

/* Each group's products in order. */
int splade_cuda_sgemm_grouped(int transpose_a, int transpose_b, float alpha, float beta,
                              const splade_cuda_gemm_group *groups, int group_count) {
    ENTER();
    int code = check_groups("sgemm_grouped", transpose_a, transpose_b, groups, group_count, float_group);
    if (code) return code;
    for (int i = 0; i < group_count; i++) {
        const splade_cuda_gemm_group *g = &groups[i];
        if (g->m == 0 || g->n == 0) continue;
        for (long long j = 0; j < g->batch; j++) /* with k = 0, A and B may be NULL (not read) */
            gemm(transpose_a, transpose_b, g->m, g->n, g->k, alpha, g->a ? g->a + j * g->stride_a : NULL, g->lda,
                 g->b ? g->b + j * g->stride_b : NULL, g->ldb, beta, g->c + j * g->stride_c, g->ldc);
    }
    return SPLADE_CUDA_OK;
}

/* OpenBLAS has no TF32: products stay exact float32, which the header allows either way. */
/* The emulation multiplies every group itself and has no cuBLASLt to miss: it counts no fallbacks. */
int splade_cuda_grouped_fallbacks(void) { return 0; }
int splade_cuda_grouped_declined_status(void) { return 0; }
int splade_cuda_linear_fallbacks(void) { return 0; }
/* No cuBLAS is loaded: OpenBLAS multiplies. */
int splade_cuda_cublas_version(void) { return 0; }

int splade_cuda_set_tf32(int enabled) {
    (void)enabled;
    ENTER();
    return SPLADE_CUDA_OK;
}

/* ---- bfloat16 products --------------------------------------------------------------------- */

/* As elementwise.cu's bfloat16_bits: round to nearest even on the bit pattern (0x7FFF plus the lowest kept bit
 * carries into the upper half exactly when the lower half is above the halfway point, or at it with the upper half
 * odd); a NaN keeps its sign and upper payload, made quiet so that it cannot become infinity. */
static uint16_t bfloat16_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

/* The Linear entry points' checks, as runtime.cu's linear(): the sizes, then, where there are rows, the pointers (all
 * given: `pointers`). The caller returns the code, or when there are no rows SPLADE_CUDA_OK: a no-op. */
static int linear_checks(int rows, int in, int out, bool pointers) {
    ENTER();
    REQUIRE(rows >= 0 && in > 0 && out > 0, "bad Linear size");
    REQUIRE(rows == 0 || pointers, "null pointer");
    return SPLADE_CUDA_OK;
}

/* Every row of y[rows×cols] = bias, elements of `size` bytes. */
static void fill_rows(void *y, const void *bias, int rows, int cols, size_t size) {
    for (size_t r = 0; r < (size_t)rows; r++) memcpy((char *)y + r * (size_t)cols * size, bias, (size_t)cols * size);
}

/* As the library's fallback: the bias rows, then the product accumulated onto them. */
int splade_cuda_linear(const float *x, int rows, int in, const float *w, const float *bias, int out, float *y) {
    int code = linear_checks(rows, in, out, x && w && bias && y);
    if (code || rows == 0) return code;
    fill_rows(y, bias, rows, out, sizeof(float));
    return splade_cuda_sgemm(0, 1, rows, out, in, 1, x, in, w, in, 1, y, out);
}

int splade_cuda_linear_bf16(const uint16_t *x, int rows, int in, const uint16_t *w, const float *bias, int out, float *y) {
    int code = linear_checks(rows, in, out, x && w && bias && y);
    if (code || rows == 0) return code;
    fill_rows(y, bias, rows, out, sizeof(float));
    return splade_cuda_gemm_bf16(0, 1, rows, out, in, 1, x, in, w, in, 1, y, out);
}

int splade_cuda_to_bf16(const float *x, size_t count, uint16_t *y) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && y, "null pointer");
    for (size_t i = 0; i < count; i++) y[i] = bfloat16_bits(x[i]);
    return SPLADE_CUDA_OK;
}

/* A bfloat16 as a float: exact, a bfloat16 being the upper half of a float. */
static float bf16_float(uint16_t x) {
    uint32_t bits = (uint32_t)x << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

int splade_cuda_from_bf16(const uint16_t *x, size_t count, float *y) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && y, "null pointer");
    for (size_t i = 0; i < count; i++) y[i] = bf16_float(x[i]);
    return SPLADE_CUDA_OK;
}

/* The rows×cols matrix x (bfloat16, row stride ld) as a dense float matrix, exactly. */
static void widen(const uint16_t *x, int rows, int cols, int ld, float *out) {
    for (size_t r = 0; r < (size_t)rows; r++)
        for (size_t j = 0; j < (size_t)cols; j++) out[r * (size_t)cols + j] = bf16_float(x[r * (size_t)ld + j]);
}

/* The dense float matrix x [rows×cols] rounded to bfloat16 into out (row stride ld): widen's inverse, rounding. */
static void narrow(const float *x, int rows, int cols, uint16_t *out, int ld) {
    for (size_t r = 0; r < (size_t)rows; r++)
        for (size_t j = 0; j < (size_t)cols; j++) out[r * (size_t)ld + j] = bfloat16_bits(x[r * (size_t)cols + j]);
}

/* Floats for widened copies of op(A) [m×k] and op(B) [k×n]. */
static size_t gemm_bf16_scratch(int m, int n, int k) { return (size_t)m * (size_t)k + (size_t)k * (size_t)n; }

/* One product with A and B in bfloat16: both widened to float, then cblas_sgemm, which sums the exact products in
 * float as cuBLAS's CUBLAS_COMPUTE_32F does (in another order). With k = 0 nothing is read: C = beta·C. */
static void gemm_bf16(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                      const uint16_t *b, int ldb, float beta, float *c, int ldc, float *scratch) {
    int a_rows = transpose_a ? k : m, a_cols = transpose_a ? m : k, b_rows = transpose_b ? n : k,
        b_cols = transpose_b ? k : n;
    float *wide_a = scratch, *wide_b = scratch + (size_t)a_rows * (size_t)a_cols;
    if (k > 0) {
        widen(a, a_rows, a_cols, lda, wide_a);
        widen(b, b_rows, b_cols, ldb, wide_b);
    }
    gemm(transpose_a, transpose_b, m, n, k, alpha, wide_a, a_cols > 1 ? a_cols : 1, wide_b, b_cols > 1 ? b_cols : 1,
         beta, c, ldc);
}

/* Floats for gemm_bf16_out: gemm_bf16's, then C widened. */
static size_t gemm_bf16_out_scratch(int m, int n, int k) { return gemm_bf16_scratch(m, n, k) + (size_t)m * (size_t)n; }

/* As gemm_bf16 with C [m×n] in bfloat16 too (m, n > 0): C widened, the product onto it in float as there, the result
 * rounded once. */
static void gemm_bf16_out(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                          const uint16_t *b, int ldb, float beta, uint16_t *c, int ldc, float *scratch) {
    float *wide_c = scratch + gemm_bf16_scratch(m, n, k);
    widen(c, m, n, ldc, wide_c);
    gemm_bf16(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, wide_c, n, scratch);
    narrow(wide_c, m, n, c, ldc);
}

int splade_cuda_gemm_bf16(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                          const uint16_t *b, int ldb, float beta, float *c, int ldc) {
    ENTER();
    if (m == 0 || n == 0) return SPLADE_CUDA_OK;
    if (!gemm_arguments_valid(transpose_a, transpose_b, m, n, k, lda, ldb, ldc))
        return fail(SPLADE_CUDA_ERROR_KERNEL, "cublasGemmEx failed with status 7");
    float *scratch = malloc((gemm_bf16_scratch(m, n, k) + 1) * sizeof(float));
    if (!scratch) return fail(SPLADE_CUDA_ERROR_OUT_OF_MEMORY, "host emulation of gemm_bf16: out of memory");
    gemm_bf16(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
    free(scratch);
    return SPLADE_CUDA_OK;
}

/* The grouped products with A and B in bfloat16, C float32 or (bf16_c) bfloat16: each group's products in order, with
 * one scratch buffer for the largest. */
static int grouped_bf16(const char *name, int transpose_a, int transpose_b, float alpha, float beta, const void *groups,
                        int group_count, GroupShape (*shape)(const void *, int), bool bf16_c) {
    ENTER();
    int code = check_groups(name, transpose_a, transpose_b, groups, group_count, shape);
    if (code) return code;
    size_t floats = 1;
    for (int i = 0; i < group_count; i++) {
        GroupShape g = shape(groups, i);
        size_t need = bf16_c ? gemm_bf16_out_scratch(g.m, g.n, g.k) : gemm_bf16_scratch(g.m, g.n, g.k);
        if (g.m > 0 && g.n > 0 && g.batch > 0 && need > floats) floats = need;
    }
    float *scratch = malloc(floats * sizeof(float));
    if (!scratch) return fail(SPLADE_CUDA_ERROR_OUT_OF_MEMORY, "host emulation of %s: out of memory", name);
    for (int i = 0; i < group_count; i++) {
        GroupShape g = shape(groups, i);
        if (g.m == 0 || g.n == 0) continue;
        for (long long j = 0; j < g.batch; j++) { /* with k = 0, A and B may be NULL (not read) */
            const uint16_t *a = g.a ? (const uint16_t *)g.a + j * g.stride_a : NULL,
                           *b = g.b ? (const uint16_t *)g.b + j * g.stride_b : NULL;
            if (bf16_c)
                gemm_bf16_out(transpose_a, transpose_b, g.m, g.n, g.k, alpha, a, g.lda, b, g.ldb, beta,
                              (uint16_t *)g.c + j * g.stride_c, g.ldc, scratch);
            else
                gemm_bf16(transpose_a, transpose_b, g.m, g.n, g.k, alpha, a, g.lda, b, g.ldb, beta,
                          (float *)g.c + j * g.stride_c, g.ldc, scratch);
        }
    }
    free(scratch);
    return SPLADE_CUDA_OK;
}

int splade_cuda_gemm_grouped_bf16(int transpose_a, int transpose_b, float alpha, float beta,
                                  const splade_cuda_gemm_group_bf16 *groups, int group_count) {
    return grouped_bf16("gemm_grouped_bf16", transpose_a, transpose_b, alpha, beta, groups, group_count, bf16_group,
                        false);
}

int splade_cuda_gemm_grouped_bf16_out(int transpose_a, int transpose_b, float alpha, float beta,
                                      const splade_cuda_gemm_group_bf16_out *groups, int group_count) {
    return grouped_bf16("gemm_grouped_bf16_out", transpose_a, transpose_b, alpha, beta, groups, group_count,
                        bf16_out_group, true);
}

/* As the library's fallback: the bias rows (bfloat16, so exact) in Y, then the product accumulated onto them, beta = 1,
 * and the sum rounded once. */
int splade_cuda_linear_bf16_out(const uint16_t *x, int rows, int in, const uint16_t *w, const uint16_t *bias, int out,
                                uint16_t *y) {
    int code = linear_checks(rows, in, out, x && w && bias && y);
    if (code || rows == 0) return code;
    float *scratch = malloc(gemm_bf16_out_scratch(rows, out, in) * sizeof(float));
    if (!scratch) return fail(SPLADE_CUDA_ERROR_OUT_OF_MEMORY, "host emulation of linear_bf16_out: out of memory");
    fill_rows(y, bias, rows, out, sizeof(uint16_t));
    gemm_bf16_out(0, 1, rows, out, in, 1, x, in, w, in, 1, y, out, scratch);
    free(scratch);
    return SPLADE_CUDA_OK;
}

/* ---- Forward kernels --------------------------------------------------------------------- */

int splade_cuda_fill_rows(float *y, const float *bias, int rows, int cols) {
    ENTER();
    REQUIRE(rows >= 0 && cols >= 0, "negative size");
    if ((size_t)rows * cols == 0) return SPLADE_CUDA_OK;
    fill_rows(y, bias, rows, cols, sizeof(float));
    return SPLADE_CUDA_OK;
}

int splade_cuda_embed(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                      const float *position, const float *token_type, float *x) {
    ENTER();
    REQUIRE(tokens >= 0 && h > 0, "bad size");
    for (size_t t = 0; t < (size_t)tokens; t++) {
        const float *w = word + (size_t)ids[t] * h, *p = position + (size_t)positions[t] * h;
        for (size_t j = 0; j < (size_t)h; j++) x[t * h + j] = w[j] + p[j] + token_type[j];
    }
    return SPLADE_CUDA_OK;
}

/* LayerNorm over each row, in place, as splade_cuda_layernorm_forward documents; x̂, 1/σ and the result rounded to
 * bfloat16 (copy) each where given. */
static void layernorm(float *x, int rows, int cols, const float *residual, const float *weight, const float *bias,
                      float epsilon, float *normalized, float *inverse_std, uint16_t *copy) {
    for (size_t r = 0; r < (size_t)rows; r++) {
        float *row = x + r * cols;
        double sum = 0;
        for (int j = 0; j < cols; j++) {
            if (residual) row[j] += residual[r * cols + j];
            sum += (double)row[j];
        }
        double mean = sum / cols, squares = 0;
        for (int j = 0; j < cols; j++) {
            double d = (double)row[j] - mean;
            squares += d * d;
        }
        float inverse = (float)(1 / sqrt(squares / cols + (double)epsilon));
        float m = (float)mean;
        if (inverse_std) inverse_std[r] = inverse;
        for (int j = 0; j < cols; j++) {
            float xhat = (row[j] - m) * inverse;
            if (normalized) normalized[r * cols + j] = xhat;
            row[j] = xhat * weight[j] + bias[j];
            if (copy) copy[r * cols + j] = bfloat16_bits(row[j]);
        }
    }
}

int splade_cuda_layernorm_forward(float *x, int rows, int cols, const float *residual, const float *weight,
                                  const float *bias, float epsilon, float *normalized, float *inverse_std) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0 && weight && bias, "bad LayerNorm arguments");
    layernorm(x, rows, cols, residual, weight, bias, epsilon, normalized, inverse_std, NULL);
    return SPLADE_CUDA_OK;
}

/* As norm.cu: the checks of layernorm_forward; then, where there are rows, x and copy must be given. */
int splade_cuda_layernorm_forward_bf16(float *x, int rows, int cols, const float *residual, const float *weight,
                                       const float *bias, float epsilon, uint16_t *copy) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0 && weight && bias, "bad LayerNorm arguments");
    REQUIRE(rows == 0 || (x && copy), "null pointer");
    layernorm(x, rows, cols, residual, weight, bias, epsilon, NULL, NULL, copy);
    return SPLADE_CUDA_OK;
}

static float gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

int splade_cuda_gelu_forward(float *x, size_t count) {
    ENTER();
    for (size_t i = 0; i < count; i++) x[i] = gelu(x[i]);
    return SPLADE_CUDA_OK;
}

/* y may be x (in place): each element is read before its result is written. */
int splade_cuda_gelu_bf16(const uint16_t *x, size_t count, uint16_t *y) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && y, "null pointer");
    for (size_t i = 0; i < count; i++) y[i] = bfloat16_bits(gelu(bf16_float(x[i])));
    return SPLADE_CUDA_OK;
}

/* A row of the attention blocks (splade_cuda_softmax_blocks's layout): its block, its number there (h·L + r), its
 * length and its first element. */
typedef struct {
    int block;
    long long local;
    int length;
    long long at;
} BlockRow;

/* Checks a block function's arguments, then calls visit(context, row) on the packed rows in order, block by block; as
 * the kernels, only the first total_rows of them, and a block with L_s ≤ 0 has none. */
static int block_rows(const char *what, const void *x, const void *y, const long long *offsets, const int32_t *lengths,
                      int blocks, int heads, int total_rows, int (*visit)(void *, BlockRow), void *context) {
    ENTER();
    if (blocks < 0 || heads <= 0 || total_rows < 0)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: bad size (blocks=%d heads=%d total_rows=%d)", what, blocks, heads,
                    total_rows);
    if (total_rows == 0) return SPLADE_CUDA_OK;
    if (blocks == 0) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: %d rows in no block", what, total_rows);
    if (!x || !y || !offsets || !lengths) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: null pointer", what);
    long long done = 0;
    for (int s = 0; s < blocks && done < total_rows; s++) {
        int length = lengths[s];
        for (long long r = 0; length > 0 && r < (long long)heads * length && done < total_rows; r++, done++) {
            BlockRow row = {s, r, length, offsets[s] + r / length * splade_cuda_head_stride(length) + r % length * length};
            int code = visit(context, row);
            if (code) return code;
        }
    }
    return SPLADE_CUDA_OK;
}

/* p_j = exp(x_j − max x)/Σ exp(x_k − max x) in float, the sum in order, as Softmax.forwardRows. */
static void softmax_row(float *row, int cols) {
    float maximum = -INFINITY;
    for (int j = 0; j < cols; j++) maximum = fmaxf(maximum, row[j]);
    float sum = 0;
    for (int j = 0; j < cols; j++) {
        float e = expf(row[j] - maximum);
        row[j] = e;
        sum += e;
    }
    float inverse = 1 / sum;
    for (int j = 0; j < cols; j++) row[j] *= inverse;
}

static int softmax_visit(void *x, BlockRow row) {
    softmax_row((float *)x + row.at, row.length);
    return SPLADE_CUDA_OK;
}

/* The row widened to float, its softmax, rounded back. */
static int softmax_bf16_visit(void *x, BlockRow row) {
    uint16_t *half = (uint16_t *)x + row.at;
    float *copy = malloc((size_t)row.length * sizeof(float));
    if (!copy) return fail(SPLADE_CUDA_ERROR_OUT_OF_MEMORY, "softmax_blocks_bf16: out of memory");
    widen(half, 1, row.length, row.length, copy);
    softmax_row(copy, row.length);
    narrow(copy, 1, row.length, half, row.length);
    free(copy);
    return SPLADE_CUDA_OK;
}

int splade_cuda_softmax_blocks(float *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                               int total_rows) {
    return block_rows("softmax_blocks", x, x, offsets, lengths, blocks, heads, total_rows, softmax_visit, x);
}

int splade_cuda_softmax_blocks_bf16(uint16_t *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                                    int total_rows) {
    return block_rows("softmax_blocks_bf16", x, x, offsets, lengths, blocks, heads, total_rows, softmax_bf16_visit, x);
}

int splade_cuda_softmax_padded_bf16(uint16_t *x, const int32_t *lengths, int blocks, int heads, int padded) {
    ENTER();
    if (blocks < 0 || heads <= 0 || padded < 0)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "softmax_padded_bf16: bad size (blocks=%d heads=%d padded=%d)", blocks,
                    heads, padded);
    if ((long long)blocks * heads * padded == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && lengths, "null pointer");
    for (int s = 0; s < blocks; s++)
        if (lengths[s] < 0 || lengths[s] > padded)
            return fail(SPLADE_CUDA_ERROR_ARGUMENT, "softmax_padded_bf16: block %d has length %d, beyond 0 ... %d", s,
                        lengths[s], padded);
    for (long long row = 0; row < (long long)blocks * heads * padded; row++) {
        int length = lengths[row / ((long long)heads * padded)], valid = row % padded < length ? length : 0;
        uint16_t *r = x + row * padded;
        if (valid > 0) {
            BlockRow whole = {0, 0, valid, row * padded};
            int code = softmax_bf16_visit(x, whole);
            if (code) return code;
        }
        for (int j = valid; j < padded; j++) r[j] = 0;
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_unpad_rows_bf16(const uint16_t *padded, int padded_length, const int32_t *starts, int sequences,
                                int tokens, int width, uint16_t *packed) {
    ENTER();
    REQUIRE(padded_length >= 0 && sequences >= 0 && tokens >= 0 && width > 0, "bad unpad_rows_bf16 size");
    if (tokens == 0) return SPLADE_CUDA_OK;
    REQUIRE(sequences > 0, "unpad_rows_bf16: rows of no sequence");
    REQUIRE(padded && starts && packed, "null pointer");
    if (starts[0] != 0 || starts[sequences] < tokens)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "unpad_rows_bf16: starts cover rows %d ..< %d, not the %d tokens",
                    starts[0], starts[sequences], tokens);
    for (int s = 0; s < sequences; s++) {
        int length = starts[s + 1] - starts[s];
        if (length < 0 || length > padded_length)
            return fail(SPLADE_CUDA_ERROR_ARGUMENT, "unpad_rows_bf16: sequence %d has %d rows, beyond 0 ... %d", s, length,
                        padded_length);
        for (int r = 0; r < length && starts[s] + r < tokens; r++)
            memcpy(packed + (size_t)(starts[s] + r) * width, padded + ((size_t)s * padded_length + r) * width,
                   (size_t)width * sizeof *packed);
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_add(float *y, const float *x, size_t count) {
    ENTER();
    REQUIRE(count == 0 || (y && x), "null pointer");
    for (size_t i = 0; i < count; i++) y[i] += x[i];
    return SPLADE_CUDA_OK;
}

/* SplitMix64's output function (SpladeCore's SeededRandom.next). */
static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* x[i] times its mask value in one float multiply (by 0 or by keep), as the CPU's x · mask. */
int splade_cuda_dropout(float *x, size_t count, uint64_t seed, uint64_t counter, float probability) {
    ENTER();
    REQUIRE(probability >= 0 && probability <= 1, "dropout probability outside [0, 1]");
    REQUIRE(count == 0 || x, "null pointer");
    float keep = 1.0f / (1.0f - probability);
    for (size_t i = 0; i < count; i++) {
        uint64_t z = mix(seed + (counter + i + 1) * 0x9E3779B97F4A7C15ull);
        float u = (float)(z >> 40) / (float)(1 << 24);
        x[i] *= u < probability ? 0.0f : keep;
    }
    return SPLADE_CUDA_OK;
}

typedef struct {
    float *x;
    const long long *draws;
    uint64_t seed, counter;
    float probability;
} BlockDropout;

/* The flat dropout of the row from the draw it has in the blocks packed without gaps. */
static int dropout_visit(void *context, BlockRow row) {
    const BlockDropout *d = context;
    return splade_cuda_dropout(d->x + row.at, (size_t)row.length, d->seed,
                               d->counter + (uint64_t)d->draws[row.block] + (uint64_t)(row.local * row.length),
                               d->probability);
}

int splade_cuda_dropout_blocks(float *x, const long long *offsets, const long long *draws, const int32_t *lengths,
                               int blocks, int heads, int total_rows, uint64_t seed, uint64_t counter,
                               float probability) {
    ENTER();
    REQUIRE(probability >= 0 && probability <= 1, "dropout probability outside [0, 1]");
    REQUIRE(total_rows == 0 || draws, "dropout_blocks: null pointer");
    BlockDropout dropout = {x, draws, seed, counter, probability};
    return block_rows("dropout_blocks", x, x, offsets, lengths, blocks, heads, total_rows, dropout_visit, &dropout);
}

int splade_cuda_splade_max_reset(float *running, int32_t *argmax, size_t count) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(running, "null pointer");
    for (size_t i = 0; i < count; i++) {
        running[i] = -INFINITY;
        if (argmax) argmax[i] = -1;
    }
    return SPLADE_CUDA_OK;
}

/* The rows in order, each into its sequence's maxima: the last k with segment_starts[k] ≤ row. As the kernel,
 * rows outside [segment_starts[0], segment_starts[segments]) are left out. The logits are float32 (`logits`) or
 * bfloat16 (`half`, widened exactly); a NaN never wins. */
static int max_segments(const float *logits, const uint16_t *half, int rows, int cols, int first_row,
                        const int32_t *segment_starts, int segments, float *running, int32_t *argmax) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0 && segments > 0 && segments < INT32_MAX && first_row >= 0 &&
                (long long)first_row + rows <= INT32_MAX,
            "bad pooling size");
    if (rows == 0) return SPLADE_CUDA_OK;
    REQUIRE((logits || half) && segment_starts && running, "null pointer");
    int k = 0;
    for (int r = 0; r < rows; r++) {
        int row = first_row + r;
        if (row < segment_starts[0] || row >= segment_starts[segments]) continue;
        while (k + 1 < segments && segment_starts[k + 1] <= row) k++;
        size_t at = (size_t)r * cols;
        float *maxima = running + (size_t)k * cols;
        int32_t *rows_of = argmax ? argmax + (size_t)k * cols : NULL;
        for (int j = 0; j < cols; j++) {
            float value = half ? bf16_float(half[at + j]) : logits[at + j];
            if (value > maxima[j]) {  /* strict: the first maximal row keeps the argmax */
                maxima[j] = value;
                if (rows_of) rows_of[j] = row;
            }
        }
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_splade_max_segments(const float *logits, int rows, int cols, int first_row, const int32_t *segment_starts,
                                    int segments, float *running, int32_t *argmax) {
    return max_segments(logits, NULL, rows, cols, first_row, segment_starts, segments, running, argmax);
}

int splade_cuda_splade_max_segments_bf16(const uint16_t *logits, int rows, int cols, int first_row,
                                         const int32_t *segment_starts, int segments, float *running, int32_t *argmax) {
    return max_segments(NULL, logits, rows, cols, first_row, segment_starts, segments, running, argmax);
}

int splade_cuda_splade_weights(const float *running, size_t count, float *weights) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(running && weights, "null pointer");
    for (size_t i = 0; i < count; i++) weights[i] = running[i] > 0 ? log1pf(running[i]) : 0;
    return SPLADE_CUDA_OK;
}

int splade_cuda_count_positive(const float *x, int rows, int cols, int32_t *counts) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0, "bad size");
    if (rows == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && counts, "null pointer");
    for (int r = 0; r < rows; r++) {
        int32_t n = 0;
        for (int j = 0; j < cols; j++) n += x[(size_t)r * cols + j] > 0;
        counts[r] = n;
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_compact_positive(const float *x, int rows, int cols, const long long *offsets, int32_t *indices,
                                 float *values) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0, "bad size");
    if (rows == 0) return SPLADE_CUDA_OK;
    REQUIRE(x && offsets && indices && values, "null pointer");
    for (int r = 0; r < rows; r++) {
        long long position = offsets[r];
        for (int j = 0; j < cols; j++) {
            float v = x[(size_t)r * cols + j];
            if (v > 0) {
                indices[position] = j;
                values[position++] = v;
            }
        }
    }
    return SPLADE_CUDA_OK;
}

/* ---- Backward kernels -------------------------------------------------------------------- */

/* out[j] += Σ_r a[r][j] (· b[r][j] when b is given), as the kernel's column sums: a float sum per
 * chunk of 64 rows, each chunk's sum then added to out[j]. */
static void column_sums(const float *a, const float *b, int rows, int cols, float *out) {
    for (int first = 0; first < rows; first += 64) {
        int last = rows < first + 64 ? rows : first + 64;
        for (int j = 0; j < cols; j++) {
            float sum = 0;
            for (size_t r = (size_t)first; r < (size_t)last; r++)
                sum += b ? a[r * cols + j] * b[r * cols + j] : a[r * cols + j];
            out[j] += sum;
        }
    }
}

int splade_cuda_layernorm_backward(const float *dy, int rows, int cols, const float *normalized,
                                   const float *inverse_std, const float *weight, float *dx, float *dweight,
                                   float *dbias) {
    ENTER();
    REQUIRE(rows >= 0 && cols > 0 && normalized && inverse_std && weight, "bad LayerNorm arguments");
    // The parameter gradients first: dx may overwrite dy.
    if (dweight) column_sums(dy, normalized, rows, cols, dweight);
    if (dbias) column_sums(dy, NULL, rows, cols, dbias);
    for (size_t r = 0; r < (size_t)rows; r++) {
        const float *g = dy + r * cols, *xhat = normalized + r * cols;
        double mean_g = 0, mean_gx = 0;
        for (int j = 0; j < cols; j++) {
            double gj = (double)(g[j] * weight[j]);
            mean_g += gj;
            mean_gx += gj * (double)xhat[j];
        }
        mean_g /= cols;
        mean_gx /= cols;
        double inverse = (double)inverse_std[r];
        // Element j of dy is read just before element j of dx is written, so dx may alias dy.
        for (int j = 0; j < cols; j++)
            dx[r * cols + j] = (float)(inverse * ((double)(g[j] * weight[j]) - mean_g - (double)xhat[j] * mean_gx));
    }
    return SPLADE_CUDA_OK;
}

/* dy·(Φ(v) + v·φ(v)), GELU's derivative at the forward input v, in float as elementwise.cu's gelu_backward_kernel
 * (the float and the bfloat16 inputs alike). */
static float gelu_backward(float dy, float v) {
    float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    float pdf = expf(-0.5f * v * v) * 0.39894228040143268f;
    return dy * (cdf + v * pdf);
}

/* As the kernel, no pointer checks. dx may alias dy: each element is read before its result is written. */
int splade_cuda_gelu_backward(const float *dy, const float *x, size_t count, float *dx) {
    ENTER();
    for (size_t i = 0; i < count; i++) dx[i] = gelu_backward(dy[i], x[i]);
    return SPLADE_CUDA_OK;
}

int splade_cuda_gelu_backward_bf16(const float *dy, const uint16_t *x, size_t count, float *dx) {
    ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    REQUIRE(dy && x && dx, "null pointer");
    for (size_t i = 0; i < count; i++) dx[i] = gelu_backward(dy[i], bf16_float(x[i]));
    return SPLADE_CUDA_OK;
}

typedef struct {
    const float *p;
    float *dp;
} SoftmaxBackward;

/* dP ← P ⊙ (dP − Σ dP ⊙ P) in float, the sum in order, as Attention.backward. */
static int softmax_backward_visit(void *context, BlockRow row) {
    const SoftmaxBackward *b = context;
    const float *p = b->p + row.at;
    float *dp = b->dp + row.at, dot = 0;
    for (int j = 0; j < row.length; j++) dot += dp[j] * p[j];
    for (int j = 0; j < row.length; j++) dp[j] = p[j] * (dp[j] - dot);
    return SPLADE_CUDA_OK;
}

int splade_cuda_softmax_backward_blocks(const float *p, float *dp, const long long *offsets, const int32_t *lengths,
                                        int blocks, int heads, int total_rows) {
    SoftmaxBackward backward = {p, dp};
    return block_rows("softmax_backward_blocks", p, dp, offsets, lengths, blocks, heads, total_rows,
                      softmax_backward_visit, &backward);
}

int splade_cuda_embed_backward(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *dx,
                               float *dword, float *dposition, float *dtoken_type) {
    ENTER();
    REQUIRE(tokens >= 0 && h > 0, "bad size");
    REQUIRE(tokens == 0 || (ids && positions && dx && dword && dposition && dtoken_type), "null pointer");
    for (size_t t = 0; t < (size_t)tokens; t++) {
        const float *row = dx + t * h;
        float *w = dword + (size_t)ids[t] * h, *p = dposition + (size_t)positions[t] * h;
        for (size_t j = 0; j < (size_t)h; j++) {
            w[j] += row[j];
            p[j] += row[j];
            dtoken_type[j] += row[j];
        }
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_bias_backward(const float *dy, int rows, int cols, float *dbias) {
    ENTER();
    REQUIRE(rows >= 0 && cols >= 0, "negative size");
    column_sums(dy, NULL, rows, cols, dbias);
    return SPLADE_CUDA_OK;
}

/* The entries in order, where the kernel adds them atomically in any order; an entry whose maximum is not positive
 * (≤ 0 or NaN) is skipped, a zero gradient adds zeros, as the kernel. */
int splade_cuda_splade_pool_backward(const long long *entries, const float *dweights, int count, int cols, int h,
                                     const float *running, const int32_t *argmax, const float *decoder,
                                     const float *hidden, float *dhidden, float *ddecoder, float *dbias) {
    ENTER();
    REQUIRE(count >= 0 && cols > 0 && h > 0, "bad pooling size");
    REQUIRE(count == 0 ||
                (entries && dweights && running && argmax && decoder && hidden && dhidden && ddecoder && dbias),
            "null pointer");
    for (size_t k = 0; k < (size_t)count; k++) {
        long long e = entries[k];
        float maximum = running[e];
        if (!(maximum > 0)) continue;
        float gradient = dweights[k] / (1 + maximum);
        size_t j = (size_t)(e % cols), r = (size_t)argmax[e];
        dbias[j] += gradient;
        for (size_t c = 0; c < (size_t)h; c++) {
            dhidden[r * h + c] += gradient * decoder[j * h + c];
            ddecoder[j * h + c] += gradient * hidden[r * h + c];
        }
    }
    return SPLADE_CUDA_OK;
}

/* ---- Optimizer --------------------------------------------------------------------------- */

int splade_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t count, float lr, float beta1,
                           float beta2, float epsilon, float weight_decay, int decays, float step_size,
                           double correction2_root) {
    ENTER();
    for (size_t i = 0; i < count; i++) {
        float value = p[i], gradient = g[i];
        if (decays && weight_decay != 0) value *= 1 - lr * weight_decay;
        float first = beta1 * m[i] + (1 - beta1) * gradient;
        float second = beta2 * v[i] + (1 - beta2) * gradient * gradient;
        float denominator = (float)(sqrt((double)second) / correction2_root) + epsilon;
        m[i] = first;
        v[i] = second;
        p[i] = value - step_size * first / denominator;
    }
    return SPLADE_CUDA_OK;
}

int splade_cuda_sum_squares(const float *x, size_t count, double *host_sum) {
    ENTER();
    REQUIRE(host_sum, "null host_sum");
    double sum = 0;
    for (size_t i = 0; i < count; i++) sum += (double)x[i] * (double)x[i];
    *host_sum += sum;
    return SPLADE_CUDA_OK;
}

int splade_cuda_scale(float *x, size_t count, float factor) {
    ENTER();
    for (size_t i = 0; i < count; i++) x[i] *= factor;
    return SPLADE_CUDA_OK;
}
