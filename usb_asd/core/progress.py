"""A console progress bar with ETA over training iterations, beside USB's periodic log lines.

On stderr, rank 0 only; off when stderr is not a terminal (logs, CI, pipes: tqdm's
``disable=None``) or with ``progress_bar: False``.
"""

from __future__ import annotations

import sys

from semilearn.core.hooks import Hook
from tqdm.auto import tqdm


class ProgressBarHook(Hook):
    """Advances a tqdm bar by one per training iteration, from the resumed iteration on."""

    def before_run(self, algorithm) -> None:
        main = not algorithm.distributed or algorithm.rank % algorithm.ngpus_per_node == 0
        wanted = bool(getattr(algorithm.args, "progress_bar", True)) and main
        self.bar = tqdm(total=int(algorithm.num_train_iter), initial=min(int(algorithm.it), int(algorithm.num_train_iter)),
                        desc="train", unit="it", file=sys.stderr, dynamic_ncols=True, leave=True,
                        disable=None if wanted else True)

    def after_train_step(self, algorithm) -> None:
        self.bar.update(1)
        loss = algorithm.log_dict.get("train/total_loss") if isinstance(algorithm.log_dict, dict) else None
        if loss is not None and self.bar.n % 10 == 0:
            self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)

    def after_run(self, algorithm) -> None:
        self.bar.close()
