// CPU emulator runtime: each CUDA thread of a block is a ucontext fiber; __syncthreads and warp
// shuffles are real barriers (deadlocks, divergent barriers and partial warps abort). Blocks run one
// after another in a configurable order; thread order inside a block is configurable too, so a
// missing barrier (a race) shows up as a result that changes with the order.
#include "cuda_runtime.h"

#include <cstdarg>
#include <random>
#include <set>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

namespace emu {
dim3 g_threadIdx, g_blockIdx, g_blockDim, g_gridDim;
int g_sms = 2, g_smem_optin = 227 * 1024, g_pools = 1;
cudaError_t g_last_error = cudaSuccess;
size_t g_dyn_smem_allowed = 48 * 1024;
unsigned char* g_dyn_smem = nullptr;
int g_failures = 0;
int g_order = 0;  // 0 forward, 1 reverse, >= 2: shuffled with this seed
long long g_launches = 0;

void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "EMU FAILURE: ");
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, " (block %u thread %u)\n", g_blockIdx.x, g_threadIdx.x);
    va_end(ap);
    std::abort();
}

namespace {
constexpr size_t kStack = 256 * 1024;
enum State { READY, AT_BARRIER, AT_WARP, DONE };
struct Fiber {
    ucontext_t ctx;
    char* stack = nullptr;
    State st = READY;
    void* fake = nullptr;
};
std::vector<Fiber> fibers(1024);
ucontext_t sched_ctx;
void* sched_fake = nullptr;
const void* sched_bottom = nullptr;
size_t sched_size = 0;
int cur = -1;
const std::function<void()>* g_body = nullptr;
unsigned char slots[32][32][16];

void start_switch(void** fake, const void* bottom, size_t size) {
#if EMU_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake; (void)bottom; (void)size;
#endif
}
void finish_switch(void* fake, const void** bottom, size_t* size) {
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void)fake; (void)bottom; (void)size;
#endif
}

void yield() {
    Fiber& f = fibers[cur];
    start_switch(&f.fake, sched_bottom, sched_size);
    swapcontext(&f.ctx, &sched_ctx);
    finish_switch(f.fake, nullptr, nullptr);
}

void trampoline() {
    finish_switch(nullptr, &sched_bottom, &sched_size);
    (*g_body)();
    fibers[cur].st = DONE;
    start_switch(nullptr, sched_bottom, sched_size);
    swapcontext(&fibers[cur].ctx, &sched_ctx);
    std::abort();  // never resumed
}

std::vector<unsigned> order_for(unsigned n, unsigned salt) {
    std::vector<unsigned> v(n);
    for (unsigned i = 0; i < n; ++i) v[i] = i;
    if (g_order == 1) std::reverse(v.begin(), v.end());
    if (g_order >= 2) {
        std::mt19937 rng(g_order * 7919u + salt);
        std::shuffle(v.begin(), v.end(), rng);
    }
    return v;
}

void run_block(const std::function<void()>& body) {
    const unsigned n = g_blockDim.x;
    g_body = &body;
    for (unsigned i = 0; i < n; ++i) {
        Fiber& f = fibers[i];
        if (!f.stack) f.stack = static_cast<char*>(std::malloc(kStack));
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, trampoline, 0);
        f.st = READY;
    }
    // Warp-greedy schedule: each warp (in the chosen order) runs as far as it can, through its
    // shuffles, before the next warp starts; block barriers are released when every thread waits.
    // Forward / reverse / shuffled orders thus let different warps run ahead of the others.
    const unsigned warps = n / 32;
    const std::vector<unsigned> warp_order = order_for(warps, g_blockIdx.x + 1000003u * (unsigned)g_launches);
    const std::vector<unsigned> lane_order = order_for(32, 7u * g_blockIdx.x + (unsigned)g_launches);
    for (;;) {
        bool ran = false;
        for (unsigned w : warp_order) {
            for (;;) {
                for (unsigned l : lane_order) {
                    const unsigned idx = w * 32 + l;
                    if (fibers[idx].st != READY) continue;
                    cur = (int)idx;
                    g_threadIdx.x = idx;
                    start_switch(&sched_fake, fibers[idx].stack, kStack);
                    swapcontext(&sched_ctx, &fibers[idx].ctx);
                    finish_switch(sched_fake, nullptr, nullptr);
                    ran = true;
                }
                unsigned atw = 0;
                for (unsigned l = 0; l < 32; ++l) atw += fibers[w * 32 + l].st == AT_WARP;
                if (atw != 32) break;
                for (unsigned l = 0; l < 32; ++l) fibers[w * 32 + l].st = READY;  // shuffle done
            }
        }
        unsigned done = 0, atb = 0, atw = 0;
        for (unsigned i = 0; i < n; ++i) {
            done += fibers[i].st == DONE;
            atb += fibers[i].st == AT_BARRIER;
            atw += fibers[i].st == AT_WARP;
        }
        if (done == n) break;
        if (atb > 0 && atb + done == n) {
            if (done > 0) {
                g_threadIdx.x = 0;
                fail("__syncthreads reached by %u threads while %u exited", atb, done);
            }
            for (unsigned i = 0; i < n; ++i) fibers[i].st = READY;
            continue;
        }
        if (!ran || atw > 0) {
            std::fprintf(stderr, "states:");
            for (unsigned i = 0; i < n; ++i) std::fprintf(stderr, " %d", (int)fibers[i].st);
            std::fprintf(stderr, "\n");
            fail("deadlock (divergent barrier or partial warp)");
        }
    }
}
}  // namespace

void sync_block() {
    fibers[cur].st = AT_BARRIER;
    yield();
}

void warp_exchange(const void* in, void* out, size_t bytes, int src_lane) {
    if (g_blockDim.x % 32 != 0) fail("block size %u is not a multiple of 32", g_blockDim.x);
    const unsigned w = g_threadIdx.x >> 5, lane = g_threadIdx.x & 31;
    std::memcpy(slots[w][lane], in, bytes);
    fibers[cur].st = AT_WARP;
    yield();
    std::memcpy(out, slots[w][src_lane], bytes);
    fibers[cur].st = AT_WARP;
    yield();
}

void run_grid(const Cfg& cfg, const std::function<void()>& body) {
    ++g_launches;
    if (cfg.block < 1 || cfg.block > 1024) fail("bad block size %lld", cfg.block);
    if (cfg.block % 32 != 0) fail("block size %lld not a multiple of 32", cfg.block);
    if (cfg.grid < 1 || cfg.grid > 2147483647LL) fail("bad grid size %lld", cfg.grid);
    const size_t limit = std::max<size_t>(48 * 1024, g_dyn_smem_allowed);
    if (cfg.smem + 1024 > limit && cfg.smem > 48 * 1024 - 1024)
        fail("dynamic shared memory %zu exceeds the allowed %zu", cfg.smem, limit);
    if (cfg.smem > (size_t)g_smem_optin) fail("dynamic shared memory %zu > device max", cfg.smem);
    std::vector<double> smem_buf(cfg.smem / sizeof(double) + 2);
    g_dyn_smem = reinterpret_cast<unsigned char*>(smem_buf.data());
    g_gridDim.x = (unsigned)cfg.grid;
    g_blockDim.x = (unsigned)cfg.block;
    const std::vector<unsigned> blocks = order_for((unsigned)cfg.grid, 17u * (unsigned)g_launches);
    for (unsigned b : blocks) {
        std::memset(smem_buf.data(), 0xFF, smem_buf.size() * sizeof(double));  // NaN garbage
        g_blockIdx.x = b;
        run_block(body);
    }
    g_dyn_smem = nullptr;
}

std::set<void*> live;
void* device_alloc(size_t bytes) {
    void* p = std::malloc(bytes);
    std::memset(p, 0xFF, bytes);  // NaN garbage: reading scratch before writing it shows
    live.insert(p);
    return p;
}
void device_free(void* p) {
    if (!live.erase(p)) fail("free of unknown pointer");
    std::free(p);
}
}  // namespace emu
