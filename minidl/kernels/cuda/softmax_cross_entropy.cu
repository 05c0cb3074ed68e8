// Softmax cross-entropy, fused and numerically stable (twin of reference.softmax_cross_entropy).
//
// real_t is float or double: the launcher compiles this file once per dtype (-DREAL_T=...).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// One thread per row: the number of classes K is small (10 for MNIST), so a thread walks
// its row three times (max, sum of exp, normalise) and no threads need to cooperate.
//   loss_i = log sum_k exp(z_ik - m_i) - (z_iy - m_i),   m_i = max_k z_ik
extern "C" __global__ void softmax_cross_entropy_forward(
    const real_t* logits, const long long* labels, real_t* losses, real_t* probs, int n, int k)
{
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n) return;
    const real_t* z = logits + (long long)row * k;
    real_t* p = probs + (long long)row * k;

    real_t m = z[0];
    for (int j = 1; j < k; ++j) m = fmax(m, z[j]);
    real_t sum_exp = 0;
    for (int j = 0; j < k; ++j) {
        p[j] = exp(z[j] - m);
        sum_exp += p[j];
    }
    for (int j = 0; j < k; ++j) p[j] /= sum_exp;
    losses[row] = log(sum_exp) - (z[labels[row]] - m);
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
