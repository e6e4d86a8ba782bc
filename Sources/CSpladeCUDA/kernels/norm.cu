// Row kernels: LayerNorm (a warp a row up to 1024 columns, else a block; sums in double, as the CPU), and the block
// softmax of attention scores (one warp per row), forward and backward, with the dropout of attention probabilities.
#include "common.cuh"
#include "reduce.cuh"

#include <mutex>

using namespace splade_cuda;

namespace splade_cuda {
int column_sums(const float *a, const float *b, int rows, int cols, float *out);
}

static __device__ inline float warp_all_max(float value) {
    for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}
// Every lane gets the same bits (each step adds the same two values on both lanes of a pair).
template <typename T> static __device__ inline T warp_all_sum(T value) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

static __global__ void layernorm_forward_kernel(float *x, int cols, const float *residual, const float *weight,
                                                const float *bias, float epsilon, float *normalized,
                                                float *inverse_std, uint16_t *copy) {
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
        float y = xhat * weight[j] + bias[j];
        row[j] = y;
        if (copy) copy[r * cols + j] = bfloat16_bits(y);
    }
}

// LayerNorm of rows of up to kNormCached floats, a multiple of 4, a warp a row: the row held in registers as
// 4-float chunks (lane `lane` takes chunks lane, lane + 32, …), read once (with its residual) and written once, the
// two sums in double over the warp. The same results as layernorm_forward_kernel up to the order of the double sums.
constexpr int kNormChunks = 8;
constexpr int kNormCached = 32 * kNormChunks * 4;  // 1024 columns: BERT-large's
constexpr int kNormWarps = 4;
static __device__ inline float4 operator+(float4 a, float4 b) { return {a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w}; }

static __global__ void __launch_bounds__(32 * kNormWarps)
    layernorm_rows_kernel(float *x, int rows, int cols, const float *residual, const float *weight, const float *bias,
                          float epsilon, float *normalized, float *inverse_std, uint16_t *copy) {
    const int lane = threadIdx.x & 31, chunks = cols / 4;
    for (long long r = blockIdx.x * kNormWarps + (threadIdx.x >> 5); r < rows; r += (long long)gridDim.x * kNormWarps) {
        float4 *row = reinterpret_cast<float4 *>(x + r * cols);
        float4 v[kNormChunks];
        double sum = 0;
#pragma unroll
        for (int i = 0; i < kNormChunks; i++) {
            int c = lane + 32 * i;
            if (c >= chunks) continue;
            v[i] = row[c];
            if (residual) v[i] = v[i] + reinterpret_cast<const float4 *>(residual + r * cols)[c];
            sum += (double)v[i].x + (double)v[i].y + (double)v[i].z + (double)v[i].w;
        }
        double mean = warp_all_sum(sum) / cols, squares = 0;
#pragma unroll
        for (int i = 0; i < kNormChunks; i++) {
            if (lane + 32 * i >= chunks) continue;
            double dx = (double)v[i].x - mean, dy = (double)v[i].y - mean, dz = (double)v[i].z - mean,
                   dw = (double)v[i].w - mean;
            squares += dx * dx + dy * dy + dz * dz + dw * dw;
        }
        squares = warp_all_sum(squares);
        float inverse = (float)(1 / sqrt(squares / cols + (double)epsilon)), m = (float)mean;
        if (inverse_std && lane == 0) inverse_std[r] = inverse;
#pragma unroll
        for (int i = 0; i < kNormChunks; i++) {
            int c = lane + 32 * i;
            if (c >= chunks) continue;
            float4 xhat = {(v[i].x - m) * inverse, (v[i].y - m) * inverse, (v[i].z - m) * inverse,
                           (v[i].w - m) * inverse};
            if (normalized) reinterpret_cast<float4 *>(normalized + r * cols)[c] = xhat;
            float4 g = reinterpret_cast<const float4 *>(weight)[c], b = reinterpret_cast<const float4 *>(bias)[c];
            float4 y = {xhat.x * g.x + b.x, xhat.y * g.y + b.y, xhat.z * g.z + b.z, xhat.w * g.w + b.w};
            row[c] = y;
            if (copy)  // 4 bfloat16, the first in the low half of the first word (little-endian)
                reinterpret_cast<uint2 *>(copy + r * cols)[c] = {
                    bfloat16_bits(y.x) | (uint32_t)bfloat16_bits(y.y) << 16,
                    bfloat16_bits(y.z) | (uint32_t)bfloat16_bits(y.w) << 16};
        }
    }
}

// Threads per row block: enough for the row, a multiple of 32, at most 256.
static int row_threads(int cols) {
    int threads = ((cols + 31) / 32) * 32;
    return threads < 32 ? 32 : (threads > 256 ? 256 : threads);
}

// LayerNorm forward: a warp a row where the row fits layernorm_rows_kernel and every array is aligned for its vector
// accesses, else a block a row.
static void layernorm_forward(float *x, int rows, int cols, const float *residual, const float *weight,
                              const float *bias, float epsilon, float *normalized, float *inverse_std, uint16_t *copy) {
    if (cols % 4 == 0 && cols <= kNormCached && aligned(x, 16) && aligned(residual, 16) && aligned(weight, 16) &&
        aligned(bias, 16) && aligned(normalized, 16) && aligned(copy, 8))
        layernorm_rows_kernel<<<blocks_for((size_t)rows, kNormWarps), 32 * kNormWarps>>>(
            x, rows, cols, residual, weight, bias, epsilon, normalized, inverse_std, copy);
    else
        layernorm_forward_kernel<<<rows, row_threads(cols)>>>(x, cols, residual, weight, bias, epsilon, normalized,
                                                              inverse_std, copy);
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

// ---- Block softmax: the attention scores of a packed batch, one launch --------------------------------------
//
// Block s holds heads L_s×L_s matrices, matrix h at x + offsets[s] + h·splade_cuda_head_stride(L_s). A first kernel
// (one thread block) writes the packed number of each block's first row, a prefix sum of heads·L_s, into a scratch
// kept by the library; the row kernel then gives each row a warp, which finds its block by binary search over those
// starts. Rows of up to kCachedRow floats stay in registers (one read and one write of the row); longer ones are
// walked three times.
// Same numerics as a row at a time: the maximum subtracted, expf, float sums (per lane in order, then a tree),
// the exponentials scaled by 1/sum. Only the packed rows below total_rows are touched (a smaller total_rows
// leaves the later rows as they are; blocks with L_s ≤ 0 have no rows), and nothing between the matrices.
constexpr int kRowWarps = 8;                        // rows (warps) per thread block
constexpr int kCachedPerLane = 16;                  // floats per lane held in registers
constexpr int kCachedRow = 32 * kCachedPerLane;     // 512: BERT's longest sequence

// starts[s] = Σ_{t<s} heads·max(L_t, 0), for s < blocks; one block of 1024 threads, 1024 lengths at a time.
static __global__ void block_row_starts_kernel(const int32_t *lengths, int blocks, int heads, long long *starts) {
    __shared__ long long warp_sums[32];
    __shared__ long long carry;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (threadIdx.x == 0) carry = 0;
    __syncthreads();
    for (int base = 0; base < blocks; base += blockDim.x) {
        int s = base + threadIdx.x;
        int length = s < blocks ? lengths[s] : 0;
        long long rows = length > 0 ? (long long)heads * length : 0, sum = rows;
        for (int offset = 1; offset < 32; offset <<= 1) {
            long long other = __shfl_up_sync(0xffffffffu, sum, offset);
            if (lane >= offset) sum += other;
        }
        if (lane == 31) warp_sums[warp] = sum;
        __syncthreads();
        if (warp == 0) {
            long long total = lane < warps ? warp_sums[lane] : 0;
            for (int offset = 1; offset < 32; offset <<= 1) {
                long long other = __shfl_up_sync(0xffffffffu, total, offset);
                if (lane >= offset) total += other;
            }
            if (lane < warps) warp_sums[lane] = total;
        }
        __syncthreads();
        long long before = carry + (warp > 0 ? warp_sums[warp - 1] : 0) + sum - rows;
        if (s < blocks) starts[s] = before;
        __syncthreads();  // everyone has read carry and warp_sums
        if (threadIdx.x == blockDim.x - 1) carry = before + rows;
        __syncthreads();
    }
}

// Where a row of the packed batch lies: its block, its number in the block (h·L + r), its length and its first element.
struct BlockRow {
    int block;
    long long local;
    int length;
    long long at;
};

// The row `row` of the packed batch, or false for a row past the blocks.
static __device__ inline bool find_row(const long long *offsets, const int32_t *lengths, const long long *starts,
                                       int blocks, int heads, long long row, BlockRow *found) {
    int low = last_start_at_or_before(starts, blocks, row);  // starts[low] ≤ row < starts[low + 1]
    int l = lengths[low];
    long long local = row - (low == 0 ? 0 : starts[low]);
    if (l <= 0 || local >= (long long)heads * l) return false;
    *found = {low, local, l, offsets[low] + local / l * splade_cuda_head_stride(l) + local % l * l};
    return true;
}

#define FOR_CACHED(i, j)                              \
    _Pragma("unroll") for (int i = 0; i < kCachedPerLane; i++) \
        if (int j = lane + 32 * i; j < length)

// Calls row(found, lane) for each packed row of the batch this warp takes (rows grid-strided over the warps);
// a row past the blocks is skipped by the whole warp.
template <typename Row>
static __device__ inline void for_each_row(const long long *offsets, const int32_t *lengths, const long long *starts,
                                           int blocks, int heads, int total_rows, Row row) {
    int lane = threadIdx.x & 31, warps = gridDim.x * kRowWarps;
    for (long long r = blockIdx.x * kRowWarps + (threadIdx.x >> 5); r < total_rows; r += warps) {
        BlockRow found;
        if (find_row(offsets, lengths, starts, blocks, heads, r, &found)) row(found, lane);
    }
}

// Scores and probabilities, in place: float32, or bfloat16 (encoding in bf16) widened to float32 and rounded back.
static __device__ inline float load(const float *p) { return *p; }
static __device__ inline float load(const uint16_t *p) { return bfloat16_value(*p); }
static __device__ inline void store(float *p, float v) { *p = v; }
static __device__ inline void store(uint16_t *p, float v) { *p = bfloat16_bits(v); }

// One row's softmax in place, by the warp whose lane this is: p_j = exp(x_j − max x)/Σ exp(x_k − max x), j < length.
template <typename Element> static __device__ inline void softmax_row(Element *r, int length, int lane) {
    if (length <= kCachedRow) {
        float v[kCachedPerLane], maximum = -INFINITY, sum = 0;
        FOR_CACHED(i, j) maximum = fmaxf(maximum, v[i] = load(r + j));
        maximum = warp_all_max(maximum);
        FOR_CACHED(i, j) sum += v[i] = expf(v[i] - maximum);
        float inverse = 1 / warp_all_sum(sum);
        FOR_CACHED(i, j) store(r + j, v[i] * inverse);
    } else {  // the exponentials computed twice rather than stored (each lane rewrites only what it last read)
        float maximum = -INFINITY, sum = 0;
        for (int j = lane; j < length; j += 32) maximum = fmaxf(maximum, load(r + j));
        maximum = warp_all_max(maximum);
        for (int j = lane; j < length; j += 32) sum += expf(load(r + j) - maximum);
        float inverse = 1 / warp_all_sum(sum);
        for (int j = lane; j < length; j += 32) store(r + j, expf(load(r + j) - maximum) * inverse);
    }
}

template <typename Element>
static __global__ void __launch_bounds__(32 * kRowWarps)
    softmax_blocks_kernel(Element *x, const long long *offsets, const int32_t *lengths, const long long *starts,
                          int blocks, int heads, int total_rows) {
    for_each_row(offsets, lengths, starts, blocks, heads, total_rows,
                 [&](BlockRow row, int lane) { softmax_row(x + row.at, row.length, lane); });
}

// A padded row of up to 256·Chunks bfloat16 held by a warp, 16 bytes (8 values) a load: lane `lane` takes 8-value
// chunks lane, lane + 32, … The softmax of the first `valid` (> 0) values, zeros after them. The kernel is bound by
// instruction issue as much as by memory, so each value costs as few as it can: every load is issued before any
// value is used (the whole row in flight at once), the values past `valid` are masked as −∞ rather than branched
// around (their exponential adds an exact 0 to the sum where the maximum is finite; where it is not, the row is NaN
// either way), and the exponential is the hardware's 2^x approximation
// (__expf: a product by log2 e and MUFU.EX2, relative error ~1e-6, far below bfloat16's 4e-3; a result below 2^-126
// flushed to 0 is below bfloat16's resolution of the sum, which is ≥ 1). Each lane sums its chunks' values in order,
// so the float sums, and rarely a rounded probability, differ from softmax_row's.
template <int Chunks> static __device__ inline void softmax_padded_row(uint16_t *r, int padded, int valid, int lane) {
    const int chunks = padded / 8;
    uint4 *row = reinterpret_cast<uint4 *>(r);
    Chunk16<uint16_t> raw[Chunks];
#pragma unroll
    for (int i = 0; i < Chunks; i++) {
        int c = lane + 32 * i;
        raw[i].vector = c < chunks && c * 8 < valid ? row[c] : uint4{};
    }
    float v[Chunks][8], maximum = -INFINITY, sum = 0;
#pragma unroll
    for (int i = 0; i < Chunks; i++)
#pragma unroll
        for (int k = 0; k < 8; k++)
            maximum = fmaxf(maximum, v[i][k] = (lane + 32 * i) * 8 + k < valid ? bfloat16_value(raw[i].values[k]) : -INFINITY);
    maximum = warp_all_max(maximum);
#pragma unroll
    for (int i = 0; i < Chunks; i++)
#pragma unroll
        for (int k = 0; k < 8; k++) sum += v[i][k] = __expf(v[i][k] - maximum);
    const float inverse = 1 / warp_all_sum(sum);
#pragma unroll
    for (int i = 0; i < Chunks; i++) {
        int c = lane + 32 * i;
        if (c >= chunks) break;
        Chunk16<uint16_t> chunk;
#pragma unroll
        for (int k = 0; k < 8; k++) {  // each value rounded, then the masked ones zeroed by a select (no branch)
            uint16_t bits = bfloat16_bits(v[i][k] * inverse);
            chunk.values[k] = c * 8 + k < valid ? bits : 0;
        }
        row[c] = chunk.vector;
    }
}

// The padded layout's rows (splade_cuda_softmax_padded_bf16), a warp each: row r of a block of length L is the softmax
// of its first L entries then zeros when r < L, else zeros (so that P·V over all `padded` columns is exact). Chunks > 0:
// rows of a multiple of 8 values up to 256·Chunks, 16-byte aligned, in registers (softmax_padded_row); Chunks = 0: any
// row, as softmax_row. Row numbers as Index: 32-bit where they fit (a 64-bit division costs a warp ~70 instructions
// a row).
template <int Chunks, typename Index>
static __global__ void __launch_bounds__(32 * kRowWarps)
    softmax_padded_kernel(uint16_t *x, const int32_t *lengths, Index heads, Index padded, Index rows) {
    const int lane = threadIdx.x & 31;
    const Index warps = (Index)gridDim.x * kRowWarps, per_block = heads * padded;
    for (Index row = (Index)blockIdx.x * kRowWarps + (threadIdx.x >> 5); row < rows; row += warps) {
        int length = lengths[row / per_block];
        int valid = row % padded < (Index)max(length, 0) ? min(length, (int)padded) : 0;
        uint16_t *r = x + (size_t)row * padded;
        if constexpr (Chunks > 0) {
            if (valid > 0) softmax_padded_row<Chunks>(r, padded, valid, lane);
            else  // a padding row (the whole warp's)
                for (int c = lane; c < (int)padded / 8; c += 32) reinterpret_cast<uint4 *>(r)[c] = uint4{};
        } else {
            if (valid > 0) softmax_row(r, valid, lane);
            for (int j = valid + lane; j < (int)padded; j += 32) r[j] = 0;
        }
    }
}

// dP ← P ⊙ (dP − Σ dP ⊙ P), row by row.
static __global__ void __launch_bounds__(32 * kRowWarps)
    softmax_backward_blocks_kernel(const float *p, float *dp, const long long *offsets, const int32_t *lengths,
                                   const long long *starts, int blocks, int heads, int total_rows) {
    for_each_row(offsets, lengths, starts, blocks, heads, total_rows, [&](BlockRow row, int lane) {
        const float *pr = p + row.at;
        float *g = dp + row.at;
        int length = row.length;
        float dot = 0;
        if (length <= kCachedRow) {
            float pv[kCachedPerLane], gv[kCachedPerLane];
            FOR_CACHED(i, j) {
                pv[i] = pr[j];
                gv[i] = g[j];
                dot += gv[i] * pv[i];
            }
            dot = warp_all_sum(dot);
            FOR_CACHED(i, j) g[j] = pv[i] * (gv[i] - dot);
        } else {
            for (int j = lane; j < length; j += 32) dot += g[j] * pr[j];
            dot = warp_all_sum(dot);
            for (int j = lane; j < length; j += 32) g[j] = pr[j] * (g[j] - dot);
        }
    });
}
#undef FOR_CACHED

// Dropout of attention probabilities in place: each row's elements take the draws they would have in the blocks packed
// without gaps (the CPU's layout), from draws[block] + local·L on.
static __global__ void __launch_bounds__(32 * kRowWarps)
    dropout_blocks_kernel(float *x, const long long *offsets, const long long *draws, const int32_t *lengths,
                          const long long *starts, int blocks, int heads, int total_rows, uint64_t seed,
                          uint64_t counter, float probability, float keep) {
    for_each_row(offsets, lengths, starts, blocks, heads, total_rows, [&](BlockRow row, int lane) {
        uint64_t first = counter + (uint64_t)draws[row.block] + (uint64_t)(row.local * row.length);
        for (int j = lane; j < row.length; j += 32) x[row.at + j] *= dropout_factor(seed, first + j, probability, keep);
    });
}

static std::mutex row_starts_mutex;  // the scratch, and the order of its writes and reads on the stream
static Scratch row_starts;

// Checks the arguments, writes the blocks' row starts (none needed for one block) and has `launch` queue the row
// kernel, holding the scratch's lock until both launches are queued.
template <typename Launch>
static int block_rows(const char *what, const void *x, const void *y, const long long *offsets, const int32_t *lengths,
                      int blocks, int heads, int total_rows, Launch launch) {
    SPLADE_ENTER();
    if (blocks < 0 || heads <= 0 || total_rows < 0)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: bad size (blocks=%d heads=%d total_rows=%d)", what, blocks, heads,
                    total_rows);
    if (total_rows == 0) return SPLADE_CUDA_OK;
    if (blocks == 0) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: %d rows in no block", what, total_rows);
    if (!x || !y || !offsets || !lengths) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: null pointer", what);
    std::lock_guard<std::mutex> lock(row_starts_mutex);
    const long long *starts = nullptr;
    if (blocks > 1) {
        if (int code = reserve(row_starts, (size_t)blocks * sizeof(long long), "block softmax: cudaMalloc")) return code;
        starts = (const long long *)row_starts.pointer;
        block_row_starts_kernel<<<1, 1024>>>(lengths, blocks, heads, (long long *)row_starts.pointer);
        if (int code = launched("block_row_starts")) return code;
    }
    unsigned grid = blocks_for((size_t)total_rows, kRowWarps);
    launch(grid, starts);
    return launched(what);
}

// The block softmax in place over float32 or bfloat16 scores.
template <typename Element>
static int softmax_blocks(const char *what, Element *x, const long long *offsets, const int32_t *lengths, int blocks,
                          int heads, int total_rows) {
    return block_rows(what, x, x, offsets, lengths, blocks, heads, total_rows, [&](unsigned grid, const long long *starts) {
        softmax_blocks_kernel<<<grid, 32 * kRowWarps>>>(x, offsets, lengths, starts, blocks, heads, total_rows);
    });
}

extern "C" {

int splade_cuda_layernorm_forward(float *x, int rows, int cols, const float *residual, const float *weight,
                                  const float *bias, float epsilon, float *normalized, float *inverse_std) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0 && weight && bias, "bad LayerNorm arguments");
    if (rows == 0) return SPLADE_CUDA_OK;
    layernorm_forward(x, rows, cols, residual, weight, bias, epsilon, normalized, inverse_std, nullptr);
    return launched("layernorm_forward");
}

int splade_cuda_layernorm_forward_bf16(float *x, int rows, int cols, const float *residual, const float *weight,
                                       const float *bias, float epsilon, uint16_t *copy) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0 && weight && bias, "bad LayerNorm arguments");
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && copy, "null pointer");
    layernorm_forward(x, rows, cols, residual, weight, bias, epsilon, nullptr, nullptr, copy);
    return launched("layernorm_forward_bf16");
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

int splade_cuda_softmax_blocks(float *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                               int total_rows) {
    return softmax_blocks("softmax_blocks", x, offsets, lengths, blocks, heads, total_rows);
}

int splade_cuda_softmax_blocks_bf16(uint16_t *x, const long long *offsets, const int32_t *lengths, int blocks, int heads,
                                    int total_rows) {
    return softmax_blocks("softmax_blocks_bf16", x, offsets, lengths, blocks, heads, total_rows);
}

int splade_cuda_softmax_padded_bf16(uint16_t *x, const int32_t *lengths, int blocks, int heads, int padded) {
    SPLADE_ENTER();
    if (blocks < 0 || heads <= 0 || padded < 0)
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "softmax_padded_bf16: bad size (blocks=%d heads=%d padded=%d)", blocks,
                    heads, padded);
    const long long rows = (long long)blocks * heads * padded;
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && lengths, "null pointer");
    // 16-byte chunks a lane where the rows allow them (a multiple of 8 values up to 1024, aligned), each launch's
    // registers sized to the rows; 64-bit row numbers only where 32 bits cannot hold them.
    const int chunks = padded % 8 == 0 && aligned(x, 16) && padded <= 1024 ? (padded + 255) / 256 : 0;
    const unsigned grid = blocks_for((size_t)rows, kRowWarps), threads = 32 * kRowWarps;
    if (rows > INT32_MAX)
        softmax_padded_kernel<0, long long><<<grid, threads>>>(x, lengths, heads, padded, rows);
    else if (chunks == 1)
        softmax_padded_kernel<1, unsigned><<<grid, threads>>>(x, lengths, heads, padded, rows);
    else if (chunks == 2)
        softmax_padded_kernel<2, unsigned><<<grid, threads>>>(x, lengths, heads, padded, rows);
    else if (chunks > 2)
        softmax_padded_kernel<4, unsigned><<<grid, threads>>>(x, lengths, heads, padded, rows);
    else
        softmax_padded_kernel<0, unsigned><<<grid, threads>>>(x, lengths, heads, padded, rows);
    return launched("softmax_padded_bf16");
}

int splade_cuda_softmax_backward_blocks(const float *p, float *dp, const long long *offsets, const int32_t *lengths,
                                        int blocks, int heads, int total_rows) {
    return block_rows("softmax_backward_blocks", p, dp, offsets, lengths, blocks, heads, total_rows,
                      [&](unsigned grid, const long long *starts) {
                          softmax_backward_blocks_kernel<<<grid, 32 * kRowWarps>>>(p, dp, offsets, lengths, starts,
                                                                                   blocks, heads, total_rows);
                      });
}

int splade_cuda_dropout_blocks(float *x, const long long *offsets, const long long *draws, const int32_t *lengths,
                               int blocks, int heads, int total_rows, uint64_t seed, uint64_t counter,
                               float probability) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(probability >= 0 && probability <= 1, "dropout probability outside [0, 1]");
    SPLADE_REQUIRE(total_rows == 0 || draws, "dropout_blocks: null pointer");
    float keep = dropout_keep(probability);
    return block_rows("dropout_blocks", x, x, offsets, lengths, blocks, heads, total_rows,
                      [&](unsigned grid, const long long *starts) {
                          dropout_blocks_kernel<<<grid, 32 * kRowWarps>>>(x, offsets, draws, lengths, starts, blocks,
                                                                          heads, total_rows, seed, counter,
                                                                          probability, keep);
                      });
}

}  // extern "C"
