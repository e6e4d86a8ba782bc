// Block-wide sums for kernels that run one block per row (blockDim.x a multiple of 32, ≤ 1024).
#pragma once

namespace splade_cuda {
template <typename T> __device__ inline T warp_sum(T value) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}
template <typename T> __device__ inline T warp_max(T value) {
    for (int offset = 16; offset > 0; offset >>= 1) value = max(value, __shfl_down_sync(0xffffffffu, value, offset));
    return value;
}
// The sum over the block, returned to every thread. `scratch` holds 32 values.
template <typename T> __device__ inline T block_sum(T value, T *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    value = warp_sum(value);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = threadIdx.x < warps ? scratch[threadIdx.x] : T(0);
    if (warp == 0) value = warp_sum(value);
    if (threadIdx.x == 0) scratch[0] = value;
    __syncthreads();
    return scratch[0];
}
template <typename T> __device__ inline T block_max(T value, T *scratch, T lowest) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    value = warp_max(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = threadIdx.x < warps ? scratch[threadIdx.x] : lowest;
    if (warp == 0) value = warp_max(value);
    if (threadIdx.x == 0) scratch[0] = value;
    __syncthreads();
    return scratch[0];
}
}  // namespace splade_cuda
