"""Attention layers (minidl/layers/attention.py) and the Embedding they start from.

* float64 finite-difference checks of every backward: the attention function with causal
  and padding masks, multi-head self- and cross-attention, both positional encodings, the
  pre-LN block with and without cross-attention;
* parity with PyTorch, weights copied (skipped without torch): F.scaled_dot_product_attention,
  nn.MultiheadAttention, nn.TransformerEncoderLayer(norm_first=True), nn.Embedding;
* generation with a KV cache equals running the whole prefix; the Numba and NumPy tiers agree.
"""

import numpy as np
import pytest

import minidl as mdl
from minidl import backend, gradcheck
from minidl import layers as L
from minidl.nn.gradcheck import numerical_gradient, rel_error

TOL = 1e-7


@pytest.fixture(autouse=True)
def _reference_kernels():
    previous = backend.current()
    yield
    backend.use(previous)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _normals(rng, *shapes):
    """One standard-normal array per shape, drawn from ``rng`` in order."""
    return [rng.standard_normal(shape) for shape in shapes]


def _assert_gradcheck(report, zero_keys=()):
    """Every gradient matches; ``zero_keys`` (the key projection's bias) are exactly zero in
    theory, so both sides are compared to 0 instead of to each other."""
    for key, err in report.errors.items():
        if any(key.endswith(z) for z in zero_keys):
            continue
        assert err < TOL, f"{report.name}: d/d{key} relative error {err:.2e}\n{report}"


# ============================================================ the attention function
@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("is_causal, with_mask", [(False, False), (True, False), (False, True), (True, True)])
def test_attention_function_gradients(kernels, is_causal, with_mask):
    backend.use(kernels)
    rng = _rng(1)
    q, k, v = _normals(rng, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    mask = None
    if with_mask:
        mask = rng.random((2, 1, 4, 6)) < 0.7  # a padding-like mask per sample, shared by heads
        mask[..., -1] = True  # every query sees at least one key
    dout = rng.standard_normal((2, 3, 4, 2))

    def f():
        return L.scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)[0]

    out, probs, cache = L.scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)
    dq, dk, dv = L.scaled_dot_product_attention_backward(dout, cache)
    for name, x, analytic in (("q", q, dq), ("k", k, dk), ("v", v, dv)):
        err = rel_error(analytic, numerical_gradient(f, x, dout))
        assert err < TOL, f"d{name}: relative error {err:.2e}"
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-12)
    if is_causal:  # Tq = 4 queries are the last 4 of Tk = 6 positions: query i sees keys <= i + 2
        assert np.all(probs[..., np.triu_indices(4, 3, 6)[0], np.triu_indices(4, 3, 6)[1]] == 0)


def test_masked_keys_get_exactly_zero_weight_and_a_blind_query_outputs_zero():
    rng = _rng(2)
    q, k, v = _normals(rng, (1, 3, 4), (1, 5, 4), (1, 5, 2))
    mask = np.ones((3, 5), bool)
    mask[0, 2:] = False
    mask[2, :] = False
    out, probs, _ = L.scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(probs[0, 0, 2:] == 0) and probs[0, 0, :2].sum() == pytest.approx(1)
    assert np.all(probs[0, 2] == 0) and np.all(out[0, 2] == 0)


def test_attention_function_matches_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = _rng(3)
    q, k, v = _normals(rng, (2, 3, 4, 8), (2, 3, 4, 8), (2, 3, 4, 5))
    mask = rng.random((2, 1, 4, 4)) < 0.8
    mask[..., 0] = True
    dout = rng.standard_normal((2, 3, 4, 5))
    for kwargs in (dict(is_causal=True), dict(mask=mask)):
        out, _, cache = L.scaled_dot_product_attention(q, k, v, **kwargs)
        grads = L.scaled_dot_product_attention_backward(dout, cache)
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        torch_kwargs = (
            {"is_causal": True} if "is_causal" in kwargs else {"attn_mask": torch.from_numpy(mask)}
        )  # PyTorch: True = take part
        ref = F.scaled_dot_product_attention(tq, tk, tv, **torch_kwargs)
        ref.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        for ours, theirs in zip(grads, (tq.grad, tk.grad, tv.grad)):
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-11)


# ============================================================ multi-head attention
def test_multi_head_self_attention_gradients():
    mdl.seed(0)
    layer = L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=2)
    report = gradcheck.check_layer(layer, _rng(4).standard_normal((2, 5, 6)))
    _assert_gradcheck(report, zero_keys=("bk",))
    assert np.abs(layer.grads["bk"]).max() < 1e-12, "softmax ignores a constant added to a row of scores"
    assert layer.params["Wq"].shape == (6, 12) and layer.params["Wv"].shape == (6, 6)
    assert layer.params["Wo"].shape == (6, 6)


def test_multi_head_self_attention_without_biases_gradients():
    """Self-attention projects Q, K, V in one product x [Wq | Wk | Wv]: also without biases."""
    mdl.seed(1)
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, use_bias=False)
    _assert_gradcheck(gradcheck.check_layer(layer, _rng(5).standard_normal((3, 4, 7))))
    assert set(layer.params) == {"Wq", "Wk", "Wv", "Wo"}


def test_multi_head_attention_with_a_causal_and_a_padding_mask_gradients():
    mdl.seed(0)
    valid = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = L.MultiHeadAttention(2, 3)
    x = _rng(5).standard_normal((2, 5, 4))
    layer.build((5, 4), np.float64)
    dy = _rng(6).standard_normal((2, 5, 4))

    def f():
        return layer.forward(x, attention_mask=L.padding_mask(valid, 5), use_causal_mask=True)

    f()
    dx = layer.backward(dy)
    assert rel_error(dx, numerical_gradient(f, x, dy)) < TOL
    for key in ("Wq", "Wk", "Wv", "Wo", "bv"):
        assert rel_error(layer.grads[key], numerical_gradient(f, layer.params[key], dy)) < TOL, key
    scores = layer.last_attention_scores  # (N, H, Tq, Tk)
    assert np.all(scores[0, :, :, 3:] == 0), "padded keys get no weight"
    assert np.all(np.triu(np.ones((5, 5)), 1)[None, None] * scores == 0), "no query sees the future"


@pytest.mark.parametrize("separate_key", [False, True])
def test_cross_attention_gradients_for_each_input(separate_key):
    mdl.seed(0)
    rng = _rng(7)
    query, value, key = _normals(rng, (2, 3, 4), (2, 6, 5), (2, 6, 7))
    layer = L.MultiHeadAttention(2, 3, output_shape=8)
    dy = rng.standard_normal((2, 3, 8))

    def f():
        return layer(query, value=value, key=key if separate_key else None)

    f()
    layer.astype(np.float64)
    f()
    grads = layer.backward(dy)
    inputs = (query, value, key) if separate_key else (query, value)
    assert isinstance(grads, tuple) and len(grads) == len(inputs)
    for x, analytic in zip(inputs, grads):
        assert analytic.shape == x.shape
        assert rel_error(analytic, numerical_gradient(f, x, dy)) < TOL
    assert layer.params["Wk"].shape == ((7 if separate_key else 5), 6)


def _copy_mha_to_torch(ours, theirs, torch):
    p = ours.params
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.from_numpy(np.concatenate([p["Wq"].T, p["Wk"].T, p["Wv"].T])))
        theirs.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        theirs.out_proj.weight.copy_(torch.from_numpy(p["Wo"].T.copy()))
        theirs.out_proj.bias.copy_(torch.from_numpy(p["bo"]))


def _torch_mha_grads(theirs):
    W, b = theirs.in_proj_weight.grad.numpy(), theirs.in_proj_bias.grad.numpy()
    D = W.shape[1]
    return {
        "Wq": W[:D].T,
        "Wk": W[D : 2 * D].T,
        "Wv": W[2 * D :].T,
        "bq": b[:D],
        "bk": b[D : 2 * D],
        "bv": b[2 * D :],
        "Wo": theirs.out_proj.weight.grad.numpy().T,
        "bo": theirs.out_proj.bias.grad.numpy(),
    }


def test_multi_head_attention_matches_pytorch():
    torch = pytest.importorskip("torch")
    mdl.seed(0)
    N, T, D, H = 2, 5, 8, 2
    rng = _rng(8)
    x, dy = _normals(rng, (N, T, D), (N, T, D))
    valid = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    ours = L.MultiHeadAttention(num_heads=H, key_dim=D // H)
    ours.build((T, D), np.float64)
    ours.params["bq"][...] = rng.standard_normal(D)  # non-zero biases are compared too
    ours.params["bk"][...] = rng.standard_normal(D)
    y = ours(x, attention_mask=L.padding_mask(valid, T), use_causal_mask=True)
    ours.backward(dy)

    theirs = torch.nn.MultiheadAttention(D, H, batch_first=True, dtype=torch.float64)
    _copy_mha_to_torch(ours, theirs, torch)
    tx = torch.tensor(x, requires_grad=True)
    causal = torch.from_numpy(~L.causal_mask(T))  # PyTorch's bool masks: True = blocked
    ref, weights = theirs(
        tx, tx, tx, attn_mask=causal, key_padding_mask=torch.from_numpy(~valid), average_attn_weights=False
    )
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.last_attention_scores, weights.detach().numpy(), rtol=1e-10, atol=1e-12)
    for key, grad in _torch_mha_grads(theirs).items():
        np.testing.assert_allclose(ours.grads[key], grad, rtol=1e-9, atol=1e-11, err_msg=key)


# ============================================================ positional encodings
def test_sinusoidal_encoding_is_the_formula_and_passes_gradients_through():
    pe = L.SinusoidalPositionalEncoding.encoding(50, 6)
    t, i = 17, 2  # pair i = columns 4, 5
    assert pe[t, 2 * i] == pytest.approx(np.sin(t / 10000 ** (2 * i / 6)), abs=1e-6)
    assert pe[t, 2 * i + 1] == pytest.approx(np.cos(t / 10000 ** (2 * i / 6)), abs=1e-6)
    layer = L.SinusoidalPositionalEncoding()
    x = _rng(9).standard_normal((2, 4, 6))
    np.testing.assert_allclose(layer(x) - x, np.broadcast_to(pe[:4], x.shape), atol=1e-6)
    np.testing.assert_allclose(
        layer.forward(x[:, :1], offset=3) - x[:, :1], np.broadcast_to(pe[3:4], (2, 1, 6)), atol=1e-6
    )
    _assert_gradcheck(gradcheck.check_layer(layer, x))


def test_learned_positional_embedding_gradients_and_length_error():
    mdl.seed(0)
    layer = L.PositionalEmbedding(max_length=7)
    x = _rng(10).standard_normal((3, 5, 4))
    _assert_gradcheck(gradcheck.check_layer(layer, x))
    assert np.all(layer.grads["P"][5:] == 0), "positions not seen get no gradient"
    with pytest.raises(ValueError, match="7 positions"):
        layer.forward(np.zeros((1, 8, 4)))


# ============================================================ the transformer block
@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradients(causal):
    mdl.seed(0)
    block = L.TransformerBlock(num_heads=2, mlp_dim=12, causal=causal)
    _assert_gradcheck(gradcheck.check_layer(block, _rng(11).standard_normal((2, 5, 8))), zero_keys=("bk",))
    assert block.output_shape == (5, 8)


def test_transformer_block_with_cross_attention_gradients():
    mdl.seed(0)
    rng = _rng(12)
    x, context, dy = _normals(rng, (2, 4, 6), (2, 7, 3), (2, 4, 6))
    block = L.TransformerBlock(num_heads=2, causal=True, cross_attention=True)

    def f():
        return block(x, context=context)

    f()
    block.astype(np.float64)
    f()
    dx, d_context = block.backward(dy)
    assert rel_error(dx, numerical_gradient(f, x, dy)) < TOL
    assert rel_error(d_context, numerical_gradient(f, context, dy)) < TOL
    for key in ("cross.Wk", "cross.Wv", "ln_cross.gamma", "attn.Wq", "fc1.W"):
        assert rel_error(block.grads[key], numerical_gradient(f, block.params[key], dy)) < TOL, key
    with pytest.raises(ValueError, match="context="):
        block(x)


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_matches_pytorch_encoder_layer(causal):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    mdl.seed(0)
    N, T, D, H, M = 2, 6, 8, 2, 16
    rng = _rng(13)
    x, dy = _normals(rng, (N, T, D), (N, T, D))
    ours = L.TransformerBlock(num_heads=H, mlp_dim=M, causal=causal)
    ours.build((T, D), np.float64)
    for key in ours.params:  # no zero biases, no unit gammas
        ours.params[key][...] += 0.1 * rng.standard_normal(ours.params[key].shape)
    y = ours(x)
    dx = ours.backward(dy)

    theirs = torch.nn.TransformerEncoderLayer(
        D,
        H,
        dim_feedforward=M,
        dropout=0.0,
        activation=lambda z: F.gelu(z, approximate="tanh"),
        batch_first=True,
        norm_first=True,
        dtype=torch.float64,
    )
    p = ours.params
    _copy_mha_to_torch(ours.attn, theirs.self_attn, torch)
    with torch.no_grad():
        for norm, ln in ((theirs.norm1, "ln1"), (theirs.norm2, "ln2")):
            norm.weight.copy_(torch.from_numpy(p[f"{ln}.gamma"]))
            norm.bias.copy_(torch.from_numpy(p[f"{ln}.beta"]))
        for linear, fc in ((theirs.linear1, "fc1"), (theirs.linear2, "fc2")):
            linear.weight.copy_(torch.from_numpy(p[f"{fc}.W"].T.copy()))
            linear.bias.copy_(torch.from_numpy(p[f"{fc}.b"]))
    tx = torch.tensor(x, requires_grad=True)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64) if causal else None
    ref = theirs(tx, src_mask=mask, is_causal=causal)
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        ours.grads["fc1.W"], theirs.linear1.weight.grad.numpy().T, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(
        ours.grads["ln1.gamma"], theirs.norm1.weight.grad.numpy(), rtol=1e-8, atol=1e-10
    )
    for key, grad in _torch_mha_grads(theirs.self_attn).items():
        np.testing.assert_allclose(ours.grads[f"attn.{key}"], grad, rtol=1e-8, atol=1e-10, err_msg=key)


def test_kv_cache_generation_equals_the_full_forward():
    mdl.seed(0)
    block = L.TransformerBlock(num_heads=2, causal=True)
    x = _rng(14).standard_normal((3, 7, 8)).astype(np.float32)
    full = block(x)  # (N, T, D) in one pass
    cache = {}
    steps = [block.forward(x[:, :3], kv_cache=cache)]  # a prompt of 3, then one at a time
    steps += [block.forward(x[:, t : t + 1], kv_cache=cache) for t in range(3, 7)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-5, atol=1e-5)
    assert cache["self"]["k"].shape == (3, 2, 7, 4)
    with pytest.raises(RuntimeError, match="kv_cache"):
        block.backward(full)


def test_numba_and_numpy_tiers_give_the_same_block():
    x = _rng(15).standard_normal((2, 6, 8)).astype(np.float32)
    outs = []
    for tier in ("numpy", "numba"):
        backend.use(tier)
        mdl.seed(0)
        block = L.TransformerBlock(num_heads=2, causal=True)
        y = block(x)
        outs.append((y, block.backward(np.ones_like(y))))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_block_trains_inside_sequential():
    mdl.seed(0)
    V, T = 5, 6
    ids = _rng(16).integers(0, V, size=(64, T))
    targets = np.roll(ids, -1, axis=1)  # predict the next id (cyclic)
    model = mdl.Sequential(
        [L.Embedding(V, 16), L.PositionalEmbedding(T), L.TransformerBlock(2), L.LayerNorm(), L.Dense(V)],
        input_shape=(T,),
    )
    model.compile(
        optimizer=mdl.optim.Adam(1e-2), loss=mdl.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    history = model.fit(ids, targets, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_errors_name_shapes():
    layer = L.MultiHeadAttention(2, 3)
    with pytest.raises(ValueError, match=r"\(N, T, features\)"):
        layer(np.zeros((4, 6)))
    with pytest.raises(ValueError, match="value and key"):
        layer(np.zeros((2, 3, 4)), value=np.zeros((3, 5, 4)))
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 3)


# ============================================================ embedding
def test_embedding_backward_is_a_scatter_add_and_matches_pytorch():
    torch = pytest.importorskip("torch")
    mdl.seed(0)
    ids = np.array([[1, 3, 1], [3, 3, 0]])  # repeated ids must accumulate
    ours = L.Embedding(input_dim=5, output_dim=4)
    ours.build((3,), np.float64)
    dy = _rng(17).standard_normal((2, 3, 4))
    y = ours(ids)
    ours.backward(dy)
    theirs = torch.nn.Embedding(5, 4, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.params["W"]))
    ref = theirs(torch.from_numpy(ids))
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy())
    np.testing.assert_allclose(ours.grads["W"], theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grads["W"][3], dy[0, 1] + dy[1, 0] + dy[1, 1], rtol=1e-12)


def test_a_gpt_with_a_block_saves_and_loads(tmp_path):
    mdl.seed(0)
    model = mdl.Sequential(
        [
            L.Embedding(10, 8),
            L.PositionalEmbedding(6),
            L.TransformerBlock(2, causal=True),
            L.LayerNorm(),
            L.Dense(10),
        ],
        input_shape=(6,),
    )
    model.compile(optimizer="adam", loss=mdl.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = _rng(18).integers(0, 10, (4, 6))
    model.train_on_batch(ids, ids)
    model.save(tmp_path / "gpt.npz")
    loaded = mdl.load_model(tmp_path / "gpt.npz")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    block = loaded.layers[2]
    assert block.params["attn.Wq"] is block.attn.params["Wq"], "the block's params are its sub-layers'"
    assert loaded.train_on_batch(ids, ids) == pytest.approx(model.train_on_batch(ids, ids), rel=1e-5)
