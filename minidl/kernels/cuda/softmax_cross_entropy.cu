// Softmax cross-entropy, fused and numerically stable (twin of reference.softmax_cross_entropy).
//
// real_t is float or double: the launcher compiles this file once per dtype (-DREAL_T=...).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

#define BLOCK 256  // threads per block; the launcher's SOFTMAX_THREADS

// Reduce one value per thread over each SEGMENT of ``width`` consecutive threads (``width``
// a power of two dividing BLOCK): a tree in shared memory, halving the active threads at
// each level, a barrier between levels. Every thread of a segment gets its segment's
// result (the maximum if ``take_max``, else the sum). Every thread of the block must call it.
__device__ real_t segment_reduce(real_t value, real_t* partial, int width, bool take_max)
{
    const int lane = threadIdx.x % width;
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lane < stride) {
            const real_t a = partial[threadIdx.x], b = partial[threadIdx.x + stride];
            partial[threadIdx.x] = take_max ? fmax(a, b) : a + b;
        }
        __syncthreads();
    }
    const real_t result = partial[threadIdx.x - lane];
    __syncthreads();  // every thread has read its result before ``partial`` is reused
    return result;
}

// A team of ``threads_per_row`` threads per row (a power of two, up to BLOCK; the launcher
// picks about K, so a 1000-class row gets 256 threads and a 10-class row 16, with 16 rows
// per block). The team strides over its row three times -- max, sum of exp, normalise --
// and combines the first two with a tree reduction in shared memory.
//   loss_i = log sum_k exp(z_ik - m_i) - (z_iy - m_i),   m_i = max_k z_ik
// No thread returns early: a team past the last row still takes part in the barriers.
extern "C" __global__ void softmax_cross_entropy_forward(
    const real_t* logits, const long long* labels, real_t* losses, real_t* probs, int n, int k,
    int threads_per_row)
{
    __shared__ real_t partial[BLOCK];
    const int lane = threadIdx.x % threads_per_row;
    const long long row = (long long)blockIdx.x * (blockDim.x / threads_per_row)
                          + threadIdx.x / threads_per_row;
    const bool active = row < n;
    const real_t* z = logits + (active ? row : 0) * k;
    real_t* p = probs + (active ? row : 0) * k;

    real_t m = z[0];
    if (active)
        for (int j = lane; j < k; j += threads_per_row) m = fmax(m, z[j]);
    m = segment_reduce(m, partial, threads_per_row, true);

    real_t sum_exp = 0;
    if (active)
        for (int j = lane; j < k; j += threads_per_row) {
            const real_t e = exp(z[j] - m);
            p[j] = e;
            sum_exp += e;
        }
    sum_exp = segment_reduce(sum_exp, partial, threads_per_row, false);

    if (active) {
        for (int j = lane; j < k; j += threads_per_row) p[j] /= sum_exp;
        if (lane == 0) losses[row] = log(sum_exp) - (z[labels[row]] - m);
    }
}

// One thread per element of dlogits (N, K): d loss_i / d z_ik = scale * (p_ik - [k == y_i]).
extern "C" __global__ void softmax_cross_entropy_backward(
    const real_t* probs, const long long* labels, real_t* dlogits, real_t scale, int n, int k)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)n * k) return;
    const int row = (int)(i / k), col = (int)(i % k);
    const real_t d = probs[i] * scale;
    dlogits[i] = (col == labels[row]) ? d - scale : d;
}
