"""The engine: one object that runs jobs, watches folders, cross-checks and delivers outputs.

Front ends (the workbench, the watch daemon, the CLI) build an ``Engine`` and call its verbs;
they render the events it publishes."""
