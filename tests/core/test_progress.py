"""The progress bar counts the iterations, starts from a resumed one, and can be switched off."""

import argparse
import io

from usb_asd.core.progress import ProgressBarHook


class _Run:
    def __init__(self, it=0, total=5, progress_bar=True):
        self.args = argparse.Namespace(progress_bar=progress_bar)
        self.distributed, self.rank, self.ngpus_per_node = False, 0, 1
        self.num_train_iter, self.it, self.log_dict = total, it, {"train/total_loss": 0.5}


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _drive(run, monkeypatch, stream_class=_Terminal):
    stream = stream_class()
    monkeypatch.setattr("usb_asd.core.progress.sys.stderr", stream)
    hook = ProgressBarHook()
    hook.before_run(run)
    bar = hook.bar
    for _ in range(run.num_train_iter - run.it):
        hook.after_train_step(run)
    count, disabled = bar.n, bar.disable
    hook.after_run(run)
    return count, disabled


def test_counts_iterations_from_the_resumed_one(monkeypatch):
    count, disabled = _drive(_Run(it=2, total=5), monkeypatch)
    assert count == 5 and not disabled


def test_off_by_key_and_when_not_a_terminal(monkeypatch):
    assert _drive(_Run(progress_bar=False), monkeypatch)[1]
    assert _drive(_Run(), monkeypatch, io.StringIO)[1]  # not a terminal (a log file, a pipe)
