"""Cost of each ASD stage at digits, CIFAR-10 and ImageNet-1k sizes, before and after issue 17.

    flock /tmp/usb_asd_bench.lock python benchmarks/asd_stage_costs.py \
        --out benchmarks/results/asd_stage_costs.json --docs docs/SCALE.md

Synthetic inputs with planted structure, the project's own classes, no
training: the per-step tracker update, one re-clustering (k-Medoids on the
transition similarity, ``spectral`` and ``linear``; cold = first fit, warm =
the next), one redraw's sampling (uniform, prototype) and OT alignment, and the
feature map's k-means, at

* digits: N = 1,437, k = 10, n_l = 40, 224 unlabelled images per step;
* CIFAR-10: N = 50,000, k = 10, n_l = 40, 448 per step;
* ImageNet-1k: N = 1,281,167, k = 1,000, n_l = 4,000, 448 per step.

Planted structure: instance class ``c`` belongs to block ``c % k``; 80 % of
recorded transitions stay in their block (the map's ARI against the blocks is
reported). Pool features: ``k`` Gaussian clusters in 512 dimensions, float32
(the pool forward's own cost is the GPU check's, ``benchmarks/gpu_check.py``;
here its output's size is reported).

"before" runs the same classes with issue 17's changes switched off (full
dense eigendecomposition and BUILD first fit at every size, Sinkhorn's absolute
threshold, no size refusals): main's code paths at 0081bd5. "after" is this
branch. Each stage runs in its own forked process under a time budget
(``--budget_s``) and an address-space limit (``--memory_gb``); one that exceeds
either is recorded as such, as is a size an option refuses
(:mod:`usb_asd.asd.scale`). Peak extra memory is the child's peak resident set
minus its resident set at the start of the stage.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

SIZES: Dict[str, Dict[str, int]] = {
    "digits": {"N": 1437, "k": 10, "n_l": 40, "batch": 224},
    "cifar10": {"N": 50_000, "k": 10, "n_l": 40, "batch": 448},
    "imagenet1k": {"N": 1_281_167, "k": 1000, "n_l": 4000, "batch": 448},
}
WINDOW = 50
FEATURE_DIM = 512


def set_variant(variant: str) -> None:
    """Switch issue 17's changes off ("before") or leave them on ("after"), in this process."""
    if variant == "after":
        return
    from usb_asd.asd import alignment, mapping

    mapping.DENSE_EIGEN_MAX_N = 10**12
    mapping.BUILD_MAX_N = 10**12
    alignment.relative_stop_threshold = lambda stop_thr, num_slots: float(stop_thr)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def planted_pairs(n_l: int, k: int, count: int, rng: np.random.Generator):
    """``count`` transitions a -> b between instance classes, 80 % within a's block (block = class % k)."""
    a = rng.integers(0, n_l, count)
    per_block = n_l // k
    inside = rng.random(count) < 0.8
    b = np.where(inside, rng.integers(0, per_block, count) * k + a % k, rng.integers(0, n_l, count))
    b = np.where(b == a, (a + k) % n_l, b)  # a move changes class
    return a, b


def planted_features(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 512)`` float32 features in ``k`` Gaussian clusters (image i in cluster i % k)."""
    centres = rng.normal(size=(k, FEATURE_DIM)).astype(np.float32)
    out = np.empty((n, FEATURE_DIM), dtype=np.float32)
    for start in range(0, n, 65536):  # chunks: no float64 temporary of the whole pool
        stop = min(n, start + 65536)
        out[start:stop] = centres[np.arange(start, stop) % k]
        out[start:stop] += 0.5 * rng.standard_normal((stop - start, FEATURE_DIM), dtype=np.float32)
    return out


# ---- stages: each returns a dict of figures (times in seconds) -------------------
def stage_tracker_update(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
    from usb_asd.asd.transitions import ClassTransitionTracker

    n, n_l, batch = size["N"], size["n_l"], size["batch"]
    tracker = ClassTransitionTracker(n, n_l, WINDOW)
    # Warm the bank and fill the window: each step a batch of images, half of them seen before.
    seen = rng.choice(n, size=min(n, batch * 20), replace=False)
    tracker.update(seen, rng.integers(0, n_l, seen.size))
    batches = [np.concatenate([rng.choice(seen, batch // 2, replace=False), rng.integers(0, n, batch - batch // 2)])
               for _ in range(WINDOW + 200)]
    preds = [rng.integers(0, n_l, batch) for _ in batches]
    for idx, pred in zip(batches[:WINDOW], preds[:WINDOW]):
        tracker.update(idx, pred)
    start = time.perf_counter()
    for idx, pred in zip(batches[WINDOW:], preds[WINDOW:]):
        tracker.update(idx, pred)
    per_step = (time.perf_counter() - start) / 200
    state_bytes = tracker.bank.nbytes + sum(p.nbytes + c.nbytes for p, c in tracker._ring)
    return {"seconds": per_step, "tracker_bytes": int(state_bytes)}


def _filled_tracker(size: Dict[str, int], rng: np.random.Generator):
    from usb_asd.asd.transitions import ClassTransitionTracker

    tracker = ClassTransitionTracker(size["N"], size["n_l"], WINDOW)
    for _ in range(WINDOW):
        tracker.record(*planted_pairs(size["n_l"], size["k"], size["batch"], rng))
    return tracker


def stage_recluster(distance: str) -> Callable[[Dict[str, int], np.random.Generator], Dict[str, Any]]:
    def run(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
        from sklearn.metrics import adjusted_rand_score

        from usb_asd.asd.mapping import InstanceClusterMapper

        tracker = _filled_tracker(size, rng)
        mapper = InstanceClusterMapper(size["k"], seed=0, distance=distance)
        start = time.perf_counter()
        labels = mapper.fit(tracker.similarity())
        cold = time.perf_counter() - start
        for _ in range(WINDOW // 2):  # the window moves on before the next re-clustering
            tracker.record(*planted_pairs(size["n_l"], size["k"], size["batch"], rng))
        start = time.perf_counter()
        labels = mapper.fit(tracker.similarity())
        warm = time.perf_counter() - start
        truth = np.arange(size["n_l"]) % size["k"]
        return {"seconds": warm, "cold_seconds": cold, "ari_to_planted": float(adjusted_rand_score(truth, labels))}

    return run


def stage_sample_uniform(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
    from usb_asd.asd.sampling import NonRepeatingSampler

    sampler = NonRepeatingSampler(size["N"], 0)
    start = time.perf_counter()
    sampler.draw(size["n_l"])
    first = time.perf_counter() - start
    start = time.perf_counter()
    sampler.draw(size["n_l"])
    return {"seconds": time.perf_counter() - start, "first_seconds": first}


def stage_sample_prototype(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
    from usb_asd.asd.sampling import PrototypeNeighbourSampler

    features = planted_features(size["N"], size["k"], rng)
    sampler = PrototypeNeighbourSampler(size["N"], 0)
    start = time.perf_counter()
    sampler.draw(size["n_l"], features)
    return {"seconds": time.perf_counter() - start, "features_bytes": int(features.nbytes)}


def stage_ot(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
    from usb_asd.asd.alignment import align_to_slots, instance_slot_cost

    n_l = size["n_l"]
    truth = rng.permutation(n_l)  # instance i belongs in slot truth[i]
    logits = rng.normal(size=(n_l, n_l))
    logits[np.arange(n_l), truth] += 4.0
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    start = time.perf_counter()
    slots = align_to_slots(instance_slot_cost(log_probs))
    return {"seconds": time.perf_counter() - start, "slots_recovered": float(np.mean(slots == truth))}


def stage_feature_kmeans(size: Dict[str, int], rng: np.random.Generator) -> Dict[str, Any]:
    from usb_asd.asd.feature_clusters import cluster_features

    features = planted_features(size["N"], size["k"], rng)
    start = time.perf_counter()
    labels = cluster_features("kmeans", features, size["k"], 0)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    cluster_features("kmeans", features, size["k"], 0, previous=labels)
    return {"seconds": time.perf_counter() - start, "cold_seconds": cold}


#: stage name -> (function, ASD setting whose size limit applies, or None)
STAGES: Dict[str, Any] = {
    "tracker_update (per step)": (stage_tracker_update, None),
    "recluster spectral": (stage_recluster("spectral"), {"kmedoids_distance": "spectral"}),
    "recluster linear": (stage_recluster("linear"), {"kmedoids_distance": "linear"}),
    "redraw: uniform sampling": (stage_sample_uniform, None),
    "redraw: prototype sampling": (stage_sample_prototype, {"sampler": "prototype"}),
    "redraw: OT alignment": (stage_ot, None),
    "recluster features (k-means)": (stage_feature_kmeans, {"mapping": "features"}),
}


def _refusal(size: Dict[str, int], setting: Optional[Dict[str, str]]) -> Optional[str]:
    """The message with which :func:`usb_asd.asd.scale.check_scale` refuses this size, if it does."""
    if setting is None:
        return None
    from usb_asd.asd.pipeline import ASDSettings
    from usb_asd.asd.scale import check_scale
    from usb_asd.errors import UserError

    try:
        check_scale(ASDSettings(num_clusters=size["k"], num_instances=size["n_l"], **setting), size["N"])
    except UserError as err:
        return str(err)
    return None


def _import_stages() -> None:
    import sklearn.metrics  # noqa: F401

    import usb_asd.asd.alignment  # noqa: F401
    import usb_asd.asd.feature_clusters  # noqa: F401
    import usb_asd.asd.mapping  # noqa: F401
    import usb_asd.asd.sampling  # noqa: F401
    import usb_asd.asd.transitions  # noqa: F401


def _child(name: str, size_name: str, variant: str, memory_gb: float, queue) -> None:
    try:
        if memory_gb > 0:
            limit = int(memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        set_variant(variant)
        _import_stages()  # module imports are not the stage's memory
        base = _rss_bytes()
        result = STAGES[name][0](SIZES[size_name], np.random.default_rng(0))
        result["peak_extra_bytes"] = max(0, _peak_rss_bytes() - base)
        result["status"] = "ok"
    except MemoryError:
        result = {"status": f"exceeded the memory budget ({memory_gb} GB address space)"}
    except Exception as err:  # recorded, not fatal: the other stages still run
        result = {"status": f"failed: {type(err).__name__}: {err}"}
    queue.put(result)


def run_stage(name: str, size_name: str, variant: str, budget_s: float, memory_gb: float) -> Dict[str, Any]:
    """One stage at one size in a forked child, bounded in time and memory."""
    if variant == "after":
        refused = _refusal(SIZES[size_name], STAGES[name][1])
        if refused is not None:
            return {"status": "refused", "message": refused}
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, size_name, variant, memory_gb, queue))
    start = time.perf_counter()
    proc.start()
    proc.join(budget_s)
    if proc.is_alive():
        proc.terminate()  # this process's own child, by its handle
        proc.join()
        return {"status": f"exceeded the time budget ({budget_s:g} s)"}
    wall = time.perf_counter() - start
    if queue.empty():
        return {"status": f"killed (exit code {proc.exitcode})"}
    result = queue.get()
    result["wall_s"] = wall
    return result


def _fmt_time(value: Optional[float]) -> str:
    if value is None:
        return ""
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.1f} s"


def _fmt_cell(entry: Dict[str, Any]) -> str:
    status = entry.get("status")
    if status == "refused":
        return "refused"
    if status != "ok":
        return status.split(" (")[0].replace("exceeded the ", "> ").replace(" budget", "")
    text = _fmt_time(entry.get("seconds"))
    if "cold_seconds" in entry:
        text += f" (first {_fmt_time(entry['cold_seconds'])})"
    mem = entry.get("peak_extra_bytes")
    if mem is not None and mem > 50 * 2**20:
        text += f", {mem / 2**30:.2f} GB"
    return text


def markdown_table(record: Dict[str, Any]) -> str:
    """docs/SCALE.md's table, generated from the JSON record."""
    sizes = record["sizes"]
    lines = [
        "| stage | " + " | ".join(f"{s} before | {s} after" for s in sizes) + " |",
        "|---|" + "---|---|" * len(sizes),
    ]
    for stage in record["stages"]:
        cells = []
        for size in sizes:
            for variant in ("before", "after"):
                cells.append(_fmt_cell(record["results"].get(variant, {}).get(size, {}).get(stage, {"status": "not run"})))
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/asd_stage_costs.json")
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--stages", default="", help="comma-separated stage names (default: all)")
    parser.add_argument("--budget_s", type=float, default=90.0, help="time budget of one stage at one size")
    parser.add_argument("--memory_gb", type=float, default=8.0, help="address-space limit of one stage")
    parser.add_argument("--docs", default="", help="also rewrite the table in this markdown file")
    args = parser.parse_args(argv)

    from usb_asd.results import git_commit, machine_info, write_json_atomic

    sizes = [s for s in args.sizes.split(",") if s]
    stages = [s for s in args.stages.split(",") if s] or list(STAGES)
    record: Dict[str, Any] = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "budget_s": args.budget_s,
        "memory_gb": args.memory_gb,
        "sizes": {s: SIZES[s] for s in sizes},
        "window": WINDOW,
        "stages": stages,
        "results": {},
    }
    for variant in [v for v in args.variants.split(",") if v]:
        for size in sizes:
            for stage in stages:
                entry = run_stage(stage, size, variant, args.budget_s, args.memory_gb)
                record["results"].setdefault(variant, {}).setdefault(size, {})[stage] = entry
                print(f"{variant:6s} {size:10s} {stage:32s} {_fmt_cell(entry)}", flush=True)
                write_json_atomic(args.out, record)  # partial results survive an interruption
    if args.docs:
        write_docs_table(args.docs, markdown_table(record))
    return 0


BEGIN, END = "<!-- stage-costs table: begin (generated) -->", "<!-- stage-costs table: end -->"


def write_docs_table(path: str, table: str) -> None:
    """Replace the generated table between the markers of ``path`` (appended when absent)."""
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    sys.exit(main())
