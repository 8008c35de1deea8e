"""The main window: composition, actions, layout, what it remembers, image files and snapshot export, its life."""
