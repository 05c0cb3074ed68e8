"""model.summary(): rows per layer with the output shape and parameters, frozen layers, totals."""

import pytest

from minidl import Sequential
from minidl import layers as L
from minidl.training.summary import summary_table


def test_the_table_lists_each_layer_shape_and_count_and_the_totals():
    model = Sequential([L.Dense(4, name="hidden"), L.ReLU(), L.Dense(2)], input_shape=(3,))
    model.layers[2].trainable = False
    text = summary_table(model)
    lines = text.splitlines()
    assert lines[0] == 'Model: "sequential"'
    hidden = next(line for line in lines if line.startswith("hidden (Dense)"))
    assert "(None, 4)" in hidden and hidden.rstrip().endswith("16")  # 3*4 + 4
    frozen = next(line for line in lines if "[frozen]" in line)
    assert frozen.startswith("dense_2 (Dense) [frozen]") and frozen.rstrip().endswith("10")  # 4*2 + 2
    assert "relu_1 (ReLU)" in text
    assert lines[-3:] == ["Total params: 26", "Trainable params: 16", "Non-trainable params: 10"]


def test_thousands_are_grouped_and_columns_line_up():
    model = Sequential([L.Dense(1000)], input_shape=(2,), name="wide")
    lines = summary_table(model).splitlines()
    assert lines[0] == 'Model: "wide"' and "3,000" in summary_table(model)
    header, row = lines[2], lines[4]
    assert header.index("Output Shape") == row.index("(None, 1000)")


def test_an_unbuilt_model_says_how_to_build_it():
    with pytest.raises(
        ValueError, match=r"summary needs a built model: pass input_shape=\.\.\. to Sequential"
    ):
        summary_table(Sequential([L.Dense(2)]))
