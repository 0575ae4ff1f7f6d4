// The thread pool behind dt::parallel_for (see parallel.h).
//
// Design, in short:
// - One process-wide pool of worker threads, started lazily and grown on demand (never shrunk).
// - One job at a time: the caller that wins the `busy_` flag publishes the job, works on it itself
//   and waits for the workers. Any other caller (another application thread, or a nested
//   parallel_for from inside a range) runs its ranges inline instead of waiting, so there is no
//   lock ordering to get wrong and no deadlock.
// - Ranges are handed out through an atomic counter (dynamic load balancing); since the range
//   boundaries do not depend on who runs them, the results do not either.
// - Idle workers spin briefly (tens of microseconds) before sleeping on a condition variable, so
//   the two or three parallel phases of one kernel call do not pay a futex wake-up each, while a
//   pool that is not in use costs no CPU (libtorch's own threads need the cores between calls).
// - The pool object is intentionally leaked and its threads detached: nothing runs in static
//   destructors, so a JVM (or any process) can exit at any time without joining or deadlocking.
// - After fork() the child gets a fresh pool on first use (the parent's threads do not exist
//   there).
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dt {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// ~2000 pauses is a few tens of microseconds: long enough to bridge the phases of one kernel call.
constexpr int kSpinIterations = 2000;

int32_t default_threads() {
    if (const char* env = std::getenv("DT_NUM_THREADS")) {
        char* end = nullptr;
        errno = 0;
        const long v = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && errno == 0 && v > 0)
            return static_cast<int32_t>(std::min<long>(v, kMaxThreads));
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int32_t>(std::min<unsigned>(hc, kMaxThreads));
}

int32_t cached_default_threads() {
    static const int32_t value = default_threads();
    return value;
}

std::atomic<int32_t> g_requested_threads{0};  // 0: use the default

struct Job {
    detail::RangeFn fn = nullptr;
    void* ctx = nullptr;
    int64_t count = 0, grain = 1, nranges = 0;
};

// Grabs ranges from `next` until none is left.
void work_on(const Job& job, std::atomic<int64_t>& next) {
    for (;;) {
        const int64_t r = next.fetch_add(1, std::memory_order_relaxed);
        if (r >= job.nranges) return;
        const int64_t b = r * job.grain;
        const int64_t e = job.count - b > job.grain ? b + job.grain : job.count;
        job.fn(job.ctx, b, e);
    }
}

void run_inline(const Job& job) {
    std::atomic<int64_t> next{0};
    work_on(job, next);
}

class Pool {
public:
    // Runs the job on up to `nthreads` threads (the caller included); false if the pool is busy.
    bool try_run(const Job& job, int nthreads) {
        if (busy_.exchange(true, std::memory_order_acquire)) return false;
        const int64_t wanted = std::min<int64_t>(nthreads, job.nranges) - 1;
        const int helpers = start_workers(static_cast<int>(wanted));
        if (helpers == 0) {
            run_inline(job);
        } else {
            {
                std::lock_guard<std::mutex> lock(m_);
                job_ = job;
                participants_ = helpers;
                next_.store(0, std::memory_order_relaxed);
                pending_.store(helpers, std::memory_order_relaxed);
                generation_.fetch_add(1, std::memory_order_release);
            }
            wake_.notify_all();
            work_on(job, next_);
            wait_for_helpers();
        }
        busy_.store(false, std::memory_order_release);
        return true;
    }

private:
    // Makes sure `wanted` workers exist (only the busy_ holder calls this); returns how many can
    // help, fewer if the system refused to start a thread.
    int start_workers(int wanted) {
        while (started_ < wanted) {
            try {
                std::thread(&Pool::worker_main, this, started_,
                            generation_.load(std::memory_order_relaxed))
                    .detach();
            } catch (...) {
                break;  // out of threads or memory: run with the workers we have
            }
            ++started_;
        }
        return std::min(started_, wanted);
    }

    void wait_for_helpers() {
        for (int i = 0; i < kSpinIterations; ++i) {
            if (pending_.load(std::memory_order_acquire) == 0) return;
            cpu_relax();
        }
        std::unique_lock<std::mutex> lock(m_);
        done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }

    void worker_main(int index, uint64_t seen) {
#if defined(__linux__)
        pthread_setname_np(pthread_self(), "dt-worker");
#endif
        for (;;) {
            // Wait for a new generation: spin first, then sleep.
            bool fresh = false;
            for (int i = 0; i < kSpinIterations && !fresh; ++i) {
                fresh = generation_.load(std::memory_order_acquire) != seen;
                if (!fresh) cpu_relax();
            }
            Job job;
            int participants;
            {
                // The job is read under the lock together with its generation, so a worker that
                // woke late (and skipped a job it was not needed for) never sees a torn job.
                std::unique_lock<std::mutex> lock(m_);
                if (!fresh)
                    wake_.wait(lock, [&] {
                        return generation_.load(std::memory_order_relaxed) != seen;
                    });
                seen = generation_.load(std::memory_order_relaxed);
                job = job_;
                participants = participants_;
            }
            if (index >= participants) continue;  // this job runs on fewer threads
            work_on(job, next_);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> lock(m_);  // pairs with the caller's done_.wait
                done_.notify_one();
            }
        }
    }

    std::atomic<bool> busy_{false};
    int started_ = 0;  // workers started so far (guarded by busy_)

    std::mutex m_;  // guards job_, participants_ and generation_ changes
    std::condition_variable wake_, done_;
    Job job_;
    int participants_ = 0;  // workers with index < participants_ take part in the current job
    std::atomic<uint64_t> generation_{0};
    std::atomic<int64_t> next_{0};
    std::atomic<int> pending_{0};  // participants that have not finished the current job
};

std::atomic<Pool*> g_pool{nullptr};

// In a forked child the parent's worker threads do not exist: forget (leak) the pool.
void forget_pool_after_fork() { g_pool.store(nullptr, std::memory_order_relaxed); }

Pool* get_pool() {
    Pool* pool = g_pool.load(std::memory_order_acquire);
    if (pool != nullptr) return pool;
    static std::mutex create_mutex;
    std::lock_guard<std::mutex> lock(create_mutex);
    pool = g_pool.load(std::memory_order_acquire);
    if (pool == nullptr) {
        static const int fork_handler = pthread_atfork(nullptr, nullptr, forget_pool_after_fork);
        (void)fork_handler;
        pool = new (std::nothrow) Pool();  // never deleted, on purpose (see the top of the file)
        g_pool.store(pool, std::memory_order_release);
    }
    return pool;
}

}  // namespace

int32_t num_threads() {
    const int32_t n = g_requested_threads.load(std::memory_order_relaxed);
    return n > 0 ? n : cached_default_threads();
}

void set_num_threads(int32_t n) {
    g_requested_threads.store(n <= 0 ? 0 : std::min(n, kMaxThreads), std::memory_order_relaxed);
}

namespace detail {

void run_ranges(int64_t count, int64_t grain, int64_t nranges, RangeFn fn, void* ctx) {
    Job job;
    job.fn = fn;
    job.ctx = ctx;
    job.count = count;
    job.grain = grain;
    job.nranges = nranges;
    const int nthreads = num_threads();
    Pool* pool = nthreads > 1 ? get_pool() : nullptr;
    if (pool == nullptr || !pool->try_run(job, nthreads)) run_inline(job);
}

}  // namespace detail

}  // namespace dt
