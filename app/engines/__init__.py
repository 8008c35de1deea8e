"""Engines that render a nanoBragg command line and trace a pixel (Qt-free): the interface in `base`, the ENGINE
spellings in `spec`, the kinds in `torch_engine` and `process_engine`, `make_engine` in `registry`."""
