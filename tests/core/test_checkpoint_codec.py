"""Plugin state survives torch.save / torch.load(weights_only=True) exactly."""

import io
import random

import numpy as np
import torch

from usb_asd.core.checkpoint_codec import decode, encode


def test_round_trip_through_weights_only_load():
    state = {
        "perm": np.random.default_rng(0).permutation(7),
        "bank": np.array([[1.5, -2.0]], dtype=np.float32),
        "mask": np.array([True, False]),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "bit_gen": np.random.default_rng(3).bit_generator.state,
        "scalar": np.int64(4),
        "nothing": None,
        "t": torch.arange(3),
    }
    buffer = io.BytesIO()
    torch.save({"x": encode(state)}, buffer)
    buffer.seek(0)
    back = decode(torch.load(buffer, weights_only=True)["x"])
    assert np.array_equal(back["perm"], state["perm"]) and back["perm"].dtype == state["perm"].dtype
    assert back["bank"].dtype == np.float32 and back["bank"].shape == (1, 2)
    assert back["mask"].dtype == bool
    np.random.set_state(back["numpy_rng"])
    a = np.random.rand()
    np.random.set_state(state["numpy_rng"])
    assert a == np.random.rand()
    random.setstate(back["python_rng"])
    assert back["scalar"] == 4 and back["nothing"] is None and torch.equal(back["t"], state["t"])
    assert np.random.default_rng().bit_generator.__class__(0).state.keys() == back["bit_gen"].keys()
