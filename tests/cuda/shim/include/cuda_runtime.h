// cuda_runtime.h of the CUDA-on-CPU shim (tests/cuda/shim): just enough of the CUDA runtime API and of the
// device-side built-ins for libsplade_cuda's kernels (rewritten by rewrite.py) to compile with g++ and run on
// the CPU, every CUDA thread an OS thread. See README.md. Not a general CUDA implementation.
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

// Prints the message (and where the calling CUDA thread is) and aborts.
[[noreturn]] void shim_die(const char *format, ...) __attribute__((format(printf, 1, 2)));

// ---- Qualifiers -------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __grid_constant__
#define __restrict__ __restrict
#define __constant__

// ---- Types ------------------------------------------------------------------------------------------------------
struct uint3 {
    unsigned x, y, z;
};
// The 8- and 16-byte vector types, aligned as CUDA's (UBSan's alignment check catches a misaligned vector access).
struct alignas(8) uint2 {
    unsigned x, y;
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInsufficientDriver = 35,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidSymbol = 13,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorIllegalAddress = 700,
    cudaErrorAssert = 710,
    cudaErrorHardwareStackError = 714,
    cudaErrorIllegalInstruction = 715,
    cudaErrorMisalignedAddress = 716,
    cudaErrorInvalidAddressSpace = 717,
    cudaErrorInvalidPc = 718,
    cudaErrorLaunchFailure = 719,
    cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxBlockDimX = 2,
    cudaDevAttrMaxBlockDimY = 3,
    cudaDevAttrMaxBlockDimZ = 4,
    cudaDevAttrMaxGridDimX = 5,
    cudaDevAttrMaxGridDimY = 6,
    cudaDevAttrMaxGridDimZ = 7,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
    cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
    cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

struct CUstream_st;
typedef CUstream_st *cudaStream_t;

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    int regsPerBlock;
    int warpSize;
    int maxThreadsPerBlock;
    int maxThreadsDim[3];
    int maxGridSize[3];
    int major;
    int minor;
    int multiProcessorCount;
    size_t sharedMemPerBlockOptin;
};

// ---- Runtime API (host) -----------------------------------------------------------------------------------------
extern "C" {
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t error);
const char *cudaGetErrorName(cudaError_t error);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attribute, int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *properties, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void **pointer, size_t bytes);
cudaError_t cudaFree(void *pointer);
cudaError_t cudaMemcpy(void *destination, const void *source, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *destination, const void *source, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemset(void *pointer, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *pointer, int value, size_t bytes, cudaStream_t stream);
cudaError_t shim_memcpy_symbol(void *symbol, size_t symbol_bytes, const void *source, size_t bytes, size_t offset,
                               int to_symbol);
cudaError_t shim_func_set_attribute(const void *function, int attribute, int value);
}
template <class T> inline cudaError_t cudaMalloc(T **pointer, size_t bytes) {
    return cudaMalloc((void **)pointer, bytes);
}
template <class T>
inline cudaError_t cudaMemcpyToSymbol(const T &symbol, const void *source, size_t bytes, size_t offset = 0,
                                      cudaMemcpyKind = cudaMemcpyHostToDevice) {
    return shim_memcpy_symbol((void *)&symbol, sizeof(T), source, bytes, offset, 1);
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void *destination, const T &symbol, size_t bytes, size_t offset = 0,
                                        cudaMemcpyKind = cudaMemcpyDeviceToHost) {
    return shim_memcpy_symbol((void *)&symbol, sizeof(T), destination, bytes, offset, 0);
}
template <class F> inline cudaError_t cudaFuncSetAttribute(F *function, cudaFuncAttribute attribute, int value) {
    return shim_func_set_attribute((const void *)function, (int)attribute, value);
}

// ---- Built-in variables (per CUDA thread: thread-local) ------------------------------------------------------------
namespace shim {
extern thread_local uint3 tl_threadIdx, tl_blockIdx;
extern thread_local dim3 tl_blockDim, tl_gridDim;
}  // namespace shim
#define threadIdx (::shim::tl_threadIdx)
#define blockIdx (::shim::tl_blockIdx)
#define blockDim (::shim::tl_blockDim)
#define gridDim (::shim::tl_gridDim)
constexpr int warpSize = 32;

// ---- Device-side functions ---------------------------------------------------------------------------------------
namespace shim {
void syncthreads();
void syncwarp(unsigned mask);
// A warp collective: every lane in `mask` contributes `value` (8 bytes) and gets back the value of lane `source`
// (its own when source < 0); kind names the call for the checks; *ballot gets the ballot of `predicate`.
uint64_t warp_collective(const char *kind, unsigned mask, uint64_t value, int source, int predicate, unsigned *ballot);
void *shared_alloc(int id, size_t bytes, size_t alignment, const char *name);
void *dynamic_shared();
void chaos();  // SHIM_CHAOS: a random yield or short sleep here
int lane_id();
}  // namespace shim

inline void __syncthreads() { ::shim::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::shim::syncwarp(mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T> inline uint64_t shim_bits(T value) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type above 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &value, sizeof value);
    return bits;
}
template <class T> inline T shim_from_bits(uint64_t bits) {
    T value;
    memcpy(&value, &bits, sizeof value);
    return value;
}
// The source lane per the CUDA programming guide (width a power of two ≤ 32; segments of `width` lanes); -1: own.
inline int shim_shfl_source(int kind, int lane, int operand, int width) {
    int base = lane & ~(width - 1);
    switch (kind) {
    case 0: return base + (operand & (width - 1));  // __shfl_sync: srcLane modulo width, in the caller's segment
    case 1: { int s = (lane - base) - operand; return s < 0 ? -1 : base + s; }           // up
    case 2: { int s = (lane - base) + operand; return s >= width ? -1 : base + s; }      // down
    default: { int s = lane ^ operand; return s >= base + width ? -1 : s; }              // xor: later groups → own
    }
}
template <class T> inline T shim_shfl(const char *name, int kind, unsigned mask, T var, int operand, int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)))
        shim_die("%s: width %d is not a power of two in [1, 32]", name, width);
    int source = shim_shfl_source(kind, ::shim::lane_id(), operand, width);
    return shim_from_bits<T>(::shim::warp_collective(name, mask, shim_bits(var), source, 0, nullptr));
}
template <class T> inline T __shfl_sync(unsigned mask, T var, int src, int width = 32) {
    return shim_shfl("__shfl_sync", 0, mask, var, src, width);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return shim_shfl("__shfl_up_sync", 1, mask, var, (int)delta, width);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return shim_shfl("__shfl_down_sync", 2, mask, var, (int)delta, width);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
    return shim_shfl("__shfl_xor_sync", 3, mask, var, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    unsigned ballot = 0;
    ::shim::warp_collective("__ballot_sync", mask, 0, -1, predicate != 0, &ballot);
    return ballot;
}
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) == mask; }
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline unsigned __activemask() { return 0xffffffffu; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }

template <class T> inline T __ldg(const T *p) { return *p; }

// __expf: the hardware's ex2.approx.ftz of x·log2 e (results below 2^-126 flushed to zero).
inline float __expf(float x) {
    float y = exp2f(x * 1.44269504088896341f);
    return fpclassify(y) == FP_SUBNORMAL ? 0.0f : y;  // (2^x ≥ 0)
}
inline unsigned __float_as_uint(float x) { unsigned u; memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned u) { float x; memcpy(&x, &u, 4); return x; }
inline int __float_as_int(float x) { int u; memcpy(&u, &x, 4); return u; }
inline float __int_as_float(int u) { float x; memcpy(&x, &u, 4); return x; }
inline long long __double_as_longlong(double x) { long long u; memcpy(&u, &x, 8); return u; }
inline double __longlong_as_double(long long u) { double x; memcpy(&x, &u, 8); return x; }

// Atomics: truly atomic (GCC builtins, visible to ThreadSanitizer); floating point by compare-and-swap.
template <class T> inline T shim_atomic_add(T *address, T value) {
    ::shim::chaos();
    if constexpr (std::is_integral<T>::value) {
        return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
    } else {
        T old, sum;
        __atomic_load(address, &old, __ATOMIC_RELAXED);
        do {
            sum = old + value;
        } while (!__atomic_compare_exchange(address, &old, &sum, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
        return old;
    }
}
inline float atomicAdd(float *a, float v) { return shim_atomic_add(a, v); }
inline double atomicAdd(double *a, double v) { return shim_atomic_add(a, v); }
inline int atomicAdd(int *a, int v) { return shim_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned *a, unsigned v) { return shim_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long *a, unsigned long long v) { return shim_atomic_add(a, v); }
template <class T> inline T shim_atomic_minmax(T *a, T v, bool is_max) {
    ::shim::chaos();
    T old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while ((is_max ? v > old : v < old) &&
           !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicMax(int *a, int v) { return shim_atomic_minmax(a, v, true); }
inline int atomicMin(int *a, int v) { return shim_atomic_minmax(a, v, false); }
inline unsigned atomicMax(unsigned *a, unsigned v) { return shim_atomic_minmax(a, v, true); }
inline int atomicCAS(int *a, int expected, int desired) {
    __atomic_compare_exchange_n(a, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}
inline unsigned long long atomicCAS(unsigned long long *a, unsigned long long expected, unsigned long long desired) {
    __atomic_compare_exchange_n(a, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}
inline int atomicExch(int *a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }

// CUDA's overloaded integer/float min and max (math API): the usual arithmetic conversions of the two operands.
template <class A, class B, class = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline typename std::common_type<A, B>::type min(A a, B b) {
    typedef typename std::common_type<A, B>::type T;
    return (T)a < (T)b ? (T)a : (T)b;
}
template <class A, class B, class = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline typename std::common_type<A, B>::type max(A a, B b) {
    typedef typename std::common_type<A, B>::type T;
    return (T)a > (T)b ? (T)a : (T)b;
}
// Float maths: the host libm in float (compiled with -ffp-contract=off). Single-precision CUDA functions differ by
// their documented ulp bounds (expf 2 ulp, erff 2 ulp, log1pf 1 ulp): the checker's tolerances cover that.

// ---- Kernel launches (rewrite.py turns kernel<<<g, b, s, st>>>(args) into shim::launch) ----------------------------------
namespace shim {
struct Config {
    dim3 grid, block;
    size_t shared;
    cudaStream_t stream;
    Config(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr) : grid(g), block(b), shared(s), stream(st) {}
};
// Runs `body` once per CUDA thread of every block; returns after the whole grid ran (the shim is synchronous).
void run_grid(const char *kernel, int launch_bound, const Config &config, void (*trampoline)(void *), void *body);
// A kernel argument that is a pointer must be null or point into a device allocation.
void check_pointer_argument(const char *kernel, int index, const void *pointer);
template <class T> inline void check_argument(const char *kernel, int index, const T &value) {
    if constexpr (std::is_pointer<T>::value) check_pointer_argument(kernel, index, (const void *)value);
}
template <class Body, class... Args>
inline void launch(const char *kernel, int launch_bound, const Config &config, Body body, Args... args) {
    int index = 0;
    (check_argument(kernel, index++, args), ...);
    // Every CUDA thread gets its own copy of the arguments, as kernel parameters are.
    auto arguments = std::make_tuple(args...);
    auto run = [&]() { std::apply([&](auto... copies) { body(copies...); }, arguments); };
    run_grid(kernel, launch_bound, config, [](void *f) { (*(decltype(run) *)f)(); }, &run);
}
}  // namespace shim
