// Batch normalization, training mode (twins of reference.batchnorm_forward / backward).
// x is viewed as (N, C, L): a (N, D) batch is (N, D, 1), images (N, C, H*W).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

#define BLOCK 256  // threads per block; a power of two for the tree reduction

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

// One block per channel: its BLOCK threads stride over the channel's N * L values, reduce
// the mean, then (two passes, as the reference, for accuracy) the biased variance, then
// write y. With few channels this uses few of a GPU's multiprocessors; the reduction is
// the lesson here, not the last factor of speed.
//   mean = sum x / M;   var = sum (x - mean)^2 / M;   y = gamma (x - mean) / sqrt(var + eps) + beta
extern "C" __global__ void batchnorm_forward(
    const real_t* x, const real_t* gamma, const real_t* beta, real_t* y, real_t* mean,
    real_t* var, int n, int c, int l, real_t eps)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x;
    const long long count = (long long)n * l;

    real_t sum = 0;
    for (long long m = threadIdx.x; m < count; m += BLOCK) sum += x[channel_offset(m, channel, c, l)];
    const real_t mu = block_sum(sum, partial) / (real_t)count;

    real_t squares = 0;
    for (long long m = threadIdx.x; m < count; m += BLOCK) {
        const real_t centred = x[channel_offset(m, channel, c, l)] - mu;
        squares += centred * centred;
    }
    const real_t sigma2 = block_sum(squares, partial) / (real_t)count;

    const real_t sigma = sqrt(sigma2 + eps);
    for (long long m = threadIdx.x; m < count; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        y[at] = gamma[channel] * ((x[at] - mu) / sigma) + beta[channel];
    }
    if (threadIdx.x == 0) {
        mean[channel] = mu;
        var[channel] = sigma2;
    }
}

// One block per channel: reduce dbeta = sum dy and dgamma = sum dy * x_hat, then
//   dx = gamma / (M sigma) * (M dy - dbeta - x_hat dgamma),   sigma = sqrt(var + eps).
extern "C" __global__ void batchnorm_backward(
    const real_t* dy, const real_t* x, const real_t* gamma, const real_t* mean, const real_t* var,
    real_t* dx, real_t* dgamma, real_t* dbeta, int n, int c, int l, real_t eps)
{
    __shared__ real_t partial[BLOCK];
    const int channel = blockIdx.x;
    const long long count = (long long)n * l;
    const real_t mu = mean[channel], inv_std = 1 / sqrt(var[channel] + eps);

    real_t sum_dy = 0, sum_dy_xhat = 0;
    for (long long m = threadIdx.x; m < count; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * ((x[at] - mu) * inv_std);
    }
    const real_t db = block_sum(sum_dy, partial);
    const real_t dg = block_sum(sum_dy_xhat, partial);

    const real_t scale = gamma[channel] * inv_std / (real_t)count;
    for (long long m = threadIdx.x; m < count; m += BLOCK) {
        const long long at = channel_offset(m, channel, c, l);
        const real_t x_hat = (x[at] - mu) * inv_std;
        dx[at] = scale * ((real_t)count * dy[at] - db - x_hat * dg);
    }
    if (threadIdx.x == 0) {
        dbeta[channel] = db;
        dgamma[channel] = dg;
    }
}
