"""ramp_up(it, warmup) = exp(-5 (1 - min(it / warmup, 1))^2)."""

import math

import pytest

from usb_asd.supercm import ramp_up


def test_values_along_the_ramp():
    assert ramp_up(0, 100) == pytest.approx(math.exp(-5.0), rel=1e-15)
    assert ramp_up(50, 100) == pytest.approx(math.exp(-1.25), rel=1e-15)
    assert ramp_up(25, 100) == pytest.approx(math.exp(-5.0 * 0.75 ** 2), rel=1e-15)
    assert ramp_up(100, 100) == 1.0
    assert ramp_up(1000, 100) == 1.0


def test_monotone_non_decreasing():
    values = [ramp_up(i, 37) for i in range(60)]
    assert all(values[i] < values[i + 1] for i in range(37))
    assert all(v == 1.0 for v in values[37:])


def test_zero_warmup_means_no_ramp():
    assert ramp_up(0, 0) == 1.0
    assert ramp_up(10, 0) == 1.0


@pytest.mark.parametrize("it, warmup, name", [(-1, 10, "it"), (0, -5, "warmup"), (float("nan"), 10, "it")])
def test_bad_arguments(it, warmup, name):
    with pytest.raises(ValueError, match=name):
        ramp_up(it, warmup)
