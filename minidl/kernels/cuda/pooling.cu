// Max and average pooling, forward and backward (twins of reference.max_pool_* / avg_pool_*).
// Windows that do not fit at the edge are dropped: OH = (H - kh) / sh + 1 (likewise OW).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// One thread per output (n, c, oh, ow) scanning its window in row-major order; strictly
// greater keeps the FIRST maximum, whose offset i * kw + j is stored for the backward.
extern "C" __global__ void max_pool_forward(
    const real_t* x, real_t* y, long long* argmax, int planes, int height, int width,
    int kh, int kw, int sh, int sw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)planes * out_h * out_w) return;
    const int ow = (int)(index % out_w), oh = (int)(index / out_w % out_h);
    const real_t* window = x + (index / out_w / out_h) * height * width
                             + (long long)oh * sh * width + (long long)ow * sw;
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
    const int x_ = (int)(index % width), y = (int)(index / width % height);
    const long long plane = index / width / height * out_h * out_w;
    real_t total = 0;
    for (int i = 0; i < kh; ++i) {
        if (y < i || (y - i) % sh != 0 || (y - i) / sh >= out_h) continue;
        for (int j = 0; j < kw; ++j) {
            if (x_ < j || (x_ - j) % sw != 0 || (x_ - j) / sw >= out_w) continue;
            const long long out = plane + (long long)(y - i) / sh * out_w + (x_ - j) / sw;
            if (argmax[out] == i * kw + j) total += dy[out];
        }
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
    const int ow = (int)(index % out_w), oh = (int)(index / out_w % out_h);
    const real_t* window = x + (index / out_w / out_h) * height * width
                             + (long long)oh * sh * width + (long long)ow * sw;
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
    const int x_ = (int)(index % width), y = (int)(index / width % height);
    const long long plane = index / width / height * out_h * out_w;
    const real_t window_size = (real_t)(kh * kw);
    real_t total = 0;
    for (int i = 0; i < kh; ++i) {
        if (y < i || (y - i) % sh != 0 || (y - i) / sh >= out_h) continue;
        for (int j = 0; j < kw; ++j) {
            if (x_ < j || (x_ - j) % sw != 0 || (x_ - j) / sw >= out_w) continue;
            total += dy[plane + (long long)(y - i) / sh * out_w + (x_ - j) / sw] / window_size;
        }
    }
    dx[index] = total;
}
