"""SGD dynamics on the TMS: vectorised training runs, plateaus, and the transition graph (SPEC §4).

Pure mathematics: no file I/O, no printing (the graph files live in
:mod:`critpoints.dynamics.graph_io`, the command in :mod:`critpoints.cli.transitions`).
"""
