"""The landscape of a catalog: steepest-descent paths from its saddles, the graph of where they
lead, minimum-to-minimum pathways and the disconnectivity tree.

Pure mathematics: no file I/O, no printing. :mod:`critpoints.landscape_store` writes and reads
the landscape files, :mod:`critpoints.cli.landscape` is the command.
"""

from critpoints.landscape.descent import DescentPaths, steepest_descent
from critpoints.landscape.graph import (
    Basin,
    DisconnectivityTree,
    MinimumPathway,
    disconnectivity,
    landscape_graph,
    minima_graph,
    minimum_pathways,
    unstable_directions,
)
from critpoints.landscape.valleys import DescentValleys, descent_valleys

__all__ = [
    "Basin",
    "DescentPaths",
    "DescentValleys",
    "DisconnectivityTree",
    "MinimumPathway",
    "descent_valleys",
    "disconnectivity",
    "landscape_graph",
    "minima_graph",
    "minimum_pathways",
    "steepest_descent",
    "unstable_directions",
]
