"""Widgets that show and ask: image panels, colour bars, inspector parts, editor, pickers, views of the run."""
