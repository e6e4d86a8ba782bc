/*
 * kernel-check: every kernel of libsplade_cuda against its host emulation, with no Swift toolchain.
 *
 *   cc -O2 -std=c11 -o kernel-check tests/cuda/kernel-check.c -ldl -lm
 *   kernel-check REAL_LIB EMULATION_LIB [--quick]
 *
 * Both libraries implement Sources/CSpladeCUDA/include/splade_cuda.h. The emulation (`make cuda-host`,
 * Sources/CSpladeCUDA/host/emulation.c) is the reference: it is verified against SpladeCore's CPU code,
 * and its "device memory" is host memory behind the same API, so both sides are driven the same way:
 * the same pseudo-random inputs uploaded with splade_cuda_copy_to_device, the same call, the outputs
 * read back with splade_cuda_copy_to_host. Each library is dlopen()ed with RTLD_LOCAL so their
 * identical symbol names do not clash (give two different files: one path loads one library).
 *
 * Output, one JSON line per checked output of a call:
 *   {"op": ..., "case": ..., "error": e, "tolerance": t, "pass": true|false, "real_us": x}
 * e = ‖real − emu‖₂ / max(‖emu‖₂, 1e-30) in double; where the tolerance is 0 (bit-identical results
 * expected) e is instead the fraction of elements whose bits differ (for bfloat16 outputs, a NaN on both sides is
 * no difference, whatever its payload). real_us is the median time of
 * REPETITIONS calls of the real library, each between two synchronizations; only the first call's
 * results are checked (the others run on buffers it already updated); "grouped_fallbacks": f is added where the real
 * library's count below grew by f during the check's calls. A failed API call gives one line
 * with "pass": false and "message". The first line names the device and the versions (the runtime's, the driver's,
 * the loaded cuBLAS's). Last line: {"checks": n, "failed": k, "grouped_fallbacks": g, "grouped_declined_status": s,
 * "linear_fallbacks": l}, g the real library's grouped calls that ran groups as strided products (cuBLAS declined their
 * types, with status s, or their pointers break its alignment rule), l its Linear products made without cuBLASLt (all
 * of them under SPLADE_CUDA_LT=0).
 * Exit status: 0 all passed, 1 a check failed, 2 a setup failure (a library not loadable, init failed).
 * On a GPU machine, cuBLAS must be loadable by the real library (LD_LIBRARY_PATH or SPLADE_CUDA_CUBLAS).
 */
#define _POSIX_C_SOURCE 200809L /* dlopen, clock_gettime under -std=c11 */

#include "../../Sources/CSpladeCUDA/include/splade_cuda.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- The API, loaded by dlsym ------------------------------------------------------------- */

/* Every function of splade_cuda.h: X(return type, name without the splade_cuda_ prefix, parameters). */
#define SPLADE_CUDA_FUNCTIONS(X)                                                                                      \
    X(int, device_count, (void))                                                                                      \
    X(int, runtime_version, (void))                                                                                   \
    X(int, driver_version, (void))                                                                                    \
    X(int, init, (int))                                                                                               \
    X(int, device_info, (int, char *, size_t, int *, size_t *))                                                       \
    X(const char *, last_error, (void))                                                                               \
    X(int, malloc, (void **, size_t))                                                                                 \
    X(int, free, (void *))                                                                                            \
    X(int, copy_to_device, (void *, const void *, size_t))                                                            \
    X(int, copy_to_host, (void *, const void *, size_t))                                                              \
    X(int, copy_device, (void *, const void *, size_t))                                                               \
    X(int, zero, (void *, size_t))                                                                                    \
    X(int, synchronize, (void))                                                                                       \
    X(int, sgemm, (int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int))      \
    X(int, sgemm_strided_batched, (int, int, int, int, int, float, const float *, int, long long, const float *, int, \
                                   long long, float, float *, int, long long, int))                                   \
    X(int, sgemm_grouped, (int, int, float, float, const splade_cuda_gemm_group *, int))                              \
    X(int, grouped_fallbacks, (void))                                                                                 \
    X(int, grouped_declined_status, (void))                                                                           \
    X(int, cublas_version, (void))                                                                                    \
    X(int, linear_fallbacks, (void))                                                                                  \
    X(int, to_bf16, (const float *, size_t, uint16_t *))                                                              \
    X(int, from_bf16, (const uint16_t *, size_t, float *))                                                            \
    X(int, linear, (const float *, int, int, const float *, const float *, int, float *))                             \
    X(int, linear_bf16, (const uint16_t *, int, int, const uint16_t *, const float *, int, float *))                  \
    X(int, linear_bf16_out, (const uint16_t *, int, int, const uint16_t *, const uint16_t *, int, uint16_t *))        \
    X(int, gelu_bf16, (const uint16_t *, size_t, uint16_t *))                                                         \
    X(int, softmax_blocks_bf16, (uint16_t *, const long long *, const int32_t *, int, int, int))                      \
    X(int, softmax_padded_bf16, (uint16_t *, const int32_t *, int, int, int))                                         \
    X(int, unpad_rows_bf16, (const uint16_t *, int, const int32_t *, int, int, int, uint16_t *))                      \
    X(int, layernorm_forward_bf16, (float *, int, int, const float *, const float *, const float *, float,            \
                                    uint16_t *))                                                                      \
    X(int, splade_max_segments_bf16, (const uint16_t *, int, int, int, const int32_t *, int, float *, int32_t *))     \
    X(int, gemm_bf16, (int, int, int, int, int, float, const uint16_t *, int, const uint16_t *, int, float, float *,  \
                       int))                                                                                          \
    X(int, gemm_grouped_bf16, (int, int, float, float, const splade_cuda_gemm_group_bf16 *, int))                     \
    X(int, gemm_grouped_bf16_out, (int, int, float, float, const splade_cuda_gemm_group_bf16_out *, int))             \
    X(int, set_tf32, (int))                                                                                           \
    X(int, fill_rows, (float *, const float *, int, int))                                                             \
    X(int, embed, (const int32_t *, const int32_t *, int, int, const float *, const float *, const float *, float *)) \
    X(int, layernorm_forward, (float *, int, int, const float *, const float *, const float *, float, float *,        \
                               float *))                                                                              \
    X(int, gelu_forward, (float *, size_t))                                                                           \
    X(int, softmax_blocks, (float *, const long long *, const int32_t *, int, int, int))                              \
    X(int, add, (float *, const float *, size_t))                                                                     \
    X(int, dropout, (float *, size_t, uint64_t, uint64_t, float))                                                     \
    X(int, dropout_blocks, (float *, const long long *, const long long *, const int32_t *, int, int, int, uint64_t,   \
                            uint64_t, float))                                                                         \
    X(int, splade_max_reset, (float *, int32_t *, size_t))                                                            \
    X(int, splade_max_segments, (const float *, int, int, int, const int32_t *, int, float *, int32_t *))             \
    X(int, splade_weights, (const float *, size_t, float *))                                                          \
    X(int, count_positive, (const float *, int, int, int32_t *))                                                      \
    X(int, compact_positive, (const float *, int, int, const long long *, int32_t *, float *))                        \
    X(int, layernorm_backward, (const float *, int, int, const float *, const float *, const float *, float *,        \
                                float *, float *))                                                                    \
    X(int, gelu_backward, (const float *, const float *, size_t, float *))                                            \
    X(int, gelu_backward_bf16, (const float *, const uint16_t *, size_t, float *))                                    \
    X(int, softmax_backward_blocks, (const float *, float *, const long long *, const int32_t *, int, int, int))      \
    X(int, embed_backward, (const int32_t *, const int32_t *, int, int, const float *, float *, float *, float *))    \
    X(int, bias_backward, (const float *, int, int, float *))                                                         \
    X(int, splade_pool_backward, (const long long *, const float *, int, int, int, const float *, const int32_t *,    \
                                  const float *, const float *, float *, float *, float *))                           \
    X(int, adamw_step, (float *, const float *, float *, float *, size_t, float, float, float, float, float, int,     \
                        float, double))                                                                               \
    X(int, sum_squares, (const float *, size_t, double *))                                                            \
    X(int, scale, (float *, size_t, float))

#define TYPEDEF(type, name, parameters) typedef type(*name##_fn) parameters;
SPLADE_CUDA_FUNCTIONS(TYPEDEF)
#undef TYPEDEF

/* The typedefs must be the header's prototypes: _Generic does not evaluate (nor link) the function. */
#define SAME_AS_HEADER(type, name, parameters)                                                          \
    _Static_assert(_Generic(&splade_cuda_##name, name##_fn: 1, default: 0),                            \
                   "the type of splade_cuda_" #name " differs from splade_cuda.h");
SPLADE_CUDA_FUNCTIONS(SAME_AS_HEADER)
#undef SAME_AS_HEADER

typedef struct {
    void *handle;
#define MEMBER(type, name, parameters) name##_fn name;
    SPLADE_CUDA_FUNCTIONS(MEMBER)
#undef MEMBER
} Api;

enum { EMU, REAL };
static const char *const side_names[2] = {"emulation", "real"};
static Api apis[2];

/* ---- Output ------------------------------------------------------------------------------- */

static int checks = 0, failures = 0;

static void print_json_string(const char *text) {
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

/* JSON has no NaN or infinity. */
static void print_json_number(double value, const char *format) {
    if (isfinite(value)) printf(format, value);
    else printf("null");
}

/* A setup failure: nothing can be checked. */
static _Noreturn void setup_failure(const char *format, ...) {
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    printf("{\"setup_error\": ");
    print_json_string(message);
    printf("}\n");
    exit(2);
}

static void load(Api *api, const char *path, const char *role) {
    api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!api->handle) setup_failure("%s library: %s", role, dlerror());
#define LOOKUP(type, name, parameters)                                                                       \
    if (!(api->name = (name##_fn)dlsym(api->handle, "splade_cuda_" #name)))                                  \
        setup_failure("%s library %s lacks splade_cuda_" #name, role, path);
    SPLADE_CUDA_FUNCTIONS(LOOKUP)
#undef LOOKUP
}

/* ---- Deterministic inputs ----------------------------------------------------------------- */

static uint64_t random_state = 0x5eed5eed5eed5eedull;

/* SplitMix64. */
static uint64_t next_random(void) {
    uint64_t z = (random_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(float low, float high) { return low + (high - low) * (float)(next_random() >> 40) / 16777216.0f; }
static int below(int n) { return (int)(next_random() % (uint64_t)n); }

static void *allocate(size_t bytes) {
    void *pointer = malloc(bytes ? bytes : 1);
    if (!pointer) setup_failure("out of host memory (%zu bytes)", bytes);
    return pointer;
}

static float *floats(size_t count, float low, float high) {
    float *values = allocate(count * sizeof(float));
    for (size_t i = 0; i < count; i++) values[i] = uniform(low, high);
    return values;
}

/* Token ids with the repeats of real text: 40% from 8 frequent ids ([CLS], [SEP], "the", …). */
static int32_t *token_ids(size_t tokens, int vocabulary) {
    int32_t *ids = allocate(tokens * sizeof(int32_t));
    for (size_t t = 0; t < tokens; t++) ids[t] = below(10) < 4 ? 100 + below(8) : below(vocabulary);
    return ids;
}

/* Packed sequences of `length` tokens: positions repeat across the sequences of a batch. */
static int32_t *token_positions(size_t tokens, int length) {
    int32_t *positions = allocate(tokens * sizeof(int32_t));
    for (size_t t = 0; t < tokens; t++) positions[t] = (int32_t)(t % (size_t)length);
    return positions;
}

/* Rows with their own offset and spread, so LayerNorm's mean and variance matter. */
static float *offset_rows(int rows, int cols) {
    float *x = allocate((size_t)rows * cols * sizeof(float));
    for (size_t r = 0; r < (size_t)rows; r++) {
        float offset = uniform(-4, 4), spread = uniform(0.1f, 3);
        for (size_t j = 0; j < (size_t)cols; j++) x[r * cols + j] = offset + spread * uniform(-1, 1);
    }
    return x;
}

/* Rows of probabilities (softmax of uniform logits), the P that softmax_backward_blocks is given. */
static float *probability_rows(int rows, int cols) {
    float *p = floats((size_t)rows * cols, -4, 4);
    for (size_t r = 0; r < (size_t)rows; r++) {
        float *row = p + r * cols;
        double sum = 0;
        for (int j = 0; j < cols; j++) sum += row[j] = expf(row[j]);
        for (int j = 0; j < cols; j++) row[j] = (float)(row[j] / sum);
    }
    return p;
}

/* ---- One check: buffers on both sides, a call, the outputs compared --------------------------- */

/* Tolerances of the normalised error. */
#define EXACT 0.0         /* results must be bit-identical: no rounding left to differ */
#define ELEMENTWISE 1e-6  /* float32 element-wise and per-row ops: transcendentals within an ulp or two, row sums */
#define BF16_VALUES 5e-4  /* those rounded to bfloat16: a rare value one bfloat16 ulp away (truncating instead of
                             rounding to nearest would be ~1e-3) */
#define BF16_ADDED_ONTO 5e-3 /* bfloat16 outputs that cuBLAS adds onto (β·C of a bfloat16 C, a Linear's bias): cuBLAS
                                13.1 on an H200 is 1.1e-3 (scores, β = 1) to 2.8e-3 (Linear) from the float32 result
                                rounded once, a rounding of its own beyond BF16_VALUES' rare ulp; PyTorch's bf16
                                products take the same paths */
#define ACCUMULATED 1e-5  /* products and sums in another order (cuBLAS's tiling, atomics) */
#define LONG_SUM 1e-4     /* float sums of 30k-65k terms, which the emulation adds one by one: against sums in
                             double its own error is 3e-5 (a 30522 softmax row), 5e-6 (65554 chunk sums) */
#define TF32 5e-3         /* TF32 tensor cores: 10-bit mantissas, 3e-4 to 7e-4 here (header: ~1e-3) */
#define DOUBLE_SUM 1e-10  /* a sum in double, in another order */

enum { MAX_BUFFERS = 12, REPETITIONS = 5 };

typedef struct {
    void *host;           /* the initial contents (owned, freed once both sides have them) */
    size_t bytes;
    const char *output;   /* the output's name; NULL for an input only */
    double tolerance;
    bool bf16;            /* an output of bfloat16 bit patterns (2 bytes each), compared exactly, any NaN equal */
    bool bf16_values;     /* bfloat16 outputs compared as values, by normalised error */
    bool nan_equal;       /* float32 outputs compared as values: a NaN on both sides is equal (special inputs) */
    void *result[2];      /* the output read back from each side */
} Buffer;

typedef struct {
    const char *op;
    char label[256];
    Buffer buffers[MAX_BUFFERS];
    int count;
    void *device[2][MAX_BUFFERS];
    bool has_sum; /* sum_squares' output is a host double */
    double sum[2], sum_result[2];
    bool failed;
    char failure[768];
    struct timespec start;
    double times[REPETITIONS];
    int timed;
    int fallbacks_before; /* the real library's grouped_fallbacks() at begin */
} Test;

static void begin(Test *t, const char *op, const char *format, ...) {
    memset(t, 0, sizeof *t);
    t->op = op;
    t->fallbacks_before = apis[REAL].grouped_fallbacks();
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(t->label, sizeof t->label, format, arguments);
    va_end(arguments);
}

/* A buffer of `bytes` on both sides, from `host` (taken over); returns its index. */
static int buffer(Test *t, void *host, size_t bytes) {
    if (t->count == MAX_BUFFERS) setup_failure("%s: more than %d buffers", t->op, MAX_BUFFERS);
    t->buffers[t->count] = (Buffer){.host = host, .bytes = bytes};
    return t->count++;
}

/* A buffer holding a copy of `bytes` of host data (an index array). */
static int copied_buffer(Test *t, const void *data, size_t bytes) {
    return buffer(t, memcpy(allocate(bytes), data, bytes), bytes);
}

static int random_buffer(Test *t, size_t count, float low, float high) {
    return buffer(t, floats(count, low, high), count * sizeof(float));
}

/* Random bfloat16 values in [low, high): the upper halves of random floats (truncated: any bfloat16 will do). */
static int bf16_buffer(Test *t, size_t count, float low, float high) {
    uint16_t *values = allocate(count * sizeof(uint16_t));
    for (size_t i = 0; i < count; i++) {
        float x = uniform(low, high);
        uint32_t bits;
        memcpy(&bits, &x, sizeof bits);
        values[i] = (uint16_t)(bits >> 16);
    }
    return buffer(t, values, count * sizeof(uint16_t));
}

static void output(Test *t, int index, const char *name, double tolerance) {
    t->buffers[index].output = name;
    t->buffers[index].tolerance = tolerance;
}

/* A bfloat16 output: the same bits on both sides, or NaN on both (the NaN's payload is left to the kernel). */
static void output_bf16(Test *t, int index, const char *name) {
    output(t, index, name, EXACT);
    t->buffers[index].bf16 = true;
}

/* A bfloat16 output rounded from float32 values that may differ in their last bits between the sides (expf, erff):
 * a value may round the other way, one bfloat16 ulp (2^-8 relative) apart, so they are compared as values. */
static void output_bf16_values(Test *t, int index, const char *name, double tolerance) {
    output(t, index, name, tolerance);
    t->buffers[index].bf16_values = true;
}

static bool call_failed(Test *t, int side, const char *what) {
    if (!t->failed)
        snprintf(t->failure, sizeof t->failure, "%s library, %s: %s", side_names[side], what, apis[side].last_error());
    t->failed = true;
    return false;
}

/* Allocates and fills every buffer on `side`; the host copies go once the real side has them. */
static bool prepare(Test *t, int side) {
    const Api *api = &apis[side];
    for (int i = 0; i < t->count; i++) {
        Buffer *b = &t->buffers[i];
        if (api->malloc(&t->device[side][i], b->bytes)) return call_failed(t, side, "splade_cuda_malloc");
        if (api->copy_to_device(t->device[side][i], b->host, b->bytes))
            return call_failed(t, side, "splade_cuda_copy_to_device");
    }
    if (side == REAL)
        for (int i = 0; i < t->count; i++) free(t->buffers[i].host), t->buffers[i].host = NULL;
    return true;
}

/* The real side is timed from an idle device to the end of its work. */
static bool start_clock(Test *t, int side) {
    if (side != REAL) return true;
    if (apis[REAL].synchronize()) return call_failed(t, REAL, "splade_cuda_synchronize before the call");
    clock_gettime(CLOCK_MONOTONIC, &t->start);
    return true;
}

static void stop_clock(Test *t, int side, int code) {
    if (code) {
        call_failed(t, side, t->op);
        return;
    }
    if (side != REAL) return;
    /* A kernel's own failure shows here, launches being asynchronous. */
    if (apis[REAL].synchronize()) {
        call_failed(t, REAL, "splade_cuda_synchronize after the call");
        return;
    }
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    t->times[t->timed++] = (double)(end.tv_sec - t->start.tv_sec) * 1e6 + (double)(end.tv_nsec - t->start.tv_nsec) / 1e3;
}

/* Reads every output of the first call back from both sides. */
static bool collect(Test *t) {
    if (t->failed) return false;
    memcpy(t->sum_result, t->sum, sizeof t->sum);
    for (int side = EMU; side <= REAL; side++)
        for (int i = 0; i < t->count; i++) {
            Buffer *b = &t->buffers[i];
            if (!b->output) continue;
            b->result[side] = allocate(b->bytes);
            if (apis[side].copy_to_host(b->result[side], t->device[side][i], b->bytes))
                return call_failed(t, side, "splade_cuda_copy_to_host");
        }
    return true;
}

/* The normalised error of an output, or for an exact one the fraction of its elements that differ. */
static bool bf16_nan(uint16_t bits) { return (bits & 0x7FFF) > 0x7F80; }

static float bf16_value(uint16_t bits) {
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

static double difference(const Buffer *b) {
    if (b->bf16_values) {
        size_t count = b->bytes / sizeof(uint16_t);
        const uint16_t *real = b->result[REAL], *emu = b->result[EMU];
        double squared_difference = 0, squared_norm = 0;
        for (size_t i = 0; i < count; i++) {
            double r = bf16_value(real[i]), e = bf16_value(emu[i]), d = r == e ? 0 : r - e;
            squared_difference += d * d;
            squared_norm += e * e;
        }
        return sqrt(squared_difference) / fmax(sqrt(squared_norm), 1e-30);
    }
    if (b->bf16) {
        size_t count = b->bytes / sizeof(uint16_t), differing = 0;
        const uint16_t *real = b->result[REAL], *emu = b->result[EMU];
        for (size_t i = 0; i < count; i++)
            differing += real[i] != emu[i] && !(bf16_nan(real[i]) && bf16_nan(emu[i]));
        return (double)differing / (double)(count ? count : 1);
    }
    size_t count = b->bytes / sizeof(float);
    if (b->tolerance == EXACT) {
        size_t differing = 0;
        for (size_t i = 0; i < count; i++)
            differing += memcmp((const char *)b->result[REAL] + 4 * i, (const char *)b->result[EMU] + 4 * i, 4) != 0;
        return (double)differing / (double)(count ? count : 1);
    }
    const float *real = b->result[REAL], *emu = b->result[EMU];
    double squared_difference = 0, squared_norm = 0;
    for (size_t i = 0; i < count; i++) {
        /* Equal values (infinities included) differ by 0; a NaN on either side makes the error NaN, unless both are
         * NaNs of a nan_equal output. */
        if (b->nan_equal && isnan(real[i]) && isnan(emu[i])) continue;
        double d = real[i] == emu[i] ? 0 : (double)real[i] - (double)emu[i];
        squared_difference += d * d;
        squared_norm += (double)emu[i] * (double)emu[i];
    }
    return sqrt(squared_difference) / fmax(sqrt(squared_norm), 1e-30);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const Test *t, const char *output, double error, double tolerance, double microseconds) {
    bool pass = error <= tolerance; /* false for NaN */
    checks++;
    failures += !pass;
    printf("{\"op\": \"%s\", \"case\": ", t->op);
    char label[320];
    snprintf(label, sizeof label, "%s: %s", t->label, output);
    print_json_string(label);
    printf(", \"error\": ");
    print_json_number(error, "%.3g");
    printf(", \"tolerance\": %g, \"pass\": %s, \"real_us\": ", tolerance, pass ? "true" : "false");
    print_json_number(microseconds, "%.1f");
    int fallbacks = apis[REAL].grouped_fallbacks() - t->fallbacks_before;
    if (fallbacks > 0) printf(", \"grouped_fallbacks\": %d", fallbacks);
    printf("}\n");
}

/* Prints the check's lines and frees its buffers. */
static void finish(Test *t) {
    if (t->failed) {
        checks++;
        failures++;
        printf("{\"op\": \"%s\", \"case\": ", t->op);
        print_json_string(t->label);
        printf(", \"error\": null, \"tolerance\": null, \"pass\": false, \"real_us\": null, \"message\": ");
        print_json_string(t->failure);
        printf("}\n");
    } else {
        qsort(t->times, (size_t)t->timed, sizeof(double), compare_doubles);
        double median = t->timed ? t->times[t->timed / 2] : NAN;
        for (int i = 0; i < t->count; i++)
            if (t->buffers[i].output) report(t, t->buffers[i].output, difference(&t->buffers[i]), t->buffers[i].tolerance, median);
        if (t->has_sum)
            report(t, "host_sum", fabs(t->sum_result[REAL] - t->sum_result[EMU]) / fmax(fabs(t->sum_result[EMU]), 1e-30), DOUBLE_SUM, median);
    }
    fflush(stdout);
    for (int i = 0; i < t->count; i++) {
        Buffer *b = &t->buffers[i];
        free(b->host);
        for (int side = EMU; side <= REAL; side++) {
            free(b->result[side]);
            /* A failure to free would only leak on a side whose results are already in. */
            if (t->device[side][i]) apis[side].free(t->device[side][i]);
        }
    }
}

/* Runs `call`, an expression calling `api` on the buffers `dev` (DF, DI, OPT) of `side`, on both sides;
 * checks the outputs of that first call, then times REPETITIONS − 1 more calls of the real library. */
#define RUN(test, call)                                                                        \
    do {                                                                                       \
        Test *t_ = (test);                                                                     \
        for (int side = EMU; side <= REAL && !t_->failed; side++) {                            \
            const Api *api = &apis[side];                                                      \
            void *const *dev = t_->device[side];                                               \
            if (prepare(t_, side) && start_clock(t_, side)) stop_clock(t_, side, (call));      \
        }                                                                                      \
        if (collect(t_))                                                                       \
            for (int side = REAL, rep = 1; rep < REPETITIONS && !t_->failed; rep++) {          \
                const Api *api = &apis[side];                                                  \
                void *const *dev = t_->device[side];                                           \
                if (start_clock(t_, side)) stop_clock(t_, side, (call));                       \
            }                                                                                  \
        finish(t_);                                                                            \
    } while (0)
#define DF(i) ((float *)dev[i])
#define DI(i) ((int32_t *)dev[i])
#define DL(i) ((long long *)dev[i])
#define DB(i) ((uint16_t *)dev[i])
#define OPT(i) ((i) < 0 ? NULL : DF(i))

/* ---- Sizes -------------------------------------------------------------------------------- */

/* BERT base as SPLADE trains it (8 sequences × 256 tokens), or small ones with --quick. */
typedef struct {
    int h, inter, sequences, length, tokens, vocabulary, big_vocabulary, heads, positions;
    int attention[2]; /* sequence lengths for the attention products */
    int long_row;     /* a softmax over a whole vocabulary */
    int packed;       /* sequences of a packed batch (grouped products, block softmax): lengths 1 ..< attention[0] */
} Sizes;

static const Sizes full_sizes = {768, 3072, 8, 256, 2048, 32768, 250002, 12, 512, {512, 200}, 30522, 20};
static const Sizes quick_sizes = {64, 256, 2, 32, 64, 1000, 5003, 2, 64, {40, 17}, 30522, 6};
static Sizes S;

/* SPLADE max pooling over a packed batch, a chunk of rows at a time (CUDABertEncoder's ~1024): sequence
 * lengths drawn in [min_length, max_length], a quarter of them short (1-8 tokens, queries), the first two
 * shorter than a third of a chunk: chunks span 3 or more sequences and sequences continue from one chunk
 * into the next (pooling_case fails the setup otherwise). */
typedef struct {
    int vocabulary, rows, min_length, max_length, chunk;
    bool argmax; /* false: inference, argmax NULL */
} PoolingCase;

static const PoolingCase full_pooling[] = {
    {32768, 2048, 64, 400, 1024, true},  /* training: 8-ish sequences of BERT's vocabulary */
    {32768, 1536, 150, 700, 300, false}, /* inference, sequences longer than a chunk */
    {250002, 256, 8, 40, 100, true},     /* a multilingual vocabulary, short sequences */
    {250002, 1280, 8, 56, 1024, false},  /* queries by the thousand rows: the encoder's chunk of 1024 × 250002 */
};
static const PoolingCase quick_pooling[] = {
    {1000, 64, 3, 20, 12, true},
    {1000, 96, 10, 40, 16, false},
    {5003, 48, 3, 12, 20, true},
    {5003, 80, 3, 16, 33, false},
};
_Static_assert(sizeof full_pooling == sizeof quick_pooling, "as many quick pooling cases as full ones");

/* ---- Products ----------------------------------------------------------------------------- */

/* TF32 on for one product, then off again (the following products check that it is off). */
static int sgemm_tf32(const Api *api, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    int code = api->set_tf32(1);
    if (code) return code;
    code = api->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    int off = api->set_tf32(0);
    return code ? code : off;
}

/* C = alpha·op(A)·op(B) + beta·C with `pad` unused floats at the end of every row of A, B and C
 * (random: they must not be read, and C's must survive). */
static void sgemm_case(const char *what, int ta, int tb, int m, int n, int k, float alpha, float beta, int pad, bool tf32) {
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t a_count = (size_t)(ta ? k : m) * lda, b_count = (size_t)(tb ? n : k) * ldb, c_count = (size_t)m * ldc;
    Test t;
    begin(&t, tf32 ? "set_tf32+sgemm" : "sgemm", "%s %c%c m=%d n=%d k=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d", what,
          ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta, lda, ldb, ldc);
    int a = random_buffer(&t, a_count, -1, 1), b = random_buffer(&t, b_count, -1, 1), c = random_buffer(&t, c_count, -1, 1);
    output(&t, c, "c", tf32 ? TF32 : ACCUMULATED);
    if (tf32) RUN(&t, sgemm_tf32(api, ta, tb, m, n, k, alpha, DF(a), lda, DF(b), ldb, beta, DF(c), ldc));
    else RUN(&t, api->sgemm(ta, tb, m, n, k, alpha, DF(a), lda, DF(b), ldb, beta, DF(c), ldc));
}

static void check_sgemm(void) {
    int T = S.tokens, h = S.h, I = S.inter;
    sgemm_case("TF32, Linear forward", 0, 1, T, I, h, 1, 1, 0, true);
    sgemm_case("Linear forward", 0, 1, T, I, h, 0.75f, -0.5f, 3, false);
    sgemm_case("Linear backward, input", 0, 0, T, h, I, 1.25f, 0.5f, 5, false);
    sgemm_case("Linear backward, weight", 1, 0, I, h, T, -0.5f, 1, 7, false);
    sgemm_case("both transposed", 1, 1, h / 2 + 1, h / 3 + 2, h, 0.6f, -1.5f, 1, false);
    sgemm_case("decoder logits of a chunk", 0, 1, S.length, S.vocabulary, h, 1, 1, 0, false);
}

/* The batched products of CUDAOps.attention(Backward) for one sequence of L tokens: Q, K and V are
 * the thirds of the rows of qkv [L × 3h], head i at column i·d (lda = 3h, stride d). */
static void check_attention(int L) {
    int h = S.h, heads = S.heads, d = h / heads, ld = 3 * h;
    long long LL = (long long)L * L;
    float scale = 1 / sqrtf((float)d);
    size_t qkv_count = (size_t)L * ld, p_count = (size_t)heads * LL, context_count = (size_t)L * h;
    const char *op = "sgemm_strided_batched";
    Test t;

    begin(&t, op, "scores Q·Kᵀ/√d L=%d heads=%d d=%d: NT lda=ldb=3h", L, heads, d);
    int qkv = random_buffer(&t, qkv_count, -1, 1), scores = random_buffer(&t, p_count, -1, 1);
    output(&t, scores, "scores", ACCUMULATED);
    RUN(&t, api->sgemm_strided_batched(0, 1, L, L, d, scale, DF(qkv), ld, d, DF(qkv) + h, ld, d, 0, DF(scores), L, LL,
                                       heads));

    begin(&t, op, "context P·V L=%d heads=%d d=%d: NN lda=L ldb=3h ldc=h", L, heads, d);
    int p = random_buffer(&t, p_count, 0, 2.0f / L);
    qkv = random_buffer(&t, qkv_count, -1, 1);
    int context = random_buffer(&t, context_count, -1, 1);
    output(&t, context, "context", ACCUMULATED);
    RUN(&t, api->sgemm_strided_batched(0, 0, L, d, L, 1, DF(p), L, LL, DF(qkv) + 2 * h, ld, d, 0, DF(context), h, d,
                                       heads));

    /* dV lands in the last third of dQKV's rows: the other two must be left as they are. */
    begin(&t, op, "values backward Pᵀ·dC L=%d heads=%d d=%d: TN lda=L ldb=h ldc=3h", L, heads, d);
    p = random_buffer(&t, p_count, 0, 2.0f / L);
    int dcontext = random_buffer(&t, context_count, -1, 1), dqkv = random_buffer(&t, qkv_count, -1, 1);
    output(&t, dqkv, "dqkv", ACCUMULATED);
    RUN(&t, api->sgemm_strided_batched(1, 0, L, d, L, 1, DF(p), L, LL, DF(dcontext), h, d, 0, DF(dqkv) + 2 * h, ld, d,
                                       heads));

    /* Attention overwrites (beta = 0); beta = 0.5 here checks the batched call's accumulation too. */
    begin(&t, op, "keys backward s·dSᵀ·Q, beta=0.5, L=%d heads=%d d=%d: TN lda=L ldb=ldc=3h", L, heads, d);
    int ds = random_buffer(&t, p_count, -0.01f, 0.01f);
    qkv = random_buffer(&t, qkv_count, -1, 1);
    dqkv = random_buffer(&t, qkv_count, -1, 1);
    output(&t, dqkv, "dqkv", ACCUMULATED);
    RUN(&t, api->sgemm_strided_batched(1, 0, L, d, L, scale, DF(ds), L, LL, DF(qkv), ld, d, 0.5f, DF(dqkv) + h, ld, d,
                                       heads));
}

/* A packed batch of S.packed sequences of lengths 1 ... S.attention[0] (both ends, then drawn, and one empty
 * sequence), as CUDAOps lays it out: sequence s has the tokens start[s] ..< start[s] + length[s] and its heads'
 * L×L score matrices at offset[s] (floats), splade_cuda_head_stride(L) apart (`unpadded`: L² apart, which breaks
 * cuBLAS's pointer alignment for odd L, for the grouped products' fallback). `gap` floats lie between consecutive
 * blocks: none in attention, some in the block softmax checks (which must leave them, and the padding between
 * heads, as they were). */
enum { MAX_PACKED = 32 };
typedef struct {
    int count, tokens, heads;
    int32_t length[MAX_PACKED];
    int start[MAX_PACKED];
    long long offset[MAX_PACKED];
    long long floats; /* of the score blocks, gaps included */
    int rows;         /* Σ heads·L */
    bool unpadded;
} Packed;

static long long head_stride(const Packed *k, int length) {
    return k->unpadded ? (long long)length * length : splade_cuda_head_stride(length);
}

/* Where row r (h·L + r') of block s starts. */
static long long packed_row(const Packed *k, int s, long long r) {
    int L = k->length[s];
    return k->offset[s] + r / L * head_stride(k, L) + r % L * L;
}

/* Fills in the blocks' offsets, rows and size from count, heads and the lengths. */
static void lay_out(Packed *k, int gap) {
    k->tokens = k->rows = 0;
    k->floats = 0;
    for (int s = 0; s < k->count; s++) {
        k->start[s] = k->tokens;
        k->offset[s] = k->floats;
        k->tokens += k->length[s];
        k->floats += k->heads * head_stride(k, k->length[s]) + gap;
        k->rows += k->heads * k->length[s];
    }
}

static Packed packed_batch(int count, int max_length, int heads, int gap, bool unpadded) {
    Packed k = {.count = count, .heads = heads, .unpadded = unpadded};
    if (count > MAX_PACKED || count < 4) setup_failure("packed batch of %d sequences", count);
    for (int s = 0; s < count; s++)
        k.length[s] = s == 0 ? 1 : s == 1 ? max_length : s == count / 2 ? 0 : 1 + below(max_length);
    lay_out(&k, gap);
    return k;
}

/* A packed batch of `count` sequences in `runs` runs of equal lengths, the first run `length` tokens long and each
 * next one length/16 (at least 1) shorter: with one run, every group of a product has one shape (a pointer-array
 * batched product); with more, each run is one of cuBLAS's groups. */
static Packed runs_batch(int count, int length, int runs, int heads) {
    Packed k = {.count = count, .heads = heads};
    int step = length / 16 > 1 ? length / 16 : 1;
    if (count > MAX_PACKED || runs < 1 || runs > count || length - step * (runs - 1) < 1)
        setup_failure("%d sequences in %d runs from %d tokens", count, runs, length);
    for (int s = 0; s < count; s++) k.length[s] = length - step * (s * runs / count);
    lay_out(&k, 0);
    return k;
}

/* A packed batch's blocks for the block kernels: their offsets (int64) and lengths (int32). */
static void block_buffers(Test *t, const Packed *k, int *offsets, int *lengths) {
    *offsets = copied_buffer(t, k->offset, (size_t)k->count * sizeof(long long));
    *lengths = copied_buffer(t, k->length, (size_t)k->count * sizeof(int32_t));
}

/* The products of CUDAOps.attention and attentionBackward over a packed batch, one group per sequence. */
enum Product { SCORES, CONTEXT, VALUES_BACKWARD, QUERIES_BACKWARD, KEYS_BACKWARD };
static const char *const product_names[] = {
    "scores Q·Kᵀ/√d: NT lda=ldb=3h ldc=L",      "context P·V: NN lda=L ldb=3h ldc=h",
    "values backward Pᵀ·dC: TN lda=L ldb=h ldc=3h", "queries backward s·dS·K: NN lda=L ldb=ldc=3h",
    "keys backward s·dSᵀ·Q: TN lda=L ldb=ldc=3h",
};

/* Group s of a product over a packed batch: its sizes, and its matrices as offsets (in elements) into the L×L blocks
 * (scores, P or dS: A, but for the scores), the rows (qkv or dC: B, and A of the scores) and the output (scores,
 * context or dqkv: C). */
typedef struct {
    int m, n, k, batch;
    long long a;
    int lda;
    long long stride_a, b;
    int ldb;
    long long stride_b, c;
    int ldc;
    long long stride_c;
} GroupLayout;

static GroupLayout attention_group(const Packed *k, enum Product product, int s) {
    int h = S.h, d = h / k->heads, ld = 3 * h, L = k->length[s], heads = k->heads;
    long long LL = head_stride(k, L), t = k->start[s], p = k->offset[s];
    switch (product) {
    case SCORES: return (GroupLayout){L, L, d, heads, t * ld, ld, d, t * ld + h, ld, d, p, L, LL};
    case CONTEXT: return (GroupLayout){L, d, L, heads, p, L, LL, t * ld + 2 * h, ld, d, t * h, h, d};
    case VALUES_BACKWARD: return (GroupLayout){L, d, L, heads, p, L, LL, t * h, h, d, t * ld + 2 * h, ld, d};
    case QUERIES_BACKWARD: return (GroupLayout){L, d, L, heads, p, L, LL, t * ld + h, ld, d, t * ld, ld, d};
    case KEYS_BACKWARD: return (GroupLayout){L, d, L, heads, p, L, LL, t * ld, ld, d, t * ld + h, ld, d};
    }
    setup_failure("no product %d", (int)product);
}

static int product_transpose_a(enum Product product) { return product == VALUES_BACKWARD || product == KEYS_BACKWARD; }
static int product_transpose_b(enum Product product) { return product == SCORES; }

/* The element types of a grouped product: float32 (with GROUPED_TF32 the products in TF32), or A and B in bfloat16
 * with C float32 (gemm_grouped_bf16) or bfloat16 too (gemm_grouped_bf16_out). */
typedef enum { GROUPED_FLOAT, GROUPED_TF32, GROUPED_BF16, GROUPED_BF16_OUT } GroupedKind;

/* `blocks`: the L×L blocks (scores, P or dS); `rows`: qkv or dC; `out`: scores, context or dqkv; of kind's types. */
static int grouped_attention(const Api *api, const Packed *k, enum Product product, float alpha, float beta,
                             const void *blocks, const void *rows, void *out, GroupedKind kind) {
    splade_cuda_gemm_group groups[MAX_PACKED];
    splade_cuda_gemm_group_bf16 groups_bf16[MAX_PACKED];
    splade_cuda_gemm_group_bf16_out groups_bf16_out[MAX_PACKED];
    const void *a_base = product == SCORES ? rows : blocks;
    for (int s = 0; s < k->count; s++) {
        GroupLayout g = attention_group(k, product, s);
#define ATTENTION_GROUP(type, input, output)                                                                 \
    ((type){g.m, g.n, g.k, g.batch, (const input *)a_base + g.a, g.lda, g.stride_a, (const input *)rows + g.b, \
            g.ldb, g.stride_b, (output *)out + g.c, g.ldc, g.stride_c})
        if (kind == GROUPED_BF16_OUT)
            groups_bf16_out[s] = ATTENTION_GROUP(splade_cuda_gemm_group_bf16_out, uint16_t, uint16_t);
        else if (kind == GROUPED_BF16) groups_bf16[s] = ATTENTION_GROUP(splade_cuda_gemm_group_bf16, uint16_t, float);
        else groups[s] = ATTENTION_GROUP(splade_cuda_gemm_group, float, float);
#undef ATTENTION_GROUP
    }
    int ta = product_transpose_a(product), tb = product_transpose_b(product);
    if (kind == GROUPED_TF32) {
        int code = api->set_tf32(1);
        if (code) return code;
    }
    int code = kind == GROUPED_BF16_OUT ? api->gemm_grouped_bf16_out(ta, tb, alpha, beta, groups_bf16_out, k->count)
               : kind == GROUPED_BF16   ? api->gemm_grouped_bf16(ta, tb, alpha, beta, groups_bf16, k->count)
                                        : api->sgemm_grouped(ta, tb, alpha, beta, groups, k->count);
    int off = kind == GROUPED_TF32 ? api->set_tf32(0) : SPLADE_CUDA_OK;
    return code ? code : off;
}

/* A grouped product over a packed batch. C in bfloat16 (GROUPED_BF16_OUT: attention's scores and context when encoding
 * in bf16) is compared by value: the float32 sums, in another order on each side, are rounded once, a rare one the
 * other way (with β ≠ 0, as cuBLAS rounds: BF16_ADDED_ONTO). */
static void grouped_case(const Packed *k, enum Product product, float alpha, float beta, GroupedKind kind) {
    static const char *const names[] = {"sgemm_grouped", "set_tf32+sgemm_grouped", "gemm_grouped_bf16",
                                        "gemm_grouped_bf16_out"};
    int (*inputs)(Test *, size_t, float, float) = kind >= GROUPED_BF16 ? bf16_buffer : random_buffer;
    int h = S.h, d = h / k->heads;
    size_t qkv_count = (size_t)k->tokens * 3 * h, context_count = (size_t)k->tokens * h;
    Test t;
    int shortest = k->length[0], longest = k->length[0];
    for (int s = 1; s < k->count; s++) {
        if (k->length[s] < shortest) shortest = k->length[s];
        if (k->length[s] > longest) longest = k->length[s];
    }
    begin(&t, names[kind], "%s alpha=%g beta=%g, %d sequences of %d-%d tokens (%d in all), heads=%d d=%d%s",
          product_names[product], alpha, beta, k->count, shortest, longest, k->tokens, k->heads, d,
          k->unpadded ? ", heads L² apart" : "");
    /* Probabilities-like blocks for the products that read P, small gradients for dS, a random C. */
    float block_high = product == CONTEXT || product == VALUES_BACKWARD ? 2.0f / S.attention[0] : 0.01f;
    int blocks = product == SCORES ? -1 : inputs(&t, (size_t)k->floats, product >= QUERIES_BACKWARD ? -block_high : 0,
                                                 block_high);
    int rows = inputs(&t, product == VALUES_BACKWARD ? context_count : qkv_count, -1, 1);
    size_t out_count = product == SCORES ? (size_t)k->floats : product == CONTEXT ? context_count : qkv_count;
    int out = (kind == GROUPED_BF16_OUT ? bf16_buffer : random_buffer)(&t, out_count, -1, 1);
    const char *name = product == SCORES ? "scores" : product == CONTEXT ? "context" : "dqkv";
    if (kind == GROUPED_BF16_OUT) output_bf16_values(&t, out, name, beta != 0 ? BF16_ADDED_ONTO : BF16_VALUES);
    else output(&t, out, name, kind == GROUPED_TF32 ? TF32 : ACCUMULATED);
    RUN(&t, grouped_attention(api, k, product, alpha, beta, blocks < 0 ? NULL : dev[blocks], dev[rows], dev[out], kind));
}

/* All the attention products of a packed batch, each as one grouped call: the four transpose combinations, with
 * beta = 0 (attention overwrites) and beta = 1 (accumulation; C's other columns must survive in both); alpha 1/√d
 * where `scaled`. */
static const struct {
    enum Product product;
    bool scaled;
    float beta;
} attention_products[] = {
    {SCORES, true, 0},           {SCORES, true, 1},           {CONTEXT, false, 0},       {CONTEXT, false, 1},
    {VALUES_BACKWARD, false, 0}, {QUERIES_BACKWARD, true, 0}, {QUERIES_BACKWARD, true, 1}, {KEYS_BACKWARD, true, 1},
};
enum { ATTENTION_PRODUCTS = sizeof attention_products / sizeof attention_products[0] };

static void check_grouped(void) {
    Packed k = packed_batch(S.packed, S.attention[0], S.heads, 0, false);
    float scale = 1 / sqrtf((float)(S.h / S.heads));
    for (int i = 0; i < ATTENTION_PRODUCTS; i++) /* the second (scores, beta = 1) with TF32 */
        grouped_case(&k, attention_products[i].product, attention_products[i].scaled ? scale : 1,
                     attention_products[i].beta, i == 1 ? GROUPED_TF32 : GROUPED_FLOAT);
}

/* ---- bfloat16 products -------------------------------------------------------------------- */

/* Floats (as bits) with every kind of rounding to bfloat16: the expected bits of each in the comment. */
static const uint32_t bf16_special[] = {
    0x00000000, 0x80000000,             /* ±0 */
    0x3F800000, 0xBF800000,             /* ±1: exact */
    0x3F807FFF, 0x3F808001, 0xBF808001, /* below and above the halfway point: 3F80, 3F81, BF81 */
    0x3F808000, 0xBF808000,             /* ties to an even upper half: 3F80, BF80 */
    0x3F818000, 0xBF818000,             /* ties to an odd upper half: 3F82, BF82 */
    0x3FFFFFFF, 0x3FFF8000,             /* a carry into the exponent: 4000, 4000 */
    0x7F7F7FFF, 0x7F7F8000, 0x7F7FFFFF, 0xFF7FFFFF, /* the largest: 7F7F, then overflow to ±infinity: 7F80, 7F80, FF80 */
    0x00000001, 0x80000001,             /* the smallest subnormals: 0000, 8000 */
    0x00008000, 0x00018000, 0x00008001, /* subnormal ties and above: 0000, 0002, 0001 */
    0x007FFFFF, 0x807FFFFF, 0x007F7FFF, /* the largest subnormal rounds to the smallest normal: 0080, 8080; 007F */
    0x7F800000, 0xFF800000,             /* ±infinity: 7F80, FF80 */
    0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0xFFFFFFFF, /* quiet NaNs */
    0x7F800001, 0xFF800001, 0x7F80FFFF, 0x7F810000, 0x7FBFFFFF, /* signalling NaNs, some with only a lower payload */
};

/* to_bf16 of x[offset ..< offset + count] into y[offset ...] (y[..< offset] must stay as it was): the special floats,
 * then random bit patterns (every exponent, NaNs among them) and random floats in turn. */
static void to_bf16_case(size_t count, size_t offset) {
    size_t specials = sizeof bf16_special / sizeof bf16_special[0];
    Test t;
    begin(&t, "to_bf16", "count=%zu from element %zu: ties, subnormals, ±0, ±infinity, NaNs, random bits and floats",
          count, offset);
    float *x = allocate((count + offset) * sizeof(float));
    for (size_t i = 0; i < count + offset; i++) {
        uint32_t bits;
        if (i >= offset && i - offset < specials) bits = bf16_special[i - offset];
        else if (i % 2) bits = (uint32_t)(next_random() >> 32);
        else {
            float value = uniform(-4, 4);
            memcpy(&bits, &value, sizeof bits);
        }
        memcpy(&x[i], &bits, sizeof bits);
    }
    int xb = buffer(&t, x, (count + offset) * sizeof(float));
    int y = bf16_buffer(&t, count + offset, -1, 1);
    output_bf16(&t, y, "y");
    RUN(&t, api->to_bf16(DF(xb) + offset, count, DB(y) + offset));
}

/* from_bf16 of `count` random bit patterns (every exponent, NaNs and infinities among them) into y[1 ...] (y[0] must
 * stay as it was): widening is exact, so the bits are compared. */
static void from_bf16_case(size_t count) {
    Test t;
    begin(&t, "from_bf16", "count=%zu from element 1: random bit patterns", count);
    uint16_t *x = allocate(count * sizeof(uint16_t));
    for (size_t i = 0; i < count; i++) x[i] = (uint16_t)(next_random() >> 48);
    int xb = buffer(&t, x, count * sizeof(uint16_t));
    int y = random_buffer(&t, count + 1, -1, 1);
    output(&t, y, "y", 0);
    RUN(&t, api->from_bf16(DB(xb), count, DF(y) + 1));
}

/* As sgemm_case, A and B in bfloat16: both sides sum the same exact products in float32, in different orders. */
static void gemm_bf16_case(const char *what, int ta, int tb, int m, int n, int k, float alpha, float beta, int pad) {
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t a_count = (size_t)(ta ? k : m) * lda, b_count = (size_t)(tb ? n : k) * ldb, c_count = (size_t)m * ldc;
    Test t;
    begin(&t, "gemm_bf16", "%s %c%c m=%d n=%d k=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d", what, ta ? 'T' : 'N',
          tb ? 'T' : 'N', m, n, k, alpha, beta, lda, ldb, ldc);
    int a = bf16_buffer(&t, a_count, -1, 1), b = bf16_buffer(&t, b_count, -1, 1), c = random_buffer(&t, c_count, -1, 1);
    output(&t, c, "c", ACCUMULATED);
    RUN(&t, api->gemm_bf16(ta, tb, m, n, k, alpha, DB(a), lda, DB(b), ldb, beta, DF(c), ldc));
}

static int linear_tf32(const Api *api, const float *x, int rows, int in, const float *w, const float *bias, int out,
                       float *y) {
    int code = api->set_tf32(1);
    if (code) return code;
    code = api->linear(x, rows, in, w, bias, out, y);
    int off = api->set_tf32(0);
    return code ? code : off;
}

/* A Linear layer, Y = X·Wᵀ + bias (the bias in cuBLASLt's epilogue, or with SPLADE_CUDA_LT=0 the bias rows and a
 * product onto them); Y starts with garbage, which must not count. X and W in bfloat16 with BF16 or BF16_OUT, and with
 * BF16_OUT the bias and Y too: Y's values are compared, within how cuBLAS rounds a sum onto a bias (BF16_ADDED_ONTO). */
typedef enum { LINEAR_FLOAT, LINEAR_TF32, LINEAR_BF16, LINEAR_BF16_OUT } LinearKind;

static void linear_case(const char *what, int rows, int in, int out, LinearKind kind) {
    static const char *const names[] = {"linear", "linear", "linear_bf16", "linear_bf16_out"};
    bool bf16 = kind >= LINEAR_BF16, bf16_out = kind == LINEAR_BF16_OUT;
    int (*inputs)(Test *, size_t, float, float) = bf16 ? bf16_buffer : random_buffer;
    int (*outputs)(Test *, size_t, float, float) = bf16_out ? bf16_buffer : random_buffer;
    Test t;
    begin(&t, names[kind], "%s%s rows=%d in=%d out=%d", kind == LINEAR_TF32 ? "TF32, " : "", what, rows, in, out);
    int x = inputs(&t, (size_t)rows * in, -1, 1), w = inputs(&t, (size_t)out * in, -1, 1);
    int bias = outputs(&t, (size_t)out, -1, 1), y = outputs(&t, (size_t)rows * out, -100, 100);
    if (bf16_out) output_bf16_values(&t, y, "y", BF16_ADDED_ONTO);
    else output(&t, y, "y", kind == LINEAR_TF32 ? TF32 : ACCUMULATED);
    if (bf16_out) RUN(&t, api->linear_bf16_out(DB(x), rows, in, DB(w), DB(bias), out, DB(y)));
    else if (bf16) RUN(&t, api->linear_bf16(DB(x), rows, in, DB(w), DF(bias), out, DF(y)));
    else if (kind == LINEAR_TF32) RUN(&t, linear_tf32(api, DF(x), rows, in, DF(w), DF(bias), out, DF(y)));
    else RUN(&t, api->linear(DF(x), rows, in, DF(w), DF(bias), out, DF(y)));
}

static void check_linear(void) {
    int T = S.tokens, h = S.h, I = S.inter;
    linear_case("attention's QKV", T, h, 3 * h, LINEAR_FLOAT);
    linear_case("intermediate", T, h, I, LINEAR_TF32);
    linear_case("output", T, I, h, LINEAR_FLOAT);
    linear_case("decoder logits of a chunk", S.length, h, S.vocabulary, LINEAR_FLOAT);
    linear_case("odd sizes", 37, h / 3 + 1, 101, LINEAR_FLOAT);
    linear_case("intermediate", T, h, I, LINEAR_BF16);
    linear_case("decoder logits of a chunk", S.length, h, S.vocabulary, LINEAR_BF16);
    linear_case("odd sizes", 37, h / 3 + 1, 101, LINEAR_BF16);
    /* Encoding in bf16: the products whose outputs only feed other products (QKV, then the scores and the context;
     * the intermediate, then GELU and the output product), and sizes not multiples of 8 (cuBLASLt's alignment). */
    linear_case("attention's QKV", T, h, 3 * h, LINEAR_BF16_OUT);
    linear_case("intermediate", T, h, I, LINEAR_BF16_OUT);
    linear_case("odd sizes", 37, h / 3 + 1, 101, LINEAR_BF16_OUT);
    linear_case("one row, odd sizes", 1, h + 3, 13, LINEAR_BF16_OUT);
    /* Row counts of one power-of-two bucket, as encoding's batches have: one plan, whose algorithm (the heuristic's for
     * 64 rows) cublasLtMatmulAlgoCheck accepts for each count, or each count's own heuristic where it declines. */
    for (int rows = 40; rows <= 56; rows += 8) linear_case("rows of one bucket", rows, h, h, LINEAR_BF16_OUT);
    linear_case("rows of one bucket", 40, h, h, LINEAR_FLOAT);
}

/* --precision bf16: the conversions, the Linear and decoder products, and attention's grouped products (the
 * fallback of one strided-batched product per group: SPLADE_CUDA_GROUPED=0, as bench/cuda/run runs it). */
static void check_bf16(void) {
    size_t intermediate = (size_t)S.tokens * S.inter;
    to_bf16_case(sizeof bf16_special / sizeof bf16_special[0], 0);
    to_bf16_case(intermediate + 3, 1);
    from_bf16_case(65536 + 7);
    int T = S.tokens, h = S.h, I = S.inter;
    gemm_bf16_case("Linear forward", 0, 1, T, I, h, 1, 1, 3);
    gemm_bf16_case("decoder logits of a chunk", 0, 1, S.length, S.vocabulary, h, 1, 0, 0);
    gemm_bf16_case("no transposes", 0, 0, T, h, I, 1.25f, 0.5f, 5);
    gemm_bf16_case("A transposed", 1, 0, I, h, T, -0.5f, 1, 7);
    gemm_bf16_case("both transposed", 1, 1, h / 2 + 1, h / 3 + 2, h, 0.6f, -1.5f, 1);
    Packed k = packed_batch(S.packed, S.attention[0], S.heads, 0, false);
    float scale = 1 / sqrtf((float)(S.h / S.heads));
    for (GroupedKind kind = GROUPED_BF16; kind <= GROUPED_BF16_OUT; kind++) /* C float32, then bfloat16 (encoding) */
        for (int i = 0; i < ATTENTION_PRODUCTS; i++)
            grouped_case(&k, attention_products[i].product, attention_products[i].scaled ? scale : 1,
                         attention_products[i].beta, kind);
    /* Heads L² apart: the groups of odd L break the pointer alignment and run as strided products, the others grouped. */
    Packed unpadded = packed_batch(S.packed, S.attention[0], S.heads, 0, true);
    grouped_case(&unpadded, SCORES, scale, 0, GROUPED_BF16_OUT);
    grouped_case(&unpadded, CONTEXT, 1, 0, GROUPED_BF16_OUT);
}

/* Encoding's padded attention in bf16: the softmax over each sequence's padded block (rows and columns past its
 * length zeroed), then the padded context rows back to the packed layout (bit for bit). The lengths of packed_batch
 * (1, the longest, one empty, the others drawn), padded to a multiple of 8 and rows of h values (16-byte chunks), or
 * (`odd`) to one past the longest and rows of h + 1 (a value at a time). */
static void check_padded_attention(bool odd) {
    Packed k = packed_batch(S.packed, S.attention[0], S.heads, 0, false);
    int longest = 0, h = odd ? S.h + 1 : S.h;
    for (int s = 0; s < k.count; s++)
        if (k.length[s] > longest) longest = k.length[s];
    int padded = odd ? longest + 1 : (longest + 7) / 8 * 8;
    size_t scores = (size_t)k.count * k.heads * padded * padded;
    Test t;
    begin(&t, "softmax_padded_bf16", "%d blocks of 0-%d tokens padded to %d, heads=%d, x in [-4, 4] (bfloat16)", k.count,
          longest, padded, k.heads);
    int lengths = copied_buffer(&t, k.length, (size_t)k.count * sizeof(int32_t));
    int x = bf16_buffer(&t, scores, -4, 4);
    output_bf16_values(&t, x, "x", BF16_VALUES);
    RUN(&t, api->softmax_padded_bf16(DB(x), DI(lengths), k.count, k.heads, padded));

    int32_t starts[MAX_PACKED + 1];
    for (int s = 0; s <= k.count; s++) starts[s] = s < k.count ? k.start[s] : k.tokens;
    begin(&t, "unpad_rows_bf16", "%d sequences of 0-%d tokens (%d in all) padded to %d, width %d", k.count, longest,
          k.tokens, padded, h);
    int from = bf16_buffer(&t, (size_t)k.count * padded * h, -1, 1);
    int starts_buffer = copied_buffer(&t, starts, sizeof starts);
    int packed = bf16_buffer(&t, (size_t)k.tokens * h, -1, 1);
    output_bf16(&t, packed, "packed");
    RUN(&t, api->unpad_rows_bf16(DB(from), padded, DI(starts_buffer), k.count, k.tokens, h, DB(packed)));
}

/* The padded softmax at every width its kernel sizes its registers for (16-byte chunks a lane: one up to 256 values,
 * two up to 512, four up to 1024, then a value at a time), each with a full row, a row ending inside a chunk, a row
 * ending on a chunk's edge, a row of one value and an empty one; 2 heads. The quick sizes (slow in the shim, a thread
 * an OS thread) take one width of each register size and 1 head. */
static void check_padded_softmax_widths(bool quick) {
    const int widths[] = {8, 264, 776, 1032, 256, 1024};
    for (size_t w = 0; w < (quick ? 4 : sizeof widths / sizeof widths[0]); w++) {
        int padded = widths[w], heads = quick ? 1 : 2;
        int32_t lengths[] = {padded, padded > 8 ? padded - 5 : 3, padded > 8 ? padded - 8 : 8, 1, 0};
        int blocks = (int)(sizeof lengths / sizeof lengths[0]);
        Test t;
        begin(&t, "softmax_padded_bf16", "rows of %d values, %d blocks of lengths %d, %d, %d, 1, 0, heads=%d, x in [-4, 4] "
              "(bfloat16)", padded, blocks, lengths[0], lengths[1], lengths[2], heads);
        int lengths_buffer = copied_buffer(&t, lengths, sizeof lengths);
        int x = bf16_buffer(&t, (size_t)blocks * heads * padded * padded, -4, 4);
        output_bf16_values(&t, x, "x", BF16_VALUES);
        RUN(&t, api->softmax_padded_bf16(DB(x), DI(lengths_buffer), blocks, heads, padded));
    }
}

/* Grouped products over sequences of one length (one pointer-array batched product, whose types include bfloat16 with
 * a float32 C), then of three lengths (three of cuBLAS's groups), in every element type. (After the checks whose
 * random set-ups their draws would change.) */
static void check_grouped_runs(void) {
    float scale = 1 / sqrtf((float)(S.h / S.heads));
    for (int runs = 1; runs <= 3; runs += 2) {
        Packed equal = runs_batch(S.packed, S.attention[0] / 4, runs, S.heads);
        grouped_case(&equal, SCORES, scale, 0, GROUPED_FLOAT);
        grouped_case(&equal, CONTEXT, 1, 0, GROUPED_TF32);
        for (GroupedKind kind = GROUPED_BF16; kind <= GROUPED_BF16_OUT; kind++) {
            grouped_case(&equal, SCORES, scale, 0, kind);
            grouped_case(&equal, CONTEXT, 1, 0, kind);
            grouped_case(&equal, KEYS_BACKWARD, scale, 1, kind);
        }
    }
}

/* ---- Memory ------------------------------------------------------------------------------- */

static void check_memory(void) {
    size_t n = (size_t)S.tokens * S.h;
    Test t;
    begin(&t, "copy_device", "%zu floats between offsets", n - 10);
    int source = random_buffer(&t, n, -1, 1), destination = random_buffer(&t, n, -1, 1);
    output(&t, destination, "destination", EXACT);
    RUN(&t, api->copy_device(DF(destination) + 7, DF(source) + 3, (n - 10) * sizeof(float)));

    begin(&t, "zero", "%zu floats from offset 5", n / 2);
    int x = random_buffer(&t, n, -1, 1);
    output(&t, x, "x", EXACT);
    RUN(&t, api->zero(DF(x) + 5, n / 2 * sizeof(float)));
}

/* ---- Forward kernels ---------------------------------------------------------------------- */

static void fill_rows_case(int rows, int cols) {
    Test t;
    begin(&t, "fill_rows", "rows=%d cols=%d", rows, cols);
    int y = random_buffer(&t, (size_t)rows * cols, -1, 1), bias = random_buffer(&t, (size_t)cols, -1, 1);
    output(&t, y, "y", EXACT);
    RUN(&t, api->fill_rows(DF(y), DF(bias), rows, cols));
}

static void check_embed(void) {
    int T = S.tokens, h = S.h;
    Test t;
    begin(&t, "embed", "tokens=%d h=%d vocabulary=%d, repeated ids", T, h, S.vocabulary);
    int ids = buffer(&t, token_ids((size_t)T, S.vocabulary), (size_t)T * sizeof(int32_t));
    int positions = buffer(&t, token_positions((size_t)T, S.length), (size_t)T * sizeof(int32_t));
    int word = random_buffer(&t, (size_t)S.vocabulary * h, -1, 1), position = random_buffer(&t, (size_t)S.positions * h, -1, 1);
    int token_type = random_buffer(&t, 2 * (size_t)h, -1, 1), x = random_buffer(&t, (size_t)T * h, -1, 1);
    output(&t, x, "x", EXACT);
    RUN(&t, api->embed(DI(ids), DI(positions), T, h, DF(word), DF(position), DF(token_type), DF(x)));
}

static void layernorm_forward_case(int rows, int cols, bool residual_and_saved) {
    Test t;
    begin(&t, "layernorm_forward", "rows=%d cols=%d eps=1e-12 %s", rows, cols,
          residual_and_saved ? "with residual, saving normalized and inverse_std" : "no residual, nothing saved");
    size_t count = (size_t)rows * cols;
    int x = buffer(&t, offset_rows(rows, cols), count * sizeof(float));
    int weight = random_buffer(&t, (size_t)cols, 0.8f, 1.2f), bias = random_buffer(&t, (size_t)cols, -0.1f, 0.1f);
    int residual = -1, normalized = -1, inverse_std = -1;
    if (residual_and_saved) {
        residual = random_buffer(&t, count, -1, 1);
        normalized = random_buffer(&t, count, -1, 1);
        inverse_std = random_buffer(&t, (size_t)rows, -1, 1);
    }
    output(&t, x, "x", ELEMENTWISE);
    if (residual_and_saved) {
        output(&t, normalized, "normalized", ELEMENTWISE);
        output(&t, inverse_std, "inverse_std", ELEMENTWISE);
    }
    RUN(&t, api->layernorm_forward(DF(x), rows, cols, OPT(residual), DF(weight), DF(bias), 1e-12f, OPT(normalized),
                                   OPT(inverse_std)));
}

/* LayerNorm with the result rounded to bfloat16 as well (encoding in bf16). x as layernorm_forward's; copy's values
 * compared, not its bits: x may differ in its last bits (sums in another order), and a value round the other way. */
static void layernorm_forward_bf16_case(int rows, int cols, bool residual) {
    Test t;
    begin(&t, "layernorm_forward_bf16", "rows=%d cols=%d eps=1e-12 %s", rows, cols, residual ? "with residual" : "no residual");
    size_t count = (size_t)rows * cols;
    int x = buffer(&t, offset_rows(rows, cols), count * sizeof(float));
    int weight = random_buffer(&t, (size_t)cols, 0.8f, 1.2f), bias = random_buffer(&t, (size_t)cols, -0.1f, 0.1f);
    int r = residual ? random_buffer(&t, count, -1, 1) : -1, copy = bf16_buffer(&t, count, -1, 1);
    output(&t, x, "x", ELEMENTWISE);
    output_bf16_values(&t, copy, "copy", BF16_VALUES);
    RUN(&t, api->layernorm_forward_bf16(DF(x), rows, cols, OPT(r), DF(weight), DF(bias), 1e-12f, DB(copy)));
}

/* In place from element `first` (the elements before it must stay): 16-byte chunks after a head of single elements. */
static void check_gelu_forward(size_t count, int first) {
    Test t;
    begin(&t, "gelu_forward", "count=%zu from element %d, x in [-6, 6]", count, first);
    int x = random_buffer(&t, count + first, -6, 6);
    output(&t, x, "x", ELEMENTWISE);
    RUN(&t, api->gelu_forward(DF(x) + first, count));
}

/* bfloat16 inputs of GELU and its backward whose results do not depend on erff's last bits: ±0, ±∞ (−∞ gives NaN:
 * −∞·0), NaNs, and magnitudes where erff is ±1 (GELU(−100) = −0) and, from ±1e30, v·v overflows (φ(v) = 0). */
static const uint16_t gelu_specials[] = {0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81,
                                         0x42C8, 0xC2C8, 0x7149, 0xF149}; /* ±100, ±~1e30 */
#define GELU_SPECIALS "±0, ±∞, NaNs, ±100, ±1e30"

static int gelu_specials_buffer(Test *t) {
    return buffer(t, memcpy(allocate(sizeof gelu_specials), gelu_specials, sizeof gelu_specials), sizeof gelu_specials);
}

/* bfloat16 GELU, in place (y = x, encoding) or into another y (training), where x must stay as it was (its bits
 * compared). The special values' results have their bits compared (NaN as any NaN). */
static void check_gelu_bf16(size_t count) {
    size_t n = sizeof gelu_specials / sizeof gelu_specials[0];
    for (int in_place = 1; in_place >= 0; in_place--) {
        const char *where = in_place ? "y = x in place" : "separate y";
        Test t;
        begin(&t, "gelu_bf16", "%zu special values: " GELU_SPECIALS ", %s", n, where);
        int x = gelu_specials_buffer(&t), y = in_place ? x : bf16_buffer(&t, n, -1, 1);
        if (!in_place) output_bf16(&t, x, "x");
        output_bf16(&t, y, "y");
        RUN(&t, api->gelu_bf16(DB(x), n, DB(y)));
        /* From element 1, an odd count: element 0 of y must stay; values compared (erff may differ by an ulp). */
        begin(&t, "gelu_bf16", "count=%zu from element 1, x in [-6, 6], %s", count, where);
        x = bf16_buffer(&t, count + 1, -6, 6);
        y = in_place ? x : bf16_buffer(&t, count + 1, -1, 1);
        if (!in_place) output_bf16(&t, x, "x");
        output_bf16_values(&t, y, "y", BF16_VALUES);
        RUN(&t, api->gelu_bf16(DB(x) + 1, count, DB(y) + 1));
    }
    /* x and y aligned unlike (x from element 1, y from 2): one element a thread throughout. */
    Test t;
    begin(&t, "gelu_bf16", "count=%zu, x from element 1 and y from element 2, x in [-6, 6]", count);
    int x = bf16_buffer(&t, count + 1, -6, 6), y = bf16_buffer(&t, count + 2, -1, 1);
    output_bf16(&t, x, "x");
    output_bf16_values(&t, y, "y", BF16_VALUES);
    RUN(&t, api->gelu_bf16(DB(x) + 1, count, DB(y) + 2));
}

/* The block softmax of a packed batch (`gap` floats between blocks, which must stay as they were). With
 * total_rows below Σ heads·L only the first total_rows rows are computed: the long-row case is one row of a
 * block of long_row floats. */
typedef enum { SOFTMAX_FORWARD, SOFTMAX_BACKWARD, SOFTMAX_BF16 } SoftmaxOp;

static void softmax_blocks_case(const char *what, const Packed *k, int total_rows, float spread, double tolerance,
                                SoftmaxOp op) {
    static const char *names[] = {"softmax_blocks", "softmax_backward_blocks", "softmax_blocks_bf16"};
    Test t;
    begin(&t, names[op], "%s: %d blocks, heads=%d, %d rows, x in [-%g, %g]%s", what, k->count, k->heads, total_rows, spread,
          spread, op == SOFTMAX_BF16 ? " (bfloat16), 1/16 −∞" : "");
    int offsets, lengths;
    block_buffers(&t, k, &offsets, &lengths);
    if (op == SOFTMAX_BACKWARD) {
        /* P: softmax rows in the blocks (the gaps hold anything). */
        float *p = floats((size_t)k->floats, -1, 1);
        for (int s = 0, done = 0; s < k->count; s++) {
            int L = k->length[s];
            for (int r = 0; r < k->heads * L && done < total_rows; r++, done++) {
                float *row = probability_rows(1, L);
                memcpy(p + packed_row(k, s, r), row, (size_t)L * sizeof(float));
                free(row);
            }
        }
        int pb = buffer(&t, p, (size_t)k->floats * sizeof(float));
        int dp = random_buffer(&t, (size_t)k->floats, -1, 1);
        output(&t, dp, "dp", tolerance);
        RUN(&t, api->softmax_backward_blocks(DF(pb), DF(dp), DL(offsets), DI(lengths), k->count, k->heads, total_rows));
    } else if (op == SOFTMAX_BF16) {
        /* bfloat16 scores in place (what lies between the blocks and past total_rows stays), 1/16 of them −∞ (their
         * probabilities exactly 0), never a row's first (a row all −∞ would be NaN). Compared as values: expf may differ
         * by an ulp between the sides, a probability round the other way. */
        int x = bf16_buffer(&t, (size_t)k->floats, -spread, spread);
        uint16_t *scores = t.buffers[x].host;
        for (int s = 0, done = 0; s < k->count; s++)
            for (int r = 0; r < k->heads * k->length[s] && done < total_rows; r++, done++)
                for (int j = 1; j < k->length[s]; j++)
                    if (below(16) == 0) scores[packed_row(k, s, r) + j] = 0xFF80;
        output_bf16_values(&t, x, "x", tolerance);
        RUN(&t, api->softmax_blocks_bf16(DB(x), DL(offsets), DI(lengths), k->count, k->heads, total_rows));
    } else {
        int x = random_buffer(&t, (size_t)k->floats, -spread, spread);
        output(&t, x, "x", tolerance);
        RUN(&t, api->softmax_blocks(DF(x), DL(offsets), DI(lengths), k->count, k->heads, total_rows));
    }
}

static void check_softmax_blocks(SoftmaxOp op) {
    /* In bfloat16 a value may round the other way (BF16_VALUES); across a whole vocabulary LONG_SUM's 1e-4 in 1/sum
     * moves ~2.6% of the values across a rounding boundary, one ulp (2^-8) each: ~6e-4 of normalised error. */
    double elementwise = op == SOFTMAX_BF16 ? BF16_VALUES : ELEMENTWISE, long_sum = op == SOFTMAX_BF16 ? 2e-3 : LONG_SUM;
    Packed k = packed_batch(S.packed, S.attention[0], S.heads, 3, false);
    char what[96];
    snprintf(what, sizeof what, "attention blocks of 0-%d tokens, 3 floats between blocks", S.attention[0]);
    softmax_blocks_case(what, &k, k.rows, 4, elementwise, op);
    /* Rows longer than the kernels keep in registers (512), one head. */
    Packed longer = {.count = S.packed < 10 ? 2 : 4, .heads = 1, .length = {513, 700, 1, 1000}}; /* 2 with --quick */
    lay_out(&longer, 0);
    softmax_blocks_case("rows longer than 512", &longer, longer.count == 2 ? 513 + 700 : longer.rows, 4, elementwise, op);
    Packed vocabulary = {.count = 1, .heads = 1, .length = {S.long_row}, .floats = S.long_row, .rows = 1};
    softmax_blocks_case("one row over a whole vocabulary", &vocabulary, 1, 8, long_sum, op);
}

static void check_elementwise(size_t count) {
    Test t;
    begin(&t, "add", "count=%zu", count);
    int y = random_buffer(&t, count, -1, 1);
    int x = random_buffer(&t, count, -1, 1);
    output(&t, y, "y", ELEMENTWISE);
    RUN(&t, api->add(DF(y), DF(x), count));

    begin(&t, "scale", "count=%zu factor=0.37", count);
    x = random_buffer(&t, count, -1, 1);
    output(&t, x, "x", ELEMENTWISE);
    RUN(&t, api->scale(DF(x), count, 0.37f));
}

/* The dropout of attention probabilities in the padded layout, exact: each row from its draw in the unpadded one
 * (what lies between the blocks and between the heads stays as it was). */
static void dropout_blocks_case(const Packed *k, int total_rows, uint64_t seed, uint64_t counter, float probability) {
    Test t;
    begin(&t, "dropout_blocks", "%d blocks of 0-%d tokens, heads=%d, %d of %d rows, seed=%#llx counter=%llu p=%g",
          k->count, S.attention[0], k->heads, total_rows, k->rows, (unsigned long long)seed, (unsigned long long)counter,
          probability);
    long long draws[MAX_PACKED];
    for (int s = 0, sum = 0; s < k->count; s++) {
        draws[s] = sum;
        sum += k->heads * k->length[s] * k->length[s];
    }
    int offsets, lengths, starts = copied_buffer(&t, draws, (size_t)k->count * sizeof(long long));
    block_buffers(&t, k, &offsets, &lengths);
    int x = random_buffer(&t, (size_t)k->floats, -3, 3);
    output(&t, x, "x", EXACT);
    RUN(&t, api->dropout_blocks(DF(x), DL(offsets), DL(starts), DI(lengths), k->count, k->heads, total_rows, seed,
                                counter, probability));
}

/* The draws are SeededRandom's: the GPU must drop exactly the CPU's units, and x · mask is one float multiply on
 * both sides, so the results are bit-identical. */
static void dropout_case(size_t count, uint64_t seed, uint64_t counter, float probability) {
    Test t;
    begin(&t, "dropout", "count=%zu seed=%#llx counter=%llu p=%g", count, (unsigned long long)seed,
          (unsigned long long)counter, probability);
    int x = random_buffer(&t, count, -3, 3);
    output(&t, x, "x", EXACT);
    RUN(&t, api->dropout(DF(x), count, seed, counter, probability));
}

/* The encoder's pooling of a packed batch: reset every sequence's maxima, then the rows a chunk at a time; the logits
 * float32, or with bf16 bfloat16 (splade_max_segments_bf16). */
static int max_pool(const Api *api, const void *logits, bool bf16, int rows, int cols, int chunk, const int32_t *starts,
                    int segments, float *running, int32_t *argmax) {
    int code = api->splade_max_reset(running, argmax, (size_t)segments * cols);
    for (int first = 0; first < rows && !code; first += chunk) {
        int count = rows - first < chunk ? rows - first : chunk;
        size_t at = (size_t)first * cols;
        code = bf16 ? api->splade_max_segments_bf16((const uint16_t *)logits + at, count, cols, first, starts, segments,
                                                    running, argmax)
                    : api->splade_max_segments((const float *)logits + at, count, cols, first, starts, segments, running,
                                               argmax);
    }
    return code;
}

/* The sequence of packed row `row`. */
static int sequence_of(const int32_t *starts, int segments, int row) {
    int k = 0;
    while (k + 1 < segments && starts[k + 1] <= row) k++;
    return k;
}

/* Logits over a packed batch with, in every sequence: ties for the maximum between two of its rows (columns
 * 0, 7, 14, …: the first row must win, strict >), its first row against its last (column 5), a maximum of −0
 * before a +0 (column 1: a tie under >, not under fmaxf's sign rules), all-negative and all −∞ columns (3, 2:
 * the reset's −∞ and argmax −1 stay); and at every chunk boundary inside a sequence, the boundary's two rows
 * tied for the maximum (columns 4, 15, 26, …: the row of the earlier chunk must win). Returns the number of
 * such boundaries in `boundary_ties`. */
static float *pooling_logits(int rows, int cols, const int32_t *starts, int segments, int chunk, int *boundary_ties) {
    float *logits = floats((size_t)rows * cols, -5, 5);
#define AT(r, j) logits[(size_t)(r) * cols + (j)]
    for (int k = 0; k < segments; k++) {
        int first = starts[k], length = starts[k + 1] - starts[k];
        if (length >= 2)
            for (int j = 0; j < cols; j += 7) {
                int a = first + below(length), b = first + (a - first + 1 + below(length - 1)) % length;
                AT(a, j) = AT(b, j) = uniform(5.5f, 7.5f);
            }
    }
    *boundary_ties = 0;
    for (int boundary = chunk; boundary < rows; boundary += chunk)
        if (sequence_of(starts, segments, boundary - 1) == sequence_of(starts, segments, boundary)) {
            ++*boundary_ties;
            for (int j = 4; j < cols; j += 11) AT(boundary - 1, j) = AT(boundary, j) = 9;
        }
    for (int k = 0; k < segments; k++) {
        int first = starts[k], last = starts[k + 1] - 1;
        for (int r = first; r <= last; r++) {
            AT(r, 1) = -uniform(0.5f, 5);
            AT(r, 2) = -INFINITY;
            AT(r, 3) = -uniform(0.5f, 5);
        }
        AT(first + (last - first) / 3, 1) = -0.0f;
        AT(last, 1) = 0.0f; /* a one-row sequence: just +0 */
        AT(first, 5) = AT(last, 5) = 9.5f;
    }
#undef AT
    return logits;
}

/* pooling_logits as bfloat16 (the floats truncated: equal ones stay equal, ±0, −∞, 9 and 9.5 exact), with in every
 * sequence NaN in column 6 but in one row (whose value is the maximum: NaN never wins), +∞ in two rows of column 8
 * (the first wins), and NaN in every row of column 10 (the reset's −∞ and −1 stay). Frees `logits`. */
static uint16_t *pooling_logits_bf16(float *logits, int rows, int cols, const int32_t *starts, int segments) {
    uint16_t *half = allocate((size_t)rows * cols * sizeof(uint16_t));
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
        uint32_t bits;
        memcpy(&bits, &logits[i], sizeof bits);
        half[i] = (uint16_t)(bits >> 16);
    }
    free(logits);
    for (int k = 0; k < segments; k++) {
        int first = starts[k], length = starts[k + 1] - starts[k], kept = first + below(length);
        for (int r = first; r < first + length; r++) {
            if (r != kept) half[(size_t)r * cols + 6] = 0x7FC0;
            half[(size_t)r * cols + 10] = r % 2 ? 0x7FC0 : 0xFF81;
        }
        half[(size_t)(first + length / 2) * cols + 8] = half[(size_t)(first + length - 1) * cols + 8] = 0x7F80;
    }
    return half;
}

/* The sequences of a pooling case's packed batch: lengths drawn until the rows are used up (the last one takes what is
 * left); the first two within a third of a chunk, so that the first chunk touches three. Returns the starts (one past
 * the last too) and their number in `segments`. */
static int32_t *pooling_starts(const PoolingCase *c, int *segments) {
    int rows = c->rows, chunk = c->chunk, n = 0;
    int32_t *starts = allocate(((size_t)rows + 1) * sizeof(int32_t));
    starts[0] = 0;
    while (starts[n] < rows) {
        int length = n < 2 ? 1 + below(chunk / 3 > 1 ? chunk / 3 : 1)
                     : below(4) == 0 ? 1 + below(8)
                                     : c->min_length + below(c->max_length - c->min_length + 1);
        starts[n + 1] = starts[n] + length < rows ? starts[n] + length : rows;
        n++;
    }
    *segments = n;
    return starts;
}

static void pooling_case(const PoolingCase *c, bool bf16) {
    int rows = c->rows, cols = c->vocabulary, chunk = c->chunk, segments;
    int32_t *starts = pooling_starts(c, &segments);
    /* What the chunks make of them: the most sequences one chunk touches, the sequences split between chunks. */
    int most = 0, split = 0;
    for (int first = 0; first < rows; first += chunk) {
        int last = (first + chunk < rows ? first + chunk : rows) - 1;
        int touched = sequence_of(starts, segments, last) - sequence_of(starts, segments, first) + 1;
        most = touched > most ? touched : most;
        split += first > 0 && sequence_of(starts, segments, first - 1) == sequence_of(starts, segments, first);
    }
    if (most < 3 || split < 1)
        setup_failure("pooling case vocabulary=%d rows=%d chunk=%d: chunks touch at most %d sequences and split %d "
                      "(the case must have 3 and 1)", cols, rows, chunk, most, split);
    int ties = 0;
    void *logits = pooling_logits(rows, cols, starts, segments, chunk, &ties);
    if (bf16) logits = pooling_logits_bf16(logits, rows, cols, starts, segments);
    Test t;
    begin(&t, bf16 ? "splade_max_reset+segments_bf16" : "splade_max_reset+segments",
          "vocabulary=%d, %d packed rows of %d sequences in chunks of %d (up to %d sequences in a chunk, %d split "
          "between chunks, %d ties across a boundary), %s%s", cols, rows, segments, chunk, most, split, ties,
          c->argmax ? "with argmax" : "argmax NULL", bf16 ? ", bfloat16 logits with NaN and +∞ columns" : "");
    int l = buffer(&t, logits, (size_t)rows * cols * (bf16 ? sizeof(uint16_t) : sizeof(float)));
    int s = buffer(&t, starts, ((size_t)segments + 1) * sizeof(int32_t));
    size_t count = (size_t)segments * cols;
    int running = random_buffer(&t, count, -1, 1), argmax = -1;
    output(&t, running, "running", EXACT);
    if (c->argmax) {
        argmax = random_buffer(&t, count, -1, 1);
        output(&t, argmax, "argmax", EXACT);
    }
    /* The maxima are logits (widened exactly) and the argmax rows a strict > in row order: both exact. */
    RUN(&t, max_pool(api, dev[l], bf16, rows, cols, chunk, DI(s), segments, DF(running), argmax < 0 ? NULL : DI(argmax)));
}

static void check_splade_weights(int cols) {
    float *running = allocate((size_t)cols * sizeof(float));
    for (int j = 0; j < cols; j++) {
        int kind = below(20);
        running[j] = kind == 0 ? -INFINITY : kind == 1 ? 0 : kind == 2 ? uniform(1e-8f, 1e-6f) : kind < 8 ? -uniform(0, 3)
                                                                                                  : uniform(0, 10);
    }
    Test t;
    begin(&t, "splade_weights", "vocabulary=%d (sequences × V), with −∞, 0 and tiny maxima", cols);
    int r = buffer(&t, running, (size_t)cols * sizeof(float)), weights = random_buffer(&t, (size_t)cols, -1, 1);
    output(&t, weights, "weights", ELEMENTWISE);
    RUN(&t, api->splade_weights(DF(r), (size_t)cols, DF(weights)));
}

/* SPLADE weights of `rows` sequences with about `percent`% positive entries, and ±0, NaN, −∞, +∞ and tiny
 * positives among the others: the counts, then the packed entries (offsets from the emulation's counts, so
 * that a wrong count shows in the counts alone). The outputs start filled with garbage: every entry must be written. */
static void positive_case(int rows, int cols, int percent) {
    size_t count = (size_t)rows * cols;
    float *x = allocate(count * sizeof(float));
    int32_t *counts = allocate((size_t)rows * sizeof(int32_t));
    for (int r = 0; r < rows; r++) {
        counts[r] = 0;
        for (int j = 0; j < cols; j++) {
            int kind = below(100 * 8);
            float v = kind < 8 * percent ? uniform(1e-3f, 4) : kind == 800 - 1 ? NAN : kind == 800 - 2 ? -0.0f
                      : kind == 800 - 3 ? INFINITY : kind == 800 - 4 ? -INFINITY : kind == 800 - 5 ? 1e-40f : 0.0f;
            x[(size_t)r * cols + j] = v;
            counts[r] += v > 0;
        }
    }
    long long *offsets = allocate((size_t)rows * sizeof(long long));
    long long total = 0;
    for (int r = 0; r < rows; r++) {
        offsets[r] = total;
        total += counts[r];
    }
    free(counts);
    float *copy = allocate(count * sizeof(float));  /* each test takes its inputs over */
    memcpy(copy, x, count * sizeof(float));
    Test t;
    begin(&t, "count_positive", "%d rows × %d, ~%d%% positive, with ±0, NaN, ±∞ and subnormals", rows, cols, percent);
    int xb = buffer(&t, x, count * sizeof(float)), counted = random_buffer(&t, (size_t)rows, -1, 1);
    output(&t, counted, "counts", EXACT);
    RUN(&t, api->count_positive(DF(xb), rows, cols, DI(counted)));

    begin(&t, "compact_positive", "%d rows × %d, ~%d%% positive: %lld entries", rows, cols, percent, total);
    xb = buffer(&t, copy, count * sizeof(float));
    int o = buffer(&t, offsets, (size_t)rows * sizeof(long long));
    int indices = random_buffer(&t, (size_t)(total ? total : 1), -1, 1), values = random_buffer(&t, (size_t)(total ? total : 1), -1, 1);
    output(&t, indices, "indices", EXACT);
    output(&t, values, "values", EXACT);
    RUN(&t, api->compact_positive(DF(xb), rows, cols, DL(o), DI(indices), DF(values)));
}

/* ---- Backward kernels --------------------------------------------------------------------- */

/* Gradient accumulators start small but non-zero: an overwrite instead of += shows, and the added sums
 * dominate their norm. */
#define GRADIENT_START 0.01f

static void layernorm_backward_case(int rows, int cols, bool in_place) {
    size_t count = (size_t)rows * cols;
    Test t;
    begin(&t, "layernorm_backward", "rows=%d cols=%d, %s", rows, cols, in_place ? "dx = dy in place" : "separate dx");
    int dy = random_buffer(&t, count, -1, 1), normalized = random_buffer(&t, count, -2, 2);
    int inverse_std = random_buffer(&t, (size_t)rows, 0.2f, 5), weight = random_buffer(&t, (size_t)cols, 0.8f, 1.2f);
    int dx = in_place ? dy : random_buffer(&t, count, -1, 1);
    int dweight = random_buffer(&t, (size_t)cols, -GRADIENT_START, GRADIENT_START);
    int dbias = random_buffer(&t, (size_t)cols, -GRADIENT_START, GRADIENT_START);
    output(&t, dx, "dx", ELEMENTWISE);
    output(&t, dweight, "dweight", ACCUMULATED);
    output(&t, dbias, "dbias", ACCUMULATED);
    RUN(&t, api->layernorm_backward(DF(dy), rows, cols, DF(normalized), DF(inverse_std), DF(weight), DF(dx), DF(dweight),
                                    DF(dbias)));
}

/* GELU's backward on t's forward input x (float32, or with bf16 bfloat16), which must stay as it was, with random dy
 * and dx separate or dy itself; with specials (x gelu_specials) a NaN dx on both sides is equal. */
static void gelu_backward_run(Test *t, int x, size_t count, bool in_place, bool bf16, bool specials) {
    int dy = random_buffer(t, count, -1, 1);
    int dx = in_place ? dy : random_buffer(t, count, -1, 1);
    if (bf16) output_bf16(t, x, "x");
    else output(t, x, "x", EXACT);
    output(t, dx, "dx", ELEMENTWISE);
    t->buffers[dx].nan_equal = specials;
    RUN(t, bf16 ? api->gelu_backward_bf16(DF(dy), DB(x), count, DF(dx)) : api->gelu_backward(DF(dy), DF(x), count, DF(dx)));
}

static const char *dx_where(bool in_place) { return in_place ? "dx = dy in place" : "separate dx"; }

static void gelu_backward_case(size_t count, bool in_place, bool bf16) {
    Test t;
    begin(&t, bf16 ? "gelu_backward_bf16" : "gelu_backward", "count=%zu x in [-6, 6], %s", count, dx_where(in_place));
    int x = bf16 ? bf16_buffer(&t, count, -6, 6) : random_buffer(&t, count, -6, 6);
    gelu_backward_run(&t, x, count, in_place, bf16, false);
}

/* The special forward inputs: dx = dy/2 at ±0, dy or ±0 at the large magnitudes, NaN at ±∞ (±∞·0) and NaNs. */
static void gelu_backward_bf16_specials_case(bool in_place) {
    size_t n = sizeof gelu_specials / sizeof gelu_specials[0];
    Test t;
    begin(&t, "gelu_backward_bf16", "%zu special values of x: " GELU_SPECIALS ", %s", n, dx_where(in_place));
    gelu_backward_run(&t, gelu_specials_buffer(&t), n, in_place, true, true);
}

/* `ids` (taken over): token ids, with repeats that the kernel must add atomically. */
static void embed_backward_case(const char *what, int32_t *ids) {
    int T = S.tokens, h = S.h;
    Test t;
    begin(&t, "embed_backward", "tokens=%d h=%d vocabulary=%d, %s", T, h, S.vocabulary, what);
    int i = buffer(&t, ids, (size_t)T * sizeof(int32_t));
    int positions = buffer(&t, token_positions((size_t)T, S.length), (size_t)T * sizeof(int32_t));
    int dx = random_buffer(&t, (size_t)T * h, -1, 1);
    int dword = random_buffer(&t, (size_t)S.vocabulary * h, -GRADIENT_START, GRADIENT_START);
    int dposition = random_buffer(&t, (size_t)S.positions * h, -GRADIENT_START, GRADIENT_START);
    int dtoken_type = random_buffer(&t, 2 * (size_t)h, -GRADIENT_START, GRADIENT_START); /* row 1 stays */
    output(&t, dword, "dword", ACCUMULATED);
    output(&t, dposition, "dposition", ACCUMULATED);
    output(&t, dtoken_type, "dtoken_type", ACCUMULATED);
    RUN(&t, api->embed_backward(DI(i), DI(positions), T, h, DF(dx), DF(dword), DF(dposition), DF(dtoken_type)));
}

static void bias_backward_case(int rows, int cols, const char *why, double tolerance) {
    Test t;
    begin(&t, "bias_backward", "rows=%d cols=%d%s", rows, cols, why);
    int dy = random_buffer(&t, (size_t)rows * cols, -1, 1);
    int dbias = random_buffer(&t, (size_t)cols, -GRADIENT_START, GRADIENT_START);
    output(&t, dbias, "dbias", tolerance);
    RUN(&t, api->bias_backward(DF(dy), rows, cols, DF(dbias)));
}

/* The pooling backward of a packed batch (the sequences of a pooling case's layout, hidden rows of width h), over
 * `per_sequence` entries of each sequence, shuffled (not in entry order). The maxima and argmax rows of every
 * [sequences×cols] entry are synthesised: ~1 in 4 not positive (0, −0, negative, −∞ with argmax −1, or NaN: such
 * entries must change nothing), the others' argmax rows half on 4 rows of their sequence (columns sharing a dhidden
 * row); a quarter of every sequence's entries from 8 columns common to the batch (sequences sharing a ddecoder row and
 * a dbias entry); ~1 in 10 gradients zero. The setup fails if the entries lack one of these. */
static void pool_backward_case(const PoolingCase *layout, int h, int per_sequence) {
    int cols = layout->vocabulary, rows = layout->rows, segments;
    int32_t *starts = pooling_starts(layout, &segments);
    if (per_sequence > cols / 2)
        setup_failure("pool backward: %d entries per sequence of %d columns", per_sequence, cols);
    size_t size = (size_t)segments * cols;
    float *running = allocate(size * sizeof(float));
    int32_t *argmax = allocate(size * sizeof(int32_t));
    for (int s = 0; s < segments; s++) {
        int first = starts[s], length = starts[s + 1] - first, hot[4];
        for (int i = 0; i < 4; i++) hot[i] = first + below(length);
        for (size_t e = (size_t)s * cols; e < (size_t)(s + 1) * cols; e++) {
            int kind = below(20);
            running[e] = kind == 0 ? -INFINITY : kind == 1 ? 0.0f : kind == 2 ? -0.0f : kind == 3 ? NAN
                         : kind == 4 ? -uniform(0, 3) : uniform(0.01f, 5);
            argmax[e] = kind == 0 ? -1 : below(2) ? hot[below(4)] : first + below(length);
        }
    }
    int common[8];
    for (int i = 0; i < 8; i++) common[i] = below(cols);
    int count = 0, skipped = 0, nan = 0, zero = 0, shared = 0, *users = allocate((size_t)cols * sizeof(int));
    long long *entries = allocate((size_t)segments * per_sequence * sizeof(long long));
    float *dweights = allocate((size_t)segments * per_sequence * sizeof(float));
    bool *taken = allocate((size_t)cols * sizeof(bool));
    memset(users, 0, (size_t)cols * sizeof(int));
    for (int s = 0; s < segments; s++) {
        memset(taken, 0, (size_t)cols * sizeof(bool));
        for (int n = 0; n < per_sequence; n++) {
            int j = below(4) == 0 ? common[below(8)] : below(cols);
            while (taken[j]) j = (j + 1) % cols;
            taken[j] = true;
            long long e = (long long)s * cols + j;
            entries[count] = e;
            dweights[count++] = below(10) == 0 ? 0 : uniform(-1, 1);
            skipped += !(running[e] > 0);
            nan += isnan(running[e]);
            zero += running[e] > 0 && dweights[count - 1] == 0;
            shared += ++users[j] == 2;
        }
    }
    free(taken);
    free(users);
    for (int k = count - 1; k > 0; k--) { /* shuffled, gradients with their entries */
        int other = below(k + 1);
        long long e = entries[k];
        float dw = dweights[k];
        entries[k] = entries[other], dweights[k] = dweights[other];
        entries[other] = e, dweights[other] = dw;
    }
    if (segments < 3 || skipped == 0 || nan == 0 || zero == 0 || shared == 0)
        setup_failure("pool backward vocabulary=%d rows=%d: %d sequences, %d entries skipped (%d NaN), %d zero "
                      "gradients, %d shared columns (3 sequences and one of each needed)", cols, rows, segments,
                      skipped, nan, zero, shared);
    free(starts);
    Test t;
    begin(&t, "splade_pool_backward", "vocabulary=%d h=%d, %d packed rows of %d sequences, %d entries shuffled (%d "
          "skipped: ≤ 0, −∞ or %d NaN maxima; %d zero gradients), %d columns shared by sequences, half on 4 rows each",
          cols, h, rows, segments, count, skipped, nan, zero, shared);
    int en = buffer(&t, entries, (size_t)count * sizeof(long long));
    int dw = buffer(&t, dweights, (size_t)count * sizeof(float));
    int r = buffer(&t, running, size * sizeof(float)), a = buffer(&t, argmax, size * sizeof(int32_t));
    int decoder = random_buffer(&t, (size_t)cols * h, -1, 1), hidden = random_buffer(&t, (size_t)rows * h, -1, 1);
    int dhidden = random_buffer(&t, (size_t)rows * h, -GRADIENT_START, GRADIENT_START);
    int ddecoder = random_buffer(&t, (size_t)cols * h, -GRADIENT_START, GRADIENT_START);
    int dbias = random_buffer(&t, (size_t)cols, -GRADIENT_START, GRADIENT_START);
    /* All three are atomic sums on the GPU, in any order (the emulation's is the entries'), of the same float terms
     * (--fmad=false): the entries in reverse order differ by 1.4e-7 (dhidden) and 4e-8 (ddecoder, dbias). */
    output(&t, dhidden, "dhidden", ACCUMULATED);
    output(&t, ddecoder, "ddecoder", ELEMENTWISE);
    output(&t, dbias, "dbias", ELEMENTWISE);
    RUN(&t, api->splade_pool_backward(DL(en), DF(dw), count, cols, h, DF(r), DI(a), DF(decoder), DF(hidden),
                                      DF(dhidden), DF(ddecoder), DF(dbias)));
}

/* ---- Optimizer ---------------------------------------------------------------------------- */

static void adamw_case(size_t count, int decays) {
    /* Step 3 of BERT fine-tuning's settings; the caller's bias corrections in double, as the header says. */
    float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f;
    int step = 3;
    float step_size = (float)(lr / (1 - pow(beta1, step)));
    double correction2_root = sqrt(1 - pow(beta2, step));
    Test t;
    begin(&t, "adamw_step", "count=%zu lr=%g wd=0.01 decays=%d step=%d", count, lr, decays, step);
    int p = random_buffer(&t, count, -0.1f, 0.1f), g = random_buffer(&t, count, -0.01f, 0.01f);
    int m = random_buffer(&t, count, -1e-3f, 1e-3f), v = random_buffer(&t, count, 0, 1e-5f);
    output(&t, p, "p", ELEMENTWISE);
    output(&t, m, "m", ELEMENTWISE);
    output(&t, v, "v", ELEMENTWISE);
    RUN(&t, api->adamw_step(DF(p), DF(g), DF(m), DF(v), count, lr, beta1, beta2, 1e-8f, 0.01f, decays, step_size,
                            correction2_root));
}

/* host_sum starts at 1.5: the sum is added to it, not stored. */
static void sum_squares_case(size_t count) {
    Test t;
    begin(&t, "sum_squares", "count=%zu onto 1.5", count);
    int x = random_buffer(&t, count, -1, 1);
    t.has_sum = true;
    t.sum[EMU] = t.sum[REAL] = 1.5;
    RUN(&t, api->sum_squares(DF(x), count, &t.sum[side]));
}

/* ---- Argument errors ---------------------------------------------------------------------- */

/* A call on both sides (`api`, and `dev`: a few small buffers of that side) must give `expected` on both:
 * the emulation's argument checks are the kernels'. */
#define EXPECT_STATUS(what, expected, call)                                                     \
    do {                                                                                        \
        int codes_[2];                                                                          \
        for (int side = EMU; side <= REAL; side++) {                                            \
            const Api *api = &apis[side];                                                       \
            void *const *dev = small[side];                                                     \
            (void)dev;                                                                          \
            codes_[side] = (call);                                                              \
        }                                                                                       \
        Test t_;                                                                                \
        begin(&t_, "argument_errors", "%s: expected %d, emulation %d, real %d", what, expected, \
              codes_[EMU], codes_[REAL]);                                                       \
        report(&t_, "status", codes_[EMU] != (expected) || codes_[REAL] != (expected), EXACT, NAN); \
    } while (0)

/* A group of `type`: A at a, B at b, C at c (device pointers of `dev`, or NULL), strides of 16 elements. */
#define GROUP(type, a, b, c, m, n, k, batch, lda, ldb, ldc) ((type){m, n, k, batch, a, lda, 16, b, ldb, 16, c, ldc, 16})
/* `function` (a grouped product) on the groups given, compound literals of `type`. */
#define GROUPED(name, type, function, what, expected, ...)                                                            \
    EXPECT_STATUS(name " " what, expected,                                                                            \
                  api->function(0, 1, 1, 0, (type[]){__VA_ARGS__},                                                    \
                                (int)(sizeof((type[]){__VA_ARGS__}) / sizeof(type))))
/* The checks of a grouped product, the same for the three kinds: the group count, then every group checked before any
 * runs (a bad one after a good one is still an error), and empty groups that need nothing; A and B at `ab`, C at `c`. */
#define GROUP_CHECKS(name, type, function, ab, c)                                                                     \
    do {                                                                                                              \
        EXPECT_STATUS(name " group_count=-1", BAD, api->function(0, 0, 1, 0, NULL, -1));                              \
        EXPECT_STATUS(name " group_count=0: a no-op", OK, api->function(0, 0, 1, 0, NULL, 0));                        \
        EXPECT_STATUS(name " groups NULL", BAD, api->function(0, 0, 1, 0, NULL, 1));                                  \
        GROUPED(name, type, function, "m=-1 in the second group", BAD, GROUP(type, ab, ab, c, 4, 4, 4, 1, 4, 4, 4),   \
                GROUP(type, ab, ab, c, -1, 4, 4, 1, 4, 4, 4));                                                        \
        GROUPED(name, type, function, "k=-1", BAD, GROUP(type, ab, ab, c, 4, 4, -1, 1, 4, 4, 4));                     \
        GROUPED(name, type, function, "batch=-1", BAD, GROUP(type, ab, ab, c, 4, 4, 4, -1, 4, 4, 4));                 \
        GROUPED(name, type, function, "lda=3 < k=4 (NT)", BAD, GROUP(type, ab, ab, c, 4, 4, 4, 1, 3, 4, 4));          \
        GROUPED(name, type, function, "ldb=3 < k=4 (NT: B is n×k)", BAD,                                              \
                GROUP(type, ab, ab, c, 4, 4, 4, 1, 4, 3, 4));                                                         \
        GROUPED(name, type, function, "ldc=3 < n=4", BAD, GROUP(type, ab, ab, c, 4, 4, 4, 1, 4, 4, 3));               \
        GROUPED(name, type, function, "c NULL", BAD, GROUP(type, ab, ab, NULL, 4, 4, 4, 1, 4, 4, 4));                 \
        GROUPED(name, type, function, "a NULL with k=4", BAD, GROUP(type, NULL, ab, c, 4, 4, 4, 1, 4, 4, 4));         \
        GROUPED(name, type, function, "b NULL with k=4", BAD, GROUP(type, ab, NULL, c, 4, 4, 4, 1, 4, 4, 4));         \
        GROUPED(name, type, function, "empty groups (m=0, n=0, batch=0), bad leading dimensions, NULLs: a no-op", OK, \
                GROUP(type, NULL, NULL, NULL, 0, 4, 4, 2, 0, 0, 0),                                                   \
                GROUP(type, NULL, NULL, NULL, 4, 0, 4, 1, 0, 0, 0),                                                   \
                GROUP(type, NULL, NULL, NULL, 4, 4, 4, 0, 0, 0, 0));                                                  \
    } while (0)

/* Run last: a library that accepted one of these calls could have broken its device. */
static void check_argument_errors(void) {
    void *small[2][2];
    int32_t starts[2] = {0, 4};
    for (int side = EMU; side <= REAL; side++) {
        if (apis[side].malloc(&small[side][0], 64 * sizeof(float)) || apis[side].malloc(&small[side][1], sizeof starts) ||
            apis[side].copy_to_device(small[side][1], starts, sizeof starts))
            setup_failure("%s library: buffers for the argument checks: %s", side_names[side], apis[side].last_error());
    }
    const int OK = SPLADE_CUDA_OK, BAD = SPLADE_CUDA_ERROR_ARGUMENT;
    EXPECT_STATUS("init(0) again: a no-op", OK, api->init(0));
    EXPECT_STATUS("init(1) after init(0): one device per process", BAD, api->init(1));
    void *unallocated = NULL;
    EXPECT_STATUS("malloc of 2^60 bytes: out of memory", SPLADE_CUDA_ERROR_OUT_OF_MEMORY,
                  api->malloc(&unallocated, (size_t)1 << 60));
    EXPECT_STATUS("splade_max_segments rows=-1", BAD, api->splade_max_segments(DF(0), -1, 16, 0, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments cols=0", BAD, api->splade_max_segments(DF(0), 4, 0, 0, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments segments=0", BAD, api->splade_max_segments(DF(0), 4, 16, 0, DI(1), 0, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments first_row=-1", BAD,
                  api->splade_max_segments(DF(0), 4, 16, -1, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments first_row + rows past INT32_MAX", BAD,
                  api->splade_max_segments(DF(0), 4, 16, INT32_MAX - 2, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments logits NULL", BAD, api->splade_max_segments(NULL, 4, 16, 0, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments segment_starts NULL", BAD,
                  api->splade_max_segments(DF(0), 4, 16, 0, NULL, 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments running NULL", BAD,
                  api->splade_max_segments(DF(0), 4, 16, 0, DI(1), 1, NULL, DI(0)));
    EXPECT_STATUS("splade_max_segments rows=0: a no-op", OK, api->splade_max_segments(NULL, 0, 16, 0, NULL, 1, NULL, NULL));
    EXPECT_STATUS("splade_max_segments_bf16 rows=-1", BAD,
                  api->splade_max_segments_bf16(DB(0), -1, 16, 0, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments_bf16 segments=0", BAD,
                  api->splade_max_segments_bf16(DB(0), 4, 16, 0, DI(1), 0, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments_bf16 logits NULL", BAD,
                  api->splade_max_segments_bf16(NULL, 4, 16, 0, DI(1), 1, DF(0), NULL));
    EXPECT_STATUS("splade_max_segments_bf16 running NULL", BAD,
                  api->splade_max_segments_bf16(DB(0), 4, 16, 0, DI(1), 1, NULL, DI(0)));
    EXPECT_STATUS("splade_max_segments_bf16 rows=0: a no-op", OK,
                  api->splade_max_segments_bf16(NULL, 0, 16, 0, NULL, 1, NULL, NULL));
    EXPECT_STATUS("splade_max_reset running NULL", BAD, api->splade_max_reset(NULL, NULL, 4));
    EXPECT_STATUS("splade_max_reset count=0: a no-op", OK, api->splade_max_reset(NULL, NULL, 0));
    EXPECT_STATUS("splade_weights weights NULL", BAD, api->splade_weights(DF(0), 4, NULL));
    EXPECT_STATUS("splade_weights count=0: a no-op", OK, api->splade_weights(NULL, 0, NULL));
    EXPECT_STATUS("linear in=0", BAD, api->linear(DF(0), 2, 0, DF(0), DF(0), 2, DF(1)));
    EXPECT_STATUS("linear bias NULL", BAD, api->linear(DF(0), 2, 2, DF(0), NULL, 2, DF(1)));
    EXPECT_STATUS("linear rows=0: a no-op", OK, api->linear(NULL, 0, 2, NULL, NULL, 2, NULL));
    EXPECT_STATUS("linear_bf16 out=-1", BAD, api->linear_bf16(DB(0), 2, 2, DB(0), DF(0), -1, DF(1)));
    EXPECT_STATUS("linear_bf16 y NULL", BAD, api->linear_bf16(DB(0), 2, 2, DB(0), DF(0), 2, NULL));
    EXPECT_STATUS("linear_bf16_out rows=-1", BAD, api->linear_bf16_out(DB(0), -1, 2, DB(0), DB(0), 2, DB(1)));
    EXPECT_STATUS("linear_bf16_out in=0", BAD, api->linear_bf16_out(DB(0), 2, 0, DB(0), DB(0), 2, DB(1)));
    EXPECT_STATUS("linear_bf16_out bias NULL", BAD, api->linear_bf16_out(DB(0), 2, 2, DB(0), NULL, 2, DB(1)));
    EXPECT_STATUS("linear_bf16_out y NULL", BAD, api->linear_bf16_out(DB(0), 2, 2, DB(0), DB(0), 2, NULL));
    EXPECT_STATUS("linear_bf16_out rows=0: a no-op", OK, api->linear_bf16_out(NULL, 0, 2, NULL, NULL, 2, NULL));
    EXPECT_STATUS("count_positive cols=0", BAD, api->count_positive(DF(0), 2, 0, DI(1)));
    EXPECT_STATUS("count_positive rows=-1", BAD, api->count_positive(DF(0), -1, 16, DI(1)));
    EXPECT_STATUS("count_positive counts NULL", BAD, api->count_positive(DF(0), 2, 16, NULL));
    EXPECT_STATUS("count_positive rows=0: a no-op", OK, api->count_positive(NULL, 0, 16, NULL));
    EXPECT_STATUS("compact_positive offsets NULL", BAD, api->compact_positive(DF(0), 2, 16, NULL, DI(1), DF(0)));
    EXPECT_STATUS("compact_positive values NULL", BAD, api->compact_positive(DF(0), 2, 16, DL(1), DI(1), NULL));
    EXPECT_STATUS("compact_positive rows=0: a no-op", OK, api->compact_positive(NULL, 0, 16, NULL, NULL, NULL));
#define POOL_BACKWARD(entries, count, cols, h, dbias)                                                                 \
    api->splade_pool_backward(entries, DF(0), count, cols, h, DF(0), DI(0), DF(0), DF(0), DF(0) + 16, DF(0) + 32, dbias)
    EXPECT_STATUS("splade_pool_backward count=-1", BAD, POOL_BACKWARD(DL(1), -1, 16, 4, DF(0) + 48));
    EXPECT_STATUS("splade_pool_backward cols=0", BAD, POOL_BACKWARD(DL(1), 1, 0, 4, DF(0) + 48));
    EXPECT_STATUS("splade_pool_backward h=0", BAD, POOL_BACKWARD(DL(1), 1, 16, 0, DF(0) + 48));
    EXPECT_STATUS("splade_pool_backward cols=0 with count=0", BAD, POOL_BACKWARD(NULL, 0, 0, 4, NULL));
    EXPECT_STATUS("splade_pool_backward entries NULL", BAD, POOL_BACKWARD(NULL, 1, 16, 4, DF(0) + 48));
    EXPECT_STATUS("splade_pool_backward dbias NULL", BAD, POOL_BACKWARD(DL(1), 1, 16, 4, NULL));
    EXPECT_STATUS("splade_pool_backward count=0 with NULL pointers: a no-op", OK,
                  api->splade_pool_backward(NULL, NULL, 0, 16, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
#undef POOL_BACKWARD
    EXPECT_STATUS("dropout x NULL", BAD, api->dropout(NULL, 4, 1, 0, 0.1f));
    EXPECT_STATUS("dropout probability=-0.1", BAD, api->dropout(DF(0), 4, 1, 0, -0.1f));
    EXPECT_STATUS("dropout probability=1.5", BAD, api->dropout(DF(0), 4, 1, 0, 1.5f));
    EXPECT_STATUS("dropout probability=NaN", BAD, api->dropout(DF(0), 4, 1, 0, NAN));
    EXPECT_STATUS("dropout probability=1.5 with count=0", BAD, api->dropout(NULL, 0, 1, 0, 1.5f));
    EXPECT_STATUS("dropout count=0: a no-op", OK, api->dropout(NULL, 0, 1, 0, 0.5f));
    EXPECT_STATUS("dropout probability=0 and 1", OK,
                  api->dropout(DF(0), 4, 1, 0, 0) | api->dropout(DF(0), 4, 1, 0, 1));

    /* Grouped products: every group is checked before anything runs. */
    GROUP_CHECKS("sgemm_grouped", splade_cuda_gemm_group, sgemm_grouped, DF(0), DF(0) + 32);

    /* bfloat16: the conversion's pointers; gemm_bf16's sizes are cuBLAS's to reject (a KERNEL error, from cuBLAS's
     * status 7), the grouped products' groups as sgemm_grouped's (C float32, then bfloat16). */
    const int REFUSED = SPLADE_CUDA_ERROR_KERNEL;
    EXPECT_STATUS("to_bf16 x NULL", BAD, api->to_bf16(NULL, 4, DB(0)));
    EXPECT_STATUS("to_bf16 y NULL", BAD, api->to_bf16(DF(0), 4, NULL));
    EXPECT_STATUS("to_bf16 count=0: a no-op", OK, api->to_bf16(NULL, 0, NULL));
    EXPECT_STATUS("from_bf16 x NULL", BAD, api->from_bf16(NULL, 4, DF(0)));
    EXPECT_STATUS("from_bf16 y NULL", BAD, api->from_bf16(DB(0), 4, NULL));
    EXPECT_STATUS("from_bf16 count=0: a no-op", OK, api->from_bf16(NULL, 0, NULL));
    EXPECT_STATUS("gemm_bf16 m=-1", REFUSED, api->gemm_bf16(0, 1, -1, 4, 4, 1, DB(0), 4, DB(0), 4, 0, DF(0) + 32, 4));
    EXPECT_STATUS("gemm_bf16 k=-1", REFUSED, api->gemm_bf16(0, 1, 4, 4, -1, 1, DB(0), 4, DB(0), 4, 0, DF(0) + 32, 4));
    EXPECT_STATUS("gemm_bf16 lda=3 < k=4 (NT)", REFUSED,
                  api->gemm_bf16(0, 1, 4, 4, 4, 1, DB(0), 3, DB(0), 4, 0, DF(0) + 32, 4));
    EXPECT_STATUS("gemm_bf16 lda=3 < m=4 (TN)", REFUSED,
                  api->gemm_bf16(1, 0, 4, 4, 4, 1, DB(0), 3, DB(0), 4, 0, DF(0) + 32, 4));
    EXPECT_STATUS("gemm_bf16 ldb=3 < n=4 (NN)", REFUSED,
                  api->gemm_bf16(0, 0, 4, 4, 4, 1, DB(0), 4, DB(0), 3, 0, DF(0) + 32, 4));
    EXPECT_STATUS("gemm_bf16 ldc=3 < n=4", REFUSED, api->gemm_bf16(0, 1, 4, 4, 4, 1, DB(0), 4, DB(0), 4, 0, DF(0) + 32, 3));
    EXPECT_STATUS("gemm_bf16 m=0 with NULLs and bad leading dimensions: a no-op", OK,
                  api->gemm_bf16(0, 1, 0, 4, 4, 1, NULL, 0, NULL, 0, 0, NULL, 0));
    GROUP_CHECKS("gemm_grouped_bf16", splade_cuda_gemm_group_bf16, gemm_grouped_bf16, DB(0), DF(0) + 32);
    GROUP_CHECKS("gemm_grouped_bf16_out", splade_cuda_gemm_group_bf16_out, gemm_grouped_bf16_out, DB(0), DB(0) + 64);

    /* LayerNorm with a bfloat16 copy: layernorm_forward's checks, and with rows, x and copy. */
    EXPECT_STATUS("layernorm_forward_bf16 cols=0", BAD,
                  api->layernorm_forward_bf16(DF(0), 2, 0, NULL, DF(0), DF(0), 1e-12f, DB(1)));
    EXPECT_STATUS("layernorm_forward_bf16 weight NULL", BAD,
                  api->layernorm_forward_bf16(DF(0), 2, 16, NULL, NULL, DF(0), 1e-12f, DB(1)));
    EXPECT_STATUS("layernorm_forward_bf16 copy NULL", BAD,
                  api->layernorm_forward_bf16(DF(0), 2, 16, NULL, DF(0), DF(0), 1e-12f, NULL));
    EXPECT_STATUS("layernorm_forward_bf16 rows=0: a no-op", OK,
                  api->layernorm_forward_bf16(NULL, 0, 16, NULL, DF(0), DF(0), 1e-12f, NULL));
    EXPECT_STATUS("gelu_bf16 x NULL", BAD, api->gelu_bf16(NULL, 4, DB(0)));
    EXPECT_STATUS("gelu_bf16 y NULL", BAD, api->gelu_bf16(DB(0), 4, NULL));
    EXPECT_STATUS("gelu_bf16 count=0: a no-op", OK, api->gelu_bf16(NULL, 0, NULL));
    EXPECT_STATUS("gelu_backward_bf16 dy NULL", BAD, api->gelu_backward_bf16(NULL, DB(0), 4, DF(0) + 32));
    EXPECT_STATUS("gelu_backward_bf16 x NULL", BAD, api->gelu_backward_bf16(DF(0) + 32, NULL, 4, DF(0) + 32));
    EXPECT_STATUS("gelu_backward_bf16 dx NULL", BAD, api->gelu_backward_bf16(DF(0) + 32, DB(0), 4, NULL));
    EXPECT_STATUS("gelu_backward_bf16 count=0: a no-op", OK, api->gelu_backward_bf16(NULL, NULL, 0, NULL));

    /* Block softmax: sizes, then pointers (none is read before the checks). */
#define OFFSETS ((const long long *)dev[0])
    EXPECT_STATUS("softmax_blocks blocks=-1", BAD, api->softmax_blocks(DF(0), OFFSETS, DI(1), -1, 2, 4));
    EXPECT_STATUS("softmax_blocks heads=0", BAD, api->softmax_blocks(DF(0), OFFSETS, DI(1), 1, 0, 4));
    EXPECT_STATUS("softmax_blocks total_rows=-1", BAD, api->softmax_blocks(DF(0), OFFSETS, DI(1), 1, 2, -1));
    EXPECT_STATUS("softmax_blocks blocks=0 with rows", BAD, api->softmax_blocks(DF(0), OFFSETS, DI(1), 0, 2, 4));
    EXPECT_STATUS("softmax_blocks x NULL", BAD, api->softmax_blocks(NULL, OFFSETS, DI(1), 1, 2, 4));
    EXPECT_STATUS("softmax_blocks offsets NULL", BAD, api->softmax_blocks(DF(0), NULL, DI(1), 1, 2, 4));
    EXPECT_STATUS("softmax_blocks lengths NULL", BAD, api->softmax_blocks(DF(0), OFFSETS, NULL, 1, 2, 4));
    EXPECT_STATUS("softmax_blocks total_rows=0: a no-op", OK, api->softmax_blocks(NULL, NULL, NULL, 0, 2, 0));
    EXPECT_STATUS("softmax_blocks_bf16 x NULL", BAD, api->softmax_blocks_bf16(NULL, OFFSETS, DI(1), 1, 2, 4));
    EXPECT_STATUS("softmax_blocks_bf16 heads=0", BAD, api->softmax_blocks_bf16(DB(0), OFFSETS, DI(1), 1, 0, 4));
    EXPECT_STATUS("softmax_blocks_bf16 blocks=0 with rows", BAD, api->softmax_blocks_bf16(DB(0), OFFSETS, DI(1), 0, 2, 4));
    EXPECT_STATUS("softmax_blocks_bf16 lengths NULL", BAD, api->softmax_blocks_bf16(DB(0), OFFSETS, NULL, 1, 2, 4));
    EXPECT_STATUS("softmax_blocks_bf16 total_rows=0: a no-op", OK, api->softmax_blocks_bf16(NULL, NULL, NULL, 0, 2, 0));
    EXPECT_STATUS("softmax_padded_bf16 heads=0", BAD, api->softmax_padded_bf16(DB(0), DI(1), 1, 0, 8));
    EXPECT_STATUS("softmax_padded_bf16 padded=-1", BAD, api->softmax_padded_bf16(DB(0), DI(1), 1, 2, -1));
    EXPECT_STATUS("softmax_padded_bf16 x NULL", BAD, api->softmax_padded_bf16(NULL, DI(1), 1, 2, 8));
    EXPECT_STATUS("softmax_padded_bf16 padded=0: a no-op", OK, api->softmax_padded_bf16(NULL, NULL, 1, 2, 0));
    EXPECT_STATUS("unpad_rows_bf16 width=0", BAD, api->unpad_rows_bf16(DB(0), 8, DI(1), 1, 4, 0, DB(0)));
    EXPECT_STATUS("unpad_rows_bf16 rows of no sequence", BAD, api->unpad_rows_bf16(DB(0), 8, DI(1), 0, 4, 2, DB(0)));
    EXPECT_STATUS("unpad_rows_bf16 packed NULL", BAD, api->unpad_rows_bf16(DB(0), 8, DI(1), 1, 4, 2, NULL));
    EXPECT_STATUS("unpad_rows_bf16 tokens=0: a no-op", OK, api->unpad_rows_bf16(NULL, 8, NULL, 0, 0, 2, NULL));
    EXPECT_STATUS("softmax_backward_blocks heads=0", BAD,
                  api->softmax_backward_blocks(DF(0), DF(0), OFFSETS, DI(1), 1, 0, 4));
    EXPECT_STATUS("softmax_backward_blocks blocks=0 with rows", BAD,
                  api->softmax_backward_blocks(DF(0), DF(0), OFFSETS, DI(1), 0, 2, 4));
    EXPECT_STATUS("softmax_backward_blocks p NULL", BAD, api->softmax_backward_blocks(NULL, DF(0), OFFSETS, DI(1), 1, 2, 4));
    EXPECT_STATUS("softmax_backward_blocks dp NULL", BAD, api->softmax_backward_blocks(DF(0), NULL, OFFSETS, DI(1), 1, 2, 4));
    EXPECT_STATUS("softmax_backward_blocks total_rows=0: a no-op", OK,
                  api->softmax_backward_blocks(NULL, NULL, NULL, NULL, 0, 2, 0));
    EXPECT_STATUS("dropout_blocks heads=0", BAD, api->dropout_blocks(DF(0), OFFSETS, OFFSETS, DI(1), 1, 0, 4, 1, 0, 0.1f));
    EXPECT_STATUS("dropout_blocks blocks=0 with rows", BAD,
                  api->dropout_blocks(DF(0), OFFSETS, OFFSETS, DI(1), 0, 2, 4, 1, 0, 0.1f));
    EXPECT_STATUS("dropout_blocks x NULL", BAD, api->dropout_blocks(NULL, OFFSETS, OFFSETS, DI(1), 1, 2, 4, 1, 0, 0.1f));
    EXPECT_STATUS("dropout_blocks draws NULL", BAD, api->dropout_blocks(DF(0), OFFSETS, NULL, DI(1), 1, 2, 4, 1, 0, 0.1f));
    EXPECT_STATUS("dropout_blocks probability=1.5", BAD,
                  api->dropout_blocks(DF(0), OFFSETS, OFFSETS, DI(1), 1, 2, 4, 1, 0, 1.5f));
    EXPECT_STATUS("dropout_blocks probability=NaN", BAD,
                  api->dropout_blocks(DF(0), OFFSETS, OFFSETS, DI(1), 1, 2, 4, 1, 0, NAN));
    EXPECT_STATUS("dropout_blocks total_rows=0: a no-op", OK,
                  api->dropout_blocks(NULL, NULL, NULL, NULL, 0, 2, 0, 1, 0, 0.1f));
#undef OFFSETS
    for (int side = EMU; side <= REAL; side++) {
        if (apis[side].synchronize()) setup_failure("%s library: after the argument checks: %s", side_names[side],
                                                    apis[side].last_error());
        apis[side].free(small[side][0]);
        apis[side].free(small[side][1]);
    }
}

/* ---- Main --------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    bool quick = argc == 4 && strcmp(argv[3], "--quick") == 0;
    if (argc != 3 && !quick) {
        fprintf(stderr, "usage: %s REAL_LIB EMULATION_LIB [--quick]\n", argv[0]);
        return 2;
    }
    S = quick ? quick_sizes : full_sizes;
    load(&apis[REAL], argv[1], "real");
    load(&apis[EMU], argv[2], "emulation");
    if (apis[REAL].handle == apis[EMU].handle)
        fprintf(stderr, "kernel-check: both paths load the same library: it is compared with itself\n");

    const Api *real = &apis[REAL];
    if (real->init(0))
        setup_failure("real library: splade_cuda_init(0) failed: %s (devices %d, runtime %d, driver %d)",
                      real->last_error(), real->device_count(), real->runtime_version(), real->driver_version());
    if (apis[EMU].init(0)) setup_failure("emulation library: splade_cuda_init(0) failed: %s", apis[EMU].last_error());
    char name[256];
    int capability = 0;
    size_t memory = 0;
    if (real->device_info(0, name, sizeof name, &capability, &memory))
        setup_failure("real library: splade_cuda_device_info(0) failed: %s", real->last_error());
    printf("{\"device\": ");
    print_json_string(name);
    printf(", \"compute_capability\": %d, \"memory_mib\": %zu, \"devices\": %d, \"runtime_version\": %d, "
           "\"driver_version\": %d, \"cublas_version\": %d, \"sizes\": \"%s\"}\n",
           capability, memory >> 20, real->device_count(), real->runtime_version(), real->driver_version(),
           real->cublas_version(), quick ? "quick" : "full");
    fflush(stdout);

    size_t hidden = (size_t)S.tokens * S.h, intermediate = (size_t)S.tokens * S.inter;
    check_sgemm();
    for (int i = 0; i < 2; i++) check_attention(S.attention[i]);
    check_grouped();
    check_memory();

    fill_rows_case(S.tokens, S.inter);
    fill_rows_case(S.length, S.vocabulary);
    check_embed();
    layernorm_forward_case(S.tokens, S.h, true);
    layernorm_forward_case(S.tokens, S.h, false);
    layernorm_forward_case(5, 1000, true);
    layernorm_forward_case(3, 1030, true); /* a block a row: more than 1024 columns, not a multiple of 4 */
    layernorm_forward_bf16_case(S.tokens, S.h, true);
    layernorm_forward_bf16_case(7, 1001, false); /* odd sizes */
    check_gelu_forward(intermediate, 0);
    check_gelu_forward(hidden + 3, 1);
    check_gelu_bf16(intermediate + 3);
    check_softmax_blocks(SOFTMAX_FORWARD);
    check_softmax_blocks(SOFTMAX_BF16);
    check_elementwise(hidden);
    dropout_case(intermediate, 0x243F6A8885A308D3ull, (1ull << 32) - 777, 0.1f); /* counter + i crosses 2^32 */
    dropout_case((size_t)S.heads * S.attention[0] * S.attention[0], 42, 123456789012ull, 0.1f);
    dropout_case(hidden, 0xFFFFFFFFFFFFFF00ull, 1234, 0.5f); /* the state wraps past 2^64 */
    Packed attention = packed_batch(S.packed, S.attention[0], S.heads, 3, false);
    dropout_blocks_case(&attention, attention.rows, 42, 123456789012ull, 0.1f);
    dropout_blocks_case(&attention, attention.rows / 2 + 1, 7, 0, 0.5f); /* the first rows only */
    Packed one = {.count = 1, .heads = S.heads, .length = {S.attention[0] - 1}}; /* one block: no row starts */
    lay_out(&one, 0);
    dropout_blocks_case(&one, one.rows, 0xFFFFFFFFFFFFFF00ull, 99, 0.1f);
    const PoolingCase *pooling = quick ? quick_pooling : full_pooling;
    for (size_t i = 0; i < sizeof full_pooling / sizeof full_pooling[0]; i++) pooling_case(&pooling[i], false);
    /* bfloat16 logits (inference in bf16): training's layout with argmax, and the encoder's chunks without. */
    pooling_case(&pooling[0], true);
    pooling_case(&pooling[3], true);
    check_splade_weights(S.sequences * S.vocabulary);
    positive_case(S.sequences, S.vocabulary, 1);
    positive_case(3, 1000, 60);   /* tiles where whole warps are positive */
    positive_case(2, 257, 0);     /* a partial tile and (most likely) empty rows */

    layernorm_backward_case(S.tokens, S.h, false);
    layernorm_backward_case(S.tokens, S.h, true);
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        gelu_backward_case(intermediate, false, bf16);
        gelu_backward_case(intermediate, true, bf16);
    }
    gelu_backward_bf16_specials_case(false);
    gelu_backward_bf16_specials_case(true);
    check_softmax_blocks(SOFTMAX_BACKWARD);
    embed_backward_case("40% of the ids among 8", token_ids((size_t)S.tokens, S.vocabulary));
    int32_t *same = allocate((size_t)S.tokens * sizeof(int32_t));
    for (int i = 0; i < S.tokens; i++) same[i] = 101;
    embed_backward_case("every token the same id", same);
    bias_backward_case(S.tokens, S.inter, "", ACCUMULATED);
    bias_backward_case(70000, 8, ", 1094 chunks of 64 rows into fewer columns than a warp", ACCUMULATED);
    /* A chunk left out would show as ~4e-3. */
    if (!quick) bias_backward_case(65535 * 64 + 1000, 2, ", more 64-row chunks than gridDim.y's 65535", LONG_SUM);
    /* Training's batch with BERT's hidden width; short sequences of a big vocabulary with a width that is not a whole
     * number of warps (threads of the block left idle). */
    pool_backward_case(&pooling[0], S.h, quick ? 40 : 300);
    pool_backward_case(&pooling[2], 37, quick ? 40 : 300);

    for (int decays = 0; decays <= 1; decays++) adamw_case((size_t)S.h * S.inter, decays);
    sum_squares_case((size_t)S.h * S.inter);
    sum_squares_case(1001);

    check_bf16();
    check_linear();
    check_grouped_runs();
    check_padded_attention(false);
    check_padded_attention(true);
    check_padded_softmax_widths(quick);

    check_argument_errors();

    printf("{\"checks\": %d, \"failed\": %d, \"grouped_fallbacks\": %d, \"grouped_declined_status\": %d, "
           "\"linear_fallbacks\": %d}\n", checks, failures, real->grouped_fallbacks(), real->grouped_declined_status(),
           real->linear_fallbacks());
    return failures ? 1 : 0;
}
