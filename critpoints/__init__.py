"""critpoints: critical points of small neural-network loss landscapes.

Subpackages are imported lazily so that ``import critpoints`` stays fast:

- :mod:`critpoints.tms`     the ReLU Toy Model of Superposition potential (high-sparsity limit)
- :mod:`critpoints.linear`  the linear autoencoder (Baldi–Hornik)
- :mod:`critpoints.catalog` the catalog of critical points: its document and the ``Catalog`` record
- :mod:`critpoints.families` the flat families of a catalog's entries, read back and linked to it
- :mod:`critpoints.documents` every JSON output: schema names, versions, validation, migration
- :mod:`critpoints.store`   the files: reading, writing (atomically), the shipped catalogs
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["__version__", "catalog", "documents", "families", "linear", "store", "tms"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"critpoints.{name}")
    raise AttributeError(f"module 'critpoints' has no attribute {name!r}")
