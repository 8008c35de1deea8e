"""Entry points: the nbparity command and its subcommands, the benchmarks, the Qt pre-check."""
