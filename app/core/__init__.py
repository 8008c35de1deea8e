"""Qt-free core: the session and its records, options, comparison maths, display scaling and colour maps, phi
ticks, image loading, auto-trace, predictions, line profiles, known cases, the shared command-line pieces."""
