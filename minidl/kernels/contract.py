"""The kernel contract: every kernel a tier must provide, its arguments and its math, in one table.

A tier is a package of functions with these names and exactly these parameters:
``reference`` (NumPy, the ground truth), ``cpu`` (Numba) and ``gpu`` (CUDA launchers). Each tier
holds one module per family, named for it (``cpu/conv.py``), and its ``__init__`` takes its
kernels' names from this table (``tier_kernels``): adding a kernel lists it nowhere else.
Layers and optimizers call kernels only through ``backend.kernels_for(x)``, so switching
tier swaps the implementation of a line below and never the algorithm around it
(minitorch's ``FastOps`` idea). ``tests/minidl/kernels/test_contract.py`` checks that every tier
implements every kernel with these parameters, and that the conformance table
(``tests/minidl/kernels/kernel_cases.py``) holds a row for each; ``reference/`` has the full docstrings.

Arguments written in place are marked ``!`` in the math; shapes: images NCHW, sequences
time-major (T, N, ...) inside the sequence kernels, batch-norm inputs (N, C, L).

What a backward needs from its forward is an argument, never hidden in the tier: a
forward returns it (``conv2d_forward``'s patch matrix, ``max_pool_forward``'s argmax,
``batchnorm_forward``'s statistics) and the layer keeps it in its cache, CS231n's
``forward -> (out, cache)``, ``backward(dout, cache)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["Kernel", "KERNELS", "FAMILIES", "tier_kernels"]


class Kernel(NamedTuple):
    """One kernel of the contract: its family, parameter names and one line of math."""

    family: str
    params: tuple[str, ...]
    math: str


def _k(family: str, params: str, math: str) -> Kernel:
    return Kernel(family, tuple(params.split()), math)


KERNELS: Mapping[str, Kernel] = MappingProxyType(
    {
        # ------------------------------------------------------------ loss
        "softmax_cross_entropy": _k(
            "loss", "logits labels", "loss_i = logsumexp(z_i) - z_iy; returns (losses, softmax(z))"
        ),
        "softmax_cross_entropy_backward": _k(
            "loss", "probs labels scale", "dz = scale * (softmax(z) - onehot(y))"
        ),
        # ------------------------------------------------------------ attention
        "masked_softmax": _k(
            "attention",
            "scores keep scale",
            "p_ij = keep_ij exp(s z_ij - m_i) / sum_k keep_ik exp(s z_ik - m_i)",
        ),
        "masked_softmax_backward": _k(
            "attention", "probs dprobs scale", "dz_ij = s p_ij (dp_ij - sum_k p_ik dp_ik)"
        ),
        "batched_matmul": _k(
            "attention", "a b out", "c[g] = a[g] b[g] for every matrix g of the batch (out! if given)"
        ),
        "linear_forward": _k("attention", "x weight bias", "y = x W + b (x W where b is None)"),
        "weight_gradient": _k("attention", "x dy", "dW = x^T dy = sum_r x_r^T dy_r (a layer's dW)"),
        # ------------------------------------------------------------ activation
        "relu_forward": _k("activation", "x", "y = max(x, 0)"),
        "relu_backward": _k("activation", "dy y", "dx = dy [y > 0]"),
        # ------------------------------------------------------------ regularisation
        "dropout_forward": _k(
            "dropout", "x uniform rate", "mask = [u >= rate] / (1 - rate); returns (x * mask, mask)"
        ),
        "dropout_backward": _k("dropout", "dy mask", "dx = dy * mask"),
        # ------------------------------------------------------------ optimizers (all in place)
        "sgd_update": _k(
            "optim",
            "param grad velocity lr momentum nesterov weight_decay",
            "v! = mu v + g; p! -= lr (g + mu v if nesterov else v)",
        ),
        "rmsprop_update": _k(
            "optim",
            "param grad square_avg buffer lr alpha eps momentum weight_decay",
            "s! = a s + (1-a) g^2; p! -= lr g / (sqrt(s) + eps)  (buffer! with momentum)",
        ),
        "adagrad_update": _k(
            "optim", "param grad total lr eps weight_decay", "total! += g^2; p! -= lr g / (sqrt(total) + eps)"
        ),
        "adam_update": _k(
            "optim",
            "param grad m v lr beta1 beta2 eps step weight_decay decoupled",
            "m!, v! moments; p! -= lr m_hat / (sqrt(v_hat) + eps)  (AdamW: p *= 1 - lr wd)",
        ),
        # ------------------------------------------------------------ convolution
        "im2col": _k(
            "conv", "x kh kw sh sw ph pw", "cols[(c,i,j), (n,oh,ow)] = x_pad[n, c, sh oh + i, sw ow + j]"
        ),
        "col2im": _k("conv", "cols x_shape kh kw sh sw ph pw", "the adjoint of im2col (sums overlaps)"),
        "conv2d_forward": _k(
            "conv",
            "x weight bias sh sw ph pw",
            "y[n,f,oh,ow] = b[f] + sum_cij W[f,c,i,j] x_pad[n, c, sh oh + i, sw ow + j]; "
            "returns (y, cols = im2col(x) for the backward, or None where the tier did not keep it)",
        ),
        "conv2d_backward": _k(
            "conv",
            "dy x cols weight sh sw ph pw input_grad",
            "dW = dY2 cols^T (cols rebuilt from x when None), db = sum dY2, dx = col2im(W2^T dY2) "
            "(None unless input_grad); returns (dx, dW, db)",
        ),
        # ------------------------------------------------------------ pooling
        "max_pool_forward": _k("pool", "x kh kw sh sw", "y = window max; argmax = first maximum's offset"),
        "max_pool_backward": _k("pool", "dy argmax x_shape kh kw sh sw", "dx[argmax] += dy"),
        "avg_pool_forward": _k("pool", "x kh kw sh sw", "y = window sum / (kh kw)"),
        "avg_pool_backward": _k("pool", "dy x_shape kh kw sh sw", "dx += dy / (kh kw) over each window"),
        # ------------------------------------------------------------ normalization
        "batchnorm_forward": _k(
            "batchnorm",
            "x gamma beta eps",
            "y = gamma (x - mean_c) / sqrt(var_c + eps) + beta; returns (y, mean, var)",
        ),
        "batchnorm_backward": _k(
            "batchnorm",
            "dy x gamma mean var eps",
            "dx = gamma / (M sigma) (M dy - dbeta - x_hat dgamma); returns (dx, dgamma, dbeta)",
        ),
        # ------------------------------------------------------------ recurrent cells (outputs in place)
        "lstm_cell_forward": _k(
            "recurrent",
            "xw hw b c_prev gates c h",
            "[i f g o] = act(xw + hw + b); c! = f c_prev + i g; h! = o tanh(c)",
        ),
        "lstm_cell_backward": _k(
            "recurrent",
            "dh dc_next gates c_prev c da dc_prev",
            "da! = dL/d[a_i a_f a_g a_o]; dc_prev! = (dc_next + dh o tanh'(c)) f",
        ),
        "gru_cell_forward": _k(
            "recurrent",
            "xw hw bx bh h_prev gates hn h",
            "r, z = sigma(.); n = tanh(xw_n + bx_n + r hn); h! = (1-z) n + z h_prev",
        ),
        "gru_cell_backward": _k(
            "recurrent",
            "dh gates hn h_prev dxw dhw dh_prev",
            "dxw! = [da_r da_z da_n]; dhw! = [da_r da_z r da_n]; dh_prev! = z dh",
        ),
        # ------------------------------------------------------------ recurrent sequences (outputs in place)
        "swap_batch_time": _k("recurrent", "x", "y[t, n] = x[n, t]: (N, T, ...) <-> (T, N, ...), contiguous"),
        "lstm_forward_sequence": _k(
            "recurrent",
            "xw Wh b gates cells hs",
            "for t: lstm_cell(xw[t], hs[t] Wh, ...) -> gates[t]!, cells[t+1]!, hs[t+1]!",
        ),
        "lstm_backward_sequence": _k(
            "recurrent",
            "dy Wh_T gates cells da dh0 dc0",
            "for t = T-1..0: lstm_cell_backward; dh = da[t] Wh^T + dy[t-1]",
        ),
        "gru_forward_sequence": _k(
            "recurrent",
            "xw Wh bx bh gates hn hs",
            "for t: gru_cell(xw[t], hs[t] Wh, ...) -> gates[t]!, hn[t]!, hs[t+1]!",
        ),
        "gru_backward_sequence": _k(
            "recurrent",
            "dy Wh_T gates hn hs dxw dhw dh0",
            "for t = T-1..0: gru_cell_backward; dh = dhw[t] Wh^T + z dh + dy[t-1]",
        ),
    }
)

#: family -> its kernels, in the order above
FAMILIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        family: tuple(name for name, kernel in KERNELS.items() if kernel.family == family)
        for family in dict.fromkeys(kernel.family for kernel in KERNELS.values())
    }
)


def tier_kernels(tier: str) -> dict[str, Callable]:
    """Every kernel of the contract as the tier package ``tier`` (``"minidl.kernels.cpu"``) defines
    it: name -> function, taken from the tier's module of the kernel's family (``cpu/conv.py``).

    A tier's ``__init__`` puts these in its namespace, so ``cpu.im2col`` is ``cpu.conv.im2col``
    and a new kernel needs no line there. A family without its module, or a module without one of
    its family's kernels, fails the import with what is missing.
    """
    found = {}
    for family, names in FAMILIES.items():
        try:
            module = importlib.import_module(f"{tier}.{family}")
        except ModuleNotFoundError as error:
            if error.name != f"{tier}.{family}":
                raise  # the family's module exists but something it imports does not
            raise ImportError(
                f"the kernel contract's family {family!r} {names} has no module in the tier {tier}: "
                f"expected {tier}.{family} ({tier.replace('.', '/')}/{family}.py)"
            ) from error
        for name in names:
            if not hasattr(module, name):
                raise ImportError(
                    f"{module.__name__} does not define the contract's kernel {name}{KERNELS[name].params}"
                )
            found[name] = getattr(module, name)
    return found
