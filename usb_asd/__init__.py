"""usb-asd: label-free clustering and clustering regularisers for USB learners.

Importing the package applies the import-time fixes semilearn 0.3.2 needs on
current releases (:mod:`usb_asd.compat`); ``usb_asd.plugin.register()`` adds the
plugin's nets to USB's registry.
"""

from .compat import prepare_imports as _prepare_imports

_prepare_imports()

__version__ = "0.1.0"
