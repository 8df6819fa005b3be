"""Compare USB learners with and without ground truth: one command, a table, figures.

``python -m usb_asd.compare --c config/compare_digits.yaml`` runs every cell
(learner x ground-truth label count x seed) of a grid as an ordinary training
run of the plugin, resumes what an earlier invocation left, and writes
``results.json``, ``results.md`` and PNG figures into the output folder.

Modules, by responsibility:

* :mod:`.grid`: the grid config, its cells, each cell's settings and on-disk state;
* :mod:`.recording`: what a cell saves beyond results.json (eval history, test predictions);
* :mod:`.execute`: running cells in this process or in worker subprocesses, with progress;
* :mod:`.cell`: the worker subprocess entry point (one cell per process);
* :mod:`.classical`: k-means / agglomerative / spectral on the same test split;
* :mod:`.aggregate`: records -> mean, spread and ASD-vs-ground-truth gap, as markdown;
* :mod:`.figures`: the PNG figures;
* :mod:`.report`: results.json, results.md and figures from finished cells (written atomically
  by :mod:`usb_asd.core.atomic_io`).
"""
