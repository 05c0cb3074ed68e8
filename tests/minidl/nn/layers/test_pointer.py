"""The pointer-generator (minidl/nn/layers/pointer.py), See et al. (2017).

* its backward matches finite differences in float64 for each float input (state, memory,
  vocabulary logits, decoder inputs) and each parameter, with source padding, a word that
  occurs twice in the source and an id outside the fixed vocabulary;
* its output is a distribution: rows sum to one; with the switch forced to 1 it is the
  decoder's softmax, with the switch forced to 0 the copy attention summed per source id;
* source padding gets no attention and changes nothing; a temporary id outside the fixed
  vocabulary receives probability only by copying;
* the Numba kernels give the reference's numbers; bad shapes and ids are refused by name.
"""

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl import layers as L
from minidl.nn.gradcheck import numerical_gradient, rel_error

N, T, S, D, DM, E, V, EXTENDED = 2, 3, 5, 4, 6, 3, 7, 9


pytestmark = pytest.mark.usefixtures("reference_kernels")  # float64 checks on the NumPy reference


def _case(seed=0, dtype=np.float64):
    """Inputs: row 0 has two padding positions and the word 4 twice; row 1 an id (8) outside V."""
    rng = np.random.default_rng(seed)
    inputs = dict(
        memory=rng.standard_normal((N, S, DM)).astype(dtype),
        source_mask=np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool),
        copy_ids=np.array([[4, 2, 4, 0, 0], [8, 3, 1, 6, 2]]),
        vocab_logits=rng.standard_normal((N, T, V)).astype(dtype),
        inputs=rng.standard_normal((N, T, E)).astype(dtype),
        extended_size=EXTENDED,
    )
    return rng.standard_normal((N, T, D)).astype(dtype), inputs


def _layer(state, inputs, seed=0):
    mdl.seed(seed)
    layer = L.PointerGenerator()
    layer.forward(state, **inputs)  # builds it
    rng = np.random.default_rng(seed + 7)
    for key in ("w_h", "w_s", "w_x", "b"):  # away from the zero start, so every term matters
        layer.params[key][...] = rng.standard_normal(layer.params[key].shape)
    return layer


def test_backward_matches_finite_differences_in_float64():
    state, inputs = _case()
    layer = _layer(state, inputs)
    dy = np.random.default_rng(3).standard_normal((N, T, EXTENDED))

    def output():
        return layer.forward(state, **inputs)

    output()
    d_state, d_memory, d_logits, d_inputs = layer.backward(dy)
    analytic = {"state": d_state, "memory": d_memory, "vocab_logits": d_logits, "inputs": d_inputs}
    analytic.update({f"param {k}": np.array(g, copy=True) for k, g in layer.grads.items()})
    arrays = {"state": state, "memory": inputs["memory"], "vocab_logits": inputs["vocab_logits"]}
    arrays.update({"inputs": inputs["inputs"]}, **{f"param {k}": v for k, v in layer.params.items()})
    assert set(analytic) == set(arrays) and len(layer.params) == 5
    for name, array in arrays.items():
        numeric = numerical_gradient(output, array, dy)
        assert rel_error(analytic[name], numeric) < 1e-7, name
    assert not d_memory[0, 3:].any(), "source padding gets no gradient"


def test_a_wrong_backward_fails_the_check():
    """The check above can fail: drop the copy term's share of d p_gen."""
    state, inputs = _case(seed=1)
    layer = _layer(state, inputs, seed=1)
    dy = np.random.default_rng(4).standard_normal((N, T, EXTENDED))
    layer.forward(state, **inputs)
    cache = list(layer.cache)
    cache[8] = np.zeros_like(cache[8])  # copy_probs forgotten in d p_gen
    layer.cache = tuple(cache)
    d_state = layer.backward(dy)[0]
    numeric = numerical_gradient(lambda: layer.forward(state, **inputs), state, dy)
    assert rel_error(d_state, numeric) > 1e-3


def test_rows_are_distributions_and_the_switch_picks_a_source():
    state, inputs = _case(seed=2)
    layer = _layer(state, inputs, seed=2)
    out = layer.forward(state, **inputs)
    assert out.shape == (N, T, EXTENDED) and (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-12)
    assert layer.last_p_gen.shape == (N, T) and layer.last_copy_attention.shape == (N, T, S)

    layer.params["b"][...] = 50.0  # p_gen = 1: the decoder's own softmax, nothing copied
    generated = layer.forward(state, **inputs)
    z = np.exp(inputs["vocab_logits"] - inputs["vocab_logits"].max(axis=-1, keepdims=True))
    np.testing.assert_allclose(generated[..., :V], z / z.sum(axis=-1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(generated[..., V:], 0.0, atol=1e-12)

    layer.params["b"][...] = -50.0  # p_gen = 0: only copying
    copied = layer.forward(state, **inputs)
    a = layer.last_copy_attention
    np.testing.assert_allclose(copied[0, :, 4], a[0, :, 0] + a[0, :, 2], atol=1e-12)  # word 4 twice
    np.testing.assert_allclose(copied[1, :, 8], a[1, :, 0], atol=1e-12)  # the out-of-vocabulary id
    np.testing.assert_allclose(copied[0, :, 0], 0.0, atol=1e-12)  # padding is never copied
    assert (copied[0, :, 8] == 0).all(), "an id not in this source gets nothing"


def test_source_padding_changes_nothing():
    state, inputs = _case(seed=3)
    layer = _layer(state, inputs, seed=3)
    out = layer.forward(state, **inputs)
    assert not layer.last_copy_attention[0, :, 3:].any()
    changed = dict(inputs, memory=inputs["memory"].copy())
    changed["memory"][0, 3:] = 100.0
    np.testing.assert_array_equal(layer.forward(state, **changed), out)


def test_numba_kernels_give_the_reference_numbers():
    state, inputs = _case(seed=4, dtype=np.float32)
    layer = _layer(state, inputs, seed=4)
    layer.astype(np.float32)
    dy = np.random.default_rng(5).standard_normal((N, T, EXTENDED)).astype(np.float32)
    results = {}
    for name in ("numpy", "numba"):
        backend.use(name)
        out = layer.forward(state, **inputs)
        results[name] = (out, *layer.backward(dy), *(np.array(g) for g in layer.grads.values()))
    for a, b in zip(*results.values()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bad_inputs_are_refused_by_name():
    state, inputs = _case(seed=5)
    layer = _layer(state, inputs, seed=5)
    with pytest.raises(ValueError, match=r"memory of shape \(2, 5, 6\), got shape \(2, 5, 4\)"):
        layer.forward(state, **dict(inputs, memory=inputs["memory"][..., :4]))
    with pytest.raises(ValueError, match="vocab_logits of shape"):
        layer.forward(state, **dict(inputs, vocab_logits=inputs["vocab_logits"][:, :2]))
    with pytest.raises(ValueError, match="copy_ids in"):
        layer.forward(state, **dict(inputs, extended_size=V))  # id 8 needs a temporary id
    with pytest.raises(ValueError, match=r"expected input \(N, T, features\)"):
        layer.forward(state[0], **inputs)
