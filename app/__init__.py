"""nbparity's program, in layers: each folder below imports only the folders before it in `LAYERS` (and itself).

engines (the engine interface) < core (Qt-free session, records, maths) < bundle (snapshot files) < nb_compare
< sweep < qt (run model, workers, settings) < widgets < window < cli (entry points). tests/core/test_import_graph.py
holds the code to this, type-only imports included.
"""

LAYERS: tuple[str, ...] = ("engines", "core", "bundle", "nb_compare", "sweep", "qt", "widgets", "window", "cli")
# Layers whose modules never import Qt (PySide6, pyqtgraph); bundle may, offscreen, for its pictures only.
QT_FREE_LAYERS: tuple[str, ...] = ("engines", "core", "nb_compare", "sweep")
