"""Qt plumbing without widgets: the run model, background workers, settings, the exception hook."""
