"""The workbench's widgets: file browser, queue, transcript pane, errors & usage, status bar."""
