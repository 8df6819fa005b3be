"""benchmarks/boost_from_start.py: each method is a run_configs variant that reads the start."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

from boost_from_start import BOOST_METHODS  # noqa: E402
from run_configs import parse_variant  # noqa: E402


@pytest.mark.parametrize("method,keys", [
    ("asd", {"asd_init_assignments": "/s/start.csv"}),
    ("asd_handover", {"asd_init_assignments": "/s/start.csv", "asd_cold_refit": "handover"}),
    ("selflabel", {"adaptor": "selflabel", "selflabel_assignments": "/s/start.csv"}),
])
def test_each_method_names_its_variant_and_reads_the_start(method, keys):
    assert parse_variant(BOOST_METHODS[method].format(start="/s/start.csv")) == (method, keys)
