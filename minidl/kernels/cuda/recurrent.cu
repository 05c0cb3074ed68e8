// LSTM and GRU: the pointwise part of one time step (twins of reference.lstm_cell_* /
// gru_cell_*), and whole sequences in one launch (the ``*_sequence`` kernels below).
//
// Cell kernels: one thread per hidden unit (sample b, unit k) computes ALL the gates of that
// unit: the four (LSTM) or three (GRU) pre-activations sit H columns apart in the same row,
// and fusing them turns a dozen NumPy temporaries into one read and one write per value.
// The matrix products x_t Wx and h_{t-1} Wh stay with cuBLAS, in the layer.
// Outputs may alias inputs only where the reference allows it (dc_prev = dc_next,
// dh_prev = dh): each thread reads its own element before writing it.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

__device__ __forceinline__ real_t sigmoid(real_t a) { return 1 / (1 + exp(-a)); }

// ---------------------------------------------------------------- one unit, written once
// The math of one hidden unit, shared by the cell kernels and the sequence kernels.

// Pre-activations a_* -> gates; c = f c_prev + i g; h = o tanh(c)
__device__ __forceinline__ void lstm_unit_forward(
    real_t a_i, real_t a_f, real_t a_g, real_t a_o, real_t c_prev,
    real_t* i, real_t* f, real_t* g, real_t* o, real_t* c, real_t* h)
{
    *i = sigmoid(a_i);
    *f = sigmoid(a_f);
    *g = tanh(a_g);
    *o = sigmoid(a_o);
    *c = *f * c_prev + *i * *g;
    *h = *o * tanh(*c);
}

// dc = dc_next + dh o (1 - tanh(c)^2);  da = [dc g i(1-i) | dc c_prev f(1-f) | dc i (1-g^2) |
// dh tanh(c) o(1-o)];  dc_prev = dc f
__device__ __forceinline__ void lstm_unit_backward(
    real_t dh, real_t dc_next, real_t i, real_t f, real_t g, real_t o, real_t c_prev, real_t c,
    real_t* da_i, real_t* da_f, real_t* da_g, real_t* da_o, real_t* dc_prev)
{
    const real_t tanh_c = tanh(c);
    const real_t dc = dc_next + dh * o * (1 - tanh_c * tanh_c);
    *da_i = dc * g * i * (1 - i);
    *da_f = dc * c_prev * f * (1 - f);
    *da_g = dc * i * (1 - g * g);
    *da_o = dh * tanh_c * o * (1 - o);
    *dc_prev = dc * f;
}

// ax_* = x_t Wx + bx, ah_* = h_{t-1} Wh + bh:  r = σ(ax_r + ah_r);  z likewise;
// n = tanh(ax_n + r ah_n);  h = (1 - z) n + z h_prev
__device__ __forceinline__ void gru_unit_forward(
    real_t ax_r, real_t ax_z, real_t ax_n, real_t ah_r, real_t ah_z, real_t ah_n, real_t h_prev,
    real_t* r, real_t* z, real_t* candidate, real_t* h)
{
    *r = sigmoid(ax_r + ah_r);
    *z = sigmoid(ax_z + ah_z);
    *candidate = tanh(ax_n + *r * ah_n);
    *h = (1 - *z) * *candidate + *z * h_prev;
}

// da_n = dh (1 - z)(1 - n^2);  da_z = dh (h_prev - n) z(1 - z);  da_r = da_n ah_n r(1 - r)
__device__ __forceinline__ void gru_unit_backward(
    real_t dh, real_t r, real_t z, real_t candidate, real_t ah_n, real_t h_prev,
    real_t* da_r, real_t* da_z, real_t* da_n)
{
    *da_n = dh * (1 - z) * (1 - candidate * candidate);
    *da_z = dh * (h_prev - candidate) * z * (1 - z);
    *da_r = *da_n * ah_n * r * (1 - r);
}

// ---------------------------------------------------------------- cell kernels (one step)
// a = xw + hw + b, blocks [i | f | g | o];  c = f c_prev + i g;  h = o tanh(c)
extern "C" __global__ void lstm_cell_forward(
    const real_t* xw, const real_t* hw, const real_t* b, const real_t* c_prev,
    real_t* gates, real_t* c, real_t* h, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 4 * hidden;
    real_t* gate = gates + row;
    lstm_unit_forward(xw[row + k] + hw[row + k] + b[k],
                      xw[row + hidden + k] + hw[row + hidden + k] + b[hidden + k],
                      xw[row + 2 * hidden + k] + hw[row + 2 * hidden + k] + b[2 * hidden + k],
                      xw[row + 3 * hidden + k] + hw[row + 3 * hidden + k] + b[3 * hidden + k],
                      c_prev[index], &gate[k], &gate[hidden + k], &gate[2 * hidden + k],
                      &gate[3 * hidden + k], &c[index], &h[index]);
}

extern "C" __global__ void lstm_cell_backward(
    const real_t* dh, const real_t* dc_next, const real_t* gates, const real_t* c_prev,
    const real_t* c, real_t* da, real_t* dc_prev, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 4 * hidden;
    const real_t* gate = gates + row;
    real_t* d = da + row;
    const real_t i = gate[k], f = gate[hidden + k], g = gate[2 * hidden + k], o = gate[3 * hidden + k];
    real_t dc;
    lstm_unit_backward(dh[index], dc_next[index], i, f, g, o, c_prev[index], c[index],
                       &d[k], &d[hidden + k], &d[2 * hidden + k], &d[3 * hidden + k], &dc);
    dc_prev[index] = dc;
}

// gates = [r | z | n], hn = hw_n + bh_n (kept for the backward), h = (1 - z) n + z h_prev
extern "C" __global__ void gru_cell_forward(
    const real_t* xw, const real_t* hw, const real_t* bx, const real_t* bh, const real_t* h_prev,
    real_t* gates, real_t* hn, real_t* h, int n, int hidden)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)n * hidden) return;
    const int k = (int)(index % hidden);
    const long long row = index / hidden * 3 * hidden;
    const int kz = hidden + k, kn = 2 * hidden + k;
    const real_t hidden_n = hw[row + kn] + bh[kn];
    hn[index] = hidden_n;
    gru_unit_forward(xw[row + k] + bx[k], xw[row + kz] + bx[kz], xw[row + kn] + bx[kn],
                     hw[row + k] + bh[k], hw[row + kz] + bh[kz], hidden_n, h_prev[index],
                     &gates[row + k], &gates[row + kz], &gates[row + kn], &h[index]);
}

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
    const real_t r = gates[row + k], z = gates[row + kz];
    const real_t grad = dh[index];
    real_t da_r, da_z, da_n;
    gru_unit_backward(grad, r, z, gates[row + kn], hn[index], h_prev[index], &da_r, &da_z, &da_n);
    dxw[row + k] = da_r;
    dxw[row + kz] = da_z;
    dxw[row + kn] = da_n;
    dhw[row + k] = da_r;
    dhw[row + kz] = da_z;
    dhw[row + kn] = da_n * r;
    dh_prev[index] = grad * z;
}

// ---------------------------------------------------------------- whole sequences
// One launch for the whole loop over time, instead of a cuBLAS product and a cell kernel per
// step (two launches of a few microseconds each, 2 T in all, most of an LSTM's time on a GPU).
//
// The samples of a batch do not interact: row b of h_t needs only row b of h_{t-1}. So a
// block takes ``rows_per_block`` samples (at most SEQ_MAX_ROWS) through ALL the steps, with
// no grid-wide synchronisation: their state lives in shared memory, the product with Wh is
// done by the block itself (thread j computes column j of h_{t-1} Wh for its rows, reading
// Wh from global memory -- it stays in the L2 cache -- once per step for all its rows), and
// barriers separate the product from the pointwise part:
//   phase 1  (thread j < G H):  pre[r][j] = (h_{t-1} Wh)[r][j] (+ inputs and biases)
//   phase 2  (thread k < H):    the unit math above, writing the outputs of step t
// Limits: H <= SEQ_MAX_HIDDEN (G H <= 1024 threads per block, the shared arrays below fit in
// the 48 KB of static shared memory in float64); the launcher falls back to the per-step
// path beyond that. The threads of a block read Wh column-wise, coalesced: thread j reads
// Wh[m][j] while its neighbours read Wh[m][j + 1].
#define SEQ_MAX_HIDDEN 256  // the launcher's SEQUENCE_MAX_HIDDEN
#define SEQ_MAX_ROWS 4      // the launcher's SEQUENCE_MAX_ROWS
#define SEQ_MAX_THREADS 1024  // 4 SEQ_MAX_HIDDEN: the compiler must fit a block this large
                              // (at most 64 registers a thread), or such a launch would fail

// out[r] = sum_m in[r * k_in + m] * w[m * width + col] for r < ROWS: ``in`` (shared memory)
// holds ROWS rows of k_in values; w is (k_in, width) row-major. One column, ROWS rows: each
// w value read once serves every row (registers hold the ROWS sums).
template <int ROWS>
__device__ void rows_times_column_fixed(const real_t* in, int k_in, const real_t* w, int width,
                                        int col, real_t* out)
{
    real_t sum[ROWS];
    for (int r = 0; r < ROWS; ++r) sum[r] = 0;
    for (int m = 0; m < k_in; ++m) {
        const real_t weight = w[(long long)m * width + col];
        for (int r = 0; r < ROWS; ++r) sum[r] += in[r * k_in + m] * weight;
    }
    for (int r = 0; r < ROWS; ++r) out[r] = sum[r];
}

__device__ void rows_times_column(int rows, const real_t* in, int k_in, const real_t* w, int width,
                                  int col, real_t* out)
{
    switch (rows) {
        case 1: rows_times_column_fixed<1>(in, k_in, w, width, col, out); break;
        case 2: rows_times_column_fixed<2>(in, k_in, w, width, col, out); break;
        case 3: rows_times_column_fixed<3>(in, k_in, w, width, col, out); break;
        default: rows_times_column_fixed<SEQ_MAX_ROWS>(in, k_in, w, width, col, out); break;
    }
}

// xw (T, N, 4H) = x_t Wx of every step (without the bias); Wh (H, 4H); b (4H,);
// hs, cells (T + 1, N, H) with hs[0], cells[0] the initial state; writes hs[1:], cells[1:]
// and gates (T, N, 4H), as T calls of lstm_cell_forward would.
extern "C" __global__ void __launch_bounds__(SEQ_MAX_THREADS) lstm_forward_sequence(
    const real_t* xw, const real_t* wh, const real_t* b, real_t* gates, real_t* cells, real_t* hs,
    int steps, int n, int hidden, int rows_per_block)
{
    __shared__ real_t h_prev[SEQ_MAX_ROWS * SEQ_MAX_HIDDEN];
    __shared__ real_t pre[SEQ_MAX_ROWS * 4 * SEQ_MAX_HIDDEN];
    const int width = 4 * hidden, j = threadIdx.x;
    const int first = blockIdx.x * rows_per_block, rows = min(rows_per_block, n - first);
    real_t cell[SEQ_MAX_ROWS];
    for (int r = 0; r < SEQ_MAX_ROWS; ++r) cell[r] = 0;
    if (j < hidden)
        for (int r = 0; r < rows; ++r) {
            h_prev[r * hidden + j] = hs[(long long)(first + r) * hidden + j];
            cell[r] = cells[(long long)(first + r) * hidden + j];
        }
    __syncthreads();
    for (int t = 0; t < steps; ++t) {
        if (j < width) {  // phase 1: a = x_t Wx + h_{t-1} Wh + b, column j
            real_t product[SEQ_MAX_ROWS];
            rows_times_column(rows, h_prev, hidden, wh, width, j, product);
            for (int r = 0; r < rows; ++r)
                pre[r * width + j] = xw[((long long)t * n + first + r) * width + j] + product[r] + b[j];
        }
        __syncthreads();
        if (j < hidden)  // phase 2: the unit
            for (int r = 0; r < rows; ++r) {
                const real_t* a = pre + r * width;
                const long long row = (long long)t * n + first + r;  // (t, sample) in (T, N)
                real_t* gate = gates + row * width;
                real_t c, h;
                lstm_unit_forward(a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j], cell[r],
                                  &gate[j], &gate[hidden + j], &gate[2 * hidden + j],
                                  &gate[3 * hidden + j], &c, &h);
                cells[(row + n) * hidden + j] = c;  // row + n: (t + 1, sample)
                hs[(row + n) * hidden + j] = h;
                cell[r] = c;
                h_prev[r * hidden + j] = h;
            }
        __syncthreads();
    }
}

// Backpropagation through time for lstm_forward_sequence. dy (T, N, H): dL/dh_t from the
// layer's output; Wh_t = Wh^T (4H, H), contiguous; gates, cells from the forward.
// Writes da (T, N, 4H) (dL/d pre-activations, for the weight gradients the layer computes
// afterwards as products over all steps), dh0 and dc0 (N, H). Per step:
//   phase 1 (k < H):  lstm_unit_backward with dh = dL/dh_t, dc_next = dL/dc_t
//   phase 2 (k < H):  dL/dh_{t-1} = da_t Wh^T (+ dy_{t-1})
extern "C" __global__ void __launch_bounds__(SEQ_MAX_THREADS) lstm_backward_sequence(
    const real_t* dy, const real_t* wh_t, const real_t* gates, const real_t* cells, real_t* da,
    real_t* dh0, real_t* dc0, int steps, int n, int hidden, int rows_per_block)
{
    __shared__ real_t dh[SEQ_MAX_ROWS * SEQ_MAX_HIDDEN];
    __shared__ real_t da_step[SEQ_MAX_ROWS * 4 * SEQ_MAX_HIDDEN];
    const int width = 4 * hidden, k = threadIdx.x;
    const int first = blockIdx.x * rows_per_block, rows = min(rows_per_block, n - first);
    real_t dc[SEQ_MAX_ROWS];
    for (int r = 0; r < SEQ_MAX_ROWS; ++r) dc[r] = 0;
    if (k < hidden)
        for (int r = 0; r < rows; ++r)
            dh[r * hidden + k] = dy[((long long)(steps - 1) * n + first + r) * hidden + k];
    __syncthreads();
    for (int t = steps - 1; t >= 0; --t) {
        if (k < hidden)  // phase 1: the unit
            for (int r = 0; r < rows; ++r) {
                const long long row = (long long)t * n + first + r;
                const real_t* gate = gates + row * width;
                real_t* d = da_step + r * width;
                lstm_unit_backward(dh[r * hidden + k], dc[r], gate[k], gate[hidden + k],
                                   gate[2 * hidden + k], gate[3 * hidden + k],
                                   cells[row * hidden + k], cells[(row + n) * hidden + k],
                                   &d[k], &d[hidden + k], &d[2 * hidden + k], &d[3 * hidden + k], &dc[r]);
                for (int q = 0; q < 4; ++q) da[row * width + q * hidden + k] = d[q * hidden + k];
            }
        __syncthreads();
        if (k < hidden) {  // phase 2: dL/dh_{t-1}; every read of dh[] in phase 1 is done
            real_t product[SEQ_MAX_ROWS];
            rows_times_column(rows, da_step, width, wh_t, hidden, k, product);
            for (int r = 0; r < rows; ++r)
                dh[r * hidden + k] = t > 0 ? product[r] + dy[((long long)(t - 1) * n + first + r) * hidden + k]
                                           : product[r];
        }
        __syncthreads();
    }
    if (k < hidden)
        for (int r = 0; r < rows; ++r) {
            dh0[(long long)(first + r) * hidden + k] = dh[r * hidden + k];
            dc0[(long long)(first + r) * hidden + k] = dc[r];
        }
}

// xw (T, N, 3H) = x_t Wx of every step (without bx); Wh (H, 3H); bx, bh (3H,);
// hs (T + 1, N, H) with hs[0] = h0; writes hs[1:], gates (T, N, 3H) and hn (T, N, H),
// as T calls of gru_cell_forward would. Phase 1: ah = h_{t-1} Wh + bh; phase 2: the unit.
extern "C" __global__ void __launch_bounds__(SEQ_MAX_THREADS) gru_forward_sequence(
    const real_t* xw, const real_t* wh, const real_t* bx, const real_t* bh, real_t* gates,
    real_t* hn, real_t* hs, int steps, int n, int hidden, int rows_per_block)
{
    __shared__ real_t h_prev[SEQ_MAX_ROWS * SEQ_MAX_HIDDEN];
    __shared__ real_t ah[SEQ_MAX_ROWS * 3 * SEQ_MAX_HIDDEN];
    const int width = 3 * hidden, j = threadIdx.x;
    const int first = blockIdx.x * rows_per_block, rows = min(rows_per_block, n - first);
    if (j < hidden)
        for (int r = 0; r < rows; ++r) h_prev[r * hidden + j] = hs[(long long)(first + r) * hidden + j];
    __syncthreads();
    for (int t = 0; t < steps; ++t) {
        if (j < width) {
            real_t product[SEQ_MAX_ROWS];
            rows_times_column(rows, h_prev, hidden, wh, width, j, product);
            for (int r = 0; r < rows; ++r) ah[r * width + j] = product[r] + bh[j];
        }
        __syncthreads();
        if (j < hidden)
            for (int r = 0; r < rows; ++r) {
                const real_t* a = ah + r * width;
                const long long row = (long long)t * n + first + r;
                const real_t* x = xw + row * width;
                real_t* gate = gates + row * width;
                const int kz = hidden + j, kn = 2 * hidden + j;
                real_t h;
                gru_unit_forward(x[j] + bx[j], x[kz] + bx[kz], x[kn] + bx[kn], a[j], a[kz], a[kn],
                                 h_prev[r * hidden + j], &gate[j], &gate[kz], &gate[kn], &h);
                hn[row * hidden + j] = a[kn];
                hs[(row + n) * hidden + j] = h;
                h_prev[r * hidden + j] = h;
            }
        __syncthreads();
    }
}

// Backpropagation through time for gru_forward_sequence. dy (T, N, H); Wh_t = Wh^T (3H, H);
// gates, hn, hs from the forward. Writes dxw, dhw (T, N, 3H) (dL/d(x_t Wx + bx) and
// dL/d(h_{t-1} Wh + bh)) and dh0 (N, H). Per step:
//   phase 1 (k < H):  gru_unit_backward; the direct path dh z kept in a register
//   phase 2 (k < H):  dL/dh_{t-1} = dhw_t Wh^T + dh z (+ dy_{t-1})
extern "C" __global__ void __launch_bounds__(SEQ_MAX_THREADS) gru_backward_sequence(
    const real_t* dy, const real_t* wh_t, const real_t* gates, const real_t* hn, const real_t* hs,
    real_t* dxw, real_t* dhw, real_t* dh0, int steps, int n, int hidden, int rows_per_block)
{
    __shared__ real_t dh[SEQ_MAX_ROWS * SEQ_MAX_HIDDEN];
    __shared__ real_t dhw_step[SEQ_MAX_ROWS * 3 * SEQ_MAX_HIDDEN];
    const int width = 3 * hidden, k = threadIdx.x;
    const int first = blockIdx.x * rows_per_block, rows = min(rows_per_block, n - first);
    real_t direct[SEQ_MAX_ROWS];
    for (int r = 0; r < SEQ_MAX_ROWS; ++r) direct[r] = 0;
    if (k < hidden)
        for (int r = 0; r < rows; ++r)
            dh[r * hidden + k] = dy[((long long)(steps - 1) * n + first + r) * hidden + k];
    __syncthreads();
    for (int t = steps - 1; t >= 0; --t) {
        if (k < hidden)
            for (int r = 0; r < rows; ++r) {
                const long long row = (long long)t * n + first + r;
                const real_t* gate = gates + row * width;
                const int kz = hidden + k, kn = 2 * hidden + k;
                const real_t grad = dh[r * hidden + k], z = gate[kz];
                real_t da_r, da_z, da_n;
                gru_unit_backward(grad, gate[k], z, gate[kn], hn[row * hidden + k], hs[row * hidden + k],
                                  &da_r, &da_z, &da_n);
                dxw[row * width + k] = da_r;
                dxw[row * width + kz] = da_z;
                dxw[row * width + kn] = da_n;
                real_t* d = dhw_step + r * width;
                d[k] = da_r;
                d[kz] = da_z;
                d[kn] = da_n * gate[k];
                dhw[row * width + k] = d[k];
                dhw[row * width + kz] = d[kz];
                dhw[row * width + kn] = d[kn];
                direct[r] = grad * z;
            }
        __syncthreads();
        if (k < hidden) {
            real_t product[SEQ_MAX_ROWS];
            rows_times_column(rows, dhw_step, width, wh_t, hidden, k, product);
            for (int r = 0; r < rows; ++r) {
                const real_t through = product[r] + direct[r];
                dh[r * hidden + k] = t > 0 ? through + dy[((long long)(t - 1) * n + first + r) * hidden + k]
                                           : through;
            }
        }
        __syncthreads();
    }
    if (k < hidden)
        for (int r = 0; r < rows; ++r) dh0[(long long)(first + r) * hidden + k] = dh[r * hidden + k];
}
