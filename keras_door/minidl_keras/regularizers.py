"""``keras.regularizers``: ``l2(0.01)``, ``l1``, ``l1_l2`` -- minidl's weight penalties
(``penalty = l1 * sum|W| + l2 * sum W^2``, added to the loss, as Keras)."""

from minidl.nn.regularizers import L1, L1L2, L2, Regularizer

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2"]

l1, l2 = L1, L2


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Keras's ``l1_l2`` (both 0.01 by default; the class ``L1L2`` defaults to 0)."""
    return L1L2(l1=l1, l2=l2)
