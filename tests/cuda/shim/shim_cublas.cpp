// cuBLAS and cuBLASLt of the CUDA-on-CPU shim: the entry points libsplade_cuda dlopens, with the signatures,
// enum values and column-major semantics of NVIDIA's cublas_api.h / cublasLt.h (CUDA 12/13) and their documented
// argument checks. Every matrix an operation reads or writes is checked to lie inside one device allocation (its
// full column-major extent: (cols − 1)·ld + rows elements), host-array arguments to be host memory, device-array
// arguments device memory. Products are accumulated in double and rounded once to the output type (bfloat16: round
// to nearest even); TF32 (the TF32 math mode, or CUBLAS_COMPUTE_32F_FAST_TF32) rounds A and B to 10-bit mantissas.
// The shared library exports these symbols itself: the driver points SPLADE_CUDA_CUBLAS at it and puts a
// libcublasLt.so.13 link to it on LD_LIBRARY_PATH, so dlopen returns this very library.
#include <cuda_runtime.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

bool shim_device_range(const void *p, size_t bytes, std::string *why);
bool shim_is_device_pointer(const void *p);
void shim_warn(const char *key, const char *format, ...);
void shim_note(const char *key, const char *format, ...);

// ---- The public types and values (cublas_api.h, library_types.h, cublasLt.h) -----------------------------------------
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum {
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_TENSOR_OP_MATH = 1,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
    CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,
} cublasMath_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType;
typedef cudaDataType cudaDataType_t;
typedef enum {
    CUBLAS_COMPUTE_16F = 64,
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_64F = 70,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
} cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
struct cublasContext {
    int magic;
    int math_mode;
};
typedef cublasContext *cublasHandle_t;

typedef enum {
    CUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0,
    CUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,
    CUBLASLT_MATMUL_DESC_POINTER_MODE = 2,
    CUBLASLT_MATMUL_DESC_TRANSA = 3,
    CUBLASLT_MATMUL_DESC_TRANSB = 4,
    CUBLASLT_MATMUL_DESC_TRANSC = 5,
    CUBLASLT_MATMUL_DESC_FILL_MODE = 6,
    CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE = 10,
    CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
} cublasLtMatmulDescAttributes_t;
typedef enum {
    CUBLASLT_EPILOGUE_DEFAULT = 1,
    CUBLASLT_EPILOGUE_RELU = 2,
    CUBLASLT_EPILOGUE_BIAS = 4,
    CUBLASLT_EPILOGUE_RELU_BIAS = 6,
    CUBLASLT_EPILOGUE_GELU = 32,
    CUBLASLT_EPILOGUE_GELU_BIAS = 36,
} cublasLtEpilogue_t;
typedef enum {
    CUBLASLT_MATMUL_PREF_SEARCH_MODE = 0,
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK = 3,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
    CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT = 9,
    CUBLASLT_MATMUL_PREF_IMPL_MASK = 12,
} cublasLtMatmulPreferenceAttributes_t;
typedef struct {
    uint64_t data[8];
} cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "cublasLt.h's heuristic result is 96 bytes");

struct LtContext {
    int magic;
};
struct LtDesc {
    int magic;
    int compute, scale;
    int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
    uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int32_t bias_type = -1;
    int32_t pointer_mode = 0;
};
struct LtLayout {
    int magic;
    int type;
    uint64_t rows, cols;
    int64_t ld;
    int32_t order = 0;  // CUBLASLT_ORDER_COL
    int32_t batch = 1;
};
struct LtPreference {
    int magic;
    uint64_t workspace = 0;
    uint32_t reduction_mask = 7;
    uint32_t align[4] = {256, 256, 256, 256};  // A, B, C, D
};
typedef LtContext *cublasLtHandle_t;
typedef LtDesc *cublasLtMatmulDesc_t;
typedef LtLayout *cublasLtMatrixLayout_t;
typedef LtPreference *cublasLtMatmulPreference_t;

// ---- Helpers ------------------------------------------------------------------------------------------------------------
enum { kMagic = 0x5EED, kLtMagic = 0x17AB };
static std::mutex blas_mutex;
static int bad_calls = 0;

static cublasStatus_t invalid(const char *function, const char *format, ...) {
    char text[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    shim_note(function, "%s returns CUBLAS_STATUS_INVALID_VALUE: %s", function, text);
    bad_calls++;
    return CUBLAS_STATUS_INVALID_VALUE;
}
[[noreturn]] static void fault(const char *function, const char *format, ...) {
    char text[768];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    shim_die("%s: %s", function, text);
}

static size_t type_size(int type) {
    switch (type) {
    case CUDA_R_32F: return 4;
    case CUDA_R_16BF: case CUDA_R_16F: return 2;
    case CUDA_R_64F: return 8;
    default: return 0;
    }
}
static const char *type_name(int type) {
    switch (type) {
    case CUDA_R_32F: return "CUDA_R_32F";
    case CUDA_R_16BF: return "CUDA_R_16BF";
    case CUDA_R_16F: return "CUDA_R_16F";
    case CUDA_R_64F: return "CUDA_R_64F";
    default: return "?";
    }
}
static float bf16_value(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t bf16_round(float f) {  // round to nearest even; NaN stays NaN
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
static float tf32_round(float f) {  // 10 mantissa bits, round to nearest (ties away), as cvt.rna.tf32.f32
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u) return f;
    u = (u + 0x1000u) & 0xFFFFE000u;
    memcpy(&f, &u, 4);
    return f;
}
static double load(const void *p, int type, size_t i, bool tf32) {
    switch (type) {
    case CUDA_R_32F: { float v = ((const float *)p)[i]; return tf32 ? tf32_round(v) : v; }
    case CUDA_R_16BF: return bf16_value(((const uint16_t *)p)[i]);
    case CUDA_R_64F: return ((const double *)p)[i];
    default: shim_die("cuBLAS shim: element type %d not emulated", type);
    }
}
static void store(void *p, int type, size_t i, double v) {
    float f = (float)v;  // the float32 result, then (bfloat16) rounded once more
    switch (type) {
    case CUDA_R_32F: ((float *)p)[i] = f; break;
    case CUDA_R_16BF: ((uint16_t *)p)[i] = bf16_round(f); break;
    case CUDA_R_64F: ((double *)p)[i] = v; break;
    default: shim_die("cuBLAS shim: element type %d not emulated", type);
    }
}

// A column-major matrix of rows × cols with leading dimension ld must lie inside one device allocation.
static void check_matrix(const char *function, const char *name, const void *p, int type, int64_t rows, int64_t cols,
                         int64_t ld) {
    if (rows <= 0 || cols <= 0) return;
    if (!p) fault(function, "matrix %s (%lld x %lld) is a null pointer", name, (long long)rows, (long long)cols);
    size_t elements = (size_t)((cols - 1) * ld + rows);
    std::string why;
    if (!shim_device_range(p, elements * type_size(type), &why))
        fault(function, "matrix %s (%lld x %lld, ld %lld, %s: %zu elements from %p) is outside device memory: %s", name,
              (long long)rows, (long long)cols, (long long)ld, type_name(type), elements, p, why.c_str());
}
static void check_host(const char *function, const char *name, const void *p) {
    if (!p) fault(function, "%s is null", name);
    if (shim_is_device_pointer(p))
        fault(function, "%s (%p) is device memory, but the handle's pointer mode is CUBLAS_POINTER_MODE_HOST", name, p);
}
static void check_host_array(const char *function, const char *name, const void *p) {
    if (!p) fault(function, "%s is null", name);
    if (shim_is_device_pointer(p)) fault(function, "%s (%p) must be a host array, but is device memory", name, p);
}
static void check_device_array(const char *function, const char *name, const void *p, size_t bytes) {
    std::string why;
    if (!shim_device_range(p, bytes, &why))
        fault(function, "%s must be a device array of %zu bytes: %s", function, bytes, why.c_str());
    (void)name;
}

// The elements [first, last] a matrix touches (for overlap checks), in bytes from its pointer.
struct Span {
    uintptr_t begin, end;
};
static Span span(const void *p, int type, int64_t rows, int64_t cols, int64_t ld) {
    if (rows <= 0 || cols <= 0) return {0, 0};
    uintptr_t b = (uintptr_t)p;
    return {b, b + (size_t)((cols - 1) * ld + rows) * type_size(type)};
}
static bool overlaps(Span a, Span b) { return a.begin < b.end && b.begin < a.end; }

// One product C = alpha·op(A)·op(B) + beta·C, column-major, as the reference BLAS defines it: beta = 0 does not read C.
static void gemm(const char *function, int transa, int transb, int m, int n, int k, double alpha, const void *A, int a_type,
                 int64_t lda, const void *B, int b_type, int64_t ldb, double beta, void *C, int c_type, int64_t ldc,
                 bool tf32) {
    if (m == 0 || n == 0) return;
    int64_t a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
    int64_t b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
    if (k > 0 && alpha != 0) {
        check_matrix(function, "A", A, a_type, a_rows, a_cols, lda);
        check_matrix(function, "B", B, b_type, b_rows, b_cols, ldb);
    }
    check_matrix(function, "C", C, c_type, m, n, ldc);
    Span c = span(C, c_type, m, n, ldc);
    if (k > 0 && (overlaps(c, span(A, a_type, a_rows, a_cols, lda)) || overlaps(c, span(B, b_type, b_rows, b_cols, ldb))))
        shim_warn("gemm-alias", "%s: C overlaps A or B (undefined: the product may read what it already wrote)", function);
    // op(A) as m rows and op(B) as n columns of k doubles (exact: float and bfloat16 widen exactly), then dot products
    // in double (four partial sums: the order does not matter at this precision).
    std::vector<double> a_dense(alpha != 0 ? (size_t)m * k : 0), b_dense(alpha != 0 ? (size_t)n * k : 0);
    if (alpha != 0) {
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++)
                a_dense[(size_t)i * k + l] = transa == CUBLAS_OP_N ? load(A, a_type, (size_t)i + (size_t)l * lda, tf32)
                                                                  : load(A, a_type, (size_t)l + (size_t)i * lda, tf32);
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++)
                b_dense[(size_t)j * k + l] = transb == CUBLAS_OP_N ? load(B, b_type, (size_t)l + (size_t)j * ldb, tf32)
                                                                  : load(B, b_type, (size_t)j + (size_t)l * ldb, tf32);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double sum = 0;
            if (alpha != 0) {
                const double *x = &a_dense[(size_t)i * k], *y = &b_dense[(size_t)j * k];
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int l = 0;
                for (; l + 4 <= k; l += 4) {
                    s0 += x[l] * y[l];
                    s1 += x[l + 1] * y[l + 1];
                    s2 += x[l + 2] * y[l + 2];
                    s3 += x[l + 3] * y[l + 3];
                }
                for (; l < k; l++) s0 += x[l] * y[l];
                sum = (s0 + s1) + (s2 + s3);
            }
            size_t ci = (size_t)i + (size_t)j * ldc;
            double v = alpha * sum;
            if (beta != 0) v += beta * load(C, c_type, ci, false);
            store(C, c_type, ci, v);
        }
}

static cublasStatus_t check_handle(const char *function, cublasHandle_t h) {
    if (!h || h->magic != kMagic) {
        shim_warn(function, "%s: not a handle from cublasCreate", function);
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    return CUBLAS_STATUS_SUCCESS;
}
static bool valid_op(int op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }
// The documented CUBLAS_STATUS_INVALID_VALUE conditions of cublas<t>gemm and its batched forms.
static cublasStatus_t check_gemm(const char *function, int transa, int transb, int m, int n, int k, int lda, int ldb,
                                 int ldc) {
    if (m < 0 || n < 0 || k < 0) return invalid(function, "m=%d n=%d k=%d", m, n, k);
    if (!valid_op(transa) || !valid_op(transb)) return invalid(function, "transa=%d transb=%d", transa, transb);
    int a_min = std::max(1, transa == CUBLAS_OP_N ? m : k), b_min = std::max(1, transb == CUBLAS_OP_N ? k : n);
    if (lda < a_min) return invalid(function, "lda=%d < %d (transa=%d m=%d k=%d)", lda, a_min, transa, m, k);
    if (ldb < b_min) return invalid(function, "ldb=%d < %d (transb=%d k=%d n=%d)", ldb, b_min, transb, k, n);
    if (ldc < std::max(1, m)) return invalid(function, "ldc=%d < max(1, m=%d)", ldc, m);
    return CUBLAS_STATUS_SUCCESS;
}
// cublasGemmEx's type combinations (with CUBLAS_COMPUTE_32F, float scalars) that the sources may use.
static bool gemm_ex_supported(int a_type, int b_type, int c_type, int compute) {
    if (compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_PEDANTIC) {
        if (a_type != b_type) return false;
        if (a_type == CUDA_R_32F) return c_type == CUDA_R_32F;
        if (a_type == CUDA_R_16BF || a_type == CUDA_R_16F) return c_type == a_type || c_type == CUDA_R_32F;
        return false;
    }
    if (compute == CUBLAS_COMPUTE_32F_FAST_TF32 || compute == CUBLAS_COMPUTE_32F_FAST_16BF)
        return a_type == CUDA_R_32F && b_type == CUDA_R_32F && c_type == CUDA_R_32F;
    return false;
}
static bool uses_tf32(cublasHandle_t h, int compute, int a_type) {
    if (a_type != CUDA_R_32F) return false;
    if (compute == CUBLAS_COMPUTE_32F_FAST_TF32) return true;
    return compute == CUBLAS_COMPUTE_32F && (h->math_mode & 0xF) == CUBLAS_TF32_TENSOR_OP_MATH;
}
// For the pointer-array products (documented for cublasGemmBatchedEx/GroupedBatchedEx with 16-bit types or FAST
// compute types, and the sgemm forms in a fast math mode): if (k·size) % 16 == 0 a pointer must be 16-byte aligned,
// else if (k·size) % 4 == 0, 4-byte aligned.
static void check_pointer_alignment(const char *function, const char *name, const void *p, int k, size_t size) {
    const uintptr_t address = (uintptr_t)p;
    const size_t row = (size_t)k * size, need = row % 16 == 0 ? 16 : row % 4 == 0 ? 4 : 1;
    if (address % need == 0) return;
    const std::string call(function), key = "align" + std::to_string(need) + " " + name + " " + call.substr(0, call.find(' '));
    shim_warn(key.c_str(), "%s: %s pointer %p not %zu-byte aligned with k·size = %zu: a misaligned-address fault on the "
              "GPU (the documented pointer alignment rule)", function, name, p, need, row);
}

// A cuBLASLt object freed, its magic cleared first so that a use after destruction is caught (null is allowed).
template <class T> static cublasStatus_t destroyed(T *object) {
    if (object) object->magic = 0;
    delete object;
    return CUBLAS_STATUS_SUCCESS;
}

extern "C" {

// ---- cuBLAS ---------------------------------------------------------------------------------------------------------------
cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new cublasContext{kMagic, CUBLAS_DEFAULT_MATH};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    if (cublasStatus_t s = check_handle("cublasDestroy_v2", handle)) return s;
    handle->magic = 0;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
// The version of the cuBLAS whose documentation the shim follows.
cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version) {
    if (cublasStatus_t s = check_handle("cublasGetVersion_v2", handle)) return s;
    if (!version) return invalid("cublasGetVersion_v2", "version NULL");
    *version = 130000;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (cublasStatus_t s = check_handle("cublasSetMathMode", handle)) return s;
    int base = (int)mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base < 0 || base > 3) return invalid("cublasSetMathMode", "mode %d", (int)mode);
    handle->math_mode = (int)mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode) {
    if (cublasStatus_t s = check_handle("cublasGetMathMode", handle)) return s;
    *mode = (cublasMath_t)handle->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
    if (stream) shim_die("cublasSetStream: only the default stream is emulated");
    return check_handle("cublasSetStream_v2", handle);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc) {
    const char *f = "cublasSgemm_v2";
    if (cublasStatus_t s = check_handle(f, handle)) return s;
    if (cublasStatus_t s = check_gemm(f, transa, transb, m, n, k, lda, ldb, ldc)) return s;
    check_host(f, "alpha", alpha);
    check_host(f, "beta", beta);
    std::lock_guard<std::mutex> lock(blas_mutex);
    gemm(f, transa, transb, m, n, k, *alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, *beta, C, CUDA_R_32F, ldc,
         uses_tf32(handle, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    return CUBLAS_STATUS_SUCCESS;
}

// The C matrices of a batch must not overlap element-wise (undefined behaviour otherwise: the products run at once).
struct OutputCheck {
    const char *function;
    std::vector<std::pair<Span, std::string>> spans;
    std::vector<const void *> pointers;
    std::vector<int64_t> rows, cols, lds;
    std::vector<size_t> sizes;
    void add(const void *p, int type, int64_t r, int64_t c, int64_t ld) {
        if (r <= 0 || c <= 0) return;
        pointers.push_back(p);
        rows.push_back(r);
        cols.push_back(c);
        lds.push_back(ld);
        sizes.push_back(type_size(type));
    }
    void run() {
        if (pointers.size() < 2) return;
        uintptr_t lo = UINTPTR_MAX, hi = 0;
        for (size_t i = 0; i < pointers.size(); i++) {
            Span s = span(pointers[i], sizes[i] == 4 ? CUDA_R_32F : CUDA_R_16BF, rows[i], cols[i], lds[i]);
            lo = std::min(lo, s.begin);
            hi = std::max(hi, s.end);
        }
        if (hi - lo > ((size_t)1 << 32)) return;  // too far apart to map: skip
        std::vector<uint8_t> owner(hi - lo, 0);
        for (size_t i = 0; i < pointers.size(); i++)
            for (int64_t c = 0; c < cols[i]; c++) {
                uintptr_t start = (uintptr_t)pointers[i] + (size_t)(c * lds[i]) * sizes[i] - lo;
                for (size_t b = 0; b < (size_t)rows[i] * sizes[i]; b++) {
                    if (owner[start + b])
                        shim_die("%s: output matrix %zu overlaps another output of the same call (element of column "
                                 "%lld): the products are computed concurrently on a GPU, undefined", function, i,
                                 (long long)c);
                    owner[start + b] = 1;
                }
            }
    }
};

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                         int n, int k, const float *alpha, const float *A, int lda, long long strideA,
                                         const float *B, int ldb, long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batchCount) {
    const char *f = "cublasSgemmStridedBatched";
    if (cublasStatus_t s = check_handle(f, handle)) return s;
    if (cublasStatus_t s = check_gemm(f, transa, transb, m, n, k, lda, ldb, ldc)) return s;
    if (batchCount < 0) return invalid(f, "batchCount=%d", batchCount);
    check_host(f, "alpha", alpha);
    check_host(f, "beta", beta);
    std::lock_guard<std::mutex> lock(blas_mutex);
    OutputCheck outputs{f};
    for (int i = 0; i < batchCount; i++) outputs.add(C + i * strideC, CUDA_R_32F, m, n, ldc);
    outputs.run();
    bool tf32 = uses_tf32(handle, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    for (int i = 0; i < batchCount; i++)
        gemm(f, transa, transb, m, n, k, *alpha, A + i * strideA, CUDA_R_32F, lda, B + i * strideB, CUDA_R_32F, ldb, *beta,
             C + i * strideC, CUDA_R_32F, ldc, tf32);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    const char *f = "cublasGemmEx";
    if (cublasStatus_t s = check_handle(f, handle)) return s;
    if (cublasStatus_t s = check_gemm(f, transa, transb, m, n, k, lda, ldb, ldc)) return s;
    if (!gemm_ex_supported(Atype, Btype, Ctype, computeType)) {
        shim_note(f, "%s: A %s, B %s, C %s, compute %d not supported", f, type_name(Atype), type_name(Btype),
                  type_name(Ctype), (int)computeType);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (algo != CUBLAS_GEMM_DEFAULT && (algo < 0 || algo > 23) && (algo < 99 || algo > 115))
        return invalid(f, "algo %d", (int)algo);
    check_host(f, "alpha", alpha);
    check_host(f, "beta", beta);
    std::lock_guard<std::mutex> lock(blas_mutex);
    gemm(f, transa, transb, m, n, k, *(const float *)alpha, A, Atype, lda, B, Btype, ldb, *(const float *)beta, C, Ctype,
         ldc, uses_tf32(handle, computeType, Atype));
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype,
                                          int lda, long long strideA, const void *B, cudaDataType Btype, int ldb,
                                          long long strideB, const void *beta, void *C, cudaDataType Ctype, int ldc,
                                          long long strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo) {
    const char *f = "cublasGemmStridedBatchedEx";
    if (cublasStatus_t s = check_handle(f, handle)) return s;
    if (cublasStatus_t s = check_gemm(f, transa, transb, m, n, k, lda, ldb, ldc)) return s;
    if (batchCount < 0) return invalid(f, "batchCount=%d", batchCount);
    if (!gemm_ex_supported(Atype, Btype, Ctype, computeType)) return CUBLAS_STATUS_NOT_SUPPORTED;
    (void)algo;
    check_host(f, "alpha", alpha);
    check_host(f, "beta", beta);
    std::lock_guard<std::mutex> lock(blas_mutex);
    size_t as = type_size(Atype), bs = type_size(Btype), cs = type_size(Ctype);
    OutputCheck outputs{f};
    for (int i = 0; i < batchCount; i++) outputs.add((const char *)C + i * strideC * cs, Ctype, m, n, ldc);
    outputs.run();
    bool tf32 = uses_tf32(handle, computeType, Atype);
    for (int i = 0; i < batchCount; i++)
        gemm(f, transa, transb, m, n, k, *(const float *)alpha, (const char *)A + i * strideA * as, Atype, lda,
             (const char *)B + i * strideB * bs, Btype, ldb, *(const float *)beta, (char *)C + i * strideC * cs, Ctype, ldc,
             tf32);
    return CUBLAS_STATUS_SUCCESS;
}

// The grouped products: host arrays of group_count parameters, device arrays of Σ group_size matrix pointers.
static cublasStatus_t grouped(const char *f, cublasHandle_t handle, const cublasOperation_t *transa_array,
                              const cublasOperation_t *transb_array, const int *m_array, const int *n_array,
                              const int *k_array, const float *alpha_array, const void *const *Aarray, int Atype,
                              const int *lda_array, const void *const *Barray, int Btype, const int *ldb_array,
                              const float *beta_array, void *const *Carray, int Ctype, const int *ldc_array,
                              int group_count, const int *group_size, int computeType, bool pointer_batched = false) {
    if (cublasStatus_t s = check_handle(f, handle)) return s;
    if (!transa_array || !transb_array || !m_array || !n_array || !k_array || !alpha_array || !lda_array || !ldb_array ||
        !beta_array || !ldc_array || !group_size)
        return invalid(f, "a null parameter array");
    if (group_count < 0) return invalid(f, "group_count=%d", group_count);
    if (!gemm_ex_supported(Atype, Btype, Ctype, computeType) ||
        (!pointer_batched && Atype == CUDA_R_16BF && Ctype != CUDA_R_16BF)) {  // the grouped product's table: 16BF in,
                                                                                 // 16BF out only (GemmBatchedEx: GemmEx's)
        // SHIM_DECLINE_STATUS=7: a cuBLAS that refuses the combination with INVALID_VALUE rather than as documented.
        const char *status = getenv("SHIM_DECLINE_STATUS");
        return status ? (cublasStatus_t)atoi(status) : CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (group_count == 0) return CUBLAS_STATUS_SUCCESS;
    const char *host_arrays[] = {"transa_array", "transb_array", "m_array", "n_array", "k_array", "alpha_array",
                                 "lda_array", "ldb_array", "beta_array", "ldc_array", "group_size"};
    const void *host_pointers[] = {transa_array, transb_array, m_array, n_array, k_array, alpha_array,
                                   lda_array, ldb_array, beta_array, ldc_array, group_size};
    for (int i = 0; i < 11; i++) check_host_array(f, host_arrays[i], host_pointers[i]);
    long long problems = 0;
    for (int g = 0; g < group_count; g++) {
        if (group_size[g] < 0) return invalid(f, "group_size[%d]=%d", g, group_size[g]);
        char name[64];
        snprintf(name, sizeof name, "%s (group %d)", f, g);
        if (cublasStatus_t s = check_gemm(name, transa_array[g], transb_array[g], m_array[g], n_array[g], k_array[g],
                                          lda_array[g], ldb_array[g], ldc_array[g]))
            return s;
        problems += group_size[g];
    }
    if (problems == 0) return CUBLAS_STATUS_SUCCESS;
    check_device_array(f, "Aarray", Aarray, (size_t)problems * sizeof(void *));
    check_device_array(f, "Barray", Barray, (size_t)problems * sizeof(void *));
    check_device_array(f, "Carray", Carray, (size_t)problems * sizeof(void *));
    std::lock_guard<std::mutex> lock(blas_mutex);
    // The rule is stated in k and the input type, for every pointer (C included).
    size_t as = type_size(Atype);
    bool fast = (handle->math_mode & 0xF) == CUBLAS_TF32_TENSOR_OP_MATH && Atype == CUDA_R_32F;
    bool alignment_rule = Atype != CUDA_R_32F || computeType == CUBLAS_COMPUTE_32F_FAST_TF32 || fast;
    OutputCheck outputs{f};
    long long idx = 0;
    for (int g = 0; g < group_count; g++)
        for (int j = 0; j < group_size[g]; j++, idx++) {
            outputs.add(Carray[idx], Ctype, m_array[g], n_array[g], ldc_array[g]);
            if (alignment_rule) {
                char where[160];
                snprintf(where, sizeof where, "%s (group %d: op %d%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d, %s)", f, g,
                         transa_array[g], transb_array[g], m_array[g], n_array[g], k_array[g], lda_array[g],
                         ldb_array[g], ldc_array[g], fast ? "TF32 math mode" : "16-bit or FAST compute type");
                check_pointer_alignment(where, "A", Aarray[idx], k_array[g], as);
                check_pointer_alignment(where, "B", Barray[idx], k_array[g], as);
                check_pointer_alignment(where, "C", Carray[idx], k_array[g], as);
            }
        }
    outputs.run();
    idx = 0;
    for (int g = 0; g < group_count; g++) {
        bool tf32 = uses_tf32(handle, computeType, Atype);
        for (int j = 0; j < group_size[g]; j++, idx++)
            gemm(f, transa_array[g], transb_array[g], m_array[g], n_array[g], k_array[g], alpha_array[g], Aarray[idx],
                 Atype, lda_array[g], Barray[idx], Btype, ldb_array[g], beta_array[g], Carray[idx], Ctype, ldc_array[g],
                 tf32);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmGroupedBatched(cublasHandle_t handle, const cublasOperation_t transa_array[],
                                         const cublasOperation_t transb_array[], const int m_array[], const int n_array[],
                                         const int k_array[], const float alpha_array[], const float *const Aarray[],
                                         const int lda_array[], const float *const Barray[], const int ldb_array[],
                                         const float beta_array[], float *const Carray[], const int ldc_array[],
                                         int group_count, const int group_size[]) {
    if (getenv("SHIM_NO_GROUPED")) return CUBLAS_STATUS_NOT_SUPPORTED;
    return grouped("cublasSgemmGroupedBatched", handle, transa_array, transb_array, m_array, n_array, k_array,
                   alpha_array, (const void *const *)Aarray, CUDA_R_32F, lda_array, (const void *const *)Barray,
                   CUDA_R_32F, ldb_array, beta_array, (void *const *)Carray, CUDA_R_32F, ldc_array, group_count,
                   group_size, CUBLAS_COMPUTE_32F);
}

cublasStatus_t cublasGemmGroupedBatchedEx(cublasHandle_t handle, const cublasOperation_t transa_array[],
                                          const cublasOperation_t transb_array[], const int m_array[],
                                          const int n_array[], const int k_array[], const void *alpha_array,
                                          const void *const Aarray[], cudaDataType Atype, const int lda_array[],
                                          const void *const Barray[], cudaDataType Btype, const int ldb_array[],
                                          const void *beta_array, void *const Carray[], cudaDataType Ctype,
                                          const int ldc_array[], int group_count, const int group_size[],
                                          cublasComputeType_t computeType) {
    if (getenv("SHIM_NO_GROUPED")) return CUBLAS_STATUS_NOT_SUPPORTED;
    // alpha_array and beta_array: group_count scalars of the scale type (float for CUBLAS_COMPUTE_32F).
    return grouped("cublasGemmGroupedBatchedEx", handle, transa_array, transb_array, m_array, n_array, k_array,
                   (const float *)alpha_array, Aarray, Atype, lda_array, Barray, Btype, ldb_array,
                   (const float *)beta_array, Carray, Ctype, ldc_array, group_count, group_size, computeType);
}

// The pointer-array batched products: one group of batchCount problems (their checks are the grouped products').
// SHIM_NO_BATCHED=1: a cuBLAS that declines them (NOT_SUPPORTED), as the grouped call may its types.
cublasStatus_t cublasSgemmBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                                  int k, const float *alpha, const float *const Aarray[], int lda,
                                  const float *const Barray[], int ldb, const float *beta, float *const Carray[], int ldc,
                                  int batchCount) {
    if (getenv("SHIM_NO_BATCHED")) return CUBLAS_STATUS_NOT_SUPPORTED;
    return grouped("cublasSgemmBatched", handle, &transa, &transb, &m, &n, &k, alpha, (const void *const *)Aarray,
                   CUDA_R_32F, &lda, (const void *const *)Barray, CUDA_R_32F, &ldb, beta, (void *const *)Carray,
                   CUDA_R_32F, &ldc, 1, &batchCount, CUBLAS_COMPUTE_32F, true);
}

cublasStatus_t cublasGemmBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                   int n, int k, const void *alpha, const void *const Aarray[], cudaDataType Atype,
                                   int lda, const void *const Barray[], cudaDataType Btype, int ldb, const void *beta,
                                   void *const Carray[], cudaDataType Ctype, int ldc, int batchCount,
                                   cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    if (getenv("SHIM_NO_BATCHED")) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (algo != CUBLAS_GEMM_DEFAULT) return invalid("cublasGemmBatchedEx", "algo %d", (int)algo);
    return grouped("cublasGemmBatchedEx", handle, &transa, &transb, &m, &n, &k, (const float *)alpha, Aarray, Atype,
                   &lda, Barray, Btype, &ldb, (const float *)beta, Carray, Ctype, &ldc, 1, &batchCount, computeType,
                   true);
}

// ---- cuBLASLt ---------------------------------------------------------------------------------------------------------------
cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    if (getenv("SHIM_NO_LT")) return CUBLAS_STATUS_NOT_INITIALIZED;
    *handle = new LtContext{kLtMagic};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
    if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
    if (computeType != CUBLAS_COMPUTE_32F && computeType != CUBLAS_COMPUTE_32F_FAST_TF32 &&
        computeType != CUBLAS_COMPUTE_32F_PEDANTIC)
        return invalid("cublasLtMatmulDescCreate", "compute type %d not emulated", (int)computeType);
    if (scaleType != CUDA_R_32F) return invalid("cublasLtMatmulDescCreate", "scale type %d", (int)scaleType);
    *desc = new LtDesc{kLtMagic, computeType, scaleType};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    return destroyed(desc);
}
// The attribute's documented value type must match sizeInBytes exactly.
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes) {
    const char *f = "cublasLtMatmulDescSetAttribute";
    if (!desc || desc->magic != kLtMagic) return invalid(f, "not a descriptor");
    if (!buf) return invalid(f, "null buffer");
    auto get32 = [&](void *to, size_t expected) -> cublasStatus_t {
        if (sizeInBytes != expected)
            return invalid(f, "attribute %d takes %zu bytes, given %zu", (int)attr, expected, sizeInBytes);
        memcpy(to, buf, expected);
        return CUBLAS_STATUS_SUCCESS;
    };
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: {
        cublasStatus_t s = get32(&desc->transa, 4);
        if (!s && !valid_op(desc->transa)) return invalid(f, "TRANSA %d", desc->transa);
        return s;
    }
    case CUBLASLT_MATMUL_DESC_TRANSB: {
        cublasStatus_t s = get32(&desc->transb, 4);
        if (!s && !valid_op(desc->transb)) return invalid(f, "TRANSB %d", desc->transb);
        return s;
    }
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return get32(&desc->epilogue, 4);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return get32(&desc->bias, sizeof(void *));
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: return get32(&desc->bias_type, 4);
    case CUBLASLT_MATMUL_DESC_POINTER_MODE: return get32(&desc->pointer_mode, 4);
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE: return get32(&desc->compute, 4);
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE: return get32(&desc->scale, 4);
    default: return invalid(f, "attribute %d not emulated", (int)attr);
    }
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
    if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
    if (!type_size(type)) return invalid("cublasLtMatrixLayoutCreate", "type %d", (int)type);
    *layout = new LtLayout{kLtMagic, type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    return destroyed(layout);
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
    *pref = new LtPreference{kLtMagic};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    return destroyed(pref);
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes) {
    const char *f = "cublasLtMatmulPreferenceSetAttribute";
    if (!pref || pref->magic != kLtMagic || !buf) return invalid(f, "bad preference or buffer");
    auto take = [&](void *to, size_t expected) -> cublasStatus_t {
        if (sizeInBytes != expected)
            return invalid(f, "attribute %d takes %zu bytes, given %zu", (int)attr, expected, sizeInBytes);
        memcpy(to, buf, expected);
        return CUBLAS_STATUS_SUCCESS;
    };
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return take(&pref->workspace, 8);
    case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK: return take(&pref->reduction_mask, 4);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return take(&pref->align[0], 4);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return take(&pref->align[1], 4);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return take(&pref->align[2], 4);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return take(&pref->align[3], 4);
    default: return invalid(f, "attribute %d not emulated", (int)attr);
    }
}

// m, n, k of a matmul from its descriptor and layouts (column-major: op(A) m×k, op(B) k×n, C and D m×n); false if
// they do not fit together.
static bool shape(const LtDesc *d, const LtLayout *a, const LtLayout *b, const LtLayout *c, const LtLayout *dd,
                  uint64_t *m, uint64_t *n, uint64_t *k, std::string *why) {
    uint64_t am = d->transa == CUBLAS_OP_N ? a->rows : a->cols, ak = d->transa == CUBLAS_OP_N ? a->cols : a->rows;
    uint64_t bk = d->transb == CUBLAS_OP_N ? b->rows : b->cols, bn = d->transb == CUBLAS_OP_N ? b->cols : b->rows;
    char text[256];
    snprintf(text, sizeof text, "op(A) %llu×%llu, op(B) %llu×%llu, C %llu×%llu, D %llu×%llu", (unsigned long long)am,
             (unsigned long long)ak, (unsigned long long)bk, (unsigned long long)bn, (unsigned long long)c->rows,
             (unsigned long long)c->cols, (unsigned long long)dd->rows, (unsigned long long)dd->cols);
    *why = text;
    *m = am;
    *n = bn;
    *k = ak;
    if (ak != bk || c->rows != am || c->cols != bn || dd->rows != am || dd->cols != bn) return false;
    for (const LtLayout *l : {a, b, c, dd})
        if (l->order != 0 || l->batch != 1 || l->ld < (int64_t)std::max<uint64_t>(1, l->rows)) {
            *why += " (a layout with ld < rows, or not column-major single)";
            return false;
        }
    return true;
}
static bool lt_types_supported(const LtDesc *d, int a, int b, int c, int dd) {
    if (c != dd || a != b) return false;
    if (d->compute == CUBLAS_COMPUTE_32F_FAST_TF32) return a == CUDA_R_32F && c == CUDA_R_32F;
    if (a == CUDA_R_32F) return c == CUDA_R_32F;
    if (a == CUDA_R_16BF) return c == CUDA_R_16BF || c == CUDA_R_32F;
    return false;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int *returnAlgoCount) {
    const char *f = "cublasLtMatmulAlgoGetHeuristic";
    if (!handle || handle->magic != kLtMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!desc || !Adesc || !Bdesc || !Cdesc || !Ddesc || !pref || requestedAlgoCount < 1 || !heuristicResultsArray ||
        !returnAlgoCount)
        return invalid(f, "a null argument or requestedAlgoCount %d", requestedAlgoCount);
    uint64_t m, n, k;
    std::string why;
    if (!shape(desc, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k, &why)) return invalid(f, "shapes do not fit: %s", why.c_str());
    if (!lt_types_supported(desc, Adesc->type, Bdesc->type, Cdesc->type, Ddesc->type)) {
        *returnAlgoCount = 0;
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    for (int i = 0; i < 4; i++)
        if (pref->align[i] == 0 || (pref->align[i] & (pref->align[i] - 1)))
            return invalid(f, "MIN_ALIGNMENT %u is not a power of two", pref->align[i]);
    memset(&heuristicResultsArray[0], 0, sizeof heuristicResultsArray[0]);
    // The algorithm remembers what it was chosen for: the alignments it may assume and its workspace.
    cublasLtMatmulAlgo_t &algo = heuristicResultsArray[0].algo;
    algo.data[0] = 0x5E1F0A160ull;
    for (int i = 0; i < 4; i++) algo.data[1 + i] = pref->align[i];
    algo.data[5] = m;
    algo.data[6] = n;
    algo.data[7] = k;
    size_t workspace = std::min<uint64_t>(pref->workspace, (uint64_t)4 << 20);  // split-K wants some
    heuristicResultsArray[0].workspaceSize = workspace;
    heuristicResultsArray[0].state = CUBLAS_STATUS_SUCCESS;
    heuristicResultsArray[0].wavesCount = 1.0f;
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

// The (chosen-for, used-for) shapes cublasLtMatmulAlgoCheck accepted: cublasLtMatmul then takes the algorithm for the
// second silently. Under blas_mutex.
typedef std::tuple<uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t> CheckedShape;
static std::set<CheckedShape> checked_shapes;

// Accepts an algorithm from the heuristic for another shape of the same types (the real one also checks tile sizes
// and workspace; here every shape runs), unless SHIM_LT_CHECK_DECLINE=1, which declines every other shape.
cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Adesc,
                                       cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc,
                                       cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                                       cublasLtMatmulHeuristicResult_t *result) {
    const char *f = "cublasLtMatmulAlgoCheck";
    if (!handle || handle->magic != kLtMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!desc || desc->magic != kLtMagic || !Adesc || !Bdesc || !Cdesc || !Ddesc || !algo || !result)
        return invalid(f, "a null or destroyed argument");
    if (algo->data[0] != 0x5E1F0A160ull) return invalid(f, "an algorithm not from cublasLtMatmulAlgoGetHeuristic");
    uint64_t m, n, k;
    std::string why;
    if (!shape(desc, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k, &why)) return invalid(f, "shapes do not fit: %s", why.c_str());
    if (!lt_types_supported(desc, Adesc->type, Bdesc->type, Cdesc->type, Ddesc->type)) return CUBLAS_STATUS_NOT_SUPPORTED;
    bool same = algo->data[5] == m && algo->data[6] == n && algo->data[7] == k;
    if (!same && getenv("SHIM_LT_CHECK_DECLINE")) return CUBLAS_STATUS_NOT_SUPPORTED;
    memset(result, 0, sizeof *result);
    result->algo = *algo;
    result->workspaceSize = (size_t)4 << 20;
    result->state = CUBLAS_STATUS_SUCCESS;
    result->wavesCount = 1.0f;
    std::lock_guard<std::mutex> lock(blas_mutex);
    checked_shapes.insert(CheckedShape(algo->data[5], algo->data[6], algo->data[7], m, n, k));
    return CUBLAS_STATUS_SUCCESS;
}

// D = epilogue(alpha·op(A)·op(B) + beta·C [+ bias broadcast over D's columns]).
cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
                              const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspaceSizeInBytes,
                              cudaStream_t stream) {
    const char *f = "cublasLtMatmul";
    if (!handle || handle->magic != kLtMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (stream) shim_die("%s: only the default stream is emulated", f);
    if (!desc || desc->magic != kLtMagic || !Adesc || !Bdesc || !Cdesc || !Ddesc)
        return invalid(f, "a null or destroyed descriptor");
    uint64_t m, n, k;
    std::string why;
    if (!shape(desc, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k, &why)) return invalid(f, "shapes do not fit: %s", why.c_str());
    if (!lt_types_supported(desc, Adesc->type, Bdesc->type, Cdesc->type, Ddesc->type)) return CUBLAS_STATUS_NOT_SUPPORTED;
    check_host(f, "alpha", alpha);
    check_host(f, "beta", beta);
    if (C != D && Cdesc != Ddesc && (Cdesc->rows != Ddesc->rows || Cdesc->ld != Ddesc->ld))
        shim_warn("lt-inplace", "%s: C and D differ in layout", f);
    if (algo) {
        if (algo->data[0] != 0x5E1F0A160ull) return invalid(f, "an algorithm not from cublasLtMatmulAlgoGetHeuristic");
        bool checked;
        {
            std::lock_guard<std::mutex> lock(blas_mutex);
            checked = checked_shapes.count(CheckedShape(algo->data[5], algo->data[6], algo->data[7], m, n, k)) > 0;
        }
        if ((algo->data[5] != m || algo->data[6] != n || algo->data[7] != k) && !checked)
            shim_warn("lt-algo-shape", "%s: the algorithm was chosen for %llu×%llu×%llu, used for %llu×%llu×%llu", f,
                      (unsigned long long)algo->data[5], (unsigned long long)algo->data[6],
                      (unsigned long long)algo->data[7], (unsigned long long)m, (unsigned long long)n,
                      (unsigned long long)k);
        const void *pointers[4] = {A, B, C, D};
        const char *names[4] = {"A", "B", "C", "D"};
        for (int i = 0; i < 4; i++)
            if ((uintptr_t)pointers[i] % algo->data[1 + i])
                shim_die("%s: %s = %p is not aligned to the %llu bytes the algorithm was chosen for "
                         "(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_%s_BYTES): misaligned access on the GPU", f, names[i],
                         pointers[i], (unsigned long long)algo->data[1 + i], names[i]);
    }
    if (workspaceSizeInBytes > 0) {
        std::string w;
        if (!shim_device_range(workspace, workspaceSizeInBytes, &w)) fault(f, "workspace: %s", w.c_str());
    }
    uint32_t epilogue = desc->epilogue;
    bool bias = epilogue == CUBLASLT_EPILOGUE_BIAS || epilogue == CUBLASLT_EPILOGUE_RELU_BIAS ||
                epilogue == CUBLASLT_EPILOGUE_GELU_BIAS;
    if (epilogue != CUBLASLT_EPILOGUE_DEFAULT && epilogue != CUBLASLT_EPILOGUE_RELU && !bias &&
        epilogue != CUBLASLT_EPILOGUE_GELU)
        return invalid(f, "epilogue %u not emulated", epilogue);
    // The bias: D's type unless CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE says otherwise; as long as D has rows.
    int bias_type = desc->bias_type == -1 ? Ddesc->type : desc->bias_type;
    if (bias) {
        if (!desc->bias) return invalid(f, "a bias epilogue without CUBLASLT_MATMUL_DESC_BIAS_POINTER");
        check_matrix(f, "bias", desc->bias, bias_type, (int64_t)m, 1, (int64_t)m);
    }
    std::lock_guard<std::mutex> lock(blas_mutex);
    float a = *(const float *)alpha, b = *(const float *)beta;
    bool tf32 = desc->compute == CUBLAS_COMPUTE_32F_FAST_TF32;
    int64_t a_rows = Adesc->rows, a_cols = Adesc->cols, b_rows = Bdesc->rows, b_cols = Bdesc->cols;
    if (k > 0 && a != 0) {
        check_matrix(f, "A", A, Adesc->type, a_rows, a_cols, Adesc->ld);
        check_matrix(f, "B", B, Bdesc->type, b_rows, b_cols, Bdesc->ld);
    }
    if (b != 0) check_matrix(f, "C", C, Cdesc->type, (int64_t)m, (int64_t)n, Cdesc->ld);
    check_matrix(f, "D", D, Ddesc->type, (int64_t)m, (int64_t)n, Ddesc->ld);
    std::vector<double> a_row(k ? k : 1);
    for (uint64_t i = 0; i < m; i++) {
        for (uint64_t l = 0; l < k; l++)
            a_row[l] = desc->transa == CUBLAS_OP_N ? load(A, Adesc->type, i + l * Adesc->ld, tf32)
                                                   : load(A, Adesc->type, l + i * Adesc->ld, tf32);
        for (uint64_t j = 0; j < n; j++) {
            double sum = 0;
            for (uint64_t l = 0; l < k; l++)
                sum += a_row[l] * (desc->transb == CUBLAS_OP_N ? load(B, Bdesc->type, l + j * Bdesc->ld, tf32)
                                                               : load(B, Bdesc->type, j + l * Bdesc->ld, tf32));
            // In float, as the epilogue: alpha·acc (+ beta·C) (+ bias), then the activation, then D's type.
            float v = a * (float)sum;
            if (b != 0) v += b * (float)load(C, Cdesc->type, i + j * Cdesc->ld, false);
            if (bias) v += (float)load(desc->bias, bias_type, i, false);
            if (epilogue == CUBLASLT_EPILOGUE_RELU || epilogue == CUBLASLT_EPILOGUE_RELU_BIAS) v = v > 0 ? v : 0;
            if (epilogue == CUBLASLT_EPILOGUE_GELU || epilogue == CUBLASLT_EPILOGUE_GELU_BIAS)
                v = 0.5f * v * (1 + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));  // cuBLASLt's tanh GELU
            store(D, Ddesc->type, i + j * Ddesc->ld, v);
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
