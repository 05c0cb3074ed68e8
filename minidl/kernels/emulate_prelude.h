// ---- minidl CUDA emulator prelude: CUDA built-ins as plain C++ -----------------
// emulate.py puts this file in front of every CUDA source it compiles for the CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <type_traits>
#include <math.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <vector>

using std::exp; using std::log; using std::tanh; using std::sqrt; using std::fabs;
using std::fmax; using std::fmin; using std::pow; using std::max; using std::min;

struct dim3 { unsigned int x = 1, y = 1, z = 1; };
static thread_local dim3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;

// The threads of a block that calls __syncthreads(), as fibers: emu_run_fibers resumes each
// live one in turn until it reaches a barrier (__syncthreads swaps back) or its end; a round
// over all of them is one phase between two barriers.
static thread_local ucontext_t emu_scheduler;
static thread_local std::vector<ucontext_t> emu_fibers;
static thread_local std::vector<char> emu_finished;
static thread_local unsigned int emu_current = 0;
static thread_local const std::function<void()>* emu_thread_body = nullptr;

inline dim3 emu_thread_index(unsigned int t) {  // t counts x fastest, then y, then z
    return dim3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
}

static void emu_fiber_main() {
    (*emu_thread_body)();
    emu_finished[emu_current] = 1;  // returning resumes uc_link: the scheduler
}

// A fiber's stack: 256 KiB with an unmapped page below it, so that a kernel whose locals
// do not fit stops with a segmentation fault instead of writing over another stack.
constexpr size_t emu_stack_size = 256 * 1024, emu_guard_size = 4096;

static char* emu_new_stack() {
    void* mapped = mmap(nullptr, emu_guard_size + emu_stack_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) {
        std::fprintf(stderr, "CUDA emulator: no memory for the stack of a block's thread\n");
        std::abort();
    }
    mprotect(mapped, emu_guard_size, PROT_NONE);
    return static_cast<char*>(mapped) + emu_guard_size;
}

static void emu_run_fibers(unsigned int count, const std::function<void()>& body) {
    static thread_local std::vector<char*> stacks;  // kept for the next block
    while (stacks.size() < count) stacks.push_back(emu_new_stack());
    emu_fibers.assign(count, ucontext_t{});
    emu_finished.assign(count, 0);
    emu_thread_body = &body;
    for (unsigned int t = 0; t < count; ++t) {
        getcontext(&emu_fibers[t]);
        emu_fibers[t].uc_stack.ss_sp = stacks[t];
        emu_fibers[t].uc_stack.ss_size = emu_stack_size;
        emu_fibers[t].uc_link = &emu_scheduler;
        makecontext(&emu_fibers[t], emu_fiber_main, 0);
    }
    for (bool alive = true; alive;) {
        alive = false;
        for (unsigned int t = 0; t < count; ++t) {
            if (emu_finished[t]) continue;
            emu_current = t;
            threadIdx = emu_thread_index(t);
            swapcontext(&emu_scheduler, &emu_fibers[t]);
            alive = alive || !emu_finished[t];
        }
    }
    emu_thread_body = nullptr;
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

inline void __syncthreads() { swapcontext(&emu_fibers[emu_current], &emu_scheduler); }
template <class T> inline T atomicAdd(T* address, T value) {  // a compare-and-swap loop, as on old GPUs
    T old, updated;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    do { updated = old + value; }
    while (!__atomic_compare_exchange(address, &old, &updated, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }

// ---- arrays that know their size ------------------------------------------------
// The kernel receives each pointer parameter as an emu_array: the pointer, the number of
// elements of the array it points into and where in that array it points, so that x[i]
// checks that the element exists. An access outside the array is not made (a spare element
// stands in for it); the first one is recorded in emu_fault (the parameter, the index, the
// block and the thread) and the launch stops after that block. With an owner table (asked
// for by EmulatedKernel.owners), owner[e] records who touched element e: -1 nobody, the
// linear index of the one thread that did, or -2 several threads.
static long long* emu_fault = nullptr;  // {parameter, index, block x y z, thread x y z}; -1: none

inline long long emu_linear_thread() {
    const long long block = ((long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const long long thread = ((long long)threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    return block * blockDim.x * blockDim.y * blockDim.z + thread;
}

template <class T> struct emu_array {
    T* base;             // the array's first element
    long long size;      // its number of elements
    long long offset;    // where this pointer points: base + offset
    int parameter;       // which kernel parameter the array came from
    long long* owner;    // nullptr, or the owner table of the array

    T& emu_at(long long index) const {
        if (index < 0 || index >= size) {
            if (emu_fault[0] < 0) {
                const long long fault[8] = {parameter, index, blockIdx.x, blockIdx.y, blockIdx.z,
                                            threadIdx.x, threadIdx.y, threadIdx.z};
                std::copy(fault, fault + 8, emu_fault);
            }
            static std::remove_const_t<T> spare;
            spare = {};
            return spare;
        }
        if (owner) {
            const long long thread = emu_linear_thread();
            long long& who = owner[index];
            who = who == -1 || who == thread ? thread : -2;
        }
        return base[index];
    }
    // what a pointer does, checked; I is any integer type (int, unsigned, long long...)
    template <class I> requires std::is_integral_v<I>
    T& operator[](I i) const { return emu_at(offset + (long long)i); }
    T& operator*() const { return emu_at(offset); }
    template <class I> requires std::is_integral_v<I>
    emu_array operator+(I k) const { return {base, size, offset + (long long)k, parameter, owner}; }
    template <class I> requires std::is_integral_v<I>
    emu_array operator-(I k) const { return *this + -(long long)k; }
    template <class I> requires std::is_integral_v<I>
    emu_array& operator+=(I k) { offset += k; return *this; }
    template <class I> requires std::is_integral_v<I>
    emu_array& operator-=(I k) { offset -= k; return *this; }
    emu_array& operator++() { ++offset; return *this; }
    emu_array& operator--() { --offset; return *this; }
    // A plain pointer, for a device function that takes one: accesses through it are not checked.
    operator T*() const { return base + offset; }
};
template <class I, class T> requires std::is_integral_v<I>
emu_array<T> operator+(I k, emu_array<T> a) { return a + k; }
template <class T> inline T atomicAdd(emu_array<T> address, T value) { return atomicAdd(&*address, value); }
// ---- end of prelude -------------------------------------------------------------
