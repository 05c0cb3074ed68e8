// im2col / col2im: convolution as one matrix product (twins of reference.im2col / col2im).
//
// cols has shape (C*kh*kw, N*OH*OW): row (c, i, j), column (n, oh, ow) holds
// x_padded[n, c, sh*oh + i, sw*ow + j]. The products around it go to cuBLAS.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// One thread per element of cols: a pure gather, consecutive threads write consecutive
// columns (coalesced), and the zero padding is an index test instead of a padded copy.
extern "C" __global__ void im2col(
    const real_t* x, real_t* cols, int n, int c, int height, int width,
    int kh, int kw, int sh, int sw, int ph, int pw, int out_h, int out_w)
{
    const long long columns = (long long)n * out_h * out_w;
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)c * kh * kw * columns) return;
    const long long row = index / columns, column = index % columns;
    const int j = (int)(row % kw), i = (int)(row / kw % kh), channel = (int)(row / kw / kh);
    const int ow = (int)(column % out_w), oh = (int)(column / out_w % out_h);
    const int image = (int)(column / out_w / out_h);
    const int y = oh * sh + i - ph, x_ = ow * sw + j - pw;
    const bool inside = 0 <= y && y < height && 0 <= x_ && x_ < width;
    cols[index] = inside ? x[(((long long)image * c + channel) * height + y) * width + x_] : (real_t)0;
}

// One thread per pixel of dx, GATHERING the columns that copied it: pixel (y, x) sat at
// offset (i, j) of window (oh, ow) when y + ph = sh*oh + i. Scattering from the columns
// instead would need atomicAdd (and would add in a nondeterministic order). Offsets are
// visited with i, j ascending, the order in which the reference adds them.
extern "C" __global__ void col2im(
    const real_t* cols, real_t* dx, int n, int c, int height, int width,
    int kh, int kw, int sh, int sw, int ph, int pw, int out_h, int out_w)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * c * height * width) return;
    const int x_ = (int)(index % width), y = (int)(index / width % height);
    const int channel = (int)(index / width / height % c), image = (int)(index / width / height / c);
    const long long columns = (long long)n * out_h * out_w;
    real_t total = 0;
    for (int i = 0; i < kh; ++i) {
        const int oh_stride = y + ph - i;                  // = sh * oh when the window exists
        if (oh_stride < 0 || oh_stride % sh != 0 || oh_stride / sh >= out_h) continue;
        for (int j = 0; j < kw; ++j) {
            const int ow_stride = x_ + pw - j;
            if (ow_stride < 0 || ow_stride % sw != 0 || ow_stride / sw >= out_w) continue;
            const long long row = ((long long)channel * kh + i) * kw + j;
            const long long column = ((long long)image * out_h + oh_stride / sh) * out_w + ow_stride / sw;
            total += cols[row * columns + column];
        }
    }
    dx[index] = total;
}
