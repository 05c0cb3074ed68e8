// LSTM and GRU cells: the pointwise part of one time step (twins of reference.lstm_cell_* /
// gru_cell_*). The matrix products x_t Wx and h_{t-1} Wh stay with cuBLAS, in the layer.
//
// One thread per hidden unit (sample b, unit k) computes ALL the gates of that unit: the
// four (LSTM) or three (GRU) pre-activations sit H columns apart in the same row, and
// fusing them turns a dozen NumPy temporaries into one read and one write per value.
// Outputs may alias inputs only where the reference allows it (dc_prev = dc_next,
// dh_prev = dh): each thread reads its own element before writing it.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

__device__ __forceinline__ real_t sigmoid(real_t a) { return 1 / (1 + exp(-a)); }

// a = xw + hw + b, blocks [i | f | g | o];  c = f c_prev + i g;  h = o tanh(c)
extern "C" __global__ void lstm_cell_forward(
    const real_t* xw, const real_t* hw, const real_t* b, const real_t* c_prev,
    real_t* gates, real_t* c, real_t* h, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 4 * hidden;
    const real_t i = sigmoid(xw[row + k] + hw[row + k] + b[k]);
    const real_t f = sigmoid(xw[row + hidden + k] + hw[row + hidden + k] + b[hidden + k]);
    const real_t g = tanh(xw[row + 2 * hidden + k] + hw[row + 2 * hidden + k] + b[2 * hidden + k]);
    const real_t o = sigmoid(xw[row + 3 * hidden + k] + hw[row + 3 * hidden + k] + b[3 * hidden + k]);
    gates[row + k] = i;
    gates[row + hidden + k] = f;
    gates[row + 2 * hidden + k] = g;
    gates[row + 3 * hidden + k] = o;
    const real_t c_new = f * c_prev[index] + i * g;
    c[index] = c_new;
    h[index] = o * tanh(c_new);
}

// dc = dc_next + dh o (1 - tanh(c)^2);  da = [dc g i(1-i) | dc c_prev f(1-f) | dc i (1-g^2) |
// dh tanh(c) o(1-o)];  dc_prev = dc f
extern "C" __global__ void lstm_cell_backward(
    const real_t* dh, const real_t* dc_next, const real_t* gates, const real_t* c_prev,
    const real_t* c, real_t* da, real_t* dc_prev, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 4 * hidden;
    const real_t i = gates[row + k], f = gates[row + hidden + k];
    const real_t g = gates[row + 2 * hidden + k], o = gates[row + 3 * hidden + k];
    const real_t tanh_c = tanh(c[index]);
    const real_t dc = dc_next[index] + dh[index] * o * (1 - tanh_c * tanh_c);
    da[row + k] = dc * g * i * (1 - i);
    da[row + hidden + k] = dc * c_prev[index] * f * (1 - f);
    da[row + 2 * hidden + k] = dc * i * (1 - g * g);
    da[row + 3 * hidden + k] = dh[index] * tanh_c * o * (1 - o);
    dc_prev[index] = dc * f;
}

// r = σ(xw_r + bx_r + hw_r + bh_r);  z likewise;  hn = hw_n + bh_n;
// n = tanh(xw_n + bx_n + r hn);  h = (1 - z) n + z h_prev
extern "C" __global__ void gru_cell_forward(
    const real_t* xw, const real_t* hw, const real_t* bx, const real_t* bh, const real_t* h_prev,
    real_t* gates, real_t* hn, real_t* h, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 3 * hidden;
    const int kz = hidden + k, kn = 2 * hidden + k;
    const real_t r = sigmoid((xw[row + k] + bx[k]) + (hw[row + k] + bh[k]));
    const real_t z = sigmoid((xw[row + kz] + bx[kz]) + (hw[row + kz] + bh[kz]));
    const real_t hidden_n = hw[row + kn] + bh[kn];
    const real_t candidate = tanh((xw[row + kn] + bx[kn]) + r * hidden_n);
    gates[row + k] = r;
    gates[row + kz] = z;
    gates[row + kn] = candidate;
    hn[index] = hidden_n;
    h[index] = (1 - z) * candidate + z * h_prev[index];
}

// da_n = dh (1 - z)(1 - n^2);  da_z = dh (h_prev - n) z(1 - z);  da_r = da_n hn r(1 - r)
// dxw = [da_r | da_z | da_n];  dhw = [da_r | da_z | da_n r];  dh_prev = dh z
extern "C" __global__ void gru_cell_backward(
    const real_t* dh, const real_t* gates, const real_t* hn, const real_t* h_prev,
    real_t* dxw, real_t* dhw, real_t* dh_prev, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 3 * hidden;
    const int kz = hidden + k, kn = 2 * hidden + k;
    const real_t r = gates[row + k], z = gates[row + kz], candidate = gates[row + kn];
    const real_t grad = dh[index];
    const real_t da_n = grad * (1 - z) * (1 - candidate * candidate);
    const real_t da_z = grad * (h_prev[index] - candidate) * z * (1 - z);
    const real_t da_r = da_n * hn[index] * r * (1 - r);
    dxw[row + k] = da_r;
    dxw[row + kz] = da_z;
    dxw[row + kn] = da_n;
    dhw[row + k] = da_r;
    dhw[row + kz] = da_z;
    dhw[row + kn] = da_n * r;
    dh_prev[index] = grad * z;
}
