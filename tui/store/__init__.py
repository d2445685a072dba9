"""The job store: one SQLite file holding jobs, results and the watch ledger (``Store``)."""
