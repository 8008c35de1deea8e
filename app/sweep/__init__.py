"""Parity sweeps: a TOML matrix of nanoBragg command lines run on a Dask cluster, one report, one bundle per case.

`matrix` parses and expands the matrix file, `task` runs one case on a worker (both engines, comparison, probe
traces, the case's bundle), `runner` schedules the cases on dask.distributed, `report` writes CSV, markdown and
HTML, `cli` is `nbparity sweep`. Qt-free.
"""
