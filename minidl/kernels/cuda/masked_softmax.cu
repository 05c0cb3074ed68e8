// Masked softmax for attention, forward and backward (twins of reference.masked_softmax and
// reference.masked_softmax_backward).
//
// real_t is float or double: the launcher compiles this file once per dtype (-DREAL_T=...).
// Scores are (G, Tq, Tk), G = batch x heads; keep is (Gm, Tq, Tk), 1 = may attend, and group g
// reads keep[g / (G / Gm)]. One thread per row (a query against every key): attention rows
// are short (Tk up to a few hundred in this course), so a row's three passes stay in one
// thread's cache lines and need no reduction across threads.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

extern "C" __global__ void masked_softmax_forward(
    const real_t* scores, const unsigned char* keep, real_t* probs, real_t scale,
    int groups, int mask_groups, int tq, int tk)
{
    const long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= (long long)groups * tq) return;
    const int g = (int)(row / tq), i = (int)(row % tq);
    const unsigned char* mask = keep + ((long long)(g / (groups / mask_groups)) * tq + i) * tk;
    const real_t* s = scores + row * tk;
    real_t* p = probs + row * tk;

    bool any = false;
    real_t m = 0;
    for (int j = 0; j < tk; ++j)
        if (mask[j]) {
            const real_t z = scale * s[j];
            m = any ? fmax(m, z) : z;
            any = true;
        }
    real_t total = 0;
    for (int j = 0; j < tk; ++j) {
        const real_t e = mask[j] ? exp(scale * s[j] - m) : (real_t)0;
        p[j] = e;
        total += e;
    }
    if (total > 0)
        for (int j = 0; j < tk; ++j) p[j] /= total;
}

// One thread per row: dscores_j = scale * p_j (dprobs_j - sum_k dprobs_k p_k).
extern "C" __global__ void masked_softmax_backward(
    const real_t* probs, const real_t* dprobs, real_t* dscores, real_t scale, long long rows, int tk)
{
    const long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows) return;
    const real_t* p = probs + row * tk;
    const real_t* dp = dprobs + row * tk;
    real_t inner = 0;
    for (int j = 0; j < tk; ++j) inner += dp[j] * p[j];
    for (int j = 0; j < tk; ++j) dscores[row * tk + j] = scale * p[j] * (dp[j] - inner);
}
