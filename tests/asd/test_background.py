"""A background job returns its function's value, waits when asked early, and re-raises its error."""

import math
import time

import pytest

from usb_asd.asd.background import BackgroundJob, FinishedJob, shutdown_worker


def test_result_waits_for_a_running_job_and_returns_its_value():
    job = BackgroundJob(time.sleep, 0.5)
    assert not job.done  # still sleeping in the worker
    assert job.result() is None and job.done
    assert BackgroundJob(pow, 6, 2).result() == 36  # the worker is reused


def test_an_error_in_the_worker_is_raised_where_the_result_is_asked_for():
    job = BackgroundJob(math.sqrt, -1.0)
    with pytest.raises(ValueError, match="math domain error"):
        job.result()
    shutdown_worker()
    assert BackgroundJob(pow, 2, 10).result() == 1024  # a new worker after a shutdown


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_both_kinds_of_worker_compute_the_same(kind):
    assert BackgroundJob(pow, 3, 4, kind=kind).result() == 81
    with pytest.raises(ValueError, match="worker kind"):
        BackgroundJob(pow, 3, 4, kind="gpu")


def test_a_finished_job_is_done_and_returns_its_value():
    job = FinishedJob({"a": 1})
    assert job.done and job.result() == {"a": 1}
