// Element-wise kernels: bias rows, embeddings, GELU and its backward, masks, column sums, AdamW.
// Built with --fmad=false so products and sums round as the CPU code (Swift does not contract).
#include "common.cuh"
#include "reduce.cuh"

using namespace splade_cuda;

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static __global__ void fill_rows_kernel(float *y, const float *bias, int rows, int cols) {
    GRID_STRIDE(i, (size_t)rows * cols) y[i] = bias[i % cols];
}

static __global__ void embed_kernel(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                                    const float *position, const float *token_type, float *x) {
    GRID_STRIDE(i, (size_t)tokens * h) {
        size_t t = i / h, j = i % h;
        x[i] = word[(size_t)ids[t] * h + j] + position[(size_t)positions[t] * h + j] + token_type[j];
    }
}

static __global__ void gelu_forward_kernel(float *x, size_t count) {
    GRID_STRIDE(i, count) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

static __global__ void gelu_backward_kernel(const float *dy, const float *x, size_t count, float *dx) {
    GRID_STRIDE(i, count) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        float pdf = expf(-0.5f * v * v) * 0.39894228040143268f;
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

static __global__ void multiply_kernel(float *x, const float *mask, size_t count) {
    GRID_STRIDE(i, count) x[i] *= mask[i];
}

static __global__ void scale_kernel(float *x, size_t count, float factor) {
    GRID_STRIDE(i, count) x[i] *= factor;
}

// Column sums over a chunk of rows per block row (gridDim.y chunks), added atomically:
// out[j] += Σ_r a[r][j] (· b[r][j] when b is given).
static constexpr int kRowsPerChunk = 64;
static __global__ void column_sums_kernel(const float *a, const float *b, int rows, int cols, float *out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    int first = blockIdx.y * kRowsPerChunk, last = min(rows, first + kRowsPerChunk);
    float sum = 0;
    for (int r = first; r < last; r++) sum += b ? a[(size_t)r * cols + j] * b[(size_t)r * cols + j] : a[(size_t)r * cols + j];
    atomicAdd(out + j, sum);
}

namespace splade_cuda {
int column_sums(const float *a, const float *b, int rows, int cols, float *out) {
    if (rows == 0 || cols == 0) return SPLADE_CUDA_OK;
    dim3 grid((cols + kThreads - 1) / kThreads, (rows + kRowsPerChunk - 1) / kRowsPerChunk);
    column_sums_kernel<<<grid, kThreads>>>(a, b, rows, cols, out);
    return launched("column sums");
}
}  // namespace splade_cuda

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t count, float lr, float beta1,
                                    float beta2, float epsilon, float weight_decay, int decays, float step_size,
                                    double correction2_root) {
    GRID_STRIDE(i, count) {
        float value = p[i], gradient = g[i];
        if (decays && weight_decay != 0) value *= 1 - lr * weight_decay;
        float first = beta1 * m[i] + (1 - beta1) * gradient;
        float second = beta2 * v[i] + (1 - beta2) * gradient * gradient;
        float denominator = (float)(sqrt((double)second) / correction2_root) + epsilon;
        m[i] = first;
        v[i] = second;
        p[i] = value - step_size * first / denominator;
    }
}

static __device__ double squares_total;
static __global__ void sum_squares_kernel(const float *x, size_t count) {
    __shared__ double scratch[32];
    double sum = 0;
    GRID_STRIDE(i, count) sum += (double)x[i] * (double)x[i];
    sum = block_sum(sum, scratch);
    if (threadIdx.x == 0) atomicAdd(&squares_total, sum);
}

extern "C" {

int splade_cuda_fill_rows(float *y, const float *bias, int rows, int cols) {
    SPLADE_REQUIRE(rows >= 0 && cols >= 0, "negative size");
    if ((size_t)rows * cols == 0) return SPLADE_CUDA_OK;
    fill_rows_kernel<<<blocks_for((size_t)rows * cols), kThreads>>>(y, bias, rows, cols);
    return launched("fill_rows");
}

int splade_cuda_embed(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                      const float *position, const float *token_type, float *x) {
    SPLADE_REQUIRE(tokens >= 0 && h > 0, "bad size");
    if (tokens == 0) return SPLADE_CUDA_OK;
    embed_kernel<<<blocks_for((size_t)tokens * h), kThreads>>>(ids, positions, tokens, h, word, position, token_type, x);
    return launched("embed");
}

int splade_cuda_gelu_forward(float *x, size_t count) {
    if (count == 0) return SPLADE_CUDA_OK;
    gelu_forward_kernel<<<blocks_for(count), kThreads>>>(x, count);
    return launched("gelu_forward");
}

int splade_cuda_gelu_backward(const float *dy, const float *x, size_t count, float *dx) {
    if (count == 0) return SPLADE_CUDA_OK;
    gelu_backward_kernel<<<blocks_for(count), kThreads>>>(dy, x, count, dx);
    return launched("gelu_backward");
}

int splade_cuda_multiply(float *x, const float *mask, size_t count) {
    if (count == 0) return SPLADE_CUDA_OK;
    multiply_kernel<<<blocks_for(count), kThreads>>>(x, mask, count);
    return launched("multiply");
}

int splade_cuda_scale(float *x, size_t count, float factor) {
    if (count == 0) return SPLADE_CUDA_OK;
    scale_kernel<<<blocks_for(count), kThreads>>>(x, count, factor);
    return launched("scale");
}

int splade_cuda_bias_backward(const float *dy, int rows, int cols, float *dbias) {
    SPLADE_REQUIRE(rows >= 0 && cols >= 0, "negative size");
    return column_sums(dy, nullptr, rows, cols, dbias);
}

int splade_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t count, float lr, float beta1,
                           float beta2, float epsilon, float weight_decay, int decays, float step_size,
                           double correction2_root) {
    if (count == 0) return SPLADE_CUDA_OK;
    adamw_kernel<<<blocks_for(count), kThreads>>>(p, g, m, v, count, lr, beta1, beta2, epsilon, weight_decay, decays,
                                                  step_size, correction2_root);
    return launched("adamw_step");
}

int splade_cuda_sum_squares(const float *x, size_t count, double *host_sum) {
    SPLADE_REQUIRE(host_sum, "null host_sum");
    if (count == 0) return SPLADE_CUDA_OK;
    double zero = 0, total = 0;
    if (cudaMemcpyToSymbol(squares_total, &zero, sizeof zero) != cudaSuccess) return launched("sum_squares reset");
    unsigned blocks = blocks_for(count);
    sum_squares_kernel<<<blocks < 1024 ? blocks : 1024, kThreads>>>(x, count);
    if (int code = launched("sum_squares")) return code;
    if (cudaMemcpyFromSymbol(&total, squares_total, sizeof total) != cudaSuccess) return launched("sum_squares read");
    *host_sum += total;
    return SPLADE_CUDA_OK;
}

}  // extern "C"
