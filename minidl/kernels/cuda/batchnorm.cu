// Batch normalization, training mode (twins of reference.batchnorm_forward / backward).
// x is viewed as (N, C, L): a (N, D) batch is (N, D, 1), images (N, C, H*W).
//
// Each channel's M = N * L values are cut into chunks of ``chunk`` values (the last one
// shorter) and every (channel, chunk) pair gets a block -- grid (C, chunks) -- so that a
// batch with few channels still fills the GPU (one block per channel used 32 of an H100's
// 132 multiprocessors for a 32-channel layer). Each direction is two launches:
//   forward:  batchnorm_partial_stats (mean and squared deviations of each chunk),
//             batchnorm_normalize     (each block combines its channel's chunks, then writes y);
//   backward: batchnorm_partial_grads (sums of dy and dy * x_hat of each chunk),
//             batchnorm_backward_dx   (each block adds its channel's chunk sums, then writes dx).
// The chunks and the order of every sum are fixed by the shapes: the same input gives the
// same bits on every run (no atomics).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

#define BLOCK 256  // threads per block (the launcher's BATCHNORM_THREADS); a power of two

// Sum of one value per thread over the block: a tree in shared memory, halving the number
// of active threads at each of the log2(BLOCK) levels, with a barrier between levels.
// Every thread gets the total. ``partial`` is a __shared__ array of BLOCK values.
__device__ real_t block_sum(real_t value, real_t* partial)
{
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int stride = BLOCK / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    const real_t total = partial[0];
    __syncthreads();  // all threads have read the total before ``partial`` is reused
    return total;
}

// The value (n, l) of channel ``channel``, for the m-th of the M = N * L values of that channel.
__device__ __forceinline__ long long channel_offset(long long m, int channel, int c, int l)
{
    return (m / l * c + channel) * l + m % l;
}

// The values [begin, end) of this block's chunk of its channel (blockIdx.x = channel, blockIdx.y = chunk).
__device__ __forceinline__ void chunk_bounds(long long count, int chunk, long long* begin, long long* end)
{
    *begin = (long long)blockIdx.y * chunk;
    *end = min(count, *begin + chunk);
}

// Chunk statistics, two passes over the chunk (as the reference, for accuracy):
//   mean_j = sum x / n_j,   m2_j = sum (x - mean_j)^2      over the chunk's n_j values
extern "C" __global__ void batchnorm_partial_stats(
    const real_t* x, real_t* part_mean, real_t* part_m2, int n, int c, int l, int chunk)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x;
    long long begin, end;
    chunk_bounds((long long)n * l, chunk, &begin, &end);

    real_t sum = 0;
    for (long long m = begin + threadIdx.x; m < end; m += BLOCK) sum += x[channel_offset(m, channel, c, l)];
    const real_t mu = block_sum(sum, partial) / (real_t)(end - begin);

    real_t squares = 0;
    for (long long m = begin + threadIdx.x; m < end; m += BLOCK) {
        const real_t centred = x[channel_offset(m, channel, c, l)] - mu;
        squares += centred * centred;
    }
    const real_t m2 = block_sum(squares, partial);
    if (threadIdx.x == 0) {
        part_mean[(long long)channel * gridDim.y + blockIdx.y] = mu;
        part_m2[(long long)channel * gridDim.y + blockIdx.y] = m2;
    }
}

// The channel's statistics from its chunks' (exact identity, no cancellation):
//   mean = sum_j n_j mean_j / M,   var = (sum_j m2_j + sum_j n_j (mean_j - mean)^2) / M
extern "C" __global__ void batchnorm_normalize(
    const real_t* x, const real_t* gamma, const real_t* beta, const real_t* part_mean,
    const real_t* part_m2, real_t* y, real_t* mean, real_t* var, int n, int c, int l, int chunk,
    real_t eps)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x, chunks = gridDim.y;
    const long long count = (long long)n * l;
    const real_t* means = part_mean + (long long)channel * chunks;
    const real_t* m2s = part_m2 + (long long)channel * chunks;

    real_t weighted = 0;
    for (int j = threadIdx.x; j < chunks; j += BLOCK)
        weighted += (real_t)(min(count, (long long)(j + 1) * chunk) - (long long)j * chunk) * means[j];
    const real_t mu = block_sum(weighted, partial) / (real_t)count;
    real_t squares = 0;
    for (int j = threadIdx.x; j < chunks; j += BLOCK) {
        const real_t size = (real_t)(min(count, (long long)(j + 1) * chunk) - (long long)j * chunk);
        squares += m2s[j] + size * (means[j] - mu) * (means[j] - mu);
    }
    const real_t sigma2 = block_sum(squares, partial) / (real_t)count;

    const real_t sigma = sqrt(sigma2 + eps);
    long long begin, end;
    chunk_bounds(count, chunk, &begin, &end);
    for (long long m = begin + threadIdx.x; m < end; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        y[at] = gamma[channel] * ((x[at] - mu) / sigma) + beta[channel];
    }
    if (blockIdx.y == 0 && threadIdx.x == 0) {
        mean[channel] = mu;
        var[channel] = sigma2;
    }
}

// Chunk sums of dy and of dy * x_hat, x_hat = (x - mean) / sqrt(var + eps).
extern "C" __global__ void batchnorm_partial_grads(
    const real_t* dy, const real_t* x, const real_t* mean, const real_t* var, real_t* part_dbeta,
    real_t* part_dgamma, int n, int c, int l, int chunk, real_t eps)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x;
    const real_t mu = mean[channel], inv_std = 1 / sqrt(var[channel] + eps);
    long long begin, end;
    chunk_bounds((long long)n * l, chunk, &begin, &end);

    real_t sum_dy = 0, sum_dy_xhat = 0;
    for (long long m = begin + threadIdx.x; m < end; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * ((x[at] - mu) * inv_std);
    }
    const real_t db = block_sum(sum_dy, partial);
    const real_t dg = block_sum(sum_dy_xhat, partial);
    if (threadIdx.x == 0) {
        part_dbeta[(long long)channel * gridDim.y + blockIdx.y] = db;
        part_dgamma[(long long)channel * gridDim.y + blockIdx.y] = dg;
    }
}

// dbeta = sum of the chunk sums of dy, dgamma likewise, then for the block's chunk
//   dx = gamma / (M sigma) * (M dy - dbeta - x_hat dgamma),   sigma = sqrt(var + eps).
extern "C" __global__ void batchnorm_backward_dx(
    const real_t* dy, const real_t* x, const real_t* gamma, const real_t* mean, const real_t* var,
    const real_t* part_dbeta, const real_t* part_dgamma, real_t* dx, real_t* dgamma, real_t* dbeta,
    int n, int c, int l, int chunk, real_t eps)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x, chunks = gridDim.y;
    const long long count = (long long)n * l;
    const real_t mu = mean[channel], inv_std = 1 / sqrt(var[channel] + eps);

    real_t sum_dy = 0, sum_dy_xhat = 0;
    for (int j = threadIdx.x; j < chunks; j += BLOCK) {
        sum_dy += part_dbeta[(long long)channel * chunks + j];
        sum_dy_xhat += part_dgamma[(long long)channel * chunks + j];
    }
    const real_t db = block_sum(sum_dy, partial);
    const real_t dg = block_sum(sum_dy_xhat, partial);

    const real_t scale = gamma[channel] * inv_std / (real_t)count;
    long long begin, end;
    chunk_bounds(count, chunk, &begin, &end);
    for (long long m = begin + threadIdx.x; m < end; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        const real_t x_hat = (x[at] - mu) * inv_std;
        dx[at] = scale * ((real_t)count * dy[at] - db - x_hat * dg);
    }
    if (blockIdx.y == 0 && threadIdx.x == 0) {
        dbeta[channel] = db;
        dgamma[channel] = dg;
    }
}
