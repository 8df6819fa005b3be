"""benchmarks/da_table.py: paired-by-seed table of the domain-adaptation benchmark."""

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location("da_table", os.path.join(ROOT, "benchmarks", "da_table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_differences_use_seeds_common_to_every_cell(tmp_path):
    runs = []
    for setup, values in (("source_only", [0.2, 0.3, 0.9]), ("dann", [0.4, 0.6]), ("dann_supercm", [0.5, 0.5])):
        for seed, top1 in enumerate(values):
            runs.append({"config": f"config/da_{setup}_mnist5k_digits.yaml", "seed": seed, "top1": top1})
    (tmp_path / "da_mnist5k_digits.json").write_text(json.dumps({"runs": runs}))
    text = _module().table(str(tmp_path))
    row = [line for line in text.splitlines() if line.startswith("| mnist5k -> digits")][0]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1] == "0 1"  # seed 2 has no DANN run
    assert cells[2].startswith("25.0") and cells[3].startswith("50.0")
    assert cells[5] == "+25.0 (min +20.0, max +30.0)"
    assert cells[6] == "+0.0 (min -10.0, max +10.0)"
    assert "source-only: 0: 20.0, 1: 30.0, 2: 90.0" in text


def test_no_results_gives_none(tmp_path):
    assert _module().table(str(tmp_path)) is None


def test_fixmatch_cm_is_shown_over_the_paired_seeds_without_narrowing_them(tmp_path):
    runs = []
    for setup, values in (("source_only", [0.2, 0.3]), ("dann", [0.4, 0.6]), ("dann_supercm", [0.5, 0.5]),
                          ("supercm_fixmatch", [0.7])):
        for seed, top1 in enumerate(values):
            runs.append({"config": f"config/da_{setup}_digits_mnist5k.yaml", "seed": seed, "top1": top1})
    (tmp_path / "da_digits_mnist5k.json").write_text(json.dumps({"runs": runs}))
    text = _module().table(str(tmp_path))
    row = [line for line in text.splitlines() if line.startswith("| digits -> mnist5k")][0]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1] == "0 1"  # FixMatch + CM lacks seed 1, the pairing keeps it
    assert cells[7] == "70.0 ± 0.0 (seeds 0)"
    assert "FixMatch + CM: 0: 70.0" in text
