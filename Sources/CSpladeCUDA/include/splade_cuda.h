/*
 * splade_cuda.h: the C API of libsplade_cuda, the optional CUDA kernels of splade (`make cuda`).
 *
 * Plain C with no CUDA headers, so Swift imports it as is (the CSpladeCUDA module, built only
 * under the package trait CUDA). All matrices are row-major float32, as in SpladeCore's CPU code;
 * every pointer argument named like a tensor is device memory unless it says "host".
 * Every function returns SPLADE_CUDA_OK (0) or an error code; splade_cuda_last_error() then
 * describes the failure of the calling thread's last call. Work is queued on the default stream;
 * splade_cuda_synchronize() (or a copy to the host) waits for it.
 */
#ifndef SPLADE_CUDA_H
#define SPLADE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SPLADE_CUDA_OK = 0,
    SPLADE_CUDA_ERROR_NO_DEVICE = 1,  /* no driver, no GPU, or a driver older than the runtime */
    SPLADE_CUDA_ERROR_CUDA = 2,       /* a CUDA runtime call failed (the device is busy, lost, or has an ECC error) */
    SPLADE_CUDA_ERROR_CUBLAS = 3,     /* cuBLAS could not be loaded or set up */
    SPLADE_CUDA_ERROR_ARGUMENT = 4,   /* a bad size, a null pointer, or no splade_cuda_init yet */
    SPLADE_CUDA_ERROR_OUT_OF_MEMORY = 5, /* the GPU's memory is full (cudaMalloc, or cuBLAS's own allocation) */
    SPLADE_CUDA_ERROR_KERNEL = 6,     /* a kernel faulted (illegal or misaligned address, launch failure) or a cuBLAS
                                         product refused its arguments: a bug; the CUDA context may be unusable */
};

/* ---- Device, memory ---------------------------------------------------------------------- */

/* GPUs visible to this process; 0 (never a crash) when there is no driver or no GPU. */
int splade_cuda_device_count(void);
/* The runtime version the library was built with (e.g. 13000) and the driver's (0 without one). */
int splade_cuda_runtime_version(void);
int splade_cuda_driver_version(void);
/* Selects `device` and loads cuBLAS (libcublas.so.13, .so.12 or .so, or the path in SPLADE_CUDA_CUBLAS).
 * Call before anything below; again with the same device is a no-op, with another an ARGUMENT error (one
 * device per process). Every later call makes that device current on its thread first. A device of
 * compute capability below 8.0 (the kernels are built for sm_80 and sm_90) or a driver older than the
 * runtime is NO_DEVICE, with the reason. With SPLADE_CUDA_SYNC=1 in the environment every kernel launch
 * is followed by a synchronisation, so that a failing kernel is reported by its own name (debugging). */
int splade_cuda_init(int device);
/* The name and compute capability (major·10 + minor) of a device; `name` gets at most `capacity` bytes. */
int splade_cuda_device_info(int device, char *name, size_t capacity, int *compute_capability, size_t *total_memory);
/* The message of the calling thread's last failed call ("" when none). */
const char *splade_cuda_last_error(void);

int splade_cuda_malloc(void **pointer, size_t bytes);
int splade_cuda_free(void *pointer);
int splade_cuda_copy_to_device(void *device_destination, const void *host_source, size_t bytes);
int splade_cuda_copy_to_host(void *host_destination, const void *device_source, size_t bytes);
int splade_cuda_copy_device(void *device_destination, const void *device_source, size_t bytes);
int splade_cuda_zero(void *pointer, size_t bytes);
int splade_cuda_synchronize(void);

/* ---- Matrix products (cuBLAS) ------------------------------------------------------------ */

/* C[m×n] = alpha·op(A)·op(B) + beta·C, row-major with row strides lda, ldb, ldc: the contract of
 * SpladeCore's BLAS.gemm (cblas_sgemm with CblasRowMajor). */
int splade_cuda_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* `batch` products at once, matrix i at a + i·stride_a, b + i·stride_b, c + i·stride_c (in floats):
 * e.g. all heads of one sequence's attention. */
int splade_cuda_sgemm_strided_batched(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                                      const float *a, int lda, long long stride_a,
                                      const float *b, int ldb, long long stride_b, float beta,
                                      float *c, int ldc, long long stride_c, int batch);
/* Several strided batches of products in one call: all the attention products of a batch of packed
 * sequences, group g being one sequence's heads. Group g: groups[g].batch products, each
 * C_i = alpha·op(A_i)·op(B_i) + beta·C_i with row-major sizes as in splade_cuda_sgemm (m, n, k, leading
 * dimensions) and A_i = a + i·stride_a, B_i = b + i·stride_b, C_i = c + i·stride_c (in floats); the same
 * transposes, alpha and beta for every group; `groups` is a host array. With cuBLAS 12.5 or newer this is
 * one grouped product (cublasSgemmGroupedBatched, its pointer arrays written on the GPU), else one
 * strided-batched product per group; SPLADE_CUDA_GROUPED=0 in the environment forces the latter (to test it). */
typedef struct {
    int m, n, k, batch;
    const float *a;
    int lda;
    long long stride_a;
    const float *b;
    int ldb;
    long long stride_b;
    float *c;
    int ldc;
    long long stride_c;
} splade_cuda_gemm_group;
int splade_cuda_sgemm_grouped(int transpose_a, int transpose_b, float alpha, float beta,
                              const splade_cuda_gemm_group *groups, int group_count);
/* How many grouped calls (of any precision, since the library was loaded) ran groups as one strided product each:
 * all of them because cuBLAS's grouped product declined their combination of types (CUBLAS_STATUS_NOT_SUPPORTED, or
 * INVALID_VALUE before it ever took that combination: the arguments are checked here first; a declined combination is
 * not offered again; bfloat16 with a float32 C counts here though its widened copies are then one grouped product),
 * or those whose matrix pointers break the alignment cuBLAS's pointer arrays need (16-bit or TF32 products; the
 * attention blocks' layout, splade_cuda_head_stride, keeps it): the same results, more launches. For performance checks (kernel-check reports it). */
int splade_cuda_grouped_fallbacks(void);
/* The cuBLAS status with which the grouped product last declined a combination of types (0: none declined): what the
 * loaded cuBLAS answered, for kernel-check's report. */
int splade_cuda_grouped_declined_status(void);
/* The loaded cuBLAS's version (cublasGetVersion, e.g. 130400), 0 before splade_cuda_init or where it cannot say. */
int splade_cuda_cublas_version(void);
/* How many Linear products (splade_cuda_linear*, since the library was loaded) were made without cuBLASLt — none
 * loaded, SPLADE_CUDA_LT=0, no algorithm for the shape, or a failed call — as bias rows and a product onto them:
 * the same results, one more pass over Y. For performance checks (kernel-check reports it). */
int splade_cuda_linear_fallbacks(void);
/* A Linear layer: Y[rows×out] = X[rows×in]·Wᵀ + bias (W row-major out×in, bias[out]; TF32 products after
 * splade_cuda_set_tf32(1)). One cuBLASLt product with the bias added in its epilogue where cuBLASLt is there and has
 * an algorithm for the shape; else the bias rows, then the product accumulated onto them (SPLADE_CUDA_LT=0 in the
 * environment forces this, to test it). cuBLASLt's algorithm is the heuristic's for the power of two at or above
 * `rows` where cublasLtMatmulAlgoCheck accepts it for `rows` (SPLADE_CUDA_LT_EXACT=1: always the one for `rows`). */
int splade_cuda_linear(const float *x, int rows, int in, const float *w, const float *bias, int out, float *y);

/* ---- bfloat16 products (--precision bf16: encoding and training) ------------------------- */

/* y[i] = x[i] as bfloat16 (the upper 16 bits of the float32, rounded to nearest even; NaN stays NaN). */
int splade_cuda_to_bf16(const float *x, size_t count, uint16_t *y);
/* y[i] = x[i] widened to float32 (exact: a bfloat16 is a float32's upper half). */
int splade_cuda_from_bf16(const uint16_t *x, size_t count, float *y);
/* As splade_cuda_sgemm with A and B in bfloat16: C[m×n] = alpha·op(A)·op(B) + beta·C, C float32, products
 * accumulated in float32 (cublasGemmEx, CUBLAS_COMPUTE_32F). */
int splade_cuda_gemm_bf16(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                          const uint16_t *b, int ldb, float beta, float *c, int ldc);
/* As splade_cuda_sgemm_grouped with A and B in bfloat16 and C float32 (cublasGemmGroupedBatchedEx, else one
 * cublasGemmStridedBatchedEx per group; SPLADE_CUDA_GROUPED=0 forces the latter). Where cuBLAS's grouped product
 * declines bfloat16 inputs with a float32 C (its documented types pair them with a bfloat16 C), A and B are widened to
 * float32 and multiplied in one grouped product with TF32 inputs, which hold bfloat16 values exactly: the same
 * products and float32 sums, one call rather than one per group. */
typedef struct {
    int m, n, k, batch;
    const uint16_t *a;
    int lda;
    long long stride_a;
    const uint16_t *b;
    int ldb;
    long long stride_b;
    float *c;
    int ldc;
    long long stride_c;
} splade_cuda_gemm_group_bf16;
int splade_cuda_gemm_grouped_bf16(int transpose_a, int transpose_b, float alpha, float beta,
                                  const splade_cuda_gemm_group_bf16 *groups, int group_count);

/* bf16 keeps the activations that only feed products in bfloat16, as torch.autocast does: each product whose output
 * is read only by other products writes it in bfloat16 (the float32 sums rounded once), and the steps between them
 * read and write bfloat16, computing in float32. The residual stream and LayerNorm stay float32. */
/* y = bfloat16(GELU(x)) of the bfloat16 x widened (the output of the intermediate product); y may be x (encoding:
 * in place), or another buffer (training keeps x, the input of GELU's backward). */
int splade_cuda_gelu_bf16(const uint16_t *x, size_t count, uint16_t *y);
/* splade_cuda_softmax_blocks over bfloat16 scores, in place: each row's values widened to float32, the softmax
 * computed as there, the probabilities rounded to bfloat16. */
int splade_cuda_softmax_blocks_bf16(uint16_t *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                                    int total_rows);
/* Encoding's attention over a batch padded to `padded` tokens a sequence (products of one shape rather than one group
 * a sequence): bfloat16 scores x[blocks][heads][padded][padded], row-major, in place. Row r of block s (L_s =
 * lengths[s], a device int32 array, 0 ≤ L_s ≤ padded) becomes, for r < L_s, the softmax of its first L_s entries (as
 * splade_cuda_softmax_blocks_bf16) followed by zeros, and for r ≥ L_s zeros; so the product with the padded rows of V
 * takes exactly the sequence's own. */
int splade_cuda_softmax_padded_bf16(uint16_t *x, const int32_t *lengths, int blocks, int heads, int padded);
/* The padded layout's rows back to the packed one: packed[t] = padded[s·padded_length + t − starts[s]] (rows of `width`
 * bfloat16) for the packed rows t < tokens, sequence s holding rows starts[s] ..< starts[s + 1] (starts: a device
 * int32 array of sequences + 1 entries). */
int splade_cuda_unpad_rows_bf16(const uint16_t *padded, int padded_length, const int32_t *starts, int sequences,
                                int tokens, int width, uint16_t *packed);
/* splade_cuda_layernorm_forward (without x̂ and 1/σ), and copy[i] = bfloat16(x[i]) of the result: the float32 row for
 * the residual stream, the bfloat16 one for the next product. `copy` is required (unless rows = 0). */
int splade_cuda_layernorm_forward_bf16(float *x, int rows, int cols, const float *residual, const float *weight,
                                       const float *bias, float epsilon, uint16_t *copy);
/* splade_cuda_splade_max_segments over bfloat16 logits (widened exactly to float32; the maxima stay float32). */
int splade_cuda_splade_max_segments_bf16(const uint16_t *logits, int rows, int cols, int first_row,
                                         const int32_t *segment_starts, int segments, float *running, int32_t *argmax);

/* As splade_cuda_linear with X and W in bfloat16 (float32 sums, bias and Y). */
int splade_cuda_linear_bf16(const uint16_t *x, int rows, int in, const uint16_t *w, const float *bias, int out, float *y);
/* Y = bfloat16(X·Wᵀ + bias) with X, W and the bias in bfloat16 and float32 sums: the float32 result, bias added, rounded
 * once (cuBLASLt with the bias in its epilogue; else the bias rows in Y and the product accumulated onto them, beta = 1;
 * the two may add in different orders). */
int splade_cuda_linear_bf16_out(const uint16_t *x, int rows, int in, const uint16_t *w, const uint16_t *bias, int out,
                                uint16_t *y);
/* As splade_cuda_gemm_grouped_bf16 with C in bfloat16 too: C = bfloat16(alpha·op(A)·op(B) + beta·C), C read widened
 * (not read when beta = 0), float32 sums. All-bfloat16 is among the type combinations of cuBLAS's grouped product;
 * bfloat16 inputs with a float32 C may not be (splade_cuda_gemm_grouped_bf16 then widens them). The fallbacks are as
 * there. */
typedef struct {
    int m, n, k, batch;
    const uint16_t *a;
    int lda;
    long long stride_a;
    const uint16_t *b;
    int ldb;
    long long stride_b;
    uint16_t *c;
    int ldc;
    long long stride_c;
} splade_cuda_gemm_group_bf16_out;
int splade_cuda_gemm_grouped_bf16_out(int transpose_a, int transpose_b, float alpha, float beta,
                                      const splade_cuda_gemm_group_bf16_out *groups, int group_count);

/* 1: let cuBLAS use TF32 tensor cores (faster, ~1e-3 relative error); 0 (the default): exact float32. */
int splade_cuda_set_tf32(int enabled);

/* ---- Forward kernels --------------------------------------------------------------------- */

#if defined(__CUDACC__)
#define SPLADE_CUDA_HOST_DEVICE __host__ __device__
#else
#define SPLADE_CUDA_HOST_DEVICE
#endif
/* The elements from one head's L×L attention matrix to the next in a block (splade_cuda_softmax_blocks): L² rounded up
 * to a multiple of 8, so that with offsets that are multiples of 8 every matrix starts 16-byte aligned in bfloat16 (32
 * in float32). cuBLAS's grouped products need that of the matrices in their pointer arrays (for bfloat16, and float32
 * in TF32, when k·size is a multiple of 16, as in QKᵀ); a group that breaks it runs as its own strided product. */
static inline SPLADE_CUDA_HOST_DEVICE long long splade_cuda_head_stride(int length) {
    return ((long long)length * length + 7) / 8 * 8;
}

/* Every row of y[rows×cols] = bias (Linear writes the bias first, then accumulates X·Wᵀ, beta = 1). */
int splade_cuda_fill_rows(float *y, const float *bias, int rows, int cols);
/* x[i] = word[ids[i]] + position[positions[i]] + token_type[0] for T tokens of width h (ids, positions: device int32). */
int splade_cuda_embed(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                      const float *position, const float *token_type, float *x);
/* LayerNorm over each row, in place: x ← (x + residual − mean)/sqrt(var + ε)·γ + β, sums in double,
 * biased variance. `residual`, `normalized` (x̂, rows×cols) and `inverse_std` (1/σ, rows) may be NULL. */
int splade_cuda_layernorm_forward(float *x, int rows, int cols, const float *residual, const float *weight,
                                  const float *bias, float epsilon, float *normalized, float *inverse_std);
/* GELU (erf form), in place. */
int splade_cuda_gelu_forward(float *x, size_t count);
/* Row softmax over the square blocks of packed sequences (attention scores), in place, one launch for a
 * batch: block s holds `heads` matrices of L_s×L_s (L_s = lengths[s]), row-major, matrix h at
 * x + offsets[s] + h·splade_cuda_head_stride(L_s); offsets (int64) and lengths (int32) are device arrays of
 * `blocks` entries. Its rows are counted h·L_s + r; the first total_rows rows of the batch (normally all of them,
 * Σ heads·L_s) are transformed, the others, and whatever lies between the matrices, left as they are. Each row
 * becomes p_j = exp(x_j − max x)/Σ exp(x_k − max x). */
int splade_cuda_softmax_blocks(float *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                               int total_rows);
/* Elementwise y[i] += x[i] (residual gradients). */
int splade_cuda_add(float *y, const float *x, size_t count);
/* Dropout in place, the mask regenerated rather than stored: x[i] *= mask_i with
 * mask_i = u_i < probability ? 0 : 1/(1 − probability) (the keep factor in float), where u_i = (z >> 40)/2^24
 * and z is draw number counter + i of SplitMix64 seeded with `seed`:
 * s = seed + (counter + i + 1)·0x9E3779B97F4A7C15, a = (s ^ (s >> 30))·0xBF58476D1CE4E5B9,
 * b = (a ^ (a >> 27))·0x94D049BB133111EB, z = b ^ (b >> 31), all mod 2^64. That is the stream of
 * SpladeCore's SeededRandom(seed: seed) after `counter` draws, so the CPU and the GPU drop the same units,
 * and the backward pass applies the forward pass's mask by calling this again with the same arguments. */
int splade_cuda_dropout(float *x, size_t count, uint64_t seed, uint64_t counter, float probability);
/* splade_cuda_dropout over the attention blocks of splade_cuda_softmax_blocks's layout, as over the same matrices
 * packed without the gaps between them (the CPU's layout): element j of row h·L_s + r of block s takes draw
 * counter + draws[s] + (h·L_s + r)·L_s + j, where draws[s] = Σ_{t<s} heads·L_t² (device int64, `blocks` entries).
 * The first total_rows rows of the batch, as there; nothing between the matrices is touched. */
int splade_cuda_dropout_blocks(float *x, const long long *offsets, const long long *draws, const int32_t *lengths,
                               int blocks, int heads, int total_rows, uint64_t seed, uint64_t counter,
                               float probability);
/* SPLADE max pooling of packed sequences, a chunk of rows at a time. Sequence k holds the packed rows
 * segment_starts[k] ..< segment_starts[k + 1] (segment_starts: device int32, segments + 1 entries, increasing);
 * `logits` [rows×cols] are the packed rows first_row ..< first_row + rows, which may span several sequences.
 * For every column j and every row r of the chunk, with k the sequence of row first_row + r:
 * running[k·cols + j] = max(running[k·cols + j], logits[r][j]) (strict >, so the first maximal row wins, as on
 * the CPU), and argmax[k·cols + j] = first_row + r for the row that set it. `argmax` may be NULL (inference).
 * Start with splade_cuda_splade_max_reset over segments·cols entries (running = −∞, argmax = −1 unless NULL). */
int splade_cuda_splade_max_reset(float *running, int32_t *argmax, size_t count);
int splade_cuda_splade_max_segments(const float *logits, int rows, int cols, int first_row, const int32_t *segment_starts,
                                    int segments, float *running, int32_t *argmax);
/* weights[i] = log1p(relu(running[i])) for `count` entries. */
int splade_cuda_splade_weights(const float *running, size_t count, float *weights);
/* The positive entries of `rows` rows of `cols` floats (SPLADE weights), so that only they cross to the host.
 * splade_cuda_count_positive: counts[r] = #{j : x[r][j] > 0} (device int32, `rows` entries; NaN is not positive).
 * splade_cuda_compact_positive: with offsets[r] = Σ_{q<r} counts[q] (device int64, `rows` entries, made by the
 * caller), row r's positive entries in column order: indices[offsets[r] + k] = j and values[offsets[r] + k] =
 * x[r][j] for its k-th positive column j. */
int splade_cuda_count_positive(const float *x, int rows, int cols, int32_t *counts);
int splade_cuda_compact_positive(const float *x, int rows, int cols, const long long *offsets, int32_t *indices,
                                 float *values);

/* ---- Backward kernels -------------------------------------------------------------------- */

/* dγ += Σ dy·x̂, dβ += Σ dy, dx = (1/σ)(g − mean g − x̂·mean(g·x̂)), g = dy·γ (dx may alias dy). */
int splade_cuda_layernorm_backward(const float *dy, int rows, int cols, const float *normalized,
                                   const float *inverse_std, const float *weight, float *dx, float *dweight,
                                   float *dbias);
/* dx = dy·(Φ(x) + x·φ(x)), x the forward input (dx may alias dy). */
int splade_cuda_gelu_backward(const float *dy, const float *x, size_t count, float *dx);
/* As splade_cuda_gelu_backward with the forward input x in bfloat16 (widened). */
int splade_cuda_gelu_backward_bf16(const float *dy, const uint16_t *x, size_t count, float *dx);
/* The backward of splade_cuda_softmax_blocks, same layout, in place: each row of dP ← P ⊙ (dP − rowsum(dP ⊙ P)). */
int splade_cuda_softmax_backward_blocks(const float *p, float *dp, const long long *offsets, const int32_t *lengths,
                                        int blocks, int heads, int total_rows);
/* The embeddings' backward: for each token i, dword[ids[i]] += dx[i], dposition[positions[i]] += dx[i] and
 * dtoken_type[0] += dx[i] (rows of width h; tokens sharing an id or a position are added atomically). */
int splade_cuda_embed_backward(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *dx,
                               float *dword, float *dposition, float *dtoken_type);
/* dbias[j] += Σ_rows dy[r][j]. */
int splade_cuda_bias_backward(const float *dy, int rows, int cols, float *dbias);
/* SPLADE pooling and the decoder, backward, over the entries of a batch's vectors that have a gradient, from the
 * saved maxima and argmax rows ([sequences×cols] each, as splade_cuda_splade_max_segments leaves them): entry k is
 * e = entries[k] = s·cols + j (sequence s, column j; device int64) with gradient dweights[k] (device). For each entry
 * with running[e] > 0, with γ = dweights[k]/(1 + running[e]) and r = argmax[e]: dbias[j] += γ;
 * dhidden[r][:] += γ·decoder[j][:]; ddecoder[j][:] += γ·hidden[r][:], all added atomically (entries may share a
 * column, and rows a token). decoder [cols×h], hidden/dhidden [T×h] (rows indexed as argmax stores them),
 * ddecoder [cols×h]. One launch for the batch, whatever the vocabulary: only the active entries cost. */
int splade_cuda_splade_pool_backward(const long long *entries, const float *dweights, int count, int cols, int h,
                                     const float *running, const int32_t *argmax, const float *decoder,
                                     const float *hidden, float *dhidden, float *ddecoder, float *dbias);

/* ---- Optimizer --------------------------------------------------------------------------- */

/* One AdamW step over one tensor, torch.optim.AdamW semantics (decay first, decoupled):
 *   if decays && weight_decay ≠ 0: p ← p·(1 − lr·wd)
 *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − step_size·m / (√v / correction2_root + ε)
 * with step_size = lr/(1 − β₁ᵗ) and correction2_root = √(1 − β₂ᵗ) computed by the caller in double. */
int splade_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t count, float lr, float beta1,
                           float beta2, float epsilon, float weight_decay, int decays, float step_size,
                           double correction2_root);
/* Σ x² of a tensor, added in double into *host_sum (for global-norm clipping). */
int splade_cuda_sum_squares(const float *x, size_t count, double *host_sum);
/* x *= factor. */
int splade_cuda_scale(float *x, size_t count, float factor);

#ifdef __cplusplus
}
#endif
#endif
