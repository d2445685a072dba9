"""One file end to end: probe, prepare (transcode / split), transcribe the parts, stitch, check."""
