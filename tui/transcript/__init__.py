"""Finished transcripts: the result model, cues, export formats, trust checks and cost."""
