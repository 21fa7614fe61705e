"""SGD dynamics on the TMS: vectorised training runs, plateaus, and the transition graph (SPEC §4).

Pure mathematics: no file I/O, no printing. :mod:`critpoints.dynamics.graph_format` turns the
transition graph into documents and GraphML text; the files are
:mod:`critpoints.transition_store`'s, the command :mod:`critpoints.cli.transitions`.
"""
