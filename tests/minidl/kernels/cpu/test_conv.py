"""What is particular to the Numba tier (``minidl/kernels/cpu/``).

That every Numba kernel equals its NumPy reference is the conformance table's job
(``tests/minidl/kernels/kernel_cases.py``, run by ``tests/minidl/kernels/test_conformance.py`` over every tier). Here:

* the convolution's two routes (tiles of any size, the whole batch with the forward's cols
  kept for the backward) compute the reference's convolution, and follow the documented rule;
* the tiles route's dW by shifted dot products is the reference's, the same with or without
  threads, and keeps the reference's NaN and inf pattern.
"""

import itertools

import numba
import numpy as np
import pytest

from minidl.kernels import cpu, reference
from tests.minidl.kernels import kernel_cases as kc


@pytest.mark.slow
def _most_filters_for_tiles(monkeypatch, filters):
    """The tiles route for layers of at most ``filters`` filters, at every stride."""
    monkeypatch.setattr(cpu.conv, "CONV_TILE_MAX_FILTERS", filters)
    monkeypatch.setattr(cpu.conv, "CONV_TILE_MAX_FILTERS_STRIDED", filters)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tasks", [True, False], ids=["tiles as tasks", "tiles in a Python loop"])
@pytest.mark.parametrize(
    "max_filters, tile_bytes",
    [(0, 0), (64, 1), (64, 40_000), (64, 2**40)],
    ids=["whole batch", "tiles of one image", "tiles of a few images", "one tile"],
)
@pytest.mark.parametrize("name", ["conv2d_forward", "conv2d_backward"])
def test_both_routes_and_every_tile_size_compute_the_reference_convolution(
    name, max_filters, tile_bytes, tasks, threads, monkeypatch
):
    """The tiles run as the tasks of a parallel kernel, products by OpenBLAS called from them, or
    (no OpenBLAS address to call) in a Python loop; the other kernels threaded or not, as
    ``pick`` chooses by the thread count it sees."""
    monkeypatch.setattr(numba, "get_num_threads", lambda: threads)
    if not tasks:
        monkeypatch.setattr(cpu.conv.blas_pool, "gemm_address", lambda dtype: 0)
    _most_filters_for_tiles(monkeypatch, max_filters)
    monkeypatch.setattr(cpu.conv, "CONV_TILE_BYTES", tile_bytes)
    for dtype in kc.DTYPES:
        assert kc.check_kernel(cpu, name, dtype) == len(kc.CONV2D_GEOMETRIES)


def test_the_route_follows_the_number_of_filters_and_the_stride():
    assert cpu.conv2d_route((64, 1, 28, 28), (6, 1, 5, 5), 1, 1, 2, 2) == "tiles"
    assert cpu.conv2d_route((64, 16, 14, 14), (32, 16, 3, 3), 1, 1, 1, 1) == "tiles"
    assert cpu.conv2d_route((64, 32, 7, 7), (64, 32, 3, 3), 1, 1, 1, 1) == "whole"
    assert cpu.conv2d_route((64, 16, 14, 14), (32, 16, 3, 3), 2, 2, 1, 1) == "whole"
    assert cpu.conv2d_route((64, 1, 28, 28), (8, 1, 5, 5), 2, 2, 2, 2) == "tiles"


def test_the_whole_route_returns_its_patch_matrix_and_the_backward_uses_what_it_is_given(monkeypatch):
    """The forward returns cols = im2col(x) (the tiles route: None); the backward given cols
    builds nothing, given None rebuilds them; both give the reference's gradients."""
    _most_filters_for_tiles(monkeypatch, 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 3, 6, 5))
    weight, dy = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((3, 4, 6, 5))
    y, cols = cpu.conv2d_forward(x, weight, None, 1, 1, 1, 1)
    np.testing.assert_array_equal(cols, reference.im2col(x, 3, 3, 1, 1, 1, 1))
    built = []
    monkeypatch.setattr(cpu.conv, "im2col", lambda *a: built.append(1) or reference.im2col(*a))
    want = reference.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, True)
    for given, builds in ((cols, 0), (None, 1)):
        got = cpu.conv2d_backward(dy, x, given, weight, 1, 1, 1, 1, True)
        assert len(built) == builds
        for ours, theirs in zip(got, want):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    _most_filters_for_tiles(monkeypatch, 64)
    assert cpu.conv2d_forward(x, weight, None, 1, 1, 1, 1)[1] is None


@pytest.mark.parametrize("max_filters", [0, 64], ids=["whole batch", "tiles"])
def test_two_forwards_then_two_backwards_in_reverse_order_give_the_references_gradients(
    max_filters, monkeypatch
):
    """What a backward needs travels in the cache the forward returned, not in the tier: two
    convolutions in flight at once (a network's layers) each get their own gradients."""
    _most_filters_for_tiles(monkeypatch, max_filters)
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((2, 3, 3, 7, 6))
    weight, dy1, dy2 = rng.standard_normal((4, 3, 3, 3)), *rng.standard_normal((2, 3, 4, 7, 6))
    caches = [cpu.conv2d_forward(x, weight, None, 1, 1, 1, 1)[1] for x in (x1, x2)]
    for x, dy, cols in reversed(list(zip((x1, x2), (dy1, dy2), caches))):
        got = cpu.conv2d_backward(dy, x, cols, weight, 1, 1, 1, 1, True)
        want = reference.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, True)
        for ours, theirs in zip(got, want):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_the_tile_holds_conv_tile_bytes_of_patch_matrix(monkeypatch):
    monkeypatch.setattr(cpu.conv, "CONV_TILE_BYTES", 512 * 1024)
    # 16 -> 32, 3x3, pad 1 on 14x14: 144 rows x 196 columns x 4 bytes = 112,896 bytes an image
    assert cpu.conv2d_tile((64, 16, 14, 14), (32, 16, 3, 3), 1, 1, 1, 1, 4) == 4
    assert cpu.conv2d_tile((64, 16, 14, 14), (32, 16, 3, 3), 1, 1, 1, 1, 8) == 2
    assert cpu.conv2d_tile((3, 1, 5, 5), (2, 1, 3, 3), 1, 1, 1, 1, 4) == 3  # never more than N
    assert cpu.conv2d_tile((2, 512, 64, 64), (8, 512, 3, 3), 1, 1, 1, 1, 4) == 1  # never fewer than 1


def test_the_tiles_are_equal_where_a_divisor_of_the_batch_allows(monkeypatch):
    monkeypatch.setattr(cpu.conv, "CONV_TILE_BYTES", 512 * 1024)
    # LeNet-5's first layer, 1 -> 6 5x5 pad 2 on 28x28: 25 x 784 x 4 = 78,400 bytes an image, 6 fit;
    # 64 images in tiles of 6 would be 10 tiles and one of 4 (two threads: 36 images against 28)
    conv1 = ((1, 28, 28), (6, 1, 5, 5))
    assert cpu.conv2d_tile((64, *conv1[0]), conv1[1], 1, 1, 2, 2, 4) == 4  # 16 tiles of 4
    assert cpu.conv2d_tile((48, *conv1[0]), conv1[1], 1, 1, 2, 2, 4) == 6  # 8 tiles of 6
    assert cpu.conv2d_tile((100, *conv1[0]), conv1[1], 1, 1, 2, 2, 4) == 5  # 20 tiles of 5
    assert cpu.conv2d_tile((37, *conv1[0]), conv1[1], 1, 1, 2, 2, 4) == 6  # no divisor in 3..6: 6
    for n in range(1, 130):  # never above the bytes, never below half of what they hold
        g = cpu.conv2d_tile((n, *conv1[0]), conv1[1], 1, 1, 2, 2, 4)
        most = min(n, 6)
        assert (most + 1) // 2 <= g <= most and (n % g == 0 or g == most), (n, g)


def test_the_shifted_weight_gradient_is_the_reference_and_the_same_with_threads(monkeypatch):
    """dW and db of a stride-1 layer by shifted dot products: the reference's numbers, and bit
    for bit the same threaded or not (images are summed in fixed parts of 8; 19 images make 3)."""
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal((19, 2, 9, 7)), rng.standard_normal((7, 2, 3, 4))
    dy = rng.standard_normal((19, 7, 9, 6))  # padding (1, 1): OH = 9, OW = 7 + 2 - 4 + 1 = 6
    results = []
    for threshold in (0, 2**62):
        monkeypatch.setattr(cpu.loops, "PARALLEL_MIN_ELEMENTS", threshold)
        results.append(cpu.conv2d_weight_gradient_shifted(dy, x, weight.shape, 1, 1))
    for threaded, serial in zip(*results):
        np.testing.assert_array_equal(threaded, serial)
    _, dweight, dbias = reference.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, False)
    np.testing.assert_allclose(results[0][0], dweight, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][1], dbias, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [9 * 14, 8 * 16])  # OH * Wp: 126 short, 128 long enough
def test_short_rows_take_dw_from_the_patch_matrix(monkeypatch, rows):
    """The tiles route's dW: shifted products for rows (OH * Wp) of at least SHIFTED_MIN_ROW, the
    whole batch's patch matrix below; the reference's numbers either way."""
    OH, Wp = (9, 14) if rows == 126 else (8, 16)
    rng = np.random.default_rng(9)
    x, weight = rng.standard_normal((11, 3, OH, Wp - 2)), rng.standard_normal((5, 3, 3, 3))
    dy = rng.standard_normal((11, 5, OH, Wp - 2))  # padding (1, 1): the same size
    called = []
    shifted = cpu.conv.conv2d_weight_gradient_shifted
    monkeypatch.setattr(
        cpu.conv, "conv2d_weight_gradient_shifted", lambda *a: called.append(1) or shifted(*a)
    )
    assert cpu.conv2d_route(x.shape, weight.shape, 1, 1, 1, 1) == "tiles"
    dx, dweight, dbias = cpu.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, True)
    assert bool(called) == (rows >= cpu.conv.SHIFTED_MIN_ROW == 128)
    for ours, theirs in zip(
        (dx, dweight, dbias), reference.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, True)
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_the_shifted_weight_gradient_finds_a_non_finite_x_itself(monkeypatch, bad):
    """The shifted products' copy of x notices an inf or a NaN (no serial check first) and dW
    comes from the patch matrix: the reference's NaN and inf pattern, threaded or not."""
    rng = np.random.default_rng(8)
    x, weight = rng.standard_normal((19, 2, 9, 7)).astype(np.float32), np.zeros((7, 2, 3, 4))
    dy = rng.standard_normal((19, 7, 9, 6)).astype(np.float32)
    x[17, 1, 4, 6] = bad  # in the last part of 8 images
    _, dweight, dbias = reference.conv2d_backward(dy, x, None, weight.astype(np.float32), 1, 1, 1, 1, False)
    for threshold in (0, 2**62):
        monkeypatch.setattr(cpu.loops, "PARALLEL_MIN_ELEMENTS", threshold)
        with np.errstate(invalid="ignore"):
            ours, ours_b = cpu.conv2d_weight_gradient_shifted(dy, x, weight.shape, 1, 1)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(dweight))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(dweight))
        assert not np.isfinite(ours).all()
        finite = np.isfinite(dweight)
        np.testing.assert_allclose(ours[finite], dweight[finite], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ours_b, dbias, rtol=1e-5)


def test_the_tiles_route_keeps_the_references_nan_and_inf_pattern():
    """An inf in x sends dW to the patch matrix (a zero of the wide dy times inf would be NaN
    where the reference has none); an inf or NaN in dy reaches the same entries as in the reference."""
    rng = np.random.default_rng(6)
    for where in ("x", "dy"):
        x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
        weight = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
        dy = rng.standard_normal((3, 6, 8, 8)).astype(np.float32)
        if where == "x":
            x[0, 0, 3, 0] = np.inf
        else:
            dy[0, 0, 0, 0], dy[1, 2, 3, 3] = np.inf, np.nan
        assert cpu.conv2d_route(x.shape, weight.shape, 1, 1, 1, 1) == "tiles"
        with np.errstate(invalid="ignore"):
            _, ours, _ = cpu.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, False)
            _, theirs, _ = reference.conv2d_backward(dy, x, None, weight, 1, 1, 1, 1, False)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
        assert np.isnan(ours).any() or np.isinf(ours).any()
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-4, atol=1e-4)


def test_a_conv_layer_hands_its_patch_matrix_to_the_backward_which_frees_it_before_dcols(monkeypatch):
    """The whole route's cols live in the layer's cache from forward to backward, and no longer:
    the backward takes them out and the kernel drops them after dW, before dcols (as large) is
    allocated; a forward for inference keeps none."""
    import weakref

    from minidl import backend
    from minidl.kernels import common
    from minidl.nn.layers import Conv2D

    _most_filters_for_tiles(monkeypatch, 0)
    rng = np.random.default_rng(7)
    layer = Conv2D(4, 3, padding=1)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    previous = backend.current()
    backend.use("numba")
    try:
        layer.forward(x, training=False)
        assert layer.cache[0]["cols"] is None
        layer.forward(x, training=True)
        kept = weakref.ref(layer.cache[0]["cols"])
        alive_at_dcols = []
        input_gradient = common.conv2d_input_gradient_by_col2im

        def spy(*args):
            alive_at_dcols.append(kept() is not None)
            return input_gradient(*args)

        monkeypatch.setattr(common, "conv2d_input_gradient_by_col2im", spy)
        layer.backward(np.ones((2, 4, 6, 5), np.float32))
    finally:
        backend.use(previous)
    assert alive_at_dcols == [False] and "cols" not in layer.cache[0]


@pytest.mark.parametrize("max_filters", [0, 64], ids=["whole batch", "tiles"])
def test_two_conv_layers_in_flight_each_backward_from_its_own_cache(max_filters, monkeypatch):
    """The same with layers: two Conv2D forwards, then their backwards in reverse order (a
    network's order), each layer's gradients those of the reference for its own input."""
    from minidl import backend
    from minidl.nn.layers import Conv2D

    _most_filters_for_tiles(monkeypatch, max_filters)
    rng = np.random.default_rng(8)
    x1, x2 = rng.standard_normal((2, 3, 2, 7, 6))
    dy1, dy2 = rng.standard_normal((2, 3, 5, 7, 6))
    layers = [Conv2D(5, 3, padding=1) for _ in range(2)]
    previous = backend.current()
    backend.use("numba")
    try:
        for layer, x in zip(layers, (x1, x2)):
            layer.build((2, 7, 6), dtype=np.float64)
            layer.forward(x, training=True)
        dxs = [layers[1].backward(dy2), layers[0].backward(dy1)][::-1]
    finally:
        backend.use(previous)
    for layer, x, dy, dx in zip(layers, (x1, x2), (dy1, dy2), dxs):
        want_dx, want_dw, want_db = reference.conv2d_backward(
            dy, x, None, layer.params["W"], 1, 1, 1, 1, True
        )
        np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], want_dw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["b"], want_db, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threaded", [False, True], ids=["serial", "threads"])
def test_col2im_zeroes_its_output_itself_whatever_the_buffer_held(threaded):
    # col2im allocates dx with np.empty and its kernel zeroes each plane before adding: a
    # buffer full of NaN (what a reused allocation may hold) gives the reference's dx, bit for bit
    rng = np.random.default_rng(0)
    x_shape, (kh, kw, sh, sw, ph, pw) = (3, 2, 7, 6), (3, 2, 2, 1, 1, 0)
    OH, OW = (7 + 2 * ph - kh) // sh + 1, (6 + 2 * pw - kw) // sw + 1
    cols = rng.standard_normal((2 * kh * kw, 3 * OH * OW)).astype(np.float32)
    dx = np.full(x_shape, np.nan, dtype=np.float32)
    kernel = cpu.conv._col2im if threaded else cpu.conv._col2im.serial
    kernel(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx)
    np.testing.assert_array_equal(dx, reference.col2im(cols, x_shape, kh, kw, sh, sw, ph, pw))
    np.testing.assert_array_equal(cpu.col2im(cols, x_shape, kh, kw, sh, sw, ph, pw), dx)


def test_ranges_stay_inside_their_rows_and_blocks():
    """A kernel that reaches past the image (padding wider than the image, the kernel larger) has
    taps whose positions start past the output: ``_valid_range`` gives first <= stop <= count,
    and im2col's runs zero [0, lo) and [hi, OH W) of an image's block with lo <= hi inside it
    (a zero written past it lands in another image's block, another task's on threads)."""
    for H, kh, ph, W, stride in itertools.product(range(1, 4), range(1, 8), range(6), range(1, 4), (1, 2)):
        OH = (H + 2 * ph - kh) // stride + 1
        for i in range(kh):
            first, stop = cpu.conv._valid_range(max(OH, 0), i - ph, stride, H)
            assert 0 <= first <= stop <= max(OH, 0), (H, kh, ph, stride, i, first, stop)
            for shift_w in range(-3, 4):
                lo, hi = cpu.conv._flat_range(first, stop, W, (i - ph) * W + shift_w, H * W)
                assert first * W <= lo <= hi <= stop * W, (H, kh, ph, W, i, shift_w, lo, hi)


# stride 1 and OW == W (the one-long-run path of im2col and col2im): a 3x3 kernel on 5x4, a kernel
# wider and taller than the image (its shifts reach past the plane), a 1x3 kernel padded on one side
SAME_WIDTH = [((2, 3, 5, 4), (3, 3, 1, 1)), ((2, 2, 2, 2), (5, 5, 2, 2)), ((1, 2, 3, 6), (1, 3, 0, 1))]


@pytest.mark.parametrize("x_shape, geometry", SAME_WIDTH)
@pytest.mark.parametrize("threaded", [False, True], ids=["serial", "threads"])
def test_one_run_per_image_is_the_reference_bit_for_bit_and_adds_no_wrapped_column(
    x_shape, geometry, threaded
):
    """The runs cover columns that wrapped around from the neighbouring image row: im2col sets them
    to 0, col2im adds 0 for them. An inf in every cols entry that the reference does not add (all
    of a wrapped column's) must not reach dx. im2col writes nothing past the end of cols."""
    rng = np.random.default_rng(1)
    kh, kw, ph, pw = geometry
    N, C, H, W = x_shape
    OH, OW = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
    assert OW == W
    x = rng.standard_normal(x_shape).astype(np.float32)
    cols_and_after = np.full(C * kh * kw * N * OH * OW + 8, np.nan, np.float32)
    cols = cols_and_after[:-8].reshape(C * kh * kw, N * OH * OW)
    (cpu.conv._im2col if threaded else cpu.conv._im2col.serial)(x, kh, kw, 1, 1, ph, pw, OH, OW, cols)
    np.testing.assert_array_equal(cols, reference.im2col(x, kh, kw, 1, 1, ph, pw))
    assert np.isnan(cols_and_after[-8:]).all(), "im2col wrote past the end of cols"
    used = reference.im2col(np.ones(x_shape, np.float32), kh, kw, 1, 1, ph, pw) != 0  # what col2im adds
    grads = np.where(used, rng.standard_normal(cols.shape), np.inf).astype(np.float32)
    dx = np.empty(x_shape, np.float32)
    (cpu.conv._col2im if threaded else cpu.conv._col2im.serial)(grads, kh, kw, 1, 1, ph, pw, OH, OW, dx)
    want = reference.col2im(np.where(used, grads, 0), x_shape, kh, kw, 1, 1, ph, pw)
    np.testing.assert_array_equal(dx, want)


# the tiles' layout with the images innermost: stride 1 and 2, padding on either side, a kernel
# that reaches past the image, a 1x1 kernel; g = 3 images
IMAGES_INNERMOST = [
    ((3, 2, 6, 7), (3, 3, 1, 1, 1, 1)),
    ((3, 2, 6, 7), (5, 3, 1, 1, 0, 2)),
    ((3, 1, 9, 8), (3, 2, 2, 3, 1, 0)),
    ((3, 2, 3, 2), (5, 5, 1, 1, 3, 4)),
    ((3, 3, 4, 5), (1, 1, 1, 1, 0, 0)),
]


def _images_innermost(cols, g, P):
    """cols (K, g*P) with columns (m, p) -> (K, P*g) with columns (p, m)."""
    return np.ascontiguousarray(cols.reshape(-1, g, P).transpose(0, 2, 1).reshape(cols.shape[0], -1))


@pytest.mark.parametrize("x_shape, geometry", IMAGES_INNERMOST)
def test_the_tiles_images_innermost_are_the_references_im2col_and_col2im_reordered(x_shape, geometry):
    """``_interleave`` lays a tile's images side by side, ``_tap_runs`` copies each tap's rows from
    that plane: the reference's patch matrix with its columns reordered (m, p) -> (p, m), every
    element written (the buffers start as NaN). Folded back, the reference's col2im bit for bit
    (each pixel's taps added in the same order from 0), and the plane moved back to NCHW."""
    rng = np.random.default_rng(5)
    kh, kw, sh, sw, ph, pw = geometry
    g, C, H, W = x_shape
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    x = rng.standard_normal((g + 2, C, H, W)).astype(np.float32)  # the tile: images 1 to g
    plane = np.full((C, H, W * g), np.nan, np.float32)
    cols = np.full((C * kh * kw, OH * OW * g), np.nan, np.float32)
    cpu.conv._interleave_serial(x.reshape(g + 2, C, H * W), 1, plane.reshape(C, -1), True, np.zeros(C), True)
    np.testing.assert_array_equal(plane.reshape(C, H, W, g), x[1 : g + 1].transpose(1, 2, 3, 0))
    cpu.conv._tap_runs(plane, cols, kh, kw, sh, sw, ph, pw, OH, OW, False)
    want = reference.im2col(x[1 : g + 1], kh, kw, sh, sw, ph, pw)
    np.testing.assert_array_equal(cols, _images_innermost(want, g, OH * OW))
    dcols = rng.standard_normal((C * kh * kw, g * OH * OW)).astype(np.float32)
    plane[:] = np.nan
    cpu.conv._tap_runs(plane, _images_innermost(dcols, g, OH * OW), kh, kw, sh, sw, ph, pw, OH, OW, True)
    dx = np.full((g + 2, C, H, W), np.nan, np.float32)
    cpu.conv._interleave_serial(
        dx.reshape(g + 2, C, H * W), 1, plane.reshape(C, -1), False, np.zeros(C), True
    )
    np.testing.assert_array_equal(
        dx[1 : g + 1], reference.col2im(dcols, (g, C, H, W), kh, kw, sh, sw, ph, pw)
    )
    assert np.isnan(dx[0]).all() and np.isnan(dx[g + 1]).all(), "wrote outside the tile's images"
