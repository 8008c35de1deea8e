"""Snapshot bundles: writer, reader, manifest checks, report and figures (Qt-free, or Qt offscreen for pictures)."""
