// Row kernels, one block per row: LayerNorm (sums in double, as the CPU) and softmax, forward and backward.
#include "common.cuh"
#include "reduce.cuh"

using namespace splade_cuda;

namespace splade_cuda {
int column_sums(const float *a, const float *b, int rows, int cols, float *out);
}

static __global__ void layernorm_forward_kernel(float *x, int cols, const float *residual, const float *weight,
                                                const float *bias, float epsilon, float *normalized,
                                                float *inverse_std) {
    __shared__ double scratch[32];
    size_t r = blockIdx.x;
    float *row = x + r * cols;
    double sum = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        if (residual) row[j] += residual[r * cols + j];
        sum += (double)row[j];
    }
    double mean = block_sum(sum, scratch) / cols;
    double squares = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        double d = (double)row[j] - mean;
        squares += d * d;
    }
    squares = block_sum(squares, scratch);
    float inverse = (float)(1 / sqrt(squares / cols + (double)epsilon));
    float m = (float)mean;
    if (inverse_std && threadIdx.x == 0) inverse_std[r] = inverse;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float xhat = (row[j] - m) * inverse;
        if (normalized) normalized[r * cols + j] = xhat;
        row[j] = xhat * weight[j] + bias[j];
    }
}

static __global__ void layernorm_backward_kernel(const float *dy, int cols, const float *normalized,
                                                 const float *inverse_std, const float *weight, float *dx) {
    __shared__ double scratch[32];
    size_t r = blockIdx.x;
    const float *g = dy + r * cols, *xhat = normalized + r * cols;
    double mean_g = 0, mean_gx = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        double gj = (double)(g[j] * weight[j]);
        mean_g += gj;
        mean_gx += gj * (double)xhat[j];
    }
    mean_g = block_sum(mean_g, scratch) / cols;
    mean_gx = block_sum(mean_gx, scratch) / cols;
    double inverse = (double)inverse_std[r];
    // Every thread has read its own g[j] above, and dx may alias dy element by element only.
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        dx[r * cols + j] = (float)(inverse * ((double)(g[j] * weight[j]) - mean_g - (double)xhat[j] * mean_gx));
}

static __global__ void softmax_kernel(float *x, int cols) {
    __shared__ float scratch[32];
    float *row = x + (size_t)blockIdx.x * cols;
    float maximum = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) maximum = fmaxf(maximum, row[j]);
    maximum = block_max(maximum, scratch, -INFINITY);
    float sum = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float e = expf(row[j] - maximum);
        row[j] = e;
        sum += e;
    }
    float inverse = 1 / block_sum(sum, scratch);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) row[j] *= inverse;
}

static __global__ void softmax_backward_kernel(const float *p, float *dp, int cols) {
    __shared__ float scratch[32];
    size_t offset = (size_t)blockIdx.x * cols;
    float dot = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dot += dp[offset + j] * p[offset + j];
    dot = block_sum(dot, scratch);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dp[offset + j] = p[offset + j] * (dp[offset + j] - dot);
}

// Threads per row block: enough for the row, a multiple of 32, at most 1024.
static int row_threads(int cols) {
    int threads = ((cols + 31) / 32) * 32;
    return threads < 32 ? 32 : (threads > 256 ? 256 : threads);
}

extern "C" {

int splade_cuda_layernorm_forward(float *x, int rows, int cols, const float *residual, const float *weight,
                                  const float *bias, float epsilon, float *normalized, float *inverse_std) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0 && weight && bias, "bad LayerNorm arguments");
    if (rows == 0) return SPLADE_CUDA_OK;
    layernorm_forward_kernel<<<rows, row_threads(cols)>>>(x, cols, residual, weight, bias, epsilon, normalized,
                                                          inverse_std);
    return launched("layernorm_forward");
}

int splade_cuda_layernorm_backward(const float *dy, int rows, int cols, const float *normalized,
                                   const float *inverse_std, const float *weight, float *dx, float *dweight,
                                   float *dbias) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0 && normalized && inverse_std && weight, "bad LayerNorm arguments");
    if (rows == 0) return SPLADE_CUDA_OK;
    // The parameter gradients first: dx may overwrite dy.
    if (dweight)
        if (int code = column_sums(dy, normalized, rows, cols, dweight)) return code;
    if (dbias)
        if (int code = column_sums(dy, nullptr, rows, cols, dbias)) return code;
    layernorm_backward_kernel<<<rows, row_threads(cols)>>>(dy, cols, normalized, inverse_std, weight, dx);
    return launched("layernorm_backward");
}

int splade_cuda_softmax_rows(float *x, int rows, int cols) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0, "bad softmax size");
    if (rows == 0) return SPLADE_CUDA_OK;
    softmax_kernel<<<rows, row_threads(cols)>>>(x, cols);
    return launched("softmax_rows");
}

int splade_cuda_softmax_backward(const float *p, float *dp, int rows, int cols) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0, "bad softmax size");
    if (rows == 0) return SPLADE_CUDA_OK;
    softmax_backward_kernel<<<rows, row_threads(cols)>>>(p, dp, cols);
    return launched("softmax_backward");
}

}  // extern "C"
