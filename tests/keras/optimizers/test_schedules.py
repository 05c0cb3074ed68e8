"""Learning-rate schedules: each formula at chosen steps, staircases, Keras's serialized form,
and the errors a bad argument or an unknown class gives."""

import math

import pytest
from minidl_keras.optimizers import schedules as S


def test_exponential_decay_smooth_and_staircase():
    smooth = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    stairs = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert (
        smooth(0) == 0.1 and smooth(10) == pytest.approx(0.05) and smooth(5) == pytest.approx(0.1 * 0.5**0.5)
    )
    assert stairs(9) == 0.1 and stairs(10) == pytest.approx(0.05) and stairs(25) == pytest.approx(0.025)


def test_inverse_time_decay():
    schedule = S.InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5)
    assert schedule(4) == pytest.approx(1 / (1 + 0.5 * 2))
    assert S.InverseTimeDecay(1.0, 2, 0.5, staircase=True)(3) == pytest.approx(1 / 1.5)


def test_piecewise_constant_switches_after_each_boundary():
    schedule = S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 10, 11, 20, 21, 1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    assert schedule.name == "PiecewiseConstant"
    with pytest.raises(ValueError, match="one value more than boundaries, got 2 boundaries and 2 values"):
        S.PiecewiseConstantDecay([10, 20], [1.0, 0.5])


def test_cosine_decay_goes_down_to_alpha_and_stays():
    schedule = S.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(50) == pytest.approx(0.9 * 0.5 * (1 + math.cos(math.pi / 2)) + 0.1)
    assert schedule(100) == pytest.approx(0.1) == schedule(500)


@pytest.mark.parametrize("bad", [0, -1.0, True, "0.1"])
def test_a_rate_or_step_count_that_is_not_positive_is_refused(bad):
    with pytest.raises(
        ValueError, match=f"ExponentialDecay initial_learning_rate must be a positive number, got {bad!r}"
    ):
        S.ExponentialDecay(bad, 10, 0.5)


def test_serialized_as_keras_and_made_again():
    schedule = S.CosineDecay(0.5, 20, alpha=0.2)
    spec = S.serialize(schedule)
    assert spec["class_name"] == "CosineDecay" and spec["module"] == "keras.optimizers.schedules"
    again = S.deserialize(spec)
    assert type(again) is S.CosineDecay and again.get_config() == schedule.get_config()
    assert (
        S.from_saved(
            {
                "class": "ExponentialDecay",
                "config": {"initial_learning_rate": 1, "decay_steps": 2, "decay_rate": 0.5},
            }
        )(2)
        == 0.5
    )
    with pytest.raises(ValueError, match=r"unknown learning-rate schedule 'Warmup' \(known: \['CosineDecay'"):
        S.from_saved({"class": "Warmup"})
    assert (
        repr(S.PiecewiseConstantDecay([1], [2, 3]))
        == "PiecewiseConstantDecay(boundaries=[1], values=[2, 3], name='PiecewiseConstant')"
    )
