"""DDPM and DDIM (minidl/gallery/diffusion.py): the schedule, the closed-form forward process
against the chain it summarises, the step code, both denoisers' backward (the U-Net's in float64
on the reference kernels, for its input and every weight), and both samplers driven by an exact
denoiser for data whose posterior mean is known."""

import math

import numpy as np
import pytest

import minidl as mdl
from minidl.gallery import diffusion as D
from minidl.nn.gradcheck import numerical_gradient, rel_error


def test_linear_schedule_and_its_products():
    s = D.NoiseSchedule.linear(100)
    assert s.T == 100
    assert s.betas[0] == pytest.approx(1e-3) and s.betas[-1] == pytest.approx(0.2)
    np.testing.assert_allclose(s.alpha_bars, np.cumprod(1 - s.betas))
    assert np.all(np.diff(s.alpha_bars) < 0) and s.alpha_bars[-1] < 1e-4  # ends near pure noise
    assert s.snr(0) == pytest.approx(s.alpha_bars[0] / (1 - s.alpha_bars[0]))
    with pytest.raises(ValueError, match=r"betas \(T,\) in \(0, 1\)"):
        D.NoiseSchedule(np.array([0.1, 1.0]))


def test_q_sample_is_the_chain_in_closed_form():
    """Running x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps step by step from x0 gives the
    distribution N(sqrt(alpha_bar_t) x0, (1 - alpha_bar_t) I) that q_sample draws from."""
    s = D.NoiseSchedule.linear(20)
    rng = np.random.default_rng(0)
    x0 = np.full((40000, 1), 0.8)
    x = x0.copy()
    for t in range(12):
        x = np.sqrt(1 - s.betas[t]) * x + np.sqrt(s.betas[t]) * rng.standard_normal(x.shape)
    closed = D.q_sample(s, x0, np.full(len(x0), 11), rng.standard_normal(x0.shape))
    ab = s.alpha_bars[11]
    for sample in (x, closed):
        assert sample.mean() == pytest.approx(math.sqrt(ab) * 0.8, abs=0.01)
        assert sample.var() == pytest.approx(1 - ab, rel=0.03)
    exact = D.q_sample(s, np.ones((2, 3)), np.array([0, 5]), np.zeros((2, 3)))
    np.testing.assert_allclose(exact[1], np.sqrt(s.alpha_bars[5]))  # no noise: only the shrink


def test_q_sample_names_bad_shapes_and_steps():
    s = D.NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match=r"expected t \(2,\)"):
        D.q_sample(s, np.zeros((2, 3)), np.zeros(3, int), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"steps in \[0, 10\), got 0..10"):
        D.q_sample(s, np.zeros((2, 3)), np.array([0, 10]), np.zeros((2, 3)))


def test_timestep_embedding():
    e = D.timestep_embedding(np.array([0, 3]), dim=8)
    assert e.shape == (2, 8) and e.dtype == np.float32
    np.testing.assert_allclose(e[0], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(e[1, 0], np.sin(3.0), rtol=1e-6)  # the fastest frequency is 1
    np.testing.assert_allclose(e[1, 3], np.sin(3.0 * 10000 ** (-3 / 4)), rtol=1e-5)
    with pytest.raises(ValueError, match="even dim, got 7"):
        D.timestep_embedding(np.array([1]), dim=7)


def test_denoiser_backward_matches_finite_differences(rng):
    mdl.seed(0)
    den = D.MLPDenoiser(image_shape=(1, 2, 2), hidden=(5, 4), time_dim=4)
    for layer in den.layers:
        layer.astype(np.float64)
    x, t, target = rng.standard_normal((3, 1, 2, 2)), np.array([0, 4, 9]), rng.standard_normal((3, 1, 2, 2))

    def loss():
        return 0.5 * float(((den.forward(x, t) - target) ** 2).sum())

    den.forward(x, t, training=True)
    den.backward(den.forward(x, t, training=True) - target)
    for layer in den.layers:
        for key, param in layer.params.items():
            assert rel_error(layer.grads[key].copy(), numerical_gradient(loss, param)) < 1e-6, layer.label


@pytest.mark.parametrize(
    "image_shape, channels",
    [((2, 4, 4), (3,)), ((1, 6, 6), (2, 3)), ((2, 5, 7), (2, 3, 4))],  # 0, 1 and 2 scales; odd sizes
    ids=["one-scale", "two-scales", "three-scales-odd"],
)
def test_unet_denoiser_backward_matches_finite_differences(image_shape, channels, reference_kernels, rng):
    """dL/dx_t and every weight's gradient of the U-Net denoiser against central differences in
    float64: the time code's sum over pixels, the skip's fan-out and the odd sizes' extra row."""
    mdl.seed(0)
    den = D.UNetDenoiser(image_shape=image_shape, channels=channels, time_dim=4)
    for layer in den.layers:
        layer.astype(np.float64)
    x, t = rng.standard_normal((3, *image_shape)), np.array([0, 4, 9])
    target = rng.standard_normal((3, *image_shape))

    def loss():
        return 0.5 * float(((den.forward(x, t) - target) ** 2).sum())

    y = den.forward(x, t, training=True)
    assert y.shape == x.shape and y.dtype == np.float64
    dx = den.backward(y - target)
    assert rel_error(dx, numerical_gradient(loss, x)) < 1e-6
    checked = 0
    for layer in den.layers:
        for key, param in layer.params.items():
            assert rel_error(layer.grads[key].copy(), numerical_gradient(loss, param)) < 1e-6, layer.label
            checked += 1
    assert (
        checked == 3 * (2 * len(channels) - 1) + 2 * (len(channels) - 1) + 2
    )  # conv W b, time W; up W b; head


def test_unet_denoiser_shapes_and_refusals():
    mdl.seed(0)
    den = D.UNetDenoiser(image_shape=(1, 14, 14), channels=(4, 8, 16))
    assert [conv.filters for conv in den.conv] == [4, 8, 16, 8, 4]
    assert [up.output_padding for up in den.up] == [(1, 1), (0, 0)]  # 3 -> 7 gets its row back; 7 -> 14
    y = den.forward(np.zeros((2, 1, 14, 14), np.float32), np.array([3, 50]))
    assert y.shape == (2, 1, 14, 14) and y.dtype == np.float32
    x0, eps = den.x0_and_eps(D.NoiseSchedule.linear(100), np.ones((2, 1, 14, 14), np.float32), 10)
    assert x0.min() >= -1 and x0.max() <= 1 and eps.shape == (2, 1, 14, 14)
    with pytest.raises(ValueError, match="predict must be 'x0' or 'eps', got 'v'"):
        D.UNetDenoiser(predict="v")
    with pytest.raises(ValueError, match=r"H, W >= 8, got image_shape \(1, 4, 4\)"):
        D.UNetDenoiser(image_shape=(1, 4, 4), channels=(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected x_t \(N, 1, 14, 14\), got shape \(2, 1, 28, 28\)"):
        den.forward(np.zeros((2, 1, 28, 28), np.float32), 0)


def test_unet_denoiser_trains():
    mdl.seed(0)
    x = np.tile(np.linspace(-1, 1, 36, dtype=np.float32).reshape(1, 1, 6, 6), (64, 1, 1, 1))
    den = D.UNetDenoiser(image_shape=(1, 6, 6), channels=(4, 8))
    losses = D.DiffusionTrainer(den, D.NoiseSchedule.linear(20), mdl.optim.Adam(3e-3)).train(x, 200, 32)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


def test_denoiser_refuses_other_images_and_targets():
    with pytest.raises(ValueError, match="predict must be 'x0' or 'eps', got 'v'"):
        D.MLPDenoiser(predict="v")
    den = D.MLPDenoiser(image_shape=(1, 4, 4), hidden=(8,))
    with pytest.raises(ValueError, match=r"expected x_t \(N, 1, 4, 4\), got shape \(2, 16\)"):
        den.forward(np.zeros((2, 16), np.float32), 0)


def test_training_lowers_the_loss():
    mdl.seed(0)
    x = np.tile(np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4), (64, 1, 1, 1))
    trainer = D.DiffusionTrainer(
        D.MLPDenoiser(image_shape=(1, 4, 4), hidden=(32,)), D.NoiseSchedule.linear(20)
    )
    losses = trainer.train(x, steps=300, batch_size=32)
    assert np.mean(losses[-30:]) < 0.5 * np.mean(losses[:30])
    assert trainer.optimizer.lr == pytest.approx(1e-3)  # the decay leaves the optimizer as it was


class GaussianOracle:
    """The exact posterior mean E[x0 | x_t] for data x0 ~ N(m, s^2) per pixel: what a perfect
    x0-predicting denoiser returns."""

    predict, image_shape = "x0", (1, 2, 2)

    def __init__(self, m, s):
        self.m, self.s = m, s

    def x0_and_eps(self, schedule, x_t, t):
        ab = schedule.alpha_bars[t]
        gain = self.s**2 * math.sqrt(ab) / (ab * self.s**2 + 1 - ab)
        x0 = self.m + gain * (x_t - math.sqrt(ab) * self.m)
        return x0, (x_t - math.sqrt(ab) * x0) / math.sqrt(1 - ab)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samplers_with_an_exact_denoiser_reproduce_the_data(sampler):
    """With the exact posterior mean and all 1,000 steps, both samplers give back N(0.3, 0.2^2)
    (to the discretisation's few per cent, which shrinks as T grows)."""
    s, oracle = D.NoiseSchedule.linear(1000), GaussianOracle(m=0.3, s=0.2)
    mdl.seed(0)
    if sampler == "ddpm":
        x, _ = D.ddpm_sample(oracle, s, 4000)
    else:
        x = D.ddim_sample(oracle, s, 4000, steps=1000)
    assert x.shape == (4000, 1, 2, 2)
    assert x.mean() == pytest.approx(0.3, abs=0.01)
    assert x.std() == pytest.approx(0.2, rel=0.05)


def test_ddim_with_few_steps_shrinks_the_samples_toward_the_mean():
    """The cost of skipping steps with an exact denoiser: 50 DDIM steps give a spread about 10 %
    too small (the samples are pulled toward the data's mean: blurrier images)."""
    s, oracle = D.NoiseSchedule.linear(1000), GaussianOracle(m=0.3, s=0.2)
    mdl.seed(0)
    few = D.ddim_sample(oracle, s, 4000, steps=50).std()
    mdl.seed(0)
    many = D.ddim_sample(oracle, s, 4000, steps=1000).std()
    assert few < 0.92 * many


def test_one_data_point_is_reached_exactly():
    """Data that is one image: the exact denoiser always says x0 = that image, and both samplers'
    last step returns it (DDPM's last mean has weight 1 on x0_hat, DDIM's last alpha_bar is 1)."""
    s, oracle = D.NoiseSchedule.linear(30), GaussianOracle(m=0.5, s=0.0)
    mdl.seed(0)
    x, kept = D.ddpm_sample(oracle, s, 3, keep=(29, 10, -1))
    np.testing.assert_allclose(x, 0.5, atol=1e-6)
    assert sorted(kept) == [-1, 10, 29] and kept[29].std() > 0.5  # the start is pure noise
    np.testing.assert_allclose(D.ddim_sample(oracle, s, 3, steps=4), 0.5, atol=1e-6)


def test_ddim_timesteps():
    np.testing.assert_array_equal(D.ddim_timesteps(100, 5), [99, 74, 50, 25, 0])
    assert list(D.ddim_timesteps(10, 10)) == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="1 <= steps <= T = 10, got 11"):
        D.ddim_timesteps(10, 11)


def test_ddim_is_deterministic_given_its_start():
    mdl.seed(0)
    den = D.MLPDenoiser(image_shape=(1, 2, 2), hidden=(8,))
    start = np.random.default_rng(1).standard_normal((3, 1, 2, 2)).astype(np.float32)
    np.testing.assert_array_equal(
        D.ddim_sample(den, D.NoiseSchedule.linear(20), 3, 5, x=start.copy()),
        D.ddim_sample(den, D.NoiseSchedule.linear(20), 3, 5, x=start.copy()),
    )


@pytest.mark.parametrize("make", [D.MLPDenoiser, D.UNetDenoiser])
def test_class_code_and_guidance(make, rng):
    """With ``classes`` the code carries a one-hot class ("no class" last); guidance w gives
    out_y + w (out_y - out_none) and w = 0 the conditional output."""
    mdl.seed(0)
    net = make(
        image_shape=(1, 4, 4),
        time_dim=4,
        classes=3,
        **({"hidden": (8,)} if make is D.MLPDenoiser else {"channels": (2, 3)}),
    )
    x = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    code = net._code(x, 5, np.array([2, -1]))
    np.testing.assert_array_equal(code[:, 4:], [[0, 0, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(net._code(x, 5, None)[:, 4:], [[0, 0, 0, 1]] * 2)
    y = np.array([0, 2])
    out_y, out_none = net.forward(x, 9, y=y), net.forward(x, 9)
    assert not np.allclose(out_y, out_none)  # the class reaches the output
    s = D.NoiseSchedule.linear(20)
    x0, _ = net.x0_and_eps(s, x, 9, y, guidance=2.0)
    np.testing.assert_allclose(x0, np.clip(out_y + 2.0 * (out_y - out_none), -1, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.x0_and_eps(s, x, 9, y)[0], np.clip(out_y, -1, 1), rtol=1e-6)
    with pytest.raises(ValueError, match="classes 0..2, got 3"):
        net.forward(x, 9, y=np.array([3, 0]))


def test_condition_dropout_and_conditional_training():
    """The trainer drops the class with its probability, and a class-conditioned denoiser learns
    two classes apart: guided samples of each class sit near its mean."""
    mdl.seed(0)
    net = D.MLPDenoiser(image_shape=(1, 2, 2), hidden=(32, 32), time_dim=8, classes=2)
    seen = []
    forward = net.forward
    net.forward = lambda x, t, training=False, y=None: (seen.append(y), forward(x, t, training, y))[1]
    trainer = D.DiffusionTrainer(net, D.NoiseSchedule.linear(20), drop_condition=0.5)
    trainer.train_step(np.zeros((2000, 1, 2, 2), np.float32), np.ones(2000, int))
    assert 0.45 < np.mean(seen[-1] == -1) < 0.55 and set(np.unique(seen[-1])) == {-1, 1}
    net.forward = forward
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 512)
    x = (
        np.where(y == 0, -0.6, 0.6)[:, None, None, None] + 0.05 * rng.standard_normal((512, 1, 2, 2))
    ).astype(np.float32)
    D.DiffusionTrainer(net, D.NoiseSchedule.linear(20), drop_condition=0.2).train(x, 600, 64, y=y)
    want = np.array([0] * 50 + [1] * 50)
    samples = D.ddim_sample(net, D.NoiseSchedule.linear(20), 100, 10, y=want, guidance=1.0)
    means = samples.reshape(100, -1).mean(axis=1)
    assert np.mean((means > 0) == (want == 1)) > 0.95


def test_training_progress_prints_every_k_steps_and_changes_nothing(capsys):
    def run(progress):
        mdl.seed(0)
        x = np.tile(np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4), (64, 1, 1, 1))
        trainer = D.DiffusionTrainer(
            D.MLPDenoiser(image_shape=(1, 4, 4), hidden=(8,)), D.NoiseSchedule.linear(20)
        )
        return trainer.train(x, steps=25, batch_size=16, progress=progress)

    quiet = run(0)
    assert capsys.readouterr().out == ""
    loud = run(10)
    lines = capsys.readouterr().out.splitlines()
    assert loud == quiet  # the same losses: printing draws no random number
    assert [line.split(":")[0] for line in lines] == ["step 10/25", "step 20/25", "step 25/25"]
    assert lines[-1].startswith(f"step 25/25: loss {np.mean(quiet[20:]):.4f} (")
