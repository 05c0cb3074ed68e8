"""PatchEmbedding, ClassToken and SelectToken (minidl/nn/layers/patches.py): patches in the
right order for non-square images and patches, the product a strided convolution computes,
gradients in float64, shapes and errors, saving."""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers.patches import patchify, unpatchify


def test_patchify_orders_patches_row_major_channel_first(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    p = patchify(x, (2, 3))  # 2 rows x 2 columns of patches
    assert p.shape == (2, 4, 3 * 2 * 3)
    np.testing.assert_array_equal(p[1, 0], x[1, :, 0:2, 0:3].ravel())
    np.testing.assert_array_equal(p[1, 1], x[1, :, 0:2, 3:6].ravel())  # the next patch is to the right
    np.testing.assert_array_equal(p[0, 2], x[0, :, 2:4, 0:3].ravel())
    np.testing.assert_array_equal(unpatchify(p, (3, 4, 6), (2, 3)), x)


@pytest.mark.parametrize("image, patch", [((1, 28, 28), 7), ((2, 6, 10), (3, 5)), ((3, 4, 8), (4, 2))])
def test_patch_embedding_is_a_strided_convolution(image, patch, tier, rng):
    mdl.seed(0)
    x = rng.standard_normal((2, *image)).astype(np.float32)
    layer = L.PatchEmbedding(patch, 5)
    y = layer.forward(x)
    ph, pw = patch if isinstance(patch, tuple) else (patch, patch)
    conv = L.Conv2D(5, (ph, pw), stride=(ph, pw))
    conv.build(image)
    conv.params["W"][...] = layer.params["W"].T.reshape(5, image[0], ph, pw)
    conv.params["b"][...] = layer.params["b"]
    expected = conv.forward(x).reshape(2, 5, -1).transpose(0, 2, 1)  # (N, T, D)
    assert y.shape == (2, (image[1] // ph) * (image[2] // pw), 5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_patch_embedding_gradients_on_a_non_square_image(rng):
    report = check_layer(L.PatchEmbedding((3, 2), 3), rng.standard_normal((2, 2, 6, 4)))
    assert report.passed, report


def test_patches_that_do_not_tile_the_image_are_an_error(rng):
    with pytest.raises(ValueError, match=r"patches of 4x4 must tile the image, got images of 28x30"):
        L.PatchEmbedding(4, 8).forward(rng.standard_normal((1, 1, 28, 30)))
    with pytest.raises(ValueError, match=r"expected input \(N, C, H, W\), got shape \(2, 784\)"):
        L.PatchEmbedding(4, 8).forward(rng.standard_normal((2, 784)))
    with pytest.raises(ValueError, match="patch_size"):
        L.PatchEmbedding((4, 0), 8)


def test_class_token_and_select_token(rng):
    mdl.seed(0)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    cls = L.ClassToken()
    y = cls.forward(x)
    assert y.shape == (3, 6, 4)
    np.testing.assert_array_equal(y[:, 1:], x)
    np.testing.assert_array_equal(y[1, 0], cls.params["c"])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(cls.backward(dy), dy[:, 1:])
    np.testing.assert_allclose(cls.grads["c"], dy[:, 0].sum(axis=0), rtol=1e-6)
    select = L.SelectToken(0)
    np.testing.assert_array_equal(select.forward(y), y[:, 0])
    dx = select.backward(dy[:, 0])
    assert dx.shape == y.shape and not dx[:, 1:].any()
    assert check_layer(L.ClassToken(), rng.standard_normal((2, 3, 4))).passed
    assert check_layer(L.SelectToken(-1), rng.standard_normal((2, 3, 4))).passed
    with pytest.raises(ValueError, match="index 5 is outside sequences of length 3"):
        L.SelectToken(5).forward(rng.standard_normal((2, 3, 4)))


def test_a_small_vit_trains_saves_and_loads_bit_exactly(tmp_path, rng):
    from minidl import losses, optim

    mdl.seed(0)
    model = mdl.Sequential(
        [
            L.PatchEmbedding((4, 2), 8),
            L.ClassToken(),
            L.PositionalEmbedding(17),
            L.TransformerBlock(2, mlp_dim=16),
            L.LayerNorm(),
            L.SelectToken(0),
            L.Dense(3),
        ],
        input_shape=(1, 8, 8),
    )
    model.compile(optimizer=optim.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.standard_normal((12, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    first = model.train_on_batch(x, y)
    for _ in range(20):
        last = model.train_on_batch(x, y)
    assert last < first
    model.save(tmp_path / "vit.npz")
    loaded = mdl.load_model(tmp_path / "vit.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(model.layers, loaded.layers):
        for key in a.params:
            np.testing.assert_array_equal(a.params[key], b.params[key])
