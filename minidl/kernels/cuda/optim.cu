// Fused optimizer updates (twins of reference.sgd_update, rmsprop_update, adagrad_update,
// adam_update).
//
// Each is one pass over the parameter, in place: where NumPy makes a temporary array per
// operator (g, v, m_hat, v_hat, ...), a thread here reads param, grad and the state of one
// element once and writes them back once.
#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

// SGD with momentum, Nesterov and weight decay (PyTorch's rule, dampening 0):
//   g = grad + weight_decay * param;   v = momentum * v + g
//   param -= lr * (nesterov ? g + momentum * v : v)          (without momentum: lr * g)
extern "C" __global__ void sgd_update(
    real_t* param, const real_t* grad, real_t* velocity,
    real_t lr, real_t momentum, int nesterov, real_t weight_decay, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    real_t g = grad[i];
    if (weight_decay != 0) g += weight_decay * param[i];
    if (momentum != 0) {
        const real_t v = momentum * velocity[i] + g;
        velocity[i] = v;
        g = nesterov ? g + momentum * v : v;
    }
    param[i] -= lr * g;
}

// Adam / AdamW (PyTorch's rule). The bias corrections 1 - beta^step are the same for every
// element, so the launcher computes them once and passes them in.
//   decoupled (AdamW): param *= 1 - lr * weight_decay;  else g = grad + weight_decay * param
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   param -= lr * (m / correction1) / (sqrt(v / correction2) + eps)
extern "C" __global__ void adam_update(
    real_t* param, const real_t* grad, real_t* m, real_t* v,
    real_t lr, real_t beta1, real_t beta2, real_t eps,
    real_t correction1, real_t correction2, real_t weight_decay, int decoupled, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    real_t p = param[i];
    real_t g = grad[i];
    if (weight_decay != 0 && decoupled) p *= 1 - lr * weight_decay;
    else if (weight_decay != 0) g += weight_decay * p;
    const real_t m_i = beta1 * m[i] + (1 - beta1) * g;
    const real_t v_i = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = m_i;
    v[i] = v_i;
    param[i] = p - lr * (m_i / correction1) / (sqrt(v_i / correction2) + eps);
}

// RMSprop (PyTorch's rule):
//   g = grad + weight_decay * param;   s = alpha s + (1 - alpha) g^2;   step = g / (sqrt(s) + eps)
//   with momentum: b = momentum b + step, step = b;   param -= lr * step
extern "C" __global__ void rmsprop_update(
    real_t* param, const real_t* grad, real_t* square_avg, real_t* buffer,
    real_t lr, real_t alpha, real_t eps, real_t momentum, real_t weight_decay, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    real_t g = grad[i];
    if (weight_decay != 0) g += weight_decay * param[i];
    const real_t s = alpha * square_avg[i] + (1 - alpha) * g * g;
    square_avg[i] = s;
    real_t step = g / (sqrt(s) + eps);
    if (momentum != 0) {
        step = momentum * buffer[i] + step;
        buffer[i] = step;
    }
    param[i] -= lr * step;
}

// Adagrad (PyTorch's rule, no learning-rate decay):
//   g = grad + weight_decay * param;   total += g^2;   param -= lr * g / (sqrt(total) + eps)
extern "C" __global__ void adagrad_update(
    real_t* param, const real_t* grad, real_t* total,
    real_t lr, real_t eps, real_t weight_decay, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    real_t g = grad[i];
    if (weight_decay != 0) g += weight_decay * param[i];
    const real_t s = total[i] + g * g;
    total[i] = s;
    param[i] -= lr * g / (sqrt(s) + eps);
}
