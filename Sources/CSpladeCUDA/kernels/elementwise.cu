// Element-wise kernels: bias rows, embeddings and their backward, GELU and its backward, sums, dropout,
// bfloat16 conversion, column sums, AdamW.
// Built with --fmad=false so products and sums round as the CPU code (Swift does not contract).
#include <mutex>

#include "common.cuh"
#include "reduce.cuh"

using namespace splade_cuda;

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

template <typename Element>
static __global__ void fill_rows_kernel(Element *y, const Element *bias, int rows, int cols) {
    GRID_STRIDE(i, (size_t)rows * cols) y[i] = bias[i % cols];
}

static __global__ void embed_kernel(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                                    const float *position, const float *token_type, float *x) {
    GRID_STRIDE(i, (size_t)tokens * h) {
        size_t t = i / h, j = i % h;
        x[i] = word[(size_t)ids[t] * h + j] + position[(size_t)positions[t] * h + j] + token_type[j];
    }
}

// Tokens sharing an id (or a position, across the sequences of a batch) add into the same row, hence the atomics.
static __global__ void embed_backward_kernel(const int32_t *ids, const int32_t *positions, int tokens, int h,
                                             const float *dx, float *dword, float *dposition) {
    GRID_STRIDE(i, (size_t)tokens * h) {
        size_t t = i / h, j = i % h;
        atomicAdd(dword + (size_t)ids[t] * h + j, dx[i]);
        atomicAdd(dposition + (size_t)positions[t] * h + j, dx[i]);
    }
}

static __device__ inline float gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

struct Gelu {
    __device__ float operator()(float v) const { return gelu(v); }
};
struct GeluBF16 {
    __device__ uint16_t operator()(uint16_t bits) const { return bfloat16_bits(gelu(bfloat16_value(bits))); }
};

// y[i] = f(x[i]) for i < count (y may be x), 16 bytes a thread where x and y lie alike modulo 16 (memory-bound maps
// reach the bandwidth only with wide accesses): `head` elements one at a time up to x's first 16-byte boundary, then
// `vectors` chunks of 16 bytes, then the rest one at a time.
template <typename Element, typename Map>
static __global__ void map_kernel(const Element *x, Element *y, size_t count, size_t head, size_t vectors, Map f) {
    constexpr int kPerVector = 16 / sizeof(Element);
    GRID_STRIDE(v, vectors) {
        Chunk16<Element> chunk;
        chunk.vector = reinterpret_cast<const uint4 *>(x + head)[v];
#pragma unroll
        for (int k = 0; k < kPerVector; k++) chunk.values[k] = f(chunk.values[k]);
        reinterpret_cast<uint4 *>(y + head)[v] = chunk.vector;
    }
    size_t body_end = head + vectors * kPerVector;
    GRID_STRIDE(i, head + (count - body_end)) {
        size_t at = i < head ? i : body_end + (i - head);
        y[at] = f(x[at]);
    }
}

template <typename Element, typename Map>
static int map(const char *what, const Element *x, Element *y, size_t count, Map f) {
    constexpr size_t kPerVector = 16 / sizeof(Element);
    size_t head = (16 - (uintptr_t)x % 16) % 16 / sizeof(Element), vectors = 0;
    if (((uintptr_t)y - (uintptr_t)x) % 16 == 0 && head <= count)
        vectors = (count - head) / kPerVector;
    else
        head = 0;  // not aligned alike, or fewer elements than the head: one element at a time
    size_t threads = vectors > 0 ? vectors : count;
    map_kernel<<<blocks_for(threads), kThreads>>>(x, y, count, head, vectors, f);
    return launched(what);
}

// The forward input as float32: as stored, or a bfloat16 widened.
static __device__ inline float input(const float *x, size_t i) { return x[i]; }
static __device__ inline float input(const uint16_t *x, size_t i) { return bfloat16_value(x[i]); }

template <typename Input>
static __global__ void gelu_backward_kernel(const float *dy, const Input *x, size_t count, float *dx) {
    GRID_STRIDE(i, count) {
        float v = input(x, i);
        float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        float pdf = expf(-0.5f * v * v) * 0.39894228040143268f;
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

static __global__ void add_kernel(float *y, const float *x, size_t count) {
    GRID_STRIDE(i, count) y[i] += x[i];
}

static __global__ void to_bf16_kernel(const float *x, size_t count, uint16_t *y) {
    GRID_STRIDE(i, count) y[i] = bfloat16_bits(x[i]);
}

static __global__ void from_bf16_kernel(const uint16_t *x, size_t count, float *y) {
    GRID_STRIDE(i, count) y[i] = bfloat16_value(x[i]);
}

// The padded layout's rows back to the packed one (splade_cuda_unpad_rows_bf16), a warp a padded row: row r of
// sequence s is packed row starts[s] + r when r < L_s (and that row is below tokens); 16 bytes a lane when `vectors`.
constexpr int kUnpadWarps = 8;
static __global__ void __launch_bounds__(32 * kUnpadWarps)
    unpad_rows_kernel(const uint16_t *padded, int padded_length, const int32_t *starts, int sequences, int tokens,
                      int width, bool vectors, uint16_t *packed) {
    const int lane = threadIdx.x & 31;
    const long long rows = (long long)sequences * padded_length, warps = (long long)gridDim.x * kUnpadWarps;
    for (long long row = blockIdx.x * kUnpadWarps + (threadIdx.x >> 5); row < rows; row += warps) {
        int s = (int)(row / padded_length), t = starts[s] + (int)(row % padded_length);
        if (t >= starts[s + 1] || t >= tokens) continue;
        const uint16_t *from = padded + (size_t)row * width;
        uint16_t *to = packed + (size_t)t * width;
        if (vectors) {
            const uint4 *source = reinterpret_cast<const uint4 *>(from);
            for (int j = lane; j < width / 8; j += 32) reinterpret_cast<uint4 *>(to)[j] = source[j];
        } else {
            for (int j = lane; j < width; j += 32) to[j] = from[j];
        }
    }
}

static __global__ void dropout_kernel(float *x, size_t count, uint64_t seed, uint64_t counter, float probability,
                                      float keep) {
    GRID_STRIDE(i, count) x[i] *= dropout_factor(seed, counter + i, probability, keep);
}

static __global__ void scale_kernel(float *x, size_t count, float factor) {
    GRID_STRIDE(i, count) x[i] *= factor;
}

// Column sums, a chunk of rows at a time, added atomically: out[j] += Σ_r a[r][j] (· b[r][j] when b is given).
// Block row y takes chunks y, y + gridDim.y, …: gridDim.y is at most 65535, fewer than the chunks of 4.2M rows.
static constexpr int kRowsPerChunk = 64;
static constexpr unsigned kMaxChunkBlocks = 65535;
static __global__ void column_sums_kernel(const float *a, const float *b, int rows, int cols, float *out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    for (size_t first = (size_t)blockIdx.y * kRowsPerChunk; first < (size_t)rows; first += (size_t)gridDim.y * kRowsPerChunk) {
        size_t last = min((size_t)rows, first + kRowsPerChunk);
        float sum = 0;
        for (size_t r = first; r < last; r++) sum += b ? a[r * cols + j] * b[r * cols + j] : a[r * cols + j];
        atomicAdd(out + j, sum);
    }
}

namespace splade_cuda {
// The bias rows of a bfloat16 Linear's output, onto which its fallback product accumulates (beta = 1).
int fill_rows_bf16(uint16_t *y, const uint16_t *bias, int rows, int cols) {
    fill_rows_kernel<<<blocks_for((size_t)rows * cols), kThreads>>>(y, bias, rows, cols);
    return launched("fill_rows_bf16");
}

int column_sums(const float *a, const float *b, int rows, int cols, float *out) {
    if (rows == 0 || cols == 0) return SPLADE_CUDA_OK;
    size_t chunks = ((size_t)rows + kRowsPerChunk - 1) / kRowsPerChunk;
    dim3 grid((cols + kThreads - 1) / kThreads, (unsigned)(chunks < kMaxChunkBlocks ? chunks : kMaxChunkBlocks));
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
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols >= 0, "negative size");
    if ((size_t)rows * cols == 0) return SPLADE_CUDA_OK;
    fill_rows_kernel<<<blocks_for((size_t)rows * cols), kThreads>>>(y, bias, rows, cols);
    return launched("fill_rows");
}

int splade_cuda_embed(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *word,
                      const float *position, const float *token_type, float *x) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(tokens >= 0 && h > 0, "bad size");
    if (tokens == 0) return SPLADE_CUDA_OK;
    embed_kernel<<<blocks_for((size_t)tokens * h), kThreads>>>(ids, positions, tokens, h, word, position, token_type, x);
    return launched("embed");
}

int splade_cuda_embed_backward(const int32_t *ids, const int32_t *positions, int tokens, int h, const float *dx,
                               float *dword, float *dposition, float *dtoken_type) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(tokens >= 0 && h > 0, "bad size");
    if (tokens == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(ids && positions && dx && dword && dposition && dtoken_type, "null pointer");
    embed_backward_kernel<<<blocks_for((size_t)tokens * h), kThreads>>>(ids, positions, tokens, h, dx, dword, dposition);
    if (int code = launched("embed_backward")) return code;
    // Every token adds into the one token-type row: column sums add per chunk of rows, not per token.
    return column_sums(dx, nullptr, tokens, h, dtoken_type);
}

int splade_cuda_gelu_forward(float *x, size_t count) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    return map("gelu_forward", x, x, count, Gelu());
}

int splade_cuda_gelu_bf16(const uint16_t *x, size_t count, uint16_t *y) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && y, "null pointer");
    return map("gelu_bf16", x, y, count, GeluBF16());
}

int splade_cuda_gelu_backward(const float *dy, const float *x, size_t count, float *dx) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    gelu_backward_kernel<<<blocks_for(count), kThreads>>>(dy, x, count, dx);
    return launched("gelu_backward");
}

int splade_cuda_gelu_backward_bf16(const float *dy, const uint16_t *x, size_t count, float *dx) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(dy && x && dx, "null pointer");
    gelu_backward_kernel<<<blocks_for(count), kThreads>>>(dy, x, count, dx);
    return launched("gelu_backward_bf16");
}

int splade_cuda_add(float *y, const float *x, size_t count) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(y && x, "null pointer");
    add_kernel<<<blocks_for(count), kThreads>>>(y, x, count);
    return launched("add");
}

int splade_cuda_unpad_rows_bf16(const uint16_t *padded, int padded_length, const int32_t *starts, int sequences,
                                int tokens, int width, uint16_t *packed) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(padded_length >= 0 && sequences >= 0 && tokens >= 0 && width > 0, "bad unpad_rows_bf16 size");
    if (tokens == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(sequences > 0, "unpad_rows_bf16: rows of no sequence");
    SPLADE_REQUIRE(padded && starts && packed, "null pointer");
    bool vectors = width % 8 == 0 && aligned(padded, 16) && aligned(packed, 16);
    unpad_rows_kernel<<<blocks_for((size_t)sequences * padded_length, kUnpadWarps), 32 * kUnpadWarps>>>(
        padded, padded_length, starts, sequences, tokens, width, vectors, packed);
    return launched("unpad_rows_bf16");
}

int splade_cuda_to_bf16(const float *x, size_t count, uint16_t *y) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && y, "null pointer");
    to_bf16_kernel<<<blocks_for(count), kThreads>>>(x, count, y);
    return launched("to_bf16");
}

int splade_cuda_from_bf16(const uint16_t *x, size_t count, float *y) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && y, "null pointer");
    from_bf16_kernel<<<blocks_for(count), kThreads>>>(x, count, y);
    return launched("from_bf16");
}

int splade_cuda_dropout(float *x, size_t count, uint64_t seed, uint64_t counter, float probability) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(probability >= 0 && probability <= 1, "dropout probability outside [0, 1]");
    if (count == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x, "null pointer");
    dropout_kernel<<<blocks_for(count), kThreads>>>(x, count, seed, counter, probability, dropout_keep(probability));
    return launched("dropout");
}

int splade_cuda_scale(float *x, size_t count, float factor) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    scale_kernel<<<blocks_for(count), kThreads>>>(x, count, factor);
    return launched("scale");
}

int splade_cuda_bias_backward(const float *dy, int rows, int cols, float *dbias) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && cols >= 0, "negative size");
    return column_sums(dy, nullptr, rows, cols, dbias);
}

int splade_cuda_adamw_step(float *p, const float *g, float *m, float *v, size_t count, float lr, float beta1,
                           float beta2, float epsilon, float weight_decay, int decays, float step_size,
                           double correction2_root) {
    SPLADE_ENTER();
    if (count == 0) return SPLADE_CUDA_OK;
    adamw_kernel<<<blocks_for(count), kThreads>>>(p, g, m, v, count, lr, beta1, beta2, epsilon, weight_decay, decays,
                                                  step_size, correction2_root);
    return launched("adamw_step");
}

int splade_cuda_sum_squares(const float *x, size_t count, double *host_sum) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(host_sum, "null host_sum");
    if (count == 0) return SPLADE_CUDA_OK;
    // squares_total is one for the process: reset, sum and read back as one, whichever host threads call.
    static std::mutex total_mutex;
    std::lock_guard<std::mutex> lock(total_mutex);
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
