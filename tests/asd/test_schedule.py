"""When re-clusterings are due and when the first map takes effect (usb_asd.asd.schedule)."""

import pytest

from usb_asd.asd.schedule import first_map_iteration, recluster_due


def test_a_reclustering_is_due_on_the_period_from_the_warm_up_on():
    due = [t for t in range(1, 301) if recluster_due(t, warmup_iter=120, cluster_iter=50)]
    assert due == [150, 200, 250, 300]
    assert [t for t in range(1, 7) if recluster_due(t, 0, 2)] == [2, 4, 6]


@pytest.mark.parametrize("warmup, period, lag, expected", [
    (200, 50, 0, 200),   # digits' defaults: the warm-up ends on the period
    (120, 50, 0, 150),   # otherwise the next multiple of the period
    (120, 50, 7, 157),   # a background re-clustering installs its map lag steps later
    (0, 50, 0, 50),      # no warm-up: the first period (step counts start at 1)
    (0, 1, 0, 1),
])
def test_the_first_map_comes_at_the_first_due_step_plus_the_lag(warmup, period, lag, expected):
    assert first_map_iteration(warmup, period, lag) == expected


def test_the_first_map_is_the_first_due_step_the_hook_sees():
    for warmup, period in [(0, 3), (5, 3), (6, 3), (199, 50)]:
        first_due = next(t for t in range(1, 1000) if recluster_due(t, warmup, period))
        assert first_map_iteration(warmup, period) == first_due


def test_a_period_below_one_is_refused():
    with pytest.raises(ValueError, match="asd_cluster_iter"):
        first_map_iteration(10, 0)
