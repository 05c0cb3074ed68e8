// Inverted dropout (twin of reference.dropout_forward / dropout_backward).
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// Elementwise, one thread per element. The uniform draws come from the caller (minidl's
// seeded generator), so the GPU drops exactly the elements the CPU would drop.
//   mask = keep_scale if u >= rate else 0,   keep_scale = 1 / (1 - rate);   y = x * mask
extern "C" __global__ void dropout_forward(
    const real_t* x, const real_t* uniform, real_t* y, real_t* mask,
    real_t rate, real_t keep_scale, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    const real_t m = (uniform[i] >= rate) ? keep_scale : (real_t)0;
    mask[i] = m;
    y[i] = x[i] * m;
}

// dx = dy * mask: dropped elements pass no gradient, kept ones are scaled alike.
extern "C" __global__ void dropout_backward(
    const real_t* dy, const real_t* mask, real_t* dx, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    dx[i] = dy[i] * mask[i];
}
