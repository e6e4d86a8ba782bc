// Device selection, memory, errors, and cuBLAS (loaded with dlopen, so the library runs with the
// cuBLAS of CUDA 13 or 12 that the machine has: a system toolkit, or PyTorch's nvidia wheels).
#include "common.cuh"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <vector>

namespace splade_cuda {
static thread_local char last_error[512];
// Set once by splade_cuda_init, after device_in_use and synchronous (release, read with acquire).
static std::atomic<bool> ready{false};
static int device_in_use = -1;
static bool synchronous = false;  // SPLADE_CUDA_SYNC=1: every launch is followed by a synchronisation
static std::mutex init_mutex;
// Whether this thread has made device_in_use current (cudaSetDevice is per thread).
static thread_local bool device_current = false;

int fail(int code, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(last_error, sizeof last_error, format, arguments);
    va_end(arguments);
    return code;
}

// "13.0" from 13000.
static void version_text(int version, char *text, size_t capacity) {
    snprintf(text, capacity, "%d.%d", version / 1000, version % 1000 / 10);
}

static int insufficient_driver(const char *what) {
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
    char r[16], d[16];
    version_text(runtime, r, sizeof r);
    version_text(driver, d, sizeof d);
    return fail(SPLADE_CUDA_ERROR_NO_DEVICE, "%s: %s (the driver supports CUDA %s, this library's runtime is CUDA %s): "
                "update the NVIDIA driver", what, cudaGetErrorString(cudaErrorInsufficientDriver), d, r);
}

// What a CUDA error says of its cause: no device; full memory; a kernel that faulted or was launched wrongly (a bug:
// the sticky faults leave the context unusable); else the device itself (busy, lost, an ECC error).
static int error_code(cudaError_t status) {
    switch (status) {
    case cudaErrorNoDevice: return SPLADE_CUDA_ERROR_NO_DEVICE;
    case cudaErrorMemoryAllocation: return SPLADE_CUDA_ERROR_OUT_OF_MEMORY;
    case cudaErrorInvalidValue: case cudaErrorInvalidConfiguration: case cudaErrorIllegalAddress:
    case cudaErrorLaunchOutOfResources: case cudaErrorAssert: case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress: case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc: case cudaErrorLaunchFailure:
        return SPLADE_CUDA_ERROR_KERNEL;
    default: return SPLADE_CUDA_ERROR_CUDA;
    }
}

static int check(cudaError_t status, const char *what) {
    if (status == cudaSuccess) return SPLADE_CUDA_OK;
    cudaGetLastError();  // clear a non-sticky error
    if (status == cudaErrorInsufficientDriver) return insufficient_driver(what);
    return fail(error_code(status), "%s: %s", what, cudaGetErrorString(status));
}


int reserve(Scratch &scratch, size_t bytes, const char *what) {
    if (bytes <= scratch.bytes) return SPLADE_CUDA_OK;
    size_t grown = scratch.bytes * 2 > bytes ? scratch.bytes * 2 : bytes;
    if (scratch.pointer) {
        if (int code = check(cudaFree(scratch.pointer), what)) return code;
        scratch.pointer = nullptr;
        scratch.bytes = 0;
    }
    if (int code = check(cudaMalloc(&scratch.pointer, grown), what)) {
        scratch.pointer = nullptr;
        return code;
    }
    scratch.bytes = grown;
    return SPLADE_CUDA_OK;
}

int launched(const char *kernel) {
    if (int code = check(cudaGetLastError(), kernel)) return code;
    return synchronous ? check(cudaDeviceSynchronize(), kernel) : SPLADE_CUDA_OK;
}
bool initialized() { return ready.load(std::memory_order_acquire); }

int enter() {
    if (device_current) return SPLADE_CUDA_OK;  // implies ready
    if (!ready.load(std::memory_order_acquire))
        return fail(SPLADE_CUDA_ERROR_ARGUMENT, "splade_cuda_init has not been called");
    if (int code = check(cudaSetDevice(device_in_use), "cudaSetDevice")) return code;
    device_current = true;
    return SPLADE_CUDA_OK;
}

// The few cuBLAS entry points used, with the ABI shared by cuBLAS 12 and 13.
typedef void *cublas_handle;
typedef int (*create_fn)(cublas_handle *);
typedef int (*math_mode_fn)(cublas_handle, int);
typedef int (*sgemm_fn)(cublas_handle, int, int, int, int, int, const float *, const float *, int, const float *,
                        int, const float *, float *, int);
typedef int (*sgemm_batched_fn)(cublas_handle, int, int, int, int, int, const float *, const float *, int, long long,
                                const float *, int, long long, const float *, float *, int, long long, int);
// cublasSgemmGroupedBatched (cuBLAS 12.5 and newer): the transposes and every size, scalar and leading dimension
// are host arrays of group_count entries; A, B and C are device arrays of Σ group_size pointers, group-major.
typedef int (*sgemm_grouped_fn)(cublas_handle, const int *transa, const int *transb, const int *m, const int *n,
                                const int *k, const float *alpha, const float *const *a, const int *lda,
                                const float *const *b, const int *ldb, const float *beta, float *const *c,
                                const int *ldc, int group_count, const int *group_size);
// The mixed-precision products (cublas_api.h of CUDA 13: cublasGemmEx, cublasGemmStridedBatchedEx,
// cublasGemmGroupedBatchedEx): data types (cudaDataType) and the compute type are C enums, passed as int; with
// CUBLAS_COMPUTE_32F, alpha and beta point to floats (host memory here).
typedef int (*gemm_ex_fn)(cublas_handle, int transa, int transb, int m, int n, int k, const void *alpha, const void *a,
                          int a_type, int lda, const void *b, int b_type, int ldb, const void *beta, void *c, int c_type,
                          int ldc, int compute_type, int algo);
typedef int (*gemm_batched_ex_fn)(cublas_handle, int transa, int transb, int m, int n, int k, const void *alpha,
                                  const void *a, int a_type, int lda, long long stride_a, const void *b, int b_type,
                                  int ldb, long long stride_b, const void *beta, void *c, int c_type, int ldc,
                                  long long stride_c, int batch, int compute_type, int algo);
// cublasGemmGroupedBatchedEx (cuBLAS 12.5 and newer): as cublasSgemmGroupedBatched, with alpha_array and beta_array
// host arrays of group_count scalars of the compute type's scale type (float for CUBLAS_COMPUTE_32F).
typedef int (*gemm_grouped_ex_fn)(cublas_handle, const int *transa, const int *transb, const int *m, const int *n,
                                  const int *k, const void *alpha, const void *const *a, int a_type, const int *lda,
                                  const void *const *b, int b_type, const int *ldb, const void *beta, void *const *c,
                                  int c_type, const int *ldc, int group_count, const int *group_size, int compute_type);
// cublasSgemmBatched, cublasGemmBatchedEx: products of one shape, A, B and C device arrays of `batch` pointers.
typedef int (*sgemm_pointers_fn)(cublas_handle, int transa, int transb, int m, int n, int k, const float *alpha,
                                 const float *const *a, int lda, const float *const *b, int ldb, const float *beta,
                                 float *const *c, int ldc, int batch);
typedef int (*gemm_pointers_ex_fn)(cublas_handle, int transa, int transb, int m, int n, int k, const void *alpha,
                                   const void *const *a, int a_type, int lda, const void *const *b, int b_type, int ldb,
                                   const void *beta, void *const *c, int c_type, int ldc, int batch, int compute_type,
                                   int algo);
static cublas_handle handle = nullptr;
static int cublas_version = 0;  // splade_cuda_cublas_version
static math_mode_fn set_math_mode = nullptr;
static sgemm_fn sgemm = nullptr;
static sgemm_batched_fn sgemm_batched = nullptr;
static sgemm_grouped_fn sgemm_grouped = nullptr;  // null: one strided-batched product per group
static gemm_ex_fn gemm_ex = nullptr;
static gemm_batched_ex_fn gemm_batched_ex = nullptr;
static gemm_grouped_ex_fn gemm_grouped_ex = nullptr;  // null: one strided-batched product per group
static sgemm_pointers_fn sgemm_pointers = nullptr;    // null: groups of one shape take the grouped product too
static gemm_pointers_ex_fn gemm_pointers_ex = nullptr;
enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1, CUBLAS_DEFAULT_MATH_ = 0, CUBLAS_TF32_TENSOR_OP_MATH_ = 3 };
// library_types.h: CUDA_R_32F, CUDA_R_16BF; cublas_api.h: CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT,
// CUBLAS_STATUS_ALLOC_FAILED, _INVALID_VALUE, _EXECUTION_FAILED, _NOT_SUPPORTED.
enum { CUDA_R_32F_ = 0, CUDA_R_16BF_ = 14, CUBLAS_COMPUTE_32F_ = 68, CUBLAS_GEMM_DEFAULT_ = -1,
       CUBLAS_STATUS_ALLOC_FAILED_ = 3, CUBLAS_STATUS_INVALID_VALUE_ = 7, CUBLAS_STATUS_EXECUTION_FAILED_ = 13,
       CUBLAS_STATUS_NOT_SUPPORTED_ = 15 };

// A failed cuBLAS product: its own allocation found the memory full; its kernel did not run (the device: a fault
// reported by the driver); or it refused what it was given (a bug here).
static int product_failure(int status) {
    switch (status) {
    case CUBLAS_STATUS_ALLOC_FAILED_: return SPLADE_CUDA_ERROR_OUT_OF_MEMORY;
    case CUBLAS_STATUS_EXECUTION_FAILED_: return SPLADE_CUDA_ERROR_CUDA;
    default: return SPLADE_CUDA_ERROR_KERNEL;
    }
}

// cuBLASLt (optional: libcublas links it, so it is there wherever cuBLAS is), for the Linear layers' products with
// the bias added in the epilogue instead of written first and read back (beta = 1). Declarations as cublasLt.h of
// CUDA 13 (and 12): descriptors are opaque pointers, the heuristic result a 96-byte struct.
typedef void *lt_handle;
typedef void *lt_descriptor;
typedef void *lt_layout;
typedef void *lt_preference;
struct LtHeuristic {
    uint64_t algo[8];
    size_t workspace;
    int state;
    float waves;
    int reserved[4];
};
typedef int (*lt_create_fn)(lt_handle *);
typedef int (*lt_descriptor_create_fn)(lt_descriptor *, int compute_type, int scale_type);
typedef int (*lt_descriptor_destroy_fn)(lt_descriptor);
typedef int (*lt_descriptor_set_fn)(lt_descriptor, int attribute, const void *value, size_t bytes);
typedef int (*lt_layout_create_fn)(lt_layout *, int type, uint64_t rows, uint64_t cols, int64_t ld);
typedef int (*lt_layout_destroy_fn)(lt_layout);
typedef int (*lt_preference_create_fn)(lt_preference *);
typedef int (*lt_preference_destroy_fn)(lt_preference);
typedef int (*lt_preference_set_fn)(lt_preference, int attribute, const void *value, size_t bytes);
typedef int (*lt_heuristic_fn)(lt_handle, lt_descriptor, lt_layout a, lt_layout b, lt_layout c, lt_layout d, lt_preference,
                               int requested, LtHeuristic *results, int *returned);
// cublasLtMatmulAlgoCheck: whether an algorithm (chosen for another shape) runs this problem, and its workspace.
typedef int (*lt_check_fn)(lt_handle, lt_descriptor, lt_layout a, lt_layout b, lt_layout c, lt_layout d,
                           const void *algo, LtHeuristic *result);
typedef int (*lt_matmul_fn)(lt_handle, lt_descriptor, const void *alpha, const void *a, lt_layout, const void *b, lt_layout,
                            const void *beta, const void *c, lt_layout, void *d, lt_layout, const void *algo, void *workspace,
                            size_t workspace_bytes, cudaStream_t stream);
static struct {
    lt_handle handle = nullptr;  // null: no cuBLASLt, or SPLADE_CUDA_LT=0
    bool exact_rows = false;     // SPLADE_CUDA_LT_EXACT=1: a plan per row count, not per power-of-two bucket
    lt_descriptor_create_fn descriptor_create;
    lt_descriptor_destroy_fn descriptor_destroy;
    lt_descriptor_set_fn descriptor_set;
    lt_layout_create_fn layout_create;
    lt_layout_destroy_fn layout_destroy;
    lt_preference_create_fn preference_create;
    lt_preference_destroy_fn preference_destroy;
    lt_preference_set_fn preference_set;
    lt_heuristic_fn heuristic;
    lt_check_fn check;  // optional: null, every row count gets its own heuristic
    lt_matmul_fn matmul;
} lt;
// cublasLt.h: CUBLASLT_MATMUL_DESC_TRANSA/TRANSB (int32), _EPILOGUE (uint32), _BIAS_POINTER; CUBLASLT_EPILOGUE_BIAS;
// CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (uint64), _MIN_ALIGNMENT_A/B/C/D_BYTES (uint32), _REDUCTION_SCHEME_MASK
// (uint32) and CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE; cublas_api.h: CUBLAS_COMPUTE_32F_FAST_TF32.
enum { LT_TRANSA = 3, LT_TRANSB = 4, LT_EPILOGUE = 7, LT_BIAS_POINTER = 8, LT_EPILOGUE_BIAS = 4, LT_MAX_WORKSPACE = 1,
       LT_MIN_ALIGNMENT_A = 5, LT_MIN_ALIGNMENT_B = 6, LT_MIN_ALIGNMENT_C = 7, LT_MIN_ALIGNMENT_D = 8,
       LT_REDUCTION_SCHEME_MASK = 3, LT_REDUCTION_SCHEME_COMPUTE_TYPE = 2, CUBLAS_COMPUTE_32F_FAST_TF32_ = 77 };
static bool tf32_products = false;  // splade_cuda_set_tf32, for the cuBLASLt products' compute type

// cuBLASLt from the libraries cuBLAS loaded (SPLADE_CUDA_LT=0: none, to test the fallback); silently absent otherwise.
static void load_cublas_lt() {
    const char *use = getenv("SPLADE_CUDA_LT"), *exact = getenv("SPLADE_CUDA_LT_EXACT");
    if (use && strcmp(use, "0") == 0) return;
    lt.exact_rows = exact && strcmp(exact, "1") == 0;
    void *library = nullptr;
    for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
        if ((library = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!library) return;
    auto create = (lt_create_fn)dlsym(library, "cublasLtCreate");
    lt.descriptor_create = (lt_descriptor_create_fn)dlsym(library, "cublasLtMatmulDescCreate");
    lt.descriptor_destroy = (lt_descriptor_destroy_fn)dlsym(library, "cublasLtMatmulDescDestroy");
    lt.descriptor_set = (lt_descriptor_set_fn)dlsym(library, "cublasLtMatmulDescSetAttribute");
    lt.layout_create = (lt_layout_create_fn)dlsym(library, "cublasLtMatrixLayoutCreate");
    lt.layout_destroy = (lt_layout_destroy_fn)dlsym(library, "cublasLtMatrixLayoutDestroy");
    lt.preference_create = (lt_preference_create_fn)dlsym(library, "cublasLtMatmulPreferenceCreate");
    lt.preference_destroy = (lt_preference_destroy_fn)dlsym(library, "cublasLtMatmulPreferenceDestroy");
    lt.preference_set = (lt_preference_set_fn)dlsym(library, "cublasLtMatmulPreferenceSetAttribute");
    lt.heuristic = (lt_heuristic_fn)dlsym(library, "cublasLtMatmulAlgoGetHeuristic");
    lt.check = (lt_check_fn)dlsym(library, "cublasLtMatmulAlgoCheck");
    lt.matmul = (lt_matmul_fn)dlsym(library, "cublasLtMatmul");
    if (!create || !lt.descriptor_create || !lt.descriptor_destroy || !lt.descriptor_set || !lt.layout_create ||
        !lt.layout_destroy || !lt.preference_create || !lt.preference_destroy || !lt.preference_set || !lt.heuristic ||
        !lt.matmul || create(&lt.handle) != 0)
        lt.handle = nullptr;
}

static int load_cublas() {
    const char *override_path = getenv("SPLADE_CUDA_CUBLAS");
    const char *names[] = {override_path, "libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    void *library = nullptr;
    for (const char *name : names)
        if (name && *name && (library = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!library)
        return fail(SPLADE_CUDA_ERROR_CUBLAS,
                    "cannot load cuBLAS (libcublas.so.13 or .12): put its directory on LD_LIBRARY_PATH or set "
                    "SPLADE_CUDA_CUBLAS to its path");
    auto create = (create_fn)dlsym(library, "cublasCreate_v2");
    set_math_mode = (math_mode_fn)dlsym(library, "cublasSetMathMode");
    sgemm = (sgemm_fn)dlsym(library, "cublasSgemm_v2");
    sgemm_batched = (sgemm_batched_fn)dlsym(library, "cublasSgemmStridedBatched");
    gemm_ex = (gemm_ex_fn)dlsym(library, "cublasGemmEx");
    gemm_batched_ex = (gemm_batched_ex_fn)dlsym(library, "cublasGemmStridedBatchedEx");
    if (!create || !set_math_mode || !sgemm || !sgemm_batched || !gemm_ex || !gemm_batched_ex)
        return fail(SPLADE_CUDA_ERROR_CUBLAS, "the loaded cuBLAS lacks cublasCreate_v2/cublasSgemm_v2/cublasGemmEx");
    // Optional; SPLADE_CUDA_GROUPED=0 takes the per-group fallback even where cuBLAS has them (to test that path).
    const char *grouped = getenv("SPLADE_CUDA_GROUPED");
    if (!(grouped && strcmp(grouped, "0") == 0)) {
        sgemm_grouped = (sgemm_grouped_fn)dlsym(library, "cublasSgemmGroupedBatched");
        gemm_grouped_ex = (gemm_grouped_ex_fn)dlsym(library, "cublasGemmGroupedBatchedEx");
        sgemm_pointers = (sgemm_pointers_fn)dlsym(library, "cublasSgemmBatched");
        gemm_pointers_ex = (gemm_pointers_ex_fn)dlsym(library, "cublasGemmBatchedEx");
    }
    int status = create(&handle);
    if (status != 0)
        return fail(status == CUBLAS_STATUS_ALLOC_FAILED_ ? SPLADE_CUDA_ERROR_OUT_OF_MEMORY : SPLADE_CUDA_ERROR_CUBLAS,
                    "cublasCreate failed with status %d", status);
    status = set_math_mode(handle, CUBLAS_DEFAULT_MATH_);
    if (status != 0) return fail(SPLADE_CUDA_ERROR_CUBLAS, "cublasSetMathMode failed with status %d", status);
    typedef int (*version_fn)(cublas_handle, int *);
    auto version = (version_fn)dlsym(library, "cublasGetVersion_v2");
    if (!version || version(handle, &cublas_version) != 0) cublas_version = 0;
    load_cublas_lt();
    return SPLADE_CUDA_OK;
}
}  // namespace splade_cuda

using namespace splade_cuda;

extern "C" {

int splade_cuda_device_count(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

int splade_cuda_runtime_version(void) {
    int version = 0;
    cudaRuntimeGetVersion(&version);
    return version;
}

int splade_cuda_driver_version(void) {
    int version = 0;
    if (cudaDriverGetVersion(&version) != cudaSuccess) return 0;
    return version;
}

int splade_cuda_init(int device) {
    std::lock_guard<std::mutex> lock(init_mutex);
    if (ready.load(std::memory_order_acquire)) {
        if (device != device_in_use)
            return fail(SPLADE_CUDA_ERROR_ARGUMENT,
                        "already initialised on device %d: one device per process (device %d asked for)",
                        device_in_use, device);
        return enter();
    }
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
    if (driver == 0) return fail(SPLADE_CUDA_ERROR_NO_DEVICE, "no CUDA GPU: no NVIDIA driver (libcuda.so.1) was found");
    // A driver of an older major version cannot run this runtime; an older minor one can (CUDA's minor
    // version compatibility), so that is left to the runtime, which reports cudaErrorInsufficientDriver.
    if (driver / 1000 < runtime / 1000) return insufficient_driver("no usable CUDA driver");
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status == cudaErrorInsufficientDriver) {
        cudaGetLastError();
        return insufficient_driver("no usable CUDA driver");
    }
    if (status != cudaSuccess || count == 0) {
        cudaGetLastError();
        return fail(SPLADE_CUDA_ERROR_NO_DEVICE, "no CUDA GPU: %s",
                    status == cudaSuccess ? "the driver reports no device" : cudaGetErrorString(status));
    }
    if (device < 0 || device >= count) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "no CUDA device %d (%d present)", device, count);
    int major = 0, minor = 0;
    if (int code = check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute"))
        return code;
    if (int code = check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "cudaDeviceGetAttribute"))
        return code;
    if (major < 8) {
        cudaDeviceProp properties;
        const char *name = cudaGetDeviceProperties(&properties, device) == cudaSuccess ? properties.name : "?";
        return fail(SPLADE_CUDA_ERROR_NO_DEVICE,
                    "CUDA device %d (%s) has compute capability %d.%d: the kernels are built for sm_80 and sm_90 "
                    "(compute capability 8.0 or newer)", device, name, major, minor);
    }
    if (int code = check(cudaSetDevice(device), "cudaSetDevice")) return code;
    if (int code = check(cudaFree(nullptr), "creating the CUDA context")) return code;
    if (int code = load_cublas()) return code;
    const char *sync = getenv("SPLADE_CUDA_SYNC");
    synchronous = sync && *sync && strcmp(sync, "0") != 0;
    device_in_use = device;
    device_current = true;
    ready.store(true, std::memory_order_release);
    return SPLADE_CUDA_OK;
}

int splade_cuda_device_info(int device, char *name, size_t capacity, int *compute_capability, size_t *total_memory) {
    cudaDeviceProp properties;
    if (int code = check(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties")) return code;
    if (name && capacity > 0) {
        strncpy(name, properties.name, capacity - 1);
        name[capacity - 1] = 0;
    }
    if (compute_capability) *compute_capability = properties.major * 10 + properties.minor;
    if (total_memory) *total_memory = properties.totalGlobalMem;
    return SPLADE_CUDA_OK;
}

const char *splade_cuda_last_error(void) { return last_error; }

int splade_cuda_malloc(void **pointer, size_t bytes) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(pointer, "null pointer");
    return check(cudaMalloc(pointer, bytes < 1 ? 1 : bytes), "cudaMalloc");
}
int splade_cuda_free(void *pointer) {
    SPLADE_ENTER();
    return check(cudaFree(pointer), "cudaFree");
}
int splade_cuda_copy_to_device(void *destination, const void *source, size_t bytes) {
    SPLADE_ENTER();
    return check(cudaMemcpy(destination, source, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}
int splade_cuda_copy_to_host(void *destination, const void *source, size_t bytes) {
    SPLADE_ENTER();
    return check(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}
int splade_cuda_copy_device(void *destination, const void *source, size_t bytes) {
    SPLADE_ENTER();
    return check(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy on device");
}
int splade_cuda_zero(void *pointer, size_t bytes) {
    SPLADE_ENTER();
    return check(cudaMemset(pointer, 0, bytes), "cudaMemset");
}
int splade_cuda_synchronize(void) {
    SPLADE_ENTER();
    return check(cudaDeviceSynchronize(), "a kernel");
}

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major matrix read
// column-major is its transpose: so swap the operands and keep each one's transpose flag.
int splade_cuda_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    SPLADE_ENTER();
    if (m == 0 || n == 0) return SPLADE_CUDA_OK;
    int status = sgemm(handle, transpose_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_, transpose_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_, n,
                       m, k, &alpha, b, ldb, a, lda, &beta, c, ldc);
    return status == 0 ? SPLADE_CUDA_OK : fail(product_failure(status), "cublasSgemm failed with status %d", status);
}

int splade_cuda_sgemm_strided_batched(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                                      const float *a, int lda, long long stride_a, const float *b, int ldb,
                                      long long stride_b, float beta, float *c, int ldc, long long stride_c,
                                      int batch) {
    SPLADE_ENTER();
    if (m == 0 || n == 0 || batch == 0) return SPLADE_CUDA_OK;
    int status = sgemm_batched(handle, transpose_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_, transpose_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_,
                               n, m, k, &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, batch);
    return status == 0 ? SPLADE_CUDA_OK
                       : fail(product_failure(status), "cublasSgemmStridedBatched failed with status %d", status);
}

}  // extern "C"

// As splade_cuda_sgemm (the same operand swap), A and B in bfloat16, C of `c_type` (float32 or bfloat16), float32 sums.
static int gemm_bf16(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                     const uint16_t *b, int ldb, float beta, void *c, int c_type, int ldc) {
    SPLADE_ENTER();
    if (m == 0 || n == 0) return SPLADE_CUDA_OK;
    int status = gemm_ex(handle, transpose_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_, transpose_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_, n, m,
                         k, &alpha, b, CUDA_R_16BF_, ldb, a, CUDA_R_16BF_, lda, &beta, c, c_type, ldc,
                         CUBLAS_COMPUTE_32F_, CUBLAS_GEMM_DEFAULT_);
    return status == 0 ? SPLADE_CUDA_OK : fail(product_failure(status), "cublasGemmEx failed with status %d", status);
}

extern "C" int splade_cuda_gemm_bf16(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const uint16_t *a,
                                     int lda, const uint16_t *b, int ldb, float beta, float *c, int ldc) {
    return gemm_bf16(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, CUDA_R_32F_, ldc);
}

// ---- Grouped products ------------------------------------------------------------------------------------

namespace splade_cuda {
// The per-problem pointers of up to kPointerGroups groups, written on the device by a small kernel from the
// groups passed by value (kernel arguments are copied at launch): nothing is staged in host memory, so the
// host never waits for the device, and the writes are stream-ordered after the products that read the
// previous call's pointers. Pointers and strides are in bytes, for every element type.
struct GroupPointers {
    const char *a, *b;
    char *c;
    long long stride_a, stride_b, stride_c;  // bytes
    int batch, first;  // the group's products and the index of its first one among all
};
constexpr int kPointerGroups = 64;  // 64 × 56 bytes: within the classic 4 KiB of kernel arguments
struct PointerChunk {
    GroupPointers groups[kPointerGroups];
};

// cuBLAS's A is our B and its B our A (the column-major view of the row-major product).
static __global__ void problem_pointers_kernel(const __grid_constant__ PointerChunk chunk, const void **blas_a,
                                               const void **blas_b, void **blas_c) {
    const GroupPointers &g = chunk.groups[blockIdx.x];
    for (int i = threadIdx.x; i < g.batch; i += blockDim.x) {
        blas_a[g.first + i] = g.b + i * g.stride_b;
        blas_b[g.first + i] = g.a + i * g.stride_a;
        blas_c[g.first + i] = g.c + i * g.stride_c;
    }
}

static std::mutex grouped_mutex;  // the scratch and the host arrays below, and the order of their use on the stream
static Scratch grouped_pointers;
static std::vector<int> group_ops_a, group_ops_b, group_m, group_n, group_k, group_lda, group_ldb, group_ldc, group_size;
static std::vector<float> group_alpha, group_beta;
static std::vector<int> nonempty;  // indices into the caller's groups
static std::atomic<int> grouped_fallbacks{0};  // splade_cuda_grouped_fallbacks

// What differs between the float32 and the bfloat16 grouped products: the names and the cuBLAS calls, which take
// the column-major view (ops, sizes and leading dimensions already swapped: blas_a is our B, blas_b our A).
template <class Group> struct GroupedProducts;
template <> struct GroupedProducts<splade_cuda_gemm_group> {
    static constexpr const char *name = "sgemm_grouped", *batched_name = "cublasSgemmStridedBatched",
                                *grouped_name = "cublasSgemmGroupedBatched", *pointers_name = "cublasSgemmBatched",
                                *allocation = "sgemm_grouped: cudaMalloc",
                                *pointers = "sgemm_grouped: the problem pointers";
    static bool grouped_available() { return sgemm_grouped != nullptr; }
    static int strided(int op_a, int op_b, const splade_cuda_gemm_group &p, const float *alpha, const float *beta) {
        return sgemm_batched(handle, op_a, op_b, p.n, p.m, p.k, alpha, p.b, p.ldb, p.stride_b, p.a, p.lda, p.stride_a,
                             beta, p.c, p.ldc, p.stride_c, p.batch);
    }
    static int grouped(const void **blas_a, const void **blas_b, void **blas_c, int used) {
        return sgemm_grouped(handle, group_ops_a.data(), group_ops_b.data(), group_m.data(), group_n.data(),
                             group_k.data(), group_alpha.data(), (const float *const *)blas_a, group_lda.data(),
                             (const float *const *)blas_b, group_ldb.data(), group_beta.data(), (float *const *)blas_c,
                             group_ldc.data(), used, group_size.data());
    }
    static bool batched_available() { return sgemm_pointers != nullptr; }
    static int batched(const void **blas_a, const void **blas_b, void **blas_c, int problems) {
        return sgemm_pointers(handle, group_ops_a[0], group_ops_b[0], group_m[0], group_n[0], group_k[0], &group_alpha[0],
                              (const float *const *)blas_a, group_lda[0], (const float *const *)blas_b, group_ldb[0],
                              &group_beta[0], (float *const *)blas_c, group_ldc[0], problems);
    }
};
// The cublas*Ex products: A and B of in_type, C of c_type, sums in compute (the bfloat16 products: float32 sums, C in
// float32 or bfloat16).
template <class Group, int in_type, int c_type, int compute> struct ExProducts {
    static constexpr const char *batched_name = "cublasGemmStridedBatchedEx", *grouped_name = "cublasGemmGroupedBatchedEx",
                                *pointers_name = "cublasGemmBatchedEx";
    static bool grouped_available() { return gemm_grouped_ex != nullptr; }
    static int strided(int op_a, int op_b, const Group &p, const float *alpha, const float *beta) {
        return gemm_batched_ex(handle, op_a, op_b, p.n, p.m, p.k, alpha, p.b, in_type, p.ldb, p.stride_b, p.a, in_type,
                               p.lda, p.stride_a, beta, p.c, c_type, p.ldc, p.stride_c, p.batch, compute,
                               CUBLAS_GEMM_DEFAULT_);
    }
    static int grouped(const void **blas_a, const void **blas_b, void **blas_c, int used) {
        return gemm_grouped_ex(handle, group_ops_a.data(), group_ops_b.data(), group_m.data(), group_n.data(),
                               group_k.data(), group_alpha.data(), blas_a, in_type, group_lda.data(), blas_b, in_type,
                               group_ldb.data(), group_beta.data(), blas_c, c_type, group_ldc.data(), used,
                               group_size.data(), compute);
    }
    static bool batched_available() { return gemm_pointers_ex != nullptr; }
    static int batched(const void **blas_a, const void **blas_b, void **blas_c, int problems) {
        return gemm_pointers_ex(handle, group_ops_a[0], group_ops_b[0], group_m[0], group_n[0], group_k[0],
                                &group_alpha[0], blas_a, in_type, group_lda[0], blas_b, in_type, group_ldb[0],
                                &group_beta[0], blas_c, c_type, group_ldc[0], problems, compute, CUBLAS_GEMM_DEFAULT_);
    }
};
template <>
struct GroupedProducts<splade_cuda_gemm_group_bf16>
    : ExProducts<splade_cuda_gemm_group_bf16, CUDA_R_16BF_, CUDA_R_32F_, CUBLAS_COMPUTE_32F_> {
    static constexpr const char *name = "gemm_grouped_bf16", *allocation = "gemm_grouped_bf16: cudaMalloc",
                                *pointers = "gemm_grouped_bf16: the problem pointers";
};
template <>
struct GroupedProducts<splade_cuda_gemm_group_bf16_out>
    : ExProducts<splade_cuda_gemm_group_bf16_out, CUDA_R_16BF_, CUDA_R_16BF_, CUBLAS_COMPUTE_32F_> {
    static constexpr const char *name = "gemm_grouped_bf16_out", *allocation = "gemm_grouped_bf16_out: cudaMalloc",
                                *pointers = "gemm_grouped_bf16_out: the problem pointers";
};
// Float32 copies of bfloat16 operands (widened_products below), multiplied with CUBLAS_COMPUTE_32F_FAST_TF32 whatever
// the math mode: TF32 keeps 10 bits of a significand and bfloat16 has 7, so the products are exact, as the bfloat16
// product's are, and the sums float32.
struct WidenedGroup : splade_cuda_gemm_group {};
template <>
struct GroupedProducts<WidenedGroup> : ExProducts<WidenedGroup, CUDA_R_32F_, CUDA_R_32F_, CUBLAS_COMPUTE_32F_FAST_TF32_> {
    static constexpr const char *name = "gemm_grouped_bf16 (widened)",
                                *allocation = "gemm_grouped_bf16 (widened): cudaMalloc",
                                *pointers = "gemm_grouped_bf16 (widened): the problem pointers";
};

// Whether a group has products to make (m, n and batch above 0; sizes already checked not negative).
template <class Group> static bool has_products(const Group &g) { return g.m > 0 && g.n > 0 && g.batch > 0; }

// One group's arguments, as cuBLAS would check them for the row-major product (see check_groups in
// host/emulation.c): sizes ≥ 0, and a group with products (m, n, batch > 0) needs leading dimensions that hold
// its rows and its matrices (A and B only when k > 0: with k = 0, C = beta·C).
template <class Group> static const char *group_problem(int transpose_a, int transpose_b, const Group &g) {
    if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0) return "a negative size";
    if (!has_products(g)) return nullptr;
    int a_cols = transpose_a ? g.m : g.k, b_cols = transpose_b ? g.k : g.n;
    if (g.lda < (a_cols > 1 ? a_cols : 1) || g.ldb < (b_cols > 1 ? b_cols : 1) || g.ldc < (g.n > 1 ? g.n : 1))
        return "a leading dimension smaller than a row";
    if (!g.c || (g.k > 0 && (!g.a || !g.b))) return "a null matrix";
    return nullptr;
}

// Whether a group's matrices meet the alignment cuBLAS's pointer-array products assume with 16-bit types, or float32
// under TF32 math: every matrix pointer 16-byte aligned when k·(input size) is a multiple of 16, 4-byte when of 4. It
// cannot check pointers it reads on the device. The attention blocks' layout keeps the rule (splade_cuda_head_stride);
// a group that breaks it takes the strided product, whose base pointers and strides cuBLAS sees.
template <class Group> static bool pointers_aligned(const Group &g) {
    if (sizeof *g.a != 2 && !tf32_products && !std::is_same<Group, WidenedGroup>::value) return true;
    const long long in = sizeof *g.a, out = sizeof *g.c, row = (long long)g.k * in;
    const long long need = row % 16 == 0 ? 16 : row % 4 == 0 ? 4 : 1;
    auto operand_aligned = [&](const void *base, long long stride, long long size) {
        return aligned(base, need) && (g.batch <= 1 || stride * size % need == 0);
    };
    return operand_aligned(g.a, g.stride_a, in) && operand_aligned(g.b, g.stride_b, in) &&
           operand_aligned(g.c, g.stride_c, out);
}

// Group g as one strided-batched product (nothing when it has no products).
template <class Group>
static int strided_group(int op_a, int op_b, float alpha, float beta, const Group *groups, int g) {
    using P = GroupedProducts<Group>;
    const Group &p = groups[g];
    if (!has_products(p)) return SPLADE_CUDA_OK;
    int status = P::strided(op_a, op_b, p, &alpha, &beta);
    return status == 0 ? SPLADE_CUDA_OK
                       : fail(product_failure(status), "%s (group %d of %s) failed with status %d", P::batched_name, g,
                              P::name, status);
}

// Whether cuBLAS's grouped product declined Group's types: it is not asked again (the same products, a group at a time,
// without the pointer arrays). Whether it has taken them: until then INVALID_VALUE is a refusal of the types too (cuBLAS
// documents NOT_SUPPORTED for a combination it lacks, but versions differ; the arguments were checked here first, and
// the fallback's products would report a real problem with them).
template <class Group> static std::atomic<bool> declined_types{false};
template <class Group> static std::atomic<bool> accepted_types{false};
static std::atomic<int> declined_status{0};  // splade_cuda_grouped_declined_status
// The same for the pointer-array batched product of groups of one shape (declined: the grouped product instead).
template <class Group> static std::atomic<bool> declined_batched{false};
template <class Group> static std::atomic<bool> accepted_batched{false};

// Whether the groups with products all have one shape: sizes and leading dimensions (strides and pointers may differ).
template <class Group> static bool same_shape(const Group *groups, int group_count) {
    const Group *shape = nullptr;
    for (int g = 0; g < group_count; g++) {
        const Group &p = groups[g];
        if (!has_products(p)) continue;
        if (shape && (p.m != shape->m || p.n != shape->n || p.k != shape->k || p.lda != shape->lda ||
                      p.ldb != shape->ldb || p.ldc != shape->ldc))
            return false;
        shape = &p;
    }
    return true;
}

// The groups of a call that have products.
template <class Group> static std::vector<int> groups_with_products(const Group *groups, int group_count) {
    std::vector<int> which;
    for (int g = 0; g < group_count; g++)
        if (has_products(groups[g])) which.push_back(g);
    return which;
}

// The groups `which` of a call that cuBLAS's grouped product does not take (this cuBLAS has none, SPLADE_CUDA_GROUPED=0,
// or it declined their types): one strided-batched product each; bfloat16 with a float32 C is widened instead (below).
template <class Group>
static int ungrouped_products(int transpose_a, int transpose_b, float alpha, float beta, const Group *groups,
                              const std::vector<int> &which) {
    int op_a = transpose_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_, op_b = transpose_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_;
    for (int g : which)
        if (int code = strided_group(op_a, op_b, alpha, beta, groups, g)) return code;
    return SPLADE_CUDA_OK;
}

template <class Group>
static int grouped_products(int transpose_a, int transpose_b, float alpha, float beta, const Group *groups,
                            int group_count);

static std::mutex widened_mutex;  // widened_operands, until the products that read it are queued
static Scratch widened_operands;

// bfloat16 A and B with a float32 C, which cuBLAS's grouped product does not take (its type table pairs bfloat16 inputs
// with a bfloat16 C): not one product per group — a launch per sequence and attention product in bf16 training — but
// A and B widened to float32 and one grouped product of WidenedGroup, whose TF32 inputs hold them exactly: the same
// products and float32 sums. What is widened is the union of the operands' extents (attention's QKV rows once); each
// copy starts at its source's offset modulo 8 elements, so a matrix aligned there is aligned in the copy. Groups with k = 0
// or a negative stride, which this does not map, keep the strided products.
static int ungrouped_products(int transpose_a, int transpose_b, float alpha, float beta,
                              const splade_cuda_gemm_group_bf16 *groups, const std::vector<int> &which) {
    auto strided = [&] { return ungrouped_products<splade_cuda_gemm_group_bf16>(transpose_a, transpose_b, alpha, beta,
                                                                                 groups, which); };
    if (!GroupedProducts<WidenedGroup>::grouped_available() || declined_types<WidenedGroup>) return strided();
    struct Extent {
        const uint16_t *begin, *end;
        long long offset;  // of begin's copy, in floats
    };
    std::vector<Extent> extents;
    for (int g : which) {
        const splade_cuda_gemm_group_bf16 &p = groups[g];
        if (p.k == 0 || p.stride_a < 0 || p.stride_b < 0) return strided();
        long long a_rows = transpose_a ? p.k : p.m, a_cols = transpose_a ? p.m : p.k;
        long long b_rows = transpose_b ? p.n : p.k, b_cols = transpose_b ? p.k : p.n;
        extents.push_back({p.a, p.a + (p.batch - 1) * p.stride_a + (a_rows - 1) * p.lda + a_cols, 0});
        extents.push_back({p.b, p.b + (p.batch - 1) * p.stride_b + (b_rows - 1) * p.ldb + b_cols, 0});
    }
    const std::less<const uint16_t *> before;
    std::sort(extents.begin(), extents.end(), [&](const Extent &x, const Extent &y) { return before(x.begin, y.begin); });
    std::vector<Extent> merged;
    for (const Extent &e : extents) {
        if (!merged.empty() && !before(merged.back().end, e.begin)) {
            if (before(merged.back().end, e.end)) merged.back().end = e.end;
        } else {
            merged.push_back(e);
        }
    }
    long long floats = 0;
    for (Extent &m : merged) {
        m.offset = (floats + 7) / 8 * 8 + (long long)((uintptr_t)m.begin / sizeof *m.begin % 8);
        floats = m.offset + (m.end - m.begin);
    }
    std::lock_guard<std::mutex> lock(widened_mutex);
    if (int code = reserve(widened_operands, (size_t)floats * sizeof(float), "gemm_grouped_bf16: widening: cudaMalloc"))
        return code;
    float *wide = (float *)widened_operands.pointer;
    for (const Extent &m : merged)
        if (int code = splade_cuda_from_bf16(m.begin, (size_t)(m.end - m.begin), wide + m.offset)) return code;
    auto widened = [&](const uint16_t *x) -> const float * {
        auto e = std::upper_bound(merged.begin(), merged.end(), x,
                                  [&](const uint16_t *y, const Extent &m) { return before(y, m.begin); }) - 1;
        return wide + e->offset + (x - e->begin);
    };
    std::vector<WidenedGroup> copies(which.size());
    for (size_t u = 0; u < which.size(); u++) {
        const splade_cuda_gemm_group_bf16 &p = groups[which[u]];
        copies[u] = WidenedGroup{{p.m, p.n, p.k, p.batch, widened(p.a), p.lda, p.stride_a, widened(p.b), p.ldb, p.stride_b,
                                  p.c, p.ldc, p.stride_c}};
    }
    return grouped_products(transpose_a, transpose_b, alpha, beta, copies.data(), (int)copies.size());
}

template <class Group>
static int grouped_products(int transpose_a, int transpose_b, float alpha, float beta, const Group *groups,
                            int group_count) {
    using P = GroupedProducts<Group>;
    SPLADE_ENTER();
    if (group_count < 0) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: negative group_count", P::name);
    if (group_count == 0) return SPLADE_CUDA_OK;
    if (!groups) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: null groups", P::name);
    // Everything is checked before anything is queued: a bad group leaves every C as it was.
    long long problems = 0;
    for (int g = 0; g < group_count; g++) {
        if (const char *problem = group_problem(transpose_a, transpose_b, groups[g]))
            return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: group %d (m=%d n=%d k=%d batch=%d lda=%d ldb=%d ldc=%d) has %s",
                        P::name, g, groups[g].m, groups[g].n, groups[g].k, groups[g].batch, groups[g].lda, groups[g].ldb,
                        groups[g].ldc, problem);
        if (has_products(groups[g])) problems += groups[g].batch;
    }
    if (problems > INT_MAX) return fail(SPLADE_CUDA_ERROR_ARGUMENT, "%s: more than INT_MAX products", P::name);
    if (problems == 0) return SPLADE_CUDA_OK;
    int op_a = transpose_b ? CUBLAS_OP_T_ : CUBLAS_OP_N_, op_b = transpose_a ? CUBLAS_OP_T_ : CUBLAS_OP_N_;
    // Groups all of one shape (a batch of sequences of one length) are one pointer-array batched product: cuBLAS's
    // batched kernels, whatever grouped product it has or declined, where its grouped product costs more per group.
    const bool one_shape = P::batched_available() && !declined_batched<Group> && same_shape(groups, group_count);
    if (!one_shape && !P::grouped_available())
        return ungrouped_products(transpose_a, transpose_b, alpha, beta, groups, groups_with_products(groups, group_count));
    if (!one_shape && declined_types<Group>) {
        grouped_fallbacks++;
        return ungrouped_products(transpose_a, transpose_b, alpha, beta, groups, groups_with_products(groups, group_count));
    }

    std::unique_lock<std::mutex> lock(grouped_mutex);
    if (int code = reserve(grouped_pointers, 3 * (size_t)problems * sizeof(void *), P::allocation))
        return code;
    const void **blas_a = (const void **)grouped_pointers.pointer, **blas_b = blas_a + problems;
    void **blas_c = (void **)(blas_b + problems);
    // The groups the grouped call takes: those with products whose pointers it may use; the others, strided, first.
    nonempty.clear();
    bool misaligned = false;
    for (int g = 0; g < group_count; g++) {
        if (!has_products(groups[g])) continue;
        if (pointers_aligned(groups[g])) {
            nonempty.push_back(g);
        } else {
            misaligned = true;
            if (int code = strided_group(op_a, op_b, alpha, beta, groups, g)) return code;
        }
    }
    if (misaligned) grouped_fallbacks++;
    int used = (int)nonempty.size();
    if (used == 0) return SPLADE_CUDA_OK;
    // cuBLAS's groups: each run of the caller's groups of one shape is one, its problems contiguous in the pointer arrays.
    for (std::vector<int> *v : {&group_ops_a, &group_ops_b, &group_m, &group_n, &group_k, &group_lda, &group_ldb,
                                &group_ldc, &group_size})
        v->clear();
    const long long in_bytes = sizeof *groups->a, out_bytes = sizeof *groups->c;
    PointerChunk chunk = {};
    int first = 0;
    for (int u = 0; u < used; u++) {
        const Group &p = groups[nonempty[u]];
        if (u > 0 && group_m.back() == p.n && group_n.back() == p.m && group_k.back() == p.k &&
            group_lda.back() == p.ldb && group_ldb.back() == p.lda && group_ldc.back() == p.ldc) {
            group_size.back() += p.batch;
        } else {
            group_ops_a.push_back(op_a);
            group_ops_b.push_back(op_b);
            group_m.push_back(p.n);
            group_n.push_back(p.m);
            group_k.push_back(p.k);
            group_lda.push_back(p.ldb);
            group_ldb.push_back(p.lda);
            group_ldc.push_back(p.ldc);
            group_size.push_back(p.batch);
        }
        chunk.groups[u % kPointerGroups] = {(const char *)p.a, (const char *)p.b, (char *)p.c, p.stride_a * in_bytes,
                                            p.stride_b * in_bytes, p.stride_c * out_bytes, p.batch, first};
        first += p.batch;
        if (u % kPointerGroups == kPointerGroups - 1 || u == used - 1) {
            problem_pointers_kernel<<<u % kPointerGroups + 1, 64>>>(chunk, blas_a, blas_b, blas_c);
            if (int code = launched(P::pointers)) return code;
        }
    }
    const int blas_groups = (int)group_size.size();
    group_alpha.assign(blas_groups, alpha);
    group_beta.assign(blas_groups, beta);
    if (one_shape) {
        int status = P::batched(blas_a, blas_b, blas_c, first);
        if (status == 0) accepted_batched<Group> = true;
        if (status == CUBLAS_STATUS_NOT_SUPPORTED_ || (status == CUBLAS_STATUS_INVALID_VALUE_ && !accepted_batched<Group>)) {
            // Declined (nothing written): the groups it was given, the grouped way; the misaligned ones are done.
            declined_batched<Group> = true;
            std::vector<Group> left;
            for (int g : nonempty) left.push_back(groups[g]);
            lock.unlock();
            return grouped_products(transpose_a, transpose_b, alpha, beta, left.data(), (int)left.size());
        }
        return status == 0 ? SPLADE_CUDA_OK
                           : fail(product_failure(status), "%s failed with status %d", P::pointers_name, status);
    }
    int status = P::grouped(blas_a, blas_b, blas_c, blas_groups);
    if (status == 0) accepted_types<Group> = true;
    if (status == CUBLAS_STATUS_NOT_SUPPORTED_ || (status == CUBLAS_STATUS_INVALID_VALUE_ && !accepted_types<Group>)) {
        declined_types<Group> = true;
        declined_status = status;
        if (!misaligned) grouped_fallbacks++;
        // Only the groups it declined: the others are done (again would add beta·C twice).
        std::vector<int> left = nonempty;
        lock.unlock();
        return ungrouped_products(transpose_a, transpose_b, alpha, beta, groups, left);
    }
    return status == 0 ? SPLADE_CUDA_OK
                       : fail(product_failure(status), "%s failed with status %d", P::grouped_name, status);
}
}  // namespace splade_cuda

extern "C" {

int splade_cuda_sgemm_grouped(int transpose_a, int transpose_b, float alpha, float beta,
                              const splade_cuda_gemm_group *groups, int group_count) {
    return grouped_products(transpose_a, transpose_b, alpha, beta, groups, group_count);
}

int splade_cuda_gemm_grouped_bf16(int transpose_a, int transpose_b, float alpha, float beta,
                                  const splade_cuda_gemm_group_bf16 *groups, int group_count) {
    return grouped_products(transpose_a, transpose_b, alpha, beta, groups, group_count);
}

int splade_cuda_grouped_fallbacks(void) { return grouped_fallbacks.load(); }

int splade_cuda_grouped_declined_status(void) { return declined_status.load(); }

int splade_cuda_cublas_version(void) { return initialized() ? cublas_version : 0; }

int splade_cuda_gemm_grouped_bf16_out(int transpose_a, int transpose_b, float alpha, float beta,
                                      const splade_cuda_gemm_group_bf16_out *groups, int group_count) {
    return grouped_products(transpose_a, transpose_b, alpha, beta, groups, group_count);
}

int splade_cuda_set_tf32(int enabled) {
    SPLADE_ENTER();
    int status = set_math_mode(handle, enabled ? CUBLAS_TF32_TENSOR_OP_MATH_ : CUBLAS_DEFAULT_MATH_);
    if (status != 0) return fail(SPLADE_CUDA_ERROR_CUBLAS, "cublasSetMathMode failed with status %d", status);
    tf32_products = enabled != 0;
    return SPLADE_CUDA_OK;
}

}  // extern "C"

// ---- Linear layers: one cuBLASLt product with the bias in its epilogue ---------------------------------------

namespace splade_cuda {
static std::mutex lt_mutex;  // the workspace
static Scratch lt_workspace;
constexpr size_t kLtWorkspace = 32u << 20;

// The alignment of a pointer in bytes, up to the 256 that cuBLASLt's heuristic assumes unless told otherwise (a
// tensor inside a larger allocation, e.g. a bfloat16 weight copy, may be less aligned).
static uint32_t alignment(const void *pointer) {
    uint32_t bytes = 256;
    while (bytes > 1 && (uintptr_t)pointer % bytes != 0) bytes >>= 1;
    return bytes;
}

// A cuBLASLt product planned for one shape and a range of row counts: the descriptor (the bias pointer set per call),
// the weight's layout, and the heuristic's algorithm for `bucket` rows, the power of two at or above them. Encoding's
// batches each have their own number of tokens, and a heuristic for every new count (host time each) would be paid
// on every batch; an algorithm for the bucket serves any count in it that cublasLtMatmulAlgoCheck accepts, else the
// count gets its own heuristic (`exact`); SPLADE_CUDA_LT_EXACT=1 makes every count its own bucket, to compare. The
// input and output layouts are for the last row count used (the few
// Linear shapes of a batch repeat once per layer). The operands' alignments are part of the shape: the heuristic picks
// for them (the bias's it reads from the bias pointer, set before it runs).
struct LtPlan {
    int type, out_type, compute, bucket, in, out;
    uint32_t align_w, align_x, align_y, align_bias;
    lt_descriptor operation = nullptr;
    lt_layout a = nullptr;
    bool found = false;  // the descriptor and the weight's layout
    bool bucket_found = false;  // the bucket's algorithm, `result`
    LtHeuristic result;
    int rows = 0;  // the row count b and d describe, and that `use` was settled for
    lt_layout b = nullptr, d = nullptr;
    enum { kNone, kBucket, kExact } use = kNone;  // the algorithm for `rows`: none, `result`, or `exact`
    LtHeuristic exact;

    const void *algorithm() const { return use == kBucket ? result.algo : exact.algo; }

    bool same(const LtPlan &o) const {
        return type == o.type && out_type == o.out_type && compute == o.compute && bucket == o.bucket && in == o.in &&
               out == o.out && align_w == o.align_w && align_x == o.align_x && align_y == o.align_y &&
               align_bias == o.align_bias;
    }
    void release_rows() {
        for (lt_layout *layout : {&b, &d}) {
            if (*layout) lt.layout_destroy(*layout);
            *layout = nullptr;
        }
    }
    void release() {
        release_rows();
        if (a) lt.layout_destroy(a);
        if (operation) lt.descriptor_destroy(operation);
    }
};
constexpr size_t kLtPlans = 64;
static std::vector<LtPlan> lt_plans;  // most recently used first; under lt_mutex
static std::atomic<int> linear_fallbacks{0};  // splade_cuda_linear_fallbacks

// The power of two at or above rows (≥ 1).
static int row_bucket(int rows) {
    int bucket = 1;
    while (bucket < rows && bucket < (1 << 30)) bucket <<= 1;
    return bucket;
}

// The layouts of X (in×rows) and Y (out×rows) for `rows` rows, column-major (false: none made, or one; to destroy).
static bool row_layouts(const LtPlan &p, int rows, lt_layout *b, lt_layout *d) {
    return lt.layout_create(b, p.type, (uint64_t)p.in, (uint64_t)rows, p.in) == 0 &&
           lt.layout_create(d, p.out_type, (uint64_t)p.out, (uint64_t)rows, p.out) == 0;
}

// The heuristic's algorithm for `rows` rows into *result (false: none). Row-major Y[rows×out] = X·Wᵀ + bias is
// column-major D[out×rows] = op_T(W read as in×out)·(X read as in×rows) with the bias (of D's type, cuBLASLt's
// default) added to every column of D. The heuristic is told each operand's real alignment. With a bfloat16 D,
// split-K partial sums are added in float32 (not in D, which would round them twice).
static bool heuristic(const LtPlan &p, int rows, LtHeuristic *result) {
    uint32_t reduction = LT_REDUCTION_SCHEME_COMPUTE_TYPE;
    uint64_t workspace = kLtWorkspace;
    lt_preference preference = nullptr;
    lt_layout b = nullptr, d = nullptr;
    int found = 0;
    bool ok = row_layouts(p, rows, &b, &d) && lt.preference_create(&preference) == 0 &&
              lt.preference_set(preference, LT_MAX_WORKSPACE, &workspace, sizeof workspace) == 0 &&
              lt.preference_set(preference, LT_MIN_ALIGNMENT_A, &p.align_w, sizeof p.align_w) == 0 &&
              lt.preference_set(preference, LT_MIN_ALIGNMENT_B, &p.align_x, sizeof p.align_x) == 0 &&
              lt.preference_set(preference, LT_MIN_ALIGNMENT_C, &p.align_y, sizeof p.align_y) == 0 &&
              lt.preference_set(preference, LT_MIN_ALIGNMENT_D, &p.align_y, sizeof p.align_y) == 0 &&
              (p.out_type == CUDA_R_32F_ ||
               lt.preference_set(preference, LT_REDUCTION_SCHEME_MASK, &reduction, sizeof reduction) == 0) &&
              lt.heuristic(lt.handle, p.operation, p.a, b, d, d, preference, 1, result, &found) == 0 && found > 0;
    if (preference) lt.preference_destroy(preference);
    for (lt_layout layout : {b, d})
        if (layout) lt.layout_destroy(layout);
    return ok;
}

// The descriptor, the weight's layout and the bucket's algorithm of a new plan.
static void plan(LtPlan &p, const void *bias) {
    int32_t transpose = CUBLAS_OP_T_, keep = CUBLAS_OP_N_;
    uint32_t epilogue = LT_EPILOGUE_BIAS;
    p.found = lt.descriptor_create(&p.operation, p.compute, CUDA_R_32F_) == 0 &&
              lt.descriptor_set(p.operation, LT_TRANSA, &transpose, sizeof transpose) == 0 &&
              lt.descriptor_set(p.operation, LT_TRANSB, &keep, sizeof keep) == 0 &&
              lt.descriptor_set(p.operation, LT_EPILOGUE, &epilogue, sizeof epilogue) == 0 &&
              lt.descriptor_set(p.operation, LT_BIAS_POINTER, &bias, sizeof bias) == 0 &&
              lt.layout_create(&p.a, p.type, (uint64_t)p.in, (uint64_t)p.out, p.in) == 0;
    p.bucket_found = p.found && heuristic(p, p.bucket, &p.result);
}

// The plan for this shape: a kept one moved to the front, or a new one (the least recently used dropped).
static LtPlan &plan_for(const LtPlan &shape, const void *bias) {
    for (size_t i = 0; i < lt_plans.size(); i++)
        if (lt_plans[i].same(shape)) {
            std::rotate(lt_plans.begin(), lt_plans.begin() + i, lt_plans.begin() + i + 1);
            return lt_plans.front();
        }
    if (lt_plans.size() == kLtPlans) {
        lt_plans.back().release();
        lt_plans.pop_back();
    }
    lt_plans.insert(lt_plans.begin(), shape);
    plan(lt_plans.front(), bias);
    return lt_plans.front();
}

// Whether the bucket's algorithm runs the plan's rows: found for exactly them, or accepted by cublasLtMatmulAlgoCheck
// within the workspace.
static bool bucket_serves(const LtPlan &p, int rows) {
    if (!p.bucket_found) return false;
    if (rows == p.bucket) return true;
    LtHeuristic checked;
    return lt.check && lt.check(lt.handle, p.operation, p.a, p.b, p.d, p.d, p.result.algo, &checked) == 0 &&
           checked.workspace <= kLtWorkspace;
}

// Settles the plan's layouts and algorithm for `rows`: the bucket's where it is for exactly these rows or
// cublasLtMatmulAlgoCheck accepts it within the workspace, else a heuristic of their own; none when that fails too.
static void settle_rows(LtPlan &p, int rows) {
    if (p.rows == rows) return;
    p.release_rows();
    p.rows = rows;
    p.use = LtPlan::kNone;
    if (!row_layouts(p, rows, &p.b, &p.d)) {
        p.release_rows();
        p.rows = 0;
        return;
    }
    if (bucket_serves(p, rows))
        p.use = LtPlan::kBucket;
    else if (heuristic(p, rows, &p.exact))
        p.use = LtPlan::kExact;
}

// Y = X·Wᵀ + bias in one cuBLASLt product. Returns -1 (not an error) where cuBLASLt is absent, has no algorithm for the
// shape or fails, so that the caller falls back to bias rows and a product accumulated onto them.
static int linear_lt(int type, int out_type, const void *x, int rows, int in, const void *w, const void *bias, int out,
                     void *y) {
    if (!lt.handle) return -1;
    std::lock_guard<std::mutex> lock(lt_mutex);
    if (int code = reserve(lt_workspace, kLtWorkspace, "cuBLASLt workspace")) return code;
    LtPlan shape;
    shape.type = type;
    shape.out_type = out_type;
    shape.compute = type == CUDA_R_32F_ && tf32_products ? (int)CUBLAS_COMPUTE_32F_FAST_TF32_ : (int)CUBLAS_COMPUTE_32F_;
    shape.bucket = lt.exact_rows ? rows : row_bucket(rows);
    shape.in = in;
    shape.out = out;
    shape.align_w = alignment(w);
    shape.align_x = alignment(x);
    shape.align_y = alignment(y);
    shape.align_bias = alignment(bias);
    LtPlan &p = plan_for(shape, bias);
    if (!p.found || lt.descriptor_set(p.operation, LT_BIAS_POINTER, &bias, sizeof bias) != 0) return -1;
    settle_rows(p, rows);
    if (p.use == LtPlan::kNone) return -1;
    const float one = 1, zero = 0;
    // A failure falls back too: the fallback reports what is really wrong (a bad pointer fails there as well).
    return lt.matmul(lt.handle, p.operation, &one, w, p.a, x, p.b, &zero, y, p.d, y, p.d, p.algorithm(),
                     lt_workspace.pointer, kLtWorkspace, 0) == 0 ? SPLADE_CUDA_OK : -1;
}

int fill_rows_bf16(uint16_t *y, const uint16_t *bias, int rows, int cols);  // elementwise.cu
static int fill_bias_rows(float *y, const float *bias, int rows, int cols) { return splade_cuda_fill_rows(y, bias, rows, cols); }
static int fill_bias_rows(uint16_t *y, const uint16_t *bias, int rows, int cols) { return fill_rows_bf16(y, bias, rows, cols); }

// The Linear entry points: the checks, then cuBLASLt, else `product` (beta = 1) onto the bias rows. Y and the bias are
// float32 (out_type CUDA_R_32F_) or bfloat16.
template <typename Element, typename Out, typename Product>
static int linear(int type, int out_type, const Element *x, int rows, int in, const Element *w, const Out *bias, int out,
                  Out *y, Product product) {
    SPLADE_ENTER();
    SPLADE_REQUIRE(rows >= 0 && in > 0 && out > 0, "bad Linear size");
    if (rows == 0) return SPLADE_CUDA_OK;
    SPLADE_REQUIRE(x && w && bias && y, "null pointer");
    int code = linear_lt(type, out_type, x, rows, in, w, bias, out, y);
    if (code >= 0) return code;
    linear_fallbacks++;
    if (int fill = fill_bias_rows(y, bias, rows, out)) return fill;
    return product();
}
}  // namespace splade_cuda

extern "C" {

int splade_cuda_linear_fallbacks(void) { return linear_fallbacks.load(); }

int splade_cuda_linear(const float *x, int rows, int in, const float *w, const float *bias, int out, float *y) {
    return linear(CUDA_R_32F_, CUDA_R_32F_, x, rows, in, w, bias, out, y,
                  [&] { return splade_cuda_sgemm(0, 1, rows, out, in, 1, x, in, w, in, 1, y, out); });
}

int splade_cuda_linear_bf16(const uint16_t *x, int rows, int in, const uint16_t *w, const float *bias, int out, float *y) {
    return linear(CUDA_R_16BF_, CUDA_R_32F_, x, rows, in, w, bias, out, y,
                  [&] { return gemm_bf16(0, 1, rows, out, in, 1, x, in, w, in, 1, y, CUDA_R_32F_, out); });
}

int splade_cuda_linear_bf16_out(const uint16_t *x, int rows, int in, const uint16_t *w, const uint16_t *bias, int out,
                                uint16_t *y) {
    return linear(CUDA_R_16BF_, CUDA_R_16BF_, x, rows, in, w, bias, out, y,
                  [&] { return gemm_bf16(0, 1, rows, out, in, 1, x, in, w, in, 1, y, CUDA_R_16BF_, out); });
}

}  // extern "C"
