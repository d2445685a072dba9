"""What container a file is: magic bytes first, the extension only when the bytes say nothing."""

from __future__ import annotations

from pathlib import Path

from tui.audio.mpeg_headers import skip_id3v2

# The API takes these as they are; everything else goes through ffmpeg first.
NATIVE_TYPES = frozenset({"wav", "mp3", "ogg", "m4a"})

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".wave",
        ".mp3",
        ".mp2",
        ".mpa",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".mp4",
        ".m4b",
        ".aac",
        ".flac",
        ".webm",
        ".wma",
        ".mov",
        ".mkv",
        ".avi",
        ".amr",
        ".3gp",
        ".aiff",
        ".aif",
        ".pcm",
        ".caf",
        ".mka",
        ".wmv",
        ".m4v",
        ".ts",
        ".mpeg",
        ".mpg",
        ".ac3",
        ".spx",
    }
)

_EXT_TO_TYPE = {
    ".wav": "wav",
    ".wave": "wav",
    ".mp3": "mp3",
    ".mp2": "mp2",
    ".mpa": "mp2",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".m4a": "m4a",
    ".m4b": "m4a",
    ".mp4": "mp4",
    ".aac": "aac",
    ".flac": "flac",
    ".webm": "webm",
    ".mkv": "mkv",
    ".mka": "mkv",
    ".wma": "wma",
    ".wmv": "wma",
    ".mov": "mov",
    ".pcm": "pcm",
    ".amr": "amr",
    ".aiff": "aiff",
    ".aif": "aiff",
}


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def sniff_bytes(head: bytes) -> str | None:
    """The container named by the first bytes of a file, or None.

    An ID3v2 tag says nothing about what follows it (FLAC, ADTS AAC and MPEG audio all get
    one): ``sniff_format`` looks past it. Here, "ID3" alone still reads as MP3, the usual case.
    """
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"RF64") or head.startswith(b"BW64"):
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3"):
        return "mp3"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "m4a"
        if brand.startswith(b"qt"):
            return "mov"
        return "mp4"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"0&\xb2u\x8ef\xcf\x11"):
        return "wma"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"#!AMR"):
        return "amr"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"  # ADTS
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        # MPEG audio frame sync: only Layer III is MP3; Layer I/II is "mp2".
        return "mp3" if (head[1] >> 1) & 3 == 1 else "mp2"
    return None


def sniff_format(path: Path) -> str | None:
    """Container of ``path``: magic bytes, then extension; None if neither says anything."""
    try:
        with path.open("rb") as fh:

            def read_at(offset: int, n: int) -> bytes:
                fh.seek(offset)
                return fh.read(n)

            head = read_at(0, 64)
            if head.startswith(b"ID3"):
                start = skip_id3v2(read_at)
                after = read_at(start, 4096).lstrip(b"\0")  # tags are often zero-padded
                head = after[:64] or head
    except OSError:
        return None
    found = sniff_bytes(head)
    if found:
        return found
    return _EXT_TO_TYPE.get(path.suffix.lower())
