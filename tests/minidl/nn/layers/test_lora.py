"""LoRA (minidl/nn/layers/lora.py): the low-rank update, its hand-written backward checked in
float64 (a wrong scale is caught), the frozen base, merging, and saving bit-exactly."""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl import losses, optim
from minidl.nn.gradcheck import check_layer


def _pretrained_dense(rng, d_in=6, d_out=4, activation=None):
    mdl.seed(0)
    dense = L.Dense(d_out, activation=activation)
    dense.build((d_in,))
    dense.params["b"][...] = rng.standard_normal(d_out)
    return dense


def test_at_first_lora_computes_what_the_base_computes(rng):
    dense = _pretrained_dense(rng)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    expected = dense.forward(x)
    lora = L.LoRA(dense, rank=2, alpha=4.0)
    np.testing.assert_array_equal(lora.forward(x), expected)  # B starts at zero
    assert lora.params["A"].shape == (6, 2) and lora.params["B"].shape == (2, 4)
    assert lora.scale == 2.0


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_gradients_with_a_nonzero_update(activation, tier, rng):
    lora = L.LoRA(_pretrained_dense(rng, activation=activation), rank=3, alpha=1.5)
    lora.params["B"][...] = rng.standard_normal((3, 4))
    lora.base.trainable = True  # so that dW and db are computed and checked too
    report = check_layer(lora, rng.standard_normal((2, 3, 6)))  # (N, T, D): every position
    assert report.passed, report
    assert set(report.errors) == {"x", "A", "B", "base.W", "base.b"}
    assert report.errors["A"] < 1e-7 and report.errors["B"] < 1e-7


def test_with_the_base_frozen_a_and_b_still_check(rng):
    lora = L.LoRA(_pretrained_dense(rng), rank=2, alpha=2.0)
    lora.params["B"][...] = rng.standard_normal((2, 4))
    report = check_layer(lora, rng.standard_normal((4, 6)))
    assert report.errors["x"] < 1e-7 and report.errors["A"] < 1e-7 and report.errors["B"] < 1e-7
    assert not report.agrees("base.W"), "the frozen base's gradient is not computed (zeros)"


class _ForgetsTheScale(L.LoRA):
    """A LoRA whose backward leaves the scale alpha / r out of dB: a plausible slip."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["B"] = self.grads["B"] / self.scale
        return dx


def test_a_backward_without_the_scale_fails_the_check(rng):
    lora = _ForgetsTheScale(_pretrained_dense(rng), rank=2, alpha=6.0)
    lora.params["B"][...] = rng.standard_normal((2, 4))
    report = check_layer(lora, rng.standard_normal((3, 6)))
    assert not report.passed and not report.agrees("B") and report.agrees("A")


def test_the_base_is_frozen_and_gets_no_gradient(rng):
    dense = _pretrained_dense(rng)
    W = dense.params["W"].copy()
    lora = L.LoRA(dense, rank=2)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    assert lora.trainable_keys() == ["A", "B"]
    assert lora.count_params() == (2 * (6 + 4), 6 * 4 + 4)
    opt = optim.Adam(1e-2)
    loss = losses.MeanSquaredError()
    model = mdl.Sequential([lora])
    model.compile(optimizer=opt, loss=loss)
    for _ in range(3):
        model.train_on_batch(x, np.ones((8, 4), np.float32))
    np.testing.assert_array_equal(dense.params["W"], W)
    assert not dense.grads["W"].any(), "a frozen base's dW is not computed"
    assert np.abs(lora.params["B"]).max() > 0


def test_merge_gives_one_dense_with_the_same_outputs(rng):
    lora = L.LoRA(_pretrained_dense(rng, activation="relu"), rank=2, alpha=3.0)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    lora.forward(x)
    lora.params["B"][...] = rng.standard_normal((2, 4))
    state = mdl.backend.rng().bit_generator.state
    merged = lora.merge()
    assert mdl.backend.rng().bit_generator.state == state, "merging draws no random numbers"
    assert type(merged) is L.Dense and merged.activation == "relu"
    np.testing.assert_allclose(merged.forward(x), lora.forward(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        merged.params["W"], lora.base.params["W"] + 1.5 * lora.params["A"] @ lora.params["B"], rtol=1e-6
    )


def test_saving_and_loading_is_bit_exact(tmp_path, rng):
    mdl.seed(1)
    model = mdl.Sequential(
        [L.Dense(6, activation="tanh"), L.LoRA(L.Dense(3), rank=2, alpha=2.0)], input_shape=(5,)
    )
    model.compile(optimizer=optim.Adam(1e-2), loss=losses.MeanSquaredError())
    x, y = rng.standard_normal((10, 5)).astype(np.float32), rng.standard_normal((10, 3)).astype(np.float32)
    for _ in range(5):
        model.train_on_batch(x, y)
    model.save(tmp_path / "lora.npz")
    loaded = mdl.load_model(tmp_path / "lora.npz")
    lora = loaded.layers[1]
    assert isinstance(lora, L.LoRA) and (lora.rank, lora.alpha) == (2, 2.0)
    assert lora.trainable_keys() == ["A", "B"]
    for key in model.layers[1].params:
        np.testing.assert_array_equal(lora.params[key], model.layers[1].params[key])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # training resumes identically: the optimizer's state was saved for A and B only
    a, b = model.train_on_batch(x, y), loaded.train_on_batch(x, y)
    assert a == b


def test_lora_inside_a_transformer_block_trains_only_the_update(rng):
    mdl.seed(0)
    block = L.TransformerBlock(2, mlp_dim=8)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    block.forward(x)
    block.trainable = True
    for name in ("attn", "ln1", "ln2"):
        getattr(block, name).trainable = False
    block.fc1, block.fc2 = L.LoRA(block.fc1, rank=2), L.LoRA(block.fc2, rank=2)
    assert sorted(block.trainable_keys()) == ["fc1.A", "fc1.B", "fc2.A", "fc2.B"]
    before = block.forward(x)
    assert block.backward(np.ones_like(before)).shape == x.shape


def test_errors_name_what_was_expected(rng):
    with pytest.raises(TypeError, match="LoRA wraps a Dense layer, got Conv2D"):
        L.LoRA(L.Conv2D(2, 3))
    with pytest.raises(ValueError, match="LoRA rank must be a positive integer, got 0"):
        L.LoRA(L.Dense(2), rank=0)
    lora = L.LoRA(_pretrained_dense(rng), rank=2)
    with pytest.raises(ValueError, match=r"LoRA was built for inputs \(N, 6\), got shape \(2, 5\)"):
        lora.forward(rng.standard_normal((2, 5)).astype(np.float32))


# ------------------------------------------------------------------ LoRAAttention
def _pretrained_attention(rng, T=5, D=6):
    mdl.seed(0)
    attention = L.MultiHeadAttention(num_heads=2, key_dim=3)
    attention.forward(rng.standard_normal((2, T, D)))
    return attention


def test_lora_attention_at_first_computes_what_the_attention_computes(rng):
    attention = _pretrained_attention(rng)
    x = rng.standard_normal((3, 5, 6)).astype(np.float32)
    expected = attention(x)
    adapted = L.LoRAAttention(attention, rank=2, alpha=4.0)
    np.testing.assert_array_equal(adapted(x), expected)
    assert adapted.targets == ("q", "v") and adapted.scale == 2.0
    assert adapted.params["A_q"].shape == (6, 2) and adapted.params["B_v"].shape == (2, 6)
    assert adapted.trainable_keys() == ["A_q", "B_q", "A_v", "B_v"]
    assert adapted.count_params() == (2 * 2 * (6 + 6), sum(p.size for p in attention.params.values()))


@pytest.mark.parametrize("targets", [("q", "v"), ("k", "o"), "qkvo"])
def test_lora_attention_gradients_every_array(targets, rng):
    mdl.backend.use("numpy")
    adapted = L.LoRAAttention(_pretrained_attention(rng), rank=2, alpha=3.0, targets=tuple(targets))
    for p in adapted.targets:
        adapted.params["B_" + p][...] = rng.standard_normal(adapted.params["B_" + p].shape)
    adapted.base.trainable = True  # so that the base's gradients (through W') are checked too
    report = check_layer(adapted, rng.standard_normal((2, 5, 6)))
    assert report.passed, report
    for p in adapted.targets:
        assert report.errors["A_" + p] < 1e-7 and report.errors["B_" + p] < 1e-7


def test_lora_attention_cross_attention_and_a_frozen_base(rng):
    mdl.backend.use("numpy")
    mdl.seed(0)
    attention = L.MultiHeadAttention(num_heads=2, key_dim=2)
    query, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 7))
    adapted = L.LoRAAttention(attention, rank=1, targets=("k", "v"))  # built on its first call
    y = adapted(query, memory)
    assert y.shape == (2, 3, 4) and adapted.params["A_k"].shape == (7, 1)
    for p in adapted.targets:
        adapted.params["B_" + p][...] = rng.standard_normal(adapted.params["B_" + p].shape)
    dy = rng.standard_normal(y.shape)
    adapted(query, memory)
    d_query, d_memory = adapted.backward(dy)
    assert d_query.shape == query.shape and d_memory.shape == memory.shape
    assert not any(g.any() for g in attention.grads.values()), "a frozen base gets no gradient"
    # dA, dB against finite differences of the loss <y, dy> in float64
    eps = 1e-6
    for key in ("A_k", "B_v"):
        array = adapted.params[key]
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            kept = array[index]
            array[index] = kept + eps
            plus = np.sum(adapted(query, memory) * dy)
            array[index] = kept - eps
            minus = np.sum(adapted(query, memory) * dy)
            array[index] = kept
            numeric[index] = (plus - minus) / (2 * eps)
        adapted(query, memory)
        adapted.backward(dy)
        np.testing.assert_allclose(adapted.grads[key], numeric, rtol=1e-6, atol=1e-8)


def test_lora_attention_merges_into_one_attention(rng):
    adapted = L.LoRAAttention(_pretrained_attention(rng), rank=2, alpha=3.0, targets=("q", "o"))
    for p in adapted.targets:
        adapted.params["B_" + p][...] = rng.standard_normal(adapted.params["B_" + p].shape)
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    merged = adapted.merge()
    assert type(merged) is L.MultiHeadAttention
    np.testing.assert_allclose(merged(x), adapted(x), rtol=1e-5, atol=1e-5)
    expected = adapted.base.params["Wq"] + 1.5 * adapted.params["A_q"] @ adapted.params["B_q"]
    np.testing.assert_allclose(merged.params["Wq"], expected, rtol=1e-6)
    np.testing.assert_array_equal(merged.params["Wk"], adapted.base.params["Wk"])
    np.testing.assert_array_equal(adapted.base.params["Wq"], _pretrained_attention(rng).params["Wq"])


def test_lora_attention_trains_saves_and_loads_bit_exact(tmp_path, rng):
    mdl.seed(1)
    attention = L.MultiHeadAttention(num_heads=2, key_dim=2)
    model = mdl.Sequential(
        [L.LoRAAttention(attention, rank=2, alpha=2.0), L.Flatten(), L.Dense(2)], input_shape=(4, 3)
    )
    model.compile(optimizer=optim.Adam(1e-2), loss=losses.MeanSquaredError())
    x, y = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    W = {k: v.copy() for k, v in attention.params.items()}
    for _ in range(4):
        model.train_on_batch(x, y)
    for key, value in W.items():
        np.testing.assert_array_equal(attention.params[key], value)  # frozen
    assert np.abs(model.layers[0].params["B_q"]).max() > 0
    model.save(tmp_path / "lora_attention.npz")
    loaded = mdl.load_model(tmp_path / "lora_attention.npz")
    adapted = loaded.layers[0]
    assert isinstance(adapted, L.LoRAAttention) and adapted.targets == ("q", "v")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert model.train_on_batch(x, y) == loaded.train_on_batch(x, y)


def test_lora_attention_errors_name_what_was_expected():
    with pytest.raises(TypeError, match="LoRAAttention wraps a MultiHeadAttention layer, got Dense"):
        L.LoRAAttention(L.Dense(2))
    with pytest.raises(
        ValueError, match=r"targets must be distinct names among 'q', 'k', 'v', 'o', got \('q', 'x'\)"
    ):
        L.LoRAAttention(L.MultiHeadAttention(2, 2), targets=("q", "x"))
    with pytest.raises(ValueError, match="LoRAAttention rank must be a positive integer, got 0"):
        L.LoRAAttention(L.MultiHeadAttention(2, 2), rank=0)
