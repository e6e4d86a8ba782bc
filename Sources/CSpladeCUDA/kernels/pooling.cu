// SPLADE max pooling: running column maxima per packed sequence with their argmax rows, log1p∘relu, the weights'
// positive entries packed for the host, and the sparse backward.
#include "common.cuh"
#include "reduce.cuh"

using namespace splade_cuda;

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static __global__ void max_reset_kernel(float *running, int32_t *argmax, size_t count) {
    GRID_STRIDE(i, count) {
        running[i] = -INFINITY;
        if (argmax) argmax[i] = -1;
    }
}

// Max pooling of a chunk of packed rows over the sequences (segments) it touches.
//
// A block is 32 consecutive columns (one per lane: a warp reads 128 contiguous bytes of a row, 64 in bfloat16) times
// `blockDim.y` groups of rows: group g walks its contiguous share of the chunk's rows in order, so all of a
// warp's lanes are on the same row and the same segment (no divergence). The share is cut into pieces at the
// segment boundaries; each piece is scanned from −∞ into (max, first row of the max) with strict >.
// A piece strictly inside the share is a whole segment's part of the chunk that no other group sees: the
// thread merges it into running/argmax at once. The first and the last piece of a share may continue in the
// neighbouring groups: they go to shared memory, and one thread per column merges them in row order
// (group 0's first and last, group 1's, …), switching segment where the pieces do and writing back each
// segment it leaves. Merging in row order with strict > gives exactly the sequential scan's result: the first
// row holding the maximum wins (−0 and +0 tie, NaN never wins), as on the CPU.
// No atomics and no scratch memory; the grid covers the columns only (ceil(cols/32) blocks of 32 × up to 8 groups:
// 1024 blocks of 256 threads, a full H200, for 32768 columns), whatever the number of segments, and every
// logit is read exactly once, coalesced, with 16 bytes of loads in flight per thread.
static constexpr int kPoolColumns = 32, kPoolGroups = 8, kPoolRowsPerGroup = 16;

// The segment of packed row `row`: the last k in [0, segments] with starts[k] ≤ row (starts increasing;
// -1 when row < starts[0]). All the lanes of a warp ask for the same row: the loads are broadcasts.
static __device__ inline int segment_of(const int32_t *starts, int segments, int row) {
    int low = 0, high = segments + 1;  // starts[low - 1] ≤ row < starts[high] once low == high
    while (low < high) {
        int middle = (low + high) >> 1;
        if (__ldg(starts + middle) <= row) low = middle + 1;
        else high = middle;
    }
    return low - 1;
}

struct Piece {
    float best;
    int32_t at;
};

// A logit as float32: as stored, or a bfloat16 (inference in bf16) widened exactly.
static __device__ inline float logit(const float *p) { return __ldg(p); }
static __device__ inline float logit(const uint16_t *p) { return bfloat16_value(__ldg(p)); }

// Rows [a, b) (packed numbers) of column j from −∞: the maximum and its first row (−1 if no value beats −∞).
template <typename Logit>
static __device__ inline Piece scan_rows(const Logit *__restrict__ logits, int cols, int first_row, int a, int b, int j) {
    Piece piece = {-INFINITY, -1};
    const Logit *p = logits + (size_t)(a - first_row) * cols + j;
    int r = a;
    // 16 bytes of loads in flight (4 float32 or 8 bfloat16 rows) before their comparisons, in row order.
    constexpr int kRows = 16 / sizeof(Logit);
    for (; r + kRows <= b; r += kRows, p += kRows * (size_t)cols) {
        float v[kRows];
#pragma unroll
        for (int i = 0; i < kRows; i++) v[i] = logit(p + i * (size_t)cols);
#pragma unroll
        for (int i = 0; i < kRows; i++)
            if (v[i] > piece.best) piece = {v[i], r + i};
    }
    for (; r < b; r++, p += cols) {
        float v = logit(p);
        if (v > piece.best) piece = {v, r};
    }
    return piece;
}

template <typename Logit>
static __global__ void max_segments_kernel(const Logit *__restrict__ logits, int rows, int cols, int first_row,
                                           const int32_t *__restrict__ starts, int segments, float *running,
                                           int32_t *argmax) {
    __shared__ Piece heads[kPoolGroups][kPoolColumns], tails[kPoolGroups][kPoolColumns];
    __shared__ int head_segment[kPoolGroups], tail_segment[kPoolGroups];
    int lane = threadIdx.x, group = threadIdx.y, groups = blockDim.y;
    int j = blockIdx.x * kPoolColumns + lane;
    bool column = j < cols;

    // This group's share of the chunk, in packed row numbers, less the rows outside every segment.
    int share = (rows + groups - 1) / groups;
    int a = first_row + min(rows, group * share), b = first_row + min(rows, (group + 1) * share);
    a = max(a, __ldg(starts));
    b = min(b, __ldg(starts + segments));
    int head = -1, tail = -1;
    Piece first = {-INFINITY, -1}, last = {-INFINITY, -1};
    if (a < b) {
        int k = segment_of(starts, segments, a);  // starts[k] ≤ a < starts[k + 1]
        for (;;) {
            int end = min(b, __ldg(starts + k + 1));
            if (end > a) {  // (an empty segment has no piece)
                Piece piece = column ? scan_rows(logits, cols, first_row, a, end, j) : Piece{-INFINITY, -1};
                if (head < 0) {
                    head = k;
                    first = piece;
                } else if (end == b) {
                    tail = k;
                    last = piece;
                } else if (column && piece.best > running[(size_t)k * cols + j]) {
                    running[(size_t)k * cols + j] = piece.best;
                    if (argmax) argmax[(size_t)k * cols + j] = piece.at;
                }
                a = end;
            }
            if (a >= b || ++k >= segments) break;  // (the bound only matters for starts that decrease)
        }
    }
    heads[group][lane] = first;
    tails[group][lane] = last;
    if (lane == 0) {
        head_segment[group] = head;
        tail_segment[group] = tail;
    }
    __syncthreads();
    if (group != 0 || !column) return;

    // The shares' end pieces in row order; a segment's pieces are consecutive in it.
    int current = -1;
    Piece best = {-INFINITY, -1};
    bool changed = false;
    for (int g = 0; g < groups; g++)
        for (int side = 0; side < 2; side++) {
            int k = side ? tail_segment[g] : head_segment[g];
            if (k < 0) continue;
            if (k != current) {
                if (changed) {
                    running[(size_t)current * cols + j] = best.best;
                    if (argmax) argmax[(size_t)current * cols + j] = best.at;
                }
                current = k;
                best.best = running[(size_t)k * cols + j];
                changed = false;
            }
            Piece piece = side ? tails[g][lane] : heads[g][lane];
            if (piece.best > best.best) {
                best = piece;
                changed = true;
            }
        }
    if (changed) {
        running[(size_t)current * cols + j] = best.best;
        if (argmax) argmax[(size_t)current * cols + j] = best.at;
    }
}

static __global__ void weights_kernel(const float *running, size_t count, float *weights) {
    GRID_STRIDE(i, count) weights[i] = running[i] > 0 ? log1pf(running[i]) : 0;
}

// One block per entry with a gradient (grid-strided over the entries). Entries of different sequences may share a
// column (ddecoder and dbias rows) and columns may share an argmax token (dhidden rows): everything is added
// atomically.
static __global__ void pool_backward_kernel(const long long *entries, const float *dweights, size_t count, int cols,
                                            int h, const float *running, const int32_t *argmax, const float *decoder,
                                            const float *hidden, float *dhidden, float *ddecoder, float *dbias) {
    for (size_t k = blockIdx.x; k < count; k += gridDim.x) {
        long long e = entries[k];
        float maximum = running[e];
        if (!(maximum > 0)) continue;
        float gradient = dweights[k] / (1 + maximum);
        size_t j = (size_t)(e % cols), r = (size_t)argmax[e];
        if (threadIdx.x == 0) atomicAdd(dbias + j, gradient);
        for (int c = threadIdx.x; c < h; c += blockDim.x) {
            atomicAdd(dhidden + r * h + c, gradient * decoder[j * h + c]);
            atomicAdd(ddecoder + j * h + c, gradient * hidden[r * h + c]);
        }
    }
}

// The rows' positive entries counted (count_positive: each row cut into parts of kCountColumns, a block a part, the
// parts' counts added atomically onto zeroed counts, so that a batch of a few dozen rows still fills the GPU), then
// written in column order at the row's offset (compact_positive, a block of kCompactThreads a row). The compaction
// walks the row a tile of blockDim.x columns at a time, coalesced: a warp ballot ranks each positive entry within
// its warp, the warps' totals (in shared memory) rank it within the tile, and the tiles' totals accumulate into the
// row's running position.
constexpr int kCountColumns = 4096, kCompactThreads = 1024;

static __global__ void count_positive_kernel(const float *__restrict__ x, int cols, int32_t *counts) {
    __shared__ int scratch[32];
    const float *row = x + (size_t)blockIdx.x * cols;
    int part = blockIdx.y, n = 0, end = min(cols, (part + 1) * kCountColumns);
    for (int j = part * kCountColumns + threadIdx.x; j < end; j += blockDim.x) n += __ldg(row + j) > 0.f;
    n = block_sum(n, scratch);
    if (threadIdx.x == 0) atomicAdd(counts + blockIdx.x, n);
}

static __global__ void __launch_bounds__(kCompactThreads)
    compact_positive_kernel(const float *__restrict__ x, int cols, const long long *offsets, int32_t *indices,
                            float *values) {
    __shared__ int warp_totals[32];
    const float *row = x + (size_t)blockIdx.x * cols;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    long long position = offsets[blockIdx.x];
    for (int tile = 0; tile < cols; tile += blockDim.x) {  // the same trips for every thread of the block
        int j = tile + threadIdx.x;
        float v = j < cols ? __ldg(row + j) : 0.f;
        bool positive = v > 0.f;
        unsigned ballot = __ballot_sync(0xffffffffu, positive);
        if (lane == 0) warp_totals[warp] = __popc(ballot);
        __syncthreads();
        int rank = __popc(ballot & ((1u << lane) - 1u)), total = 0;
        for (int w = 0; w < warps; w++) {
            int n = warp_totals[w];
            if (w < warp) rank += n;
            total += n;
        }
        if (positive) {
            indices[position + rank] = j;
            values[position + rank] = v;
        }
        position += total;
        __syncthreads();  // warp_totals is rewritten by the next tile
    }
}

// The checks and the launch of max_segments_kernel, for float32 or bfloat16 logits.
template <typename Logit>
static int max_segments(const char *what, const Logit *logits, int rows, int cols, int first_row,
                        const int32_t *segment_starts, int segments, float *running, int32_t *argmax) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0 && segments > 0 && segments < INT32_MAX && first_row >= 0 &&
                       (long long)first_row + rows <= INT32_MAX,
                   "bad pooling size");
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(logits && segment_starts && running, "null pointer");
    // Enough rows per group that the merge stays small next to the scan; 8 groups (256 threads) from 128 rows.
    int groups = (rows + kPoolRowsPerGroup - 1) / kPoolRowsPerGroup;
    groups = groups > kPoolGroups ? kPoolGroups : groups;
    dim3 block(kPoolColumns, groups);
    unsigned grid = (unsigned)(((size_t)cols + kPoolColumns - 1) / kPoolColumns);
    max_segments_kernel<<<grid, block>>>(logits, rows, cols, first_row, segment_starts, segments, running, argmax);
    return launched(what);
}

extern "C" {

int splade_cuda_splade_max_reset(float *running, int32_t *argmax, size_t count) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(running, "null pointer");
    max_reset_kernel<<<blocks_for(count), kThreads>>>(running, argmax, count);
    return launched("splade_max_reset");
}

int splade_cuda_splade_max_segments(const float *logits, int rows, int cols, int first_row, const int32_t *segment_starts,
                                    int segments, float *running, int32_t *argmax) {
    return max_segments("splade_max_segments", logits, rows, cols, first_row, segment_starts, segments, running, argmax);
}

int splade_cuda_splade_max_segments_bf16(const uint16_t *logits, int rows, int cols, int first_row,
                                         const int32_t *segment_starts, int segments, float *running, int32_t *argmax) {
    return max_segments("splade_max_segments_bf16", logits, rows, cols, first_row, segment_starts, segments, running,
                        argmax);
}

int splade_cuda_splade_weights(const float *running, size_t count, float *weights) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(running && weights, "null pointer");
    weights_kernel<<<blocks_for(count), kThreads>>>(running, count, weights);
    return launched("splade_weights");
}

int splade_cuda_count_positive(const float *x, int rows, int cols, int32_t *counts) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0, "bad size");
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && counts, "null pointer");
    if (cudaMemset(counts, 0, (size_t)rows * sizeof *counts) != cudaSuccess)
        return launched("count_positive: zeroing the counts");  // cudaMemset's error, as the last one
    count_positive_kernel<<<dim3(rows, (cols + kCountColumns - 1) / kCountColumns), kThreads>>>(x, cols, counts);
    return launched("count_positive");
}

int splade_cuda_compact_positive(const float *x, int rows, int cols, const long long *offsets, int32_t *indices,
                                 float *values) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols > 0, "bad size");
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && offsets && indices && values, "null pointer");
    compact_positive_kernel<<<rows, kCompactThreads>>>(x, cols, offsets, indices, values);
    return launched("compact_positive");
}

int splade_cuda_splade_pool_backward(const long long *entries, const float *dweights, int count, int cols, int h,
                                     const float *running, const int32_t *argmax, const float *decoder,
                                     const float *hidden, float *dhidden, float *ddecoder, float *dbias) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(count >= 0 && cols > 0 && h > 0, "bad pooling size");
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(entries && dweights && running && argmax && decoder && hidden && dhidden && ddecoder && dbias,
                   "null pointer");
    unsigned blocks = count < 65535 * 16 ? (unsigned)count : 65535u * 16;
    pool_backward_kernel<<<blocks, h < 256 ? ((h + 31) / 32) * 32 : 256>>>(entries, dweights, (size_t)count, cols, h,
                                                                         running, argmax, decoder, hidden, dhidden,
                                                                         ddecoder, dbias);
    return launched("splade_pool_backward");
}

}  // extern "C"
