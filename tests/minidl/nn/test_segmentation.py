"""The segmentation losses: pixel cross-entropy and Dice, gradient-checked and against torch where installed."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.nn.gradcheck import check_loss
from minidl.nn.segmentation import DiceLoss, PixelCrossentropy


# =========================================================================== segmentation losses and metrics
@pytest.mark.parametrize("loss", [PixelCrossentropy(), DiceLoss(), DiceLoss(smooth=0.0)])
def test_segmentation_losses_gradient_check(loss):
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    report = check_loss(loss, z, t)
    assert report.passed, str(report)


def test_pixel_crossentropy_equals_torch_and_dice_values():
    rng = np.random.default_rng(4)
    z, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    # an independent formula: average of -log softmax at the label, pixel by pixel
    expected = np.mean(
        [
            -z[n, t[n, h, w], h, w] + np.log(np.exp(z[n, :, h, w]).sum())
            for n in range(2)
            for h in range(4)
            for w in range(5)
        ]
    )
    assert PixelCrossentropy()(z, t) == pytest.approx(expected, rel=1e-12)
    torch = pytest.importorskip("torch")
    assert PixelCrossentropy()(z, t) == pytest.approx(
        torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(t)).item(), rel=1e-10
    )


def test_dice_loss_is_zero_for_a_perfect_and_near_one_for_a_wrong_prediction():
    t = np.array([[[0, 1], [2, 2]]])
    perfect = 50.0 * (np.arange(3)[None, :, None, None] == t[:, None]).astype(float)
    assert DiceLoss(smooth=0.0)(perfect, t) == pytest.approx(0.0, abs=1e-12)
    wrong = 50.0 * (np.arange(3)[None, :, None, None] == (t[:, None] + 1) % 3).astype(float)
    assert DiceLoss(smooth=0.0)(wrong, t) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"labels \(N, H, W\)"):
        DiceLoss()(perfect, t[0])
    with pytest.raises(ValueError, match=r"integer labels in \[0, 3\)"):
        PixelCrossentropy()(perfect, t + 1)
