// The CUDA runtime of the CUDA-on-CPU shim: device memory (registered allocations behind guard pages, or ASan's
// redzones), the runtime API the sources call, and kernel execution with every CUDA thread of a block an OS thread
// of a pool: __syncthreads a real barrier, warp collectives a real rendezvous of the lanes in their mask, shared
// memory a per-block buffer poisoned at the start of every block. Blocks run one at a time. See README.md.
#include <cuda_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHIM_SANITIZED 1
#else
#define SHIM_SANITIZED 0
#endif

namespace shim {
thread_local uint3 tl_threadIdx, tl_blockIdx;
thread_local dim3 tl_blockDim, tl_gridDim;
static thread_local int tl_linear = -1;  // this CUDA thread's linear index in its block; -1 on a host thread
static thread_local const char *tl_where = "host";
static thread_local unsigned tl_random = 0;
static const char *current_kernel = "(none)";
static unsigned long long current_block = 0;
}  // namespace shim

using namespace shim;

static std::mutex print_mutex;
static void message(const char *prefix, const char *format, va_list arguments) {
    std::lock_guard<std::mutex> lock(print_mutex);
    fprintf(stderr, "%s", prefix);
    vfprintf(stderr, format, arguments);
    if (tl_linear >= 0)
        fprintf(stderr, " [kernel %s, block (%u,%u,%u), thread (%u,%u,%u), at %s]", current_kernel, tl_blockIdx.x,
                tl_blockIdx.y, tl_blockIdx.z, tl_threadIdx.x, tl_threadIdx.y, tl_threadIdx.z, tl_where);
    fprintf(stderr, "\n");
    fflush(stderr);
}

void shim_die(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    message("SHIM FATAL: ", format, arguments);
    va_end(arguments);
    abort();
}

static std::mutex said_mutex;
static std::map<std::string, int> said_count;
// The first three messages of each kind (key), then only their count at exit.
static void say(const char *prefix, const char *key, const char *format, va_list arguments) {
    {
        std::lock_guard<std::mutex> lock(said_mutex);
        if (said_count[std::string(prefix) + key]++ >= 3) return;
    }
    message(prefix, format, arguments);
}

// What the GPU would get wrong (a misaligned pointer, aliasing outputs, a bad handle): tests/cuda/shim/run fails on it.
void shim_warn(const char *key, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    say("SHIM WARNING: ", key, format, arguments);
    va_end(arguments);
}

// A status the real cuBLAS returns too (an argument it rejects, a type it lacks), which the caller must handle.
void shim_note(const char *key, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    say("SHIM NOTE: ", key, format, arguments);
    va_end(arguments);
}

static void warning_summary() {
    std::lock_guard<std::mutex> lock(said_mutex);
    for (auto &w : said_count) fprintf(stderr, "SHIM COUNT: %d x %s\n", w.second, w.first.c_str());
}
static int summary_registered = atexit(warning_summary);

#if !SHIM_SANITIZED
#include <signal.h>
// A fault in a guard page: name the kernel and the CUDA thread before dying (diagnostics; not async-signal-safe).
static void on_fault(int signal, siginfo_t *info, void *) {
    char text[512];
    int n = snprintf(text, sizeof text, "SHIM FATAL: signal %d (%s) at address %p in kernel %s, block %llu, thread "
                     "(%u,%u,%u) of block (%u,%u,%u): an out-of-bounds or freed device-memory access%s\n", signal,
                     signal == SIGSEGV ? "SIGSEGV" : "SIGBUS", info->si_addr, current_kernel,
                     (unsigned long long)current_block, tl_threadIdx.x, tl_threadIdx.y, tl_threadIdx.z, tl_blockIdx.x,
                     tl_blockIdx.y, tl_blockIdx.z, tl_linear < 0 ? " (on a host thread: not in a kernel)" : "");
    if (n > 0) (void)!write(2, text, (size_t)n);
    ::signal(signal, SIG_DFL);
    raise(signal);
}
static int install_fault_handler() {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, nullptr);
    sigaction(SIGBUS, &action, nullptr);
    return 0;
}
static int fault_handler_installed = install_fault_handler();
#endif

static long env_long(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, nullptr, 0) : fallback;
}

// ---- Chaos: random yields and short sleeps (SHIM_CHAOS=N: one call in N yields, one in 8N sleeps) --------------------
static const long chaos_rate = env_long("SHIM_CHAOS", 0);
void shim::chaos() {
    if (chaos_rate == 0) return;
    if (tl_random == 0) tl_random = (unsigned)(uintptr_t)&tl_random ^ (unsigned)time(nullptr) ^ 0x9E3779B9u;
    tl_random ^= tl_random << 13;
    tl_random ^= tl_random >> 17;
    tl_random ^= tl_random << 5;
    unsigned r = tl_random;
    if (r % (unsigned)(8 * chaos_rate) == 0) usleep(r % 200);
    else if (r % (unsigned)chaos_rate == 0) sched_yield();
}

// ---- Device memory ----------------------------------------------------------------------------------------------------
struct Allocation {
    size_t bytes;
    void *map;  // the mapping (guard pages) or the malloc'd block
    size_t map_bytes;
};
static std::mutex memory_mutex;
static std::map<uintptr_t, Allocation> allocations;  // by start address
static std::vector<std::pair<void *, size_t>> quarantine;
static size_t quarantined = 0;
static const size_t page = 4096;

// The allocation containing [p, p + bytes) (bytes ≥ 0), or null; `start` gets its start.
static const Allocation *find_allocation(const void *p, size_t bytes, uintptr_t *start) {
    uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return nullptr;
    --it;
    if (a < it->first || a + bytes > it->first + it->second.bytes || a + bytes < a) return nullptr;
    if (bytes == 0 && a == it->first + it->second.bytes) return nullptr;  // one past the end: not inside
    if (start) *start = it->first;
    return &it->second;
}

// Whether [p, p + bytes) lies inside one device allocation; else describes the nearest one in `why`.
bool shim_device_range(const void *p, size_t bytes, std::string *why) {
    std::lock_guard<std::mutex> lock(memory_mutex);
    uintptr_t start = 0;
    if (find_allocation(p, bytes, &start)) return true;
    if (why) {
        char text[256];
        auto it = allocations.upper_bound((uintptr_t)p);
        if (it != allocations.begin()) {
            --it;
            snprintf(text, sizeof text, "[%p, +%zu) is not inside a device allocation (nearest below: %p of %zu bytes, "
                     "the range starts %+lld bytes from it)", p, bytes, (void *)it->first, it->second.bytes,
                     (long long)((uintptr_t)p - it->first));
        } else {
            snprintf(text, sizeof text, "[%p, +%zu) is not inside a device allocation (none below it)", p, bytes);
        }
        *why = text;
    }
    return false;
}
bool shim_is_device_pointer(const void *p) {
    std::lock_guard<std::mutex> lock(memory_mutex);
    return find_allocation(p, 0, nullptr) != nullptr;
}

// The alignment the shim gives an allocation of `bytes` in guard-page mode: the largest power of two dividing it (up to
// 256), so that its end touches the guard page exactly; SHIM_ALIGN=256 restores cudaMalloc's alignment (overruns
// within the padding are then not caught). Under a sanitizer: posix_memalign(256), ASan's redzones.
static void *device_allocate(size_t bytes, Allocation *a) {
    a->bytes = bytes;
#if SHIM_SANITIZED
    void *p = nullptr;
    if (posix_memalign(&p, 256, bytes ? bytes : 1)) return nullptr;
    a->map = p;
    a->map_bytes = 0;
    memset(p, 0xCD, bytes);  // cudaMalloc's memory is not zeroed: garbage, not zeros
    return p;
#else
    static long forced = env_long("SHIM_ALIGN", 0);
    size_t alignment = 256;
    if (!forced) {
        while (alignment > 1 && bytes % alignment) alignment >>= 1;
    } else {
        alignment = (size_t)forced;
    }
    size_t data_pages = (bytes + alignment - 1 + page - 1) / page + 1;
    size_t map_bytes = (data_pages + 2) * page;  // a guard page before and after
    char *map = (char *)mmap(nullptr, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    if (mprotect(map + page, data_pages * page, PROT_READ | PROT_WRITE)) {
        munmap(map, map_bytes);
        return nullptr;
    }
    char *end = map + page + data_pages * page;  // the trailing guard page
    char *p = (char *)(((uintptr_t)(end - bytes)) & ~(uintptr_t)(alignment - 1));
    a->map = map;
    a->map_bytes = map_bytes;
    memset(p, 0xCD, bytes);
    return p;
#endif
}
static void device_release(const Allocation &a) {
#if SHIM_SANITIZED
    free(a.map);
#else
    // Kept inaccessible for a while (use after free faults), then unmapped.
    mprotect(a.map, a.map_bytes, PROT_NONE);
    quarantine.push_back({a.map, a.map_bytes});
    quarantined += a.map_bytes;
    while (quarantined > ((size_t)1 << 31) && !quarantine.empty()) {
        munmap(quarantine.front().first, quarantine.front().second);
        quarantined -= quarantine.front().second;
        quarantine.erase(quarantine.begin());
    }
#endif
}

// ---- Errors -------------------------------------------------------------------------------------------------------------
static thread_local cudaError_t last_error = cudaSuccess;
static cudaError_t record(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

extern "C" {

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }
const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidSymbol: return "cudaErrorInvalidSymbol";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    default: return "cudaErrorUnknown";
    }
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorMemoryAllocation: return "out of memory";
    default: return cudaGetErrorName(e);
    }
}
// Answers as one H200 (sm_90) with a CUDA 13.0 runtime and driver.
cudaError_t cudaRuntimeGetVersion(int *v) {
    if (!v) return record(cudaErrorInvalidValue);
    *v = (int)env_long("SHIM_RUNTIME_VERSION", 13000);
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v) {
    if (!v) return record(cudaErrorInvalidValue);
    *v = (int)env_long("SHIM_DRIVER_VERSION", 13000);
    return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *count) {
    if (!count) return record(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}
static thread_local int current_device = 0;
cudaError_t cudaSetDevice(int device) {
    if (device != 0) return record(cudaErrorInvalidDevice);
    current_device = device;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) {
    *device = current_device;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attribute, int device) {
    if (!value) return record(cudaErrorInvalidValue);
    if (device != 0) return record(cudaErrorInvalidDevice);
    switch (attribute) {
    case cudaDevAttrComputeCapabilityMajor: *value = (int)env_long("SHIM_CC_MAJOR", 9); break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxBlockDimX: case cudaDevAttrMaxBlockDimY: *value = 1024; break;
    case cudaDevAttrMaxBlockDimZ: *value = 64; break;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; break;
    case cudaDevAttrMaxGridDimY: case cudaDevAttrMaxGridDimZ: *value = 65535; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 49152; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = 232448; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = 132; break;
    default: shim_die("cudaDeviceGetAttribute: attribute %d not emulated", (int)attribute);
    }
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device) {
    if (!p) return record(cudaErrorInvalidValue);
    if (device != 0) return record(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "NVIDIA H200 (CUDA-on-CPU shim)");
    p->totalGlobalMem = (size_t)143771 << 20;
    p->sharedMemPerBlock = 49152;
    p->sharedMemPerBlockOptin = 232448;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = (int)env_long("SHIM_CC_MAJOR", 9);
    p->minor = 0;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }  // every launch and product ran to completion
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaMalloc(void **pointer, size_t bytes) {
    if (!pointer) return record(cudaErrorInvalidValue);
    if (bytes == 0) {
        *pointer = nullptr;
        return cudaSuccess;
    }
    Allocation a;
    void *p = device_allocate(bytes, &a);
    if (!p) return record(cudaErrorMemoryAllocation);
    std::lock_guard<std::mutex> lock(memory_mutex);
    allocations[(uintptr_t)p] = a;
    *pointer = p;
    return cudaSuccess;
}
cudaError_t cudaFree(void *pointer) {
    if (!pointer) return cudaSuccess;
    std::lock_guard<std::mutex> lock(memory_mutex);
    auto it = allocations.find((uintptr_t)pointer);
    if (it == allocations.end()) {
        shim_warn("cudaFree", "cudaFree(%p): not the start of a live device allocation", pointer);
        return record(cudaErrorInvalidValue);
    }
    device_release(it->second);
    allocations.erase(it);
    return cudaSuccess;
}

static cudaError_t check_range(const char *what, const void *p, size_t bytes, bool device) {
    std::string why;
    bool inside = shim_device_range(p, bytes, &why);
    if (device && !inside) {
        shim_warn(what, "%s: device side %s", what, why.c_str());
        return record(cudaErrorInvalidValue);
    }
    if (!device && shim_is_device_pointer(p)) {
        shim_warn(what, "%s: the host side %p is device memory (wrong cudaMemcpyKind)", what, p);
        return record(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *d, const void *s, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    bool d_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool s_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) {
        d_device = shim_is_device_pointer(d);
        s_device = shim_is_device_pointer(s);
    }
    if (kind == cudaMemcpyHostToHost) d_device = s_device = false;
    if (check_range("cudaMemcpy destination", d, bytes, d_device) || check_range("cudaMemcpy source", s, bytes, s_device))
        return last_error;
    memmove(d, s, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(d, s, bytes, kind);
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (check_range("cudaMemset", p, bytes, true)) return last_error;
    memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
cudaError_t shim_memcpy_symbol(void *symbol, size_t symbol_bytes, const void *other, size_t bytes, size_t offset,
                               int to_symbol) {
    if (offset + bytes > symbol_bytes) return record(cudaErrorInvalidValue);
    if (to_symbol) memcpy((char *)symbol + offset, other, bytes);
    else memcpy((void *)other, (char *)symbol + offset, bytes);
    return cudaSuccess;
}
static int dynamic_shared_optin = 0;
cudaError_t shim_func_set_attribute(const void *, int attribute, int value) {
    if (attribute == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value > 232448) return record(cudaErrorInvalidValue);
        dynamic_shared_optin = value > dynamic_shared_optin ? value : dynamic_shared_optin;
    }
    return cudaSuccess;
}

}  // extern "C"

// ---- Kernel execution ----------------------------------------------------------------------------------------------------
namespace {
std::atomic<unsigned long long> progress{0};  // barrier completions: the watchdog's sign of life

// A waiting thread's deadlock check: abort when no barrier anywhere completed for SHIM_TIMEOUT seconds (a thread
// missing a __syncthreads, or a lane named in a mask that never arrives). Called every half second of waiting.
struct Watchdog {
    unsigned long long seen = progress.load(std::memory_order_relaxed);
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();

    void check() {
        static long timeout = env_long("SHIM_TIMEOUT", 120);
        unsigned long long now_progress = progress.load(std::memory_order_relaxed);
        if (now_progress != seen) {
            seen = now_progress;
            since = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - since > std::chrono::seconds(timeout)) {
            shim_die("deadlock: no barrier completed for %ld s while waiting here", timeout);
        }
    }
};

// Waits on `cv` until `done()`, under the watchdog.
template <class Done> void wait(std::condition_variable &cv, std::unique_lock<std::mutex> &lock, Done done) {
    Watchdog watchdog;
    while (!done()) {
        cv.wait_for(lock, std::chrono::milliseconds(500));
        if (!done()) watchdog.check();
    }
}

// The generation of a block-wide barrier, which waiting threads sleep on as a futex. A condition variable's notify_all
// would wake up to 1024 threads into its mutex, to take it one after another; these only check the counter.
// The release/acquire pair on the counter orders each thread's work before the barrier with the others' after it.
struct Generation {
    std::atomic<uint32_t> value{0};

    uint32_t current() const { return value.load(std::memory_order_relaxed); }

    void advance() {
        value.fetch_add(1, std::memory_order_release);
        progress.fetch_add(1, std::memory_order_relaxed);
        syscall(SYS_futex, &value, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
    }

    // Returns once the generation is past `seen`, under the watchdog.
    void wait_past(uint32_t seen) {
        Watchdog watchdog;
        while (value.load(std::memory_order_acquire) == seen) {
            struct timespec half_second = {0, 500000000};
            syscall(SYS_futex, &value, FUTEX_WAIT_PRIVATE, seen, &half_second, nullptr, 0);
            if (value.load(std::memory_order_acquire) == seen) watchdog.check();
        }
    }
};

struct WarpState {
    std::mutex mutex;  // for all but generation
    unsigned existing = 0, exited = 0, pending = 0, op_mask = 0, predicates = 0;
    const char *kind = nullptr;
    Generation generation;
    uint64_t slots[32];
    int sources[32];
    uint64_t snapshot[2][32];
    unsigned snapshot_ballot[2];
};

struct SharedVariable {
    int id;
    void *pointer;
    size_t bytes;
};

struct BlockState {
    std::mutex mutex;  // for shared
    unsigned threads = 0;
    // The threads still running (high 32 bits) and those waiting at __syncthreads (low 32 bits): one word, so that an
    // arrival and an exit each see the other, and the one that makes the counts equal completes the barrier.
    std::atomic<uint64_t> live_and_arrived{0};
    Generation generation;
    WarpState warps[32];
    std::vector<SharedVariable> shared;  // under mutex
    size_t static_shared = 0;
    void *dynamic = nullptr;
    size_t dynamic_bytes = 0;
};

// A reusable barrier of a fixed count (the block boundaries): the last thread to arrive runs `last` (while the
// others wait) before it lets them go.
struct Barrier {
    unsigned count = 0;
    std::atomic<unsigned> arrived{0};
    Generation generation;
    template <class Last> void arrive(Last last) {
        uint32_t g = generation.current();
        if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == count) {
            arrived.store(0, std::memory_order_relaxed);
            last();
            generation.advance();
        } else {
            generation.wait_past(g);
        }
    }
};

struct Grid {
    const char *kernel;
    Config config{dim3(1), dim3(1)};
    void (*trampoline)(void *);
    void *body;
    unsigned threads;
    unsigned long long blocks, stride, offset;  // block order: b' = (b·stride + offset) mod blocks
    bool relaxed;  // no block boundaries kept: thread i of every block runs on worker i, one block after another
};
// Kernels whose first (strict) launch made no __syncthreads, warp collective or __shared__ access run relaxed
// afterwards (SHIM_STRICT=1: never): their threads are independent, so only the per-block barriers are saved.
std::mutex &kernel_mutex = *new std::mutex;
std::map<std::string, bool> &kernel_synchronises = *new std::map<std::string, bool>;
std::atomic<unsigned long long> sync_calls{0};

// Never destroyed: the pool's threads still wait on them when the process exits.
std::mutex &pool_mutex = *new std::mutex;
std::condition_variable &pool_cv = *new std::condition_variable, &done_cv = *new std::condition_variable;
std::vector<pthread_t> &pool = *new std::vector<pthread_t>;
unsigned long long launch_generation = 0;
unsigned finished = 0;
Grid grid;
BlockState &block = *new BlockState;
Barrier &block_boundary = *new Barrier;
std::mutex &launch_mutex = *new std::mutex;  // one grid at a time (the default stream's order)
thread_local WarpState *tl_warp = nullptr;
thread_local int tl_lane = 0;
int shared_fill = -1;

void reset_block(unsigned threads) {
    for (auto &v : block.shared) free(v.pointer);
    block.shared.clear();
    block.static_shared = 0;
    block.threads = threads;
    block.live_and_arrived.store((uint64_t)threads << 32, std::memory_order_relaxed);
    unsigned warps = (threads + 31) / 32;
    for (unsigned w = 0; w < warps; w++) {
        WarpState &s = block.warps[w];
        unsigned lanes = threads - 32 * w >= 32 ? 32 : threads - 32 * w;
        s.existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
        s.exited = s.pending = s.predicates = 0;
        s.kind = nullptr;
    }
    if (block.dynamic_bytes) {
        memset(block.dynamic, shared_fill, block.dynamic_bytes);
    }
}

void thread_exited() {
    uint64_t counts = block.live_and_arrived.fetch_sub(1ull << 32, std::memory_order_acq_rel) - (1ull << 32);
    unsigned live = (unsigned)(counts >> 32), arrived = (unsigned)counts;
    if (arrived > 0) {
        shim_warn("exit-at-barrier", "a thread exited while %u others wait at __syncthreads (counted as arrived)", arrived);
        if (arrived == live) {
            block.live_and_arrived.fetch_sub(arrived, std::memory_order_relaxed);
            block.generation.advance();
        }
    }
    WarpState &w = *tl_warp;
    std::lock_guard<std::mutex> lock(w.mutex);
    w.exited |= 1u << tl_lane;
    if (w.pending && (w.op_mask >> tl_lane & 1))
        shim_die("lane %d exited while lanes %08x wait for it in %s(mask %08x)", tl_lane, w.pending, w.kind, w.op_mask);
}

void run_thread(unsigned linear) {
    const Config &c = grid.config;
    tl_blockDim = c.block;
    tl_gridDim = c.grid;
    tl_linear = (int)linear;
    tl_threadIdx = uint3{linear % c.block.x, linear / c.block.x % c.block.y, linear / (c.block.x * c.block.y)};
    tl_lane = (int)(linear % 32);
    tl_warp = &block.warps[linear / 32];
    if (grid.relaxed) {
        for (unsigned long long b = 0; b < grid.blocks; b++) {
            unsigned long long id = (b * grid.stride + grid.offset) % grid.blocks;
            tl_blockIdx = uint3{(unsigned)(id % c.grid.x), (unsigned)(id / c.grid.x % c.grid.y),
                                (unsigned)(id / ((unsigned long long)c.grid.x * c.grid.y))};
            tl_where = "kernel body (relaxed)";
            grid.trampoline(grid.body);
        }
        tl_linear = -1;
        tl_where = "host";
        return;
    }
    // The host sets the first block up; between blocks, the last thread to leave one sets the next up.
    for (unsigned long long b = 0; b < grid.blocks; b++) {
        unsigned long long id = (b * grid.stride + grid.offset) % grid.blocks;
        tl_blockIdx = uint3{(unsigned)(id % c.grid.x), (unsigned)(id / c.grid.x % c.grid.y),
                            (unsigned)(id / ((unsigned long long)c.grid.x * c.grid.y))};
        tl_where = "kernel body";
        chaos();
        grid.trampoline(grid.body);
        tl_where = "exit";
        thread_exited();
        if (b + 1 < grid.blocks) {
            block_boundary.arrive([b] {
                reset_block(grid.threads);
                current_block = b + 1;
            });
        }
    }
    tl_linear = -1;
    tl_where = "host";
}

void *worker(void *argument) {
    unsigned index = (unsigned)(uintptr_t)argument;
    unsigned long long seen = 0;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(pool_mutex);
            pool_cv.wait(lock, [&] { return launch_generation != seen && index < grid.threads; });
            seen = launch_generation;
        }
        run_thread(index);
        std::lock_guard<std::mutex> lock(pool_mutex);
        if (++finished == grid.threads) done_cv.notify_all();
    }
    return nullptr;
}

void grow_pool(unsigned threads) {
    while (pool.size() < threads) {
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, SHIM_SANITIZED ? (4u << 20) : (1u << 20));
        pthread_t t;
        if (pthread_create(&t, &attributes, worker, (void *)(uintptr_t)pool.size()))
            shim_die("cannot start pool thread %zu: %s", pool.size(), strerror(errno));
        pthread_attr_destroy(&attributes);
        pool.push_back(t);
    }
}

unsigned long long gcd(unsigned long long a, unsigned long long b) {
    while (b) {
        unsigned long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}
}  // namespace

void shim::check_pointer_argument(const char *kernel, int index, const void *pointer) {
    if (!pointer) return;
    // Inside an allocation, or one past its end (the end of an empty range).
    if (!shim_is_device_pointer(pointer) && !shim_is_device_pointer((const char *)pointer - 1)) {
        std::string why;
        shim_device_range(pointer, 0, &why);
        shim_die("kernel %s: pointer argument %d (%p) is not device memory: %s", kernel, index, pointer, why.c_str());
    }
}

void shim::run_grid(const char *kernel, int launch_bound, const Config &c, void (*trampoline)(void *), void *body) {
    if (tl_linear >= 0) shim_die("kernel %s launched from a kernel (dynamic parallelism) is not emulated", kernel);
    const dim3 &g = c.grid, &b = c.block;
    unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0)
        shim_die("kernel %s: launch with an empty grid (%u,%u,%u) or block (%u,%u,%u): cudaErrorInvalidConfiguration",
                 kernel, g.x, g.y, g.z, b.x, b.y, b.z);
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
        shim_die("kernel %s: grid (%u,%u,%u) beyond (2^31-1, 65535, 65535): cudaErrorInvalidConfiguration", kernel, g.x,
                 g.y, g.z);
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024)
        shim_die("kernel %s: block (%u,%u,%u) beyond (1024, 1024, 64) or 1024 threads: cudaErrorInvalidConfiguration",
                 kernel, b.x, b.y, b.z);
    if (launch_bound > 0 && threads > (unsigned long long)launch_bound)
        shim_die("kernel %s: %llu threads per block above its __launch_bounds__(%d): the launch fails "
                 "(cudaErrorLaunchOutOfResources)", kernel, threads, launch_bound);
    size_t dynamic_limit = dynamic_shared_optin > 49152 ? (size_t)dynamic_shared_optin : 49152;
    if (c.shared > dynamic_limit)
        shim_die("kernel %s: %zu bytes of dynamic shared memory, above %zu (48 KiB unless opted in with "
                 "cudaFuncSetAttribute)", kernel, c.shared, dynamic_limit);
    if (c.stream != nullptr) shim_die("kernel %s: launched on a stream other than the default one", kernel);

    std::lock_guard<std::mutex> launch_lock(launch_mutex);
    std::unique_lock<std::mutex> lock(pool_mutex);  // idle workers read `grid` under it
    if (shared_fill < 0) shared_fill = (int)env_long("SHIM_SHARED_FILL", 0xFF);
    unsigned long long blocks = (unsigned long long)g.x * g.y * g.z;
    grid.kernel = kernel;
    grid.config = c;
    grid.trampoline = trampoline;
    grid.body = body;
    grid.threads = (unsigned)threads;
    grid.blocks = blocks;
    grid.stride = 1;
    grid.offset = 0;
    // SHIM_BLOCK_ORDER=shuffle: blocks in a scrambled order (b·stride + offset mod n), as a GPU may run them.
    static long shuffle = -1;
    if (shuffle < 0) {
        const char *order = getenv("SHIM_BLOCK_ORDER");
        shuffle = order && strcmp(order, "shuffle") == 0;
    }
    if (shuffle && blocks > 1) {
        static unsigned long long seed = 0x2545F4914F6CDD1Dull ^ (unsigned long long)time(nullptr);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned long long stride = (seed >> 17) % blocks;
        while (gcd(stride, blocks) != 1) stride = (stride + 1) % blocks;
        grid.stride = stride;
        grid.offset = (seed >> 7) % blocks;
    }
    current_kernel = kernel;
    static long strict = env_long("SHIM_STRICT", 0);
    {
        std::lock_guard<std::mutex> lock(kernel_mutex);
        auto known = kernel_synchronises.find(kernel);
        grid.relaxed = !strict && known != kernel_synchronises.end() && !known->second && c.shared == 0;
    }
    unsigned long long syncs_before = sync_calls.load();
    if (block.dynamic_bytes < c.shared) {
        free(block.dynamic);
        block.dynamic = malloc(c.shared);
        block.dynamic_bytes = c.shared;
    }
    block.dynamic_bytes = c.shared;
    block_boundary.count = (unsigned)threads;
    reset_block(grid.threads);
    current_block = 0;
    grow_pool((unsigned)threads);
    finished = 0;
    launch_generation++;
    pool_cv.notify_all();
    wait(done_cv, lock, [&] { return finished == grid.threads; });
    current_kernel = "(none)";
    if (!grid.relaxed) {
        std::lock_guard<std::mutex> k(kernel_mutex);
        bool synchronised = sync_calls.load() != syncs_before;
        auto known = kernel_synchronises.find(kernel);
        if (known == kernel_synchronises.end()) kernel_synchronises[kernel] = synchronised;
        else known->second = known->second || synchronised;
    }
}

static void count_sync(const char *what) {
    sync_calls.fetch_add(1, std::memory_order_relaxed);  // relaxed: no happens-before edge for TSan to see
    if (grid.relaxed)
        shim_die("%s in kernel %s, which made none in its first launch and now runs without block boundaries: rerun "
                 "with SHIM_STRICT=1", what, grid.kernel);
}

void shim::syncthreads() {
    count_sync("__syncthreads");
    tl_where = "__syncthreads";
    chaos();
    uint32_t g = block.generation.current();
    uint64_t counts = block.live_and_arrived.fetch_add(1, std::memory_order_acq_rel) + 1;
    unsigned arrived = (unsigned)counts;
    if (arrived == (unsigned)(counts >> 32)) {
        block.live_and_arrived.fetch_sub(arrived, std::memory_order_relaxed);
        block.generation.advance();
    } else {
        block.generation.wait_past(g);
    }
    chaos();
    tl_where = "kernel body";
}

int shim::lane_id() { return tl_lane; }

uint64_t shim::warp_collective(const char *kind, unsigned mask, uint64_t value, int source, int predicate,
                               unsigned *ballot) {
    count_sync(kind);
    tl_where = kind;
    chaos();
    WarpState &w = *tl_warp;
    unsigned bit = 1u << tl_lane;
    int parity;
    {
        std::unique_lock<std::mutex> lock(w.mutex);
        if (!(mask & bit)) shim_die("%s: the calling lane %d is not in its mask %08x", kind, tl_lane, mask);
        if (mask & ~w.existing)
            shim_die("%s: mask %08x names lanes that do not exist in this warp (%08x: the block has %u threads)", kind, mask,
                     w.existing, block.threads);
        if (mask & w.exited)
            shim_die("%s: mask %08x names lanes %08x that have exited: they never arrive", kind, mask, mask & w.exited);
        if (w.pending == 0) {
            w.op_mask = mask;
            w.kind = kind;
        } else if (w.op_mask != mask || strcmp(w.kind, kind) != 0) {
            shim_die("lane %d calls %s(mask %08x) while lanes %08x wait in %s(mask %08x): not all lanes in a mask arrive "
                     "at the same collective", tl_lane, kind, mask, w.pending, w.kind, w.op_mask);
        }
        w.slots[tl_lane] = value;
        w.sources[tl_lane] = source;
        if (predicate) w.predicates |= bit;
        w.pending |= bit;
        uint32_t g = w.generation.current();
        parity = (int)(g & 1);
        if (w.pending == mask) {
            for (int l = 0; l < 32; l++)
                if ((mask >> l & 1) && w.sources[l] >= 0 && !(mask >> w.sources[l] & 1))
                    shim_die("%s: lane %d reads lane %d, which is not in mask %08x (an undefined value)", kind, l,
                             w.sources[l], mask);
            memcpy(w.snapshot[parity], w.slots, sizeof w.slots);
            w.snapshot_ballot[parity] = w.predicates & mask;
            w.pending = 0;
            w.predicates = 0;
            w.generation.advance();
        } else {
            lock.unlock();
            w.generation.wait_past(g);
        }
    }
    // Read without the lock: this collective's snapshot is next written when the one after next completes, which waits
    // for this lane whenever it is in that one's mask (the kernels' masks name every lane of the warp).
    uint64_t result = source < 0 ? value : w.snapshot[parity][source];
    if (ballot) *ballot = w.snapshot_ballot[parity];
    chaos();
    tl_where = "kernel body";
    return result;
}

void shim::syncwarp(unsigned mask) { warp_collective("__syncwarp", mask, 0, -1, 0, nullptr); }

void *shim::shared_alloc(int id, size_t bytes, size_t alignment, const char *name) {
    if (tl_linear < 0) shim_die("__shared__ %s used outside a kernel", name);
    count_sync("__shared__");
    std::lock_guard<std::mutex> lock(block.mutex);
    for (auto &v : block.shared)
        if (v.id == id) return v.pointer;
    void *p = nullptr;
    if (posix_memalign(&p, alignment < 16 ? 16 : alignment, bytes)) shim_die("out of memory for __shared__ %s", name);
    memset(p, shared_fill, bytes);  // shared memory starts as garbage: 0xFF bytes are NaN / -1
    block.shared.push_back({id, p, bytes});
    block.static_shared += bytes;
    if (block.static_shared > 49152)
        shim_die("static __shared__ memory of %zu bytes (with %s) above 48 KiB", block.static_shared, name);
    if (block.static_shared + block.dynamic_bytes > 232448)
        shim_die("static + dynamic shared memory %zu + %zu above the 227 KiB of sm_90", block.static_shared,
                 block.dynamic_bytes);
    return p;
}

void *shim::dynamic_shared() { return block.dynamic; }
