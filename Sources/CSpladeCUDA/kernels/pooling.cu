// SPLADE max pooling: a running column maximum with its argmax row, log1p∘relu, and the sparse backward.
#include "common.cuh"

using namespace splade_cuda;

static __global__ void max_reset_kernel(float *running, int32_t *argmax, int cols) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < cols) {
        running[j] = -INFINITY;
        argmax[j] = -1;
    }
}

// One thread per column walks the chunk's rows in order (coalesced across the threads of a warp).
static __global__ void max_accumulate_kernel(const float *logits, int rows, int cols, int first_row, float *running,
                                             int32_t *argmax) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    float best = running[j];
    int32_t at = argmax[j];
    for (int r = 0; r < rows; r++) {
        float value = logits[(size_t)r * cols + j];
        if (value > best) {
            best = value;
            at = first_row + r;
        }
    }
    running[j] = best;
    argmax[j] = at;
}

static __global__ void weights_kernel(const float *running, int cols, float *weights) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < cols) weights[j] = running[j] > 0 ? log1pf(running[j]) : 0;
}

// One block per vocabulary column; the inactive ones return at once. dhidden rows can be shared by
// several columns (the same argmax token), so they are added atomically; ddecoder and dbias rows
// belong to one block each.
static __global__ void pool_backward_kernel(const float *dweights, const float *running, const int32_t *argmax, int h,
                                            const float *decoder, const float *hidden, float *dhidden,
                                            float *ddecoder, float *dbias) {
    size_t j = blockIdx.x;
    float maximum = running[j], dw = dweights[j];
    if (!(maximum > 0) || dw == 0) return;
    float gradient = dw / (1 + maximum);
    size_t r = (size_t)argmax[j];
    if (threadIdx.x == 0) dbias[j] += gradient;
    for (int k = threadIdx.x; k < h; k += blockDim.x) {
        atomicAdd(dhidden + r * h + k, gradient * decoder[j * h + k]);
        ddecoder[j * h + k] += gradient * hidden[r * h + k];
    }
}

extern "C" {

int splade_cuda_splade_max_reset(float *running, int32_t *argmax, int cols) {
    SPLADE_REQUIRE(cols > 0, "bad vocabulary size");
    max_reset_kernel<<<blocks_for(cols), kThreads>>>(running, argmax, cols);
    return launched("splade_max_reset");
}

int splade_cuda_splade_max_accumulate(const float *logits, int rows, int cols, int first_row, float *running,
                                      int32_t *argmax) {
    SPLADE_REQUIRE(rows >= 0 && cols > 0, "bad pooling size");
    if (rows == 0) return SPLADE_CUDA_OK;
    max_accumulate_kernel<<<blocks_for(cols), kThreads>>>(logits, rows, cols, first_row, running, argmax);
    return launched("splade_max_accumulate");
}

int splade_cuda_splade_weights(const float *running, int cols, float *weights) {
    SPLADE_REQUIRE(cols > 0, "bad vocabulary size");
    weights_kernel<<<blocks_for(cols), kThreads>>>(running, cols, weights);
    return launched("splade_weights");
}

int splade_cuda_splade_pool_backward(const float *dweights, const float *running, const int32_t *argmax, int cols,
                                     int h, const float *decoder, const float *hidden, float *dhidden,
                                     float *ddecoder, float *dbias) {
    SPLADE_REQUIRE(cols > 0 && h > 0, "bad pooling size");
    pool_backward_kernel<<<cols, h < 256 ? ((h + 31) / 32) * 32 : 256>>>(dweights, running, argmax, h, decoder, hidden,
                                                                       dhidden, ddecoder, dbias);
    return launched("splade_pool_backward");
}

}  // extern "C"
