"""The provenance and atomic-write helpers of :mod:`usb_asd.core`, under the name benchmarks and commands import."""

from .core.atomic_io import write_atomic, write_figure_atomic, write_json_atomic, write_text_atomic  # noqa: F401
from .core.provenance import git_commit, machine_info  # noqa: F401
