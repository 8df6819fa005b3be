"""A background job returns its callable's value, waits when asked early, and re-raises its error."""

import threading

import pytest

from usb_asd.asd.background import BackgroundJob, FinishedJob


def test_result_waits_for_a_running_job_and_returns_its_value():
    release = threading.Event()
    job = BackgroundJob(lambda: (release.wait(5), 42)[1])
    assert not job.done  # blocked on the event: still running
    release.set()
    assert job.result() == 42 and job.done
    assert job.result() == 42  # asking again gives the same value


def test_an_error_in_the_worker_is_raised_where_the_result_is_asked_for():
    def fail():
        raise ValueError("fit failed")

    job = BackgroundJob(fail)
    with pytest.raises(ValueError, match="fit failed"):
        job.result()


def test_a_finished_job_is_done_and_returns_its_value():
    job = FinishedJob({"a": 1})
    assert job.done and job.result() == {"a": 1}
