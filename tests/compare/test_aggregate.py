"""Records -> table: means, sample spreads and ASD-vs-ground-truth gaps on handmade records."""

import math

import pytest

from usb_asd.compare.aggregate import (
    ASD,
    CLASSICAL,
    GROUND_TRUTH,
    Stat,
    format_stat,
    gaps,
    render_markdown,
    stat,
    summarise_classical,
    summarise_runs,
)


def _run(learner, labels, seed, acc, top1=None, nmi=0.7, ari=0.6, num_labels=None):
    return {"learner": learner, "labels": labels, "seed": seed, "acc": acc, "nmi": nmi, "ari": ari, "top1": top1,
            "num_labels": labels if num_labels is None else num_labels}


RUNS = [
    # top-1 of ASD runs is given on purpose: cluster ids are not class ids, the table must ignore it.
    _run("fixmatch", 0, 0, 0.80, top1=0.10), _run("fixmatch", 0, 1, 0.82, top1=0.11), _run("fixmatch", 0, 2, 0.84),
    _run("fixmatch", 40, 0, 0.90, top1=0.90), _run("fixmatch", 40, 1, 0.92, top1=0.92),
    _run("fixmatch", 40, 2, 0.94, top1=0.94),
    _run("fixmatch", "all", 0, 0.96, top1=0.95, num_labels=1390),
    _run("freematch", 0, 0, 0.70, nmi=None), _run("freematch", 0, 1, 0.74, nmi=None),
    _run("freematch", 40, 0, 0.81, top1=0.80), _run("freematch", 40, 1, 0.91, top1=0.90),
]
CLASSICAL_RUNS = [{"method": "kmeans", "seed": 0, "acc": 0.5, "nmi": 0.4, "ari": 0.3},
                  {"method": "kmeans", "seed": 1, "acc": 0.6, "nmi": 0.4, "ari": 0.3}]


def test_stat_is_mean_and_sample_std():
    s = stat([0.80, 0.82, 0.84])
    assert s.n == 3 and s.mean == pytest.approx(0.82) and s.std == pytest.approx(0.02)
    assert stat([0.5]) == Stat(mean=0.5, std=None, n=1)
    assert stat([None, 0.4, None, 0.6]).std == pytest.approx(math.sqrt(0.02))  # n - 1 in the denominator
    assert stat([None, None]) is None


def test_rows_follow_the_requested_order_and_count_runs():
    rows = summarise_runs(RUNS, learners=["freematch", "fixmatch"], labels=[40, 0, "all"])
    assert [(r.method, r.labels, r.n) for r in rows] == [
        ("freematch", 40, 2), ("freematch", 0, 2), ("fixmatch", 40, 3), ("fixmatch", 0, 3), ("fixmatch", "all", 1)]
    assert [r.kind for r in rows] == [GROUND_TRUTH, ASD, GROUND_TRUTH, ASD, GROUND_TRUTH]


def test_row_statistics_are_exact():
    rows = {(r.method, r.labels): r for r in summarise_runs(RUNS)}
    asd = rows[("fixmatch", 0)]
    assert asd.scores["acc"].mean == pytest.approx(0.82) and asd.scores["acc"].std == pytest.approx(0.02)
    assert asd.scores["nmi"].mean == pytest.approx(0.7) and asd.scores["nmi"].std == pytest.approx(0.0)
    assert asd.scores["top1"] is None
    gt = rows[("fixmatch", 40)]
    assert gt.scores["top1"].mean == pytest.approx(0.92) and gt.scores["top1"].std == pytest.approx(0.02)
    single = rows[("fixmatch", "all")]
    assert single.n == 1 and single.scores["top1"] == Stat(0.95, None, 1) and single.num_labels == 1390
    assert rows[("freematch", 0)].scores["nmi"] is None
    free = rows[("freematch", 0)].scores["acc"]
    assert free.mean == pytest.approx(0.72) and free.std == pytest.approx(math.sqrt(0.0008))


def test_gaps_are_asd_acc_minus_ground_truth_top1_in_points():
    found = {(g.learner, g.gt_labels): g.points for g in gaps(summarise_runs(RUNS))}
    assert found.keys() == {("fixmatch", 40), ("fixmatch", "all"), ("freematch", 40)}
    assert found[("fixmatch", 40)] == pytest.approx(-10.0)
    assert found[("fixmatch", "all")] == pytest.approx(-13.0)
    assert found[("freematch", 40)] == pytest.approx(-13.0)


def test_no_gap_without_both_cells():
    assert gaps(summarise_runs([r for r in RUNS if r["labels"] != 0])) == []


def test_classical_rows():
    (row,) = summarise_classical(CLASSICAL_RUNS)
    assert row.kind == CLASSICAL and row.n == 2 and row.scores["top1"] is None
    assert row.scores["acc"].mean == pytest.approx(0.55) and row.scores["acc"].std == pytest.approx(math.sqrt(0.005))


def test_format_stat():
    assert format_stat(Stat(0.82, 0.02, 3)) == "82.0 ± 2.0"
    assert format_stat(Stat(0.95, None, 1)) == "95.0 ± n/a"
    assert format_stat(None) == "—"


def test_markdown_table_and_gap_table():
    text = render_markdown("T", ["note"], summarise_runs(RUNS), summarise_classical(CLASSICAL_RUNS),
                           missing=["softmatch_asd_seed0"])
    lines = text.splitlines()
    assert lines[0] == "# T" and "note" in lines
    assert "| Method | Ground-truth labels | n | ACC | NMI | ARI | top-1 |" in lines
    assert "| fixmatch | 0 (ASD) | 3 | 82.0 ± 2.0 | 70.0 ± 0.0 | 60.0 ± 0.0 | — |" in lines
    assert "| fixmatch | 40 | 3 | 92.0 ± 2.0 | 70.0 ± 0.0 | 60.0 ± 0.0 | 92.0 ± 2.0 |" in lines
    assert "| fixmatch | all (1390) | 1 | 96.0 ± n/a | 70.0 ± n/a | 60.0 ± n/a | 95.0 ± n/a |" in lines
    assert "| freematch | 0 (ASD) | 2 | 72.0 ± 2.8 | — | 60.0 ± 0.0 | — |" in lines
    assert "| kmeans | 0 (pixels) | 2 | 55.0 ± 7.1 | 40.0 ± 0.0 | 30.0 ± 0.0 | — |" in lines
    assert "| Learner | ASD ACC | vs 40 labels: gap (top-1) | vs all labels: gap (top-1) |" in lines
    assert "| fixmatch | 82.0 ± 2.0 | -10.0 (92.0) | -13.0 (95.0) |" in lines
    assert "| freematch | 72.0 ± 2.8 | -13.0 (85.0) | n/a |" in lines
    assert "Not finished (1 cells): softmatch_asd_seed0" in lines
