"""When re-clusterings are due and when cluster labels switch on at the latest (usb_asd.asd.schedule)."""

import pytest

from usb_asd.asd.schedule import first_map_iteration, latest_switch_on, recluster_due


def test_a_reclustering_is_due_on_the_period_from_the_start():
    assert [t for t in range(1, 201) if recluster_due(t, cluster_iter=50)] == [50, 100, 150, 200]
    assert [t for t in range(1, 7) if recluster_due(t, 2)] == [2, 4, 6]


@pytest.mark.parametrize("period, lag, expected", [(50, 0, 50), (50, 7, 57), (1, 0, 1)])
def test_the_first_map_comes_at_the_first_period_plus_the_lag(period, lag, expected):
    assert first_map_iteration(period, lag) == expected
    assert next(t for t in range(1, 1000) if recluster_due(t, period)) + lag == expected


@pytest.mark.parametrize("warmup, period, lag, expected", [
    (1000, 50, 0, 1000),  # the gate's cap
    (20, 50, 0, 50),      # a cap before the first map: the first map
    (40, 50, 7, 57),
])
def test_labels_are_on_at_the_latest_at_the_cap_or_the_first_map(warmup, period, lag, expected):
    assert latest_switch_on(warmup, period, lag) == expected


def test_a_period_below_one_is_refused():
    with pytest.raises(ValueError, match="asd_cluster_iter"):
        first_map_iteration(0)
