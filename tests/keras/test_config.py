"""keras.config: the image data format this namespace's layers take, and floatx."""

import minidl_keras as keras
import pytest
from minidl_keras import config


@pytest.fixture(autouse=True)
def format_left_as_found():
    before = config.image_data_format()
    yield
    config.set_image_data_format(before)


def test_channels_last_by_default_and_switchable_for_new_layers():
    assert config.image_data_format() == "channels_last" and config.floatx() == "float32"
    config.set_image_data_format("channels_first")
    assert keras.config.image_data_format() == "channels_first"
    assert keras.backend.image_data_format() == "channels_first"


def test_an_unknown_format_names_both_layouts():
    with pytest.raises(
        ValueError, match=r"'channels_first' \(N, C, H, W\) or 'channels_last' \(N, H, W, C\), got 'nhwc'"
    ):
        config.set_image_data_format("nhwc")
    assert config.image_data_format() == "channels_last"
