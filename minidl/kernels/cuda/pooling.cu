// Max and average pooling, forward and backward (twins of reference.max_pool_* / avg_pool_*).
// Windows that do not fit at the edge are dropped: OH = (H - kh) / sh + 1 (likewise OW).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// The first element of the window of output `index`, which runs over (plane, oh, ow).
__device__ __forceinline__ const real_t* window_of(
    const real_t* x, long long index, int height, int width, int sh, int sw, int out_h, int out_w)
{
    const int ow = (int)(index % out_w), oh = (int)(index / out_w % out_h);
    return x + (index / out_w / out_h) * height * width + (long long)oh * sh * width + (long long)ow * sw;
}

// The output whose window holds pixel `index` of dx, which runs over (plane, y, x), at offset
// (i, j): the one with sh * oh + i = y and sw * ow + j = x; -1 when no window does.
__device__ __forceinline__ long long window_holding(
    long long index, int i, int j, int height, int width, int sh, int sw, int out_h, int out_w)
{
    const int x = (int)(index % width), y = (int)(index / width % height);
    if (y < i || (y - i) % sh != 0 || (y - i) / sh >= out_h) return -1;
    if (x < j || (x - j) % sw != 0 || (x - j) / sw >= out_w) return -1;
    return index / width / height * out_h * out_w + (long long)(y - i) / sh * out_w + (x - j) / sw;
}

// One thread per output (n, c, oh, ow) scanning its window in row-major order; strictly
// greater keeps the FIRST maximum, whose offset i * kw + j is stored for the backward.
extern "C" __global__ void max_pool_forward(
    const real_t* x, real_t* y, long long* argmax, int planes, int height, int width,
    int kh, int kw, int sh, int sw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)planes * out_h * out_w) return;
    const real_t* window = window_of(x, index, height, width, sh, sw, out_h, out_w);
    real_t best = window[0];
    long long best_offset = 0;
    for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j)
            if (window[i * width + j] > best) {
                best = window[i * width + j];
                best_offset = i * kw + j;
            }
    y[index] = best;
    argmax[index] = best_offset;
}

// One thread per pixel of dx gathering from the windows that contain it (no atomics):
// the pixel is offset (i, j) of window (oh, ow) when y = sh*oh + i, x = sw*ow + j, and it
// receives that window's gradient when the window's argmax is i * kw + j.
extern "C" __global__ void max_pool_backward(
    const real_t* dy, const long long* argmax, real_t* dx, int planes, int height, int width,
    int kh, int kw, int sh, int sw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)planes * height * width) return;
    real_t total = 0;
    for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) {
            const long long out = window_holding(index, i, j, height, width, sh, sw, out_h, out_w);
            if (out >= 0 && argmax[out] == i * kw + j) total += dy[out];
        }
    dx[index] = total;
}

// One thread per output: the window sum in row-major order, divided by kh * kw.
extern "C" __global__ void avg_pool_forward(
    const real_t* x, real_t* y, int planes, int height, int width,
    int kh, int kw, int sh, int sw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)planes * out_h * out_w) return;
    const real_t* window = window_of(x, index, height, width, sh, sw, out_h, out_w);
    real_t total = 0;
    for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) total += window[i * width + j];
    y[index] = total / (real_t)(kh * kw);
}

// One thread per pixel of dx: the sum of dy / (kh * kw) over the windows containing it.
extern "C" __global__ void avg_pool_backward(
    const real_t* dy, real_t* dx, int planes, int height, int width,
    int kh, int kw, int sh, int sw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)planes * height * width) return;
    const real_t window_size = (real_t)(kh * kw);
    real_t total = 0;
    for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) {
            const long long out = window_holding(index, i, j, height, width, sh, sw, out_h, out_w);
            if (out >= 0) total += dy[out] / window_size;
        }
    dx[index] = total;
}
