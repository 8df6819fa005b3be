"""What a clustering run leaves for its user: per-image assignments, a picture of the clusters.

Each module knows nothing of USB: :mod:`.assignments` turns logits into rows
and a CSV, :mod:`.cluster_figure` draws the clusters; :mod:`.clustering_run`
is the thin USB-facing mixin that calls them at the end of a run.
"""
