"""A given clustering is read in pool order, and each kind of bad file is refused with one clear message."""

import os

import numpy as np
import pytest

from usb_asd.asd.init_assignments import AssignmentsFileError, given_fingerprint, read_given_assignments
from usb_asd.errors import UserError
from usb_asd.outputs.assignments import SplitAssignments, write_assignments_csv

POOL = [str(i) for i in range(6)]  # an array data set's pool: images named by index
CLUSTERS = np.array([0, 1, 2, 0, 1, 2])


def _csv(path, text):
    path.write_text(text)
    return str(path)


def _rows(clusters=CLUSTERS, names=POOL, header="image,cluster"):
    return header + "\n" + "".join(f"{n},{c}\n" for n, c in zip(names, clusters))


def test_a_runs_own_assignments_csv_is_read_in_pool_order_from_its_pool_rows(tmp_path):
    """A run's assignments.csv (pool rows, then test rows with other ids) starts the next run."""
    order = np.array([3, 0, 5, 1, 4, 2])  # rows in any order
    pool = SplitAssignments("train", [POOL[i] for i in order], CLUSTERS[order],
                            np.linspace(0.5, 1.0, 6), np.full(6, -1))
    test = SplitAssignments("test", ["0", "1", "7"], np.array([2, 2, 2]), np.ones(3), np.array([0, 1, 2]))
    path = str(tmp_path / "assignments.csv")
    write_assignments_csv(path, [pool, test])
    given = read_given_assignments(path, POOL, 3)
    np.testing.assert_array_equal(given.clusters, CLUSTERS)
    assert given.clusters.dtype == np.int64
    np.testing.assert_allclose(given.confidence[order], np.linspace(0.5, 1.0, 6), atol=1e-6)


def test_image_paths_match_in_any_spelling_of_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pool = [os.path.join(str(tmp_path), "data", f"{i}.png") for i in range(6)]
    relative = [os.path.join(".", "data", "..", "data", f"{i}.png") for i in range(6)]
    given = read_given_assignments(_csv(tmp_path / "s.csv", _rows(names=relative)), pool, 3)
    np.testing.assert_array_equal(given.clusters, CLUSTERS)
    assert given.confidence is None  # no confidence column


def test_a_npy_holds_the_ids_in_pool_order(tmp_path):
    np.save(tmp_path / "ids.npy", CLUSTERS.astype(np.int32))
    given = read_given_assignments(str(tmp_path / "ids.npy"), POOL, 3)
    np.testing.assert_array_equal(given.clusters, CLUSTERS)
    assert given.clusters.dtype == np.int64 and given.confidence is None


def test_the_fingerprint_follows_the_ids(tmp_path):
    a = read_given_assignments(_csv(tmp_path / "a.csv", _rows()), POOL, 3)
    b = read_given_assignments(_csv(tmp_path / "b.csv", _rows(clusters=[0, 1, 2, 0, 2, 1])), POOL, 3)
    assert given_fingerprint(a)["digest"] != given_fingerprint(b)["digest"]
    assert given_fingerprint(a)["images"] == 6


# ---- one test per bad case: each an AssignmentsFileError (a UserError) naming the key and the file ----

def _refused(path, pool=POOL, k=3, key="asd_init_assignments"):
    with pytest.raises(AssignmentsFileError) as caught:
        read_given_assignments(str(path), pool, k, key)
    message = str(caught.value)
    assert isinstance(caught.value, UserError) and "\n" not in message
    assert message.startswith(f"{key}: {path}")
    return message


def test_images_in_the_file_that_are_not_in_the_pool_are_refused(tmp_path):
    path = _csv(tmp_path / "s.csv", _rows() + "17,0\n")
    assert "names 1 image(s) that are not in the training pool ('17')" in _refused(path)


def test_pool_images_missing_from_the_file_are_refused(tmp_path):
    path = _csv(tmp_path / "s.csv", _rows(clusters=CLUSTERS[:4], names=POOL[:4]))
    assert "lacks 2 of the 6 training pool images ('4', '5')" in _refused(path)


def test_cluster_ids_at_or_above_num_classes_are_refused(tmp_path):
    path = _csv(tmp_path / "s.csv", _rows(clusters=[0, 1, 2, 3, 1, 2]))
    assert "holds cluster id 3" in _refused(path) and "[0, num_classes = 3)" in _refused(path)
    negative = _csv(tmp_path / "n.csv", _rows(clusters=[0, 1, 2, -1, 1, 2]))
    assert "holds cluster id -1" in _refused(negative)


def test_fewer_distinct_clusters_than_num_classes_are_refused(tmp_path):
    path = _csv(tmp_path / "s.csv", _rows())
    assert "uses 3 distinct clusters but num_classes is 4" in _refused(path, k=4)


@pytest.mark.parametrize("text, expected", [
    ("name,group\n0,1\n", "no column 'image' or 'cluster'"),
    (_rows().replace("5,2\n", "5,two\n"), "image '5' has cluster 'two'; expected an integer"),
    (_rows() + "3,0\n", "lists image '3' twice"),
    ("image,cluster,confidence\n" + "".join(f"{i},{i % 3},\n" for i in range(6)), "has confidence ''"),
    ("split,image,cluster\n" + "".join(f"test,{i},{i % 3}\n" for i in range(6)), "holds no rows of split 'train'"),
    ("", "no column 'image' or 'cluster'"),
])
def test_a_malformed_csv_is_refused(tmp_path, text, expected):
    assert expected in _refused(_csv(tmp_path / "s.csv", text))


def test_a_csv_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))
    assert "is not a UTF-8 text CSV" in _refused(path)


def test_a_npy_of_the_wrong_length_is_refused(tmp_path):
    np.save(tmp_path / "ids.npy", CLUSTERS[:5])
    assert "holds 5 cluster ids but the training pool has 6 images" in _refused(tmp_path / "ids.npy")


@pytest.mark.parametrize("array, expected", [
    (CLUSTERS.astype(np.float64), "type float64"),
    (CLUSTERS.reshape(2, 3), "shape (2, 3)"),
])
def test_a_npy_that_is_not_a_vector_of_integers_is_refused(tmp_path, array, expected):
    np.save(tmp_path / "ids.npy", array)
    assert expected in _refused(tmp_path / "ids.npy")


def test_a_file_that_is_not_a_npy_is_refused(tmp_path):
    (tmp_path / "ids.npy").write_text("0,1,2\n")
    assert "cannot be read as a .npy array" in _refused(tmp_path / "ids.npy")


def test_a_missing_file_or_another_format_is_refused(tmp_path):
    assert "does not exist" in _refused(tmp_path / "none.csv")
    (tmp_path / "start.json").write_text("{}")
    assert "expected a .csv" in _refused(tmp_path / "start.json")


def test_messages_name_the_key_that_named_the_file(tmp_path):
    path = _csv(tmp_path / "s.csv", _rows())
    assert "uses 3 distinct clusters" in _refused(path, k=4, key="selflabel_assignments")
