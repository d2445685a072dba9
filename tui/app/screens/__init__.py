"""Modal screens: help, settings, export, first-run key."""
