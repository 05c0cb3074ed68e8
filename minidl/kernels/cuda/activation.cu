// ReLU (twin of reference.relu_forward / relu_backward), one thread per element.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// y = max(x, 0); a NaN fails x <= 0 and passes through, as in NumPy's maximum.
extern "C" __global__ void relu_forward(const real_t* x, real_t* y, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    y[i] = (x[i] <= (real_t)0) ? (real_t)0 : x[i];
}

// dx = dy [y > 0]: the gradient passes where the unit is on.
extern "C" __global__ void relu_backward(const real_t* dy, const real_t* y, real_t* dx, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    dx[i] = dy[i] * (real_t)(y[i] > (real_t)0);
}
