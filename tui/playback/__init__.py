"""Listening to a recording from any point: ffmpeg decodes it to PCM (``atempo`` for speed,
pitch kept) and a sink plays it — the sound card through ``sounddevice`` (the ``audio`` extra),
or a null sink that consumes samples at real-time pace. No Textual here."""
