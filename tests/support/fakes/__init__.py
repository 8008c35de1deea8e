"""Fake external engines for the tests: a PyTorch port speaking the spec §11.3 trace dialect, and faulty binaries."""
