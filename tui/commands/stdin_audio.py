"""`stepfun-asr transcribe -`: audio from standard input.

The pipeline reads files by path (it sizes, probes, re-reads and splits them), so piped audio is
copied once, in chunks, into a private temporary folder. When stdin is already a regular file
(``< talk.wav``) nothing is copied: a link in that folder points at the file. Either way the
file's name there is ``stdin`` (or ``--name``) plus the extension the first bytes call for, so
outputs come out as ``stdin.srt`` — in the current folder unless ``--out-dir`` says otherwise.
``/dev/stdin`` given as a path is the same thing as ``-``.
"""

from __future__ import annotations

import argparse
import functools
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tui.cli_common import fail_usage

if TYPE_CHECKING:
    import tempfile

STDIN_ARGS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
DEFAULT_NAME = "stdin"
CHUNK = 1 << 20
_EXTENSION = {
    "wav": ".wav",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "m4a": ".m4a",
    "mp4": ".mp4",
    "mov": ".mov",
    "flac": ".flac",
    "webm": ".webm",
    "mkv": ".mkv",
    "wma": ".wma",
    "aiff": ".aiff",
    "amr": ".amr",
    "aac": ".aac",
    "pcm": ".pcm",
}

# Spooled path → how messages name it ("stdin"), for the reports of `transcribe`.
_LABELS: dict[Path, str] = {}


class StdinError(Exception):
    """Standard input cannot be transcribed; the message says what to do instead."""


def is_stdin(path: Path | str) -> bool:
    return str(path) in STDIN_ARGS


def label(path: Path | str) -> str:
    """How a message names ``path``: ``stdin`` (or ``--name``) for the spooled input."""
    return _LABELS.get(Path(path), str(path))


@dataclass
class StdinAudio:
    """The file the pipeline reads in place of standard input; ``close()`` removes it."""

    path: Path
    copied_bytes: int  # 0 when stdin was a regular file used in place
    _folder: tempfile.TemporaryDirectory[str] = field(repr=False)

    def close(self) -> None:
        _LABELS.pop(self.path, None)
        self._folder.cleanup()

    def __enter__(self) -> StdinAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stem_and_hint(name: str | None) -> tuple[str, str | None]:
    """``--name talk.m4a`` → ("talk", ".m4a"); ``--name talk`` → ("talk", None)."""
    from tui.audio.sniff import AUDIO_EXTENSIONS

    if not name:
        return DEFAULT_NAME, None
    base = Path(name).name
    if not base or base in (".", ".."):
        raise StdinError(f"--name {name!r} is not a file name; give e.g. --name talk")
    suffix = Path(base).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return Path(base).stem, suffix
    return base, None


def _extension(head: bytes, declared: str | None, hint: str | None) -> str:
    from tui.audio.sniff import sniff_bytes

    if declared:  # --format: the user knows best
        return _EXTENSION.get(declared, "")
    sniffed = sniff_bytes(head)
    if sniffed:
        return _EXTENSION.get(sniffed, "")
    # No magic bytes (raw PCM, say): the --name extension decides; none leaves it to ffmpeg.
    return hint or ""


def _regular_file_behind(fd: int) -> Path | None:
    """The path of the regular file on ``fd`` when it is read from its start, else None."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or os.lseek(fd, 0, os.SEEK_CUR) != 0:
            return None
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        again = target.stat()
    except OSError:  # no /proc (macOS), a deleted file, an unseekable stream
        return None
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino):
        return None
    return target


def open_stdin(
    name: str | None = None,
    declared_format: str | None = None,
    stream: BinaryIO | None = None,
) -> StdinAudio:
    """Make standard input a file the pipeline can read. Raises StdinError."""
    stream = sys.stdin.buffer if stream is None else stream
    if stream.isatty():
        raise StdinError(
            "`-` reads audio from standard input, but that is the terminal; pipe audio in, "
            "e.g. `cat talk.m4a | stepfun-asr transcribe -`"
        )
    import tempfile

    stem, hint = _stem_and_hint(name)
    folder = tempfile.TemporaryDirectory(prefix="stepfun-asr-stdin-")
    try:
        audio = _into(Path(folder.name), stem, hint, declared_format, stream, folder)
    except BaseException:
        folder.cleanup()
        raise
    _LABELS[audio.path] = stem if stem != DEFAULT_NAME else "stdin"
    return audio


def _into(
    where: Path,
    stem: str,
    hint: str | None,
    declared: str | None,
    stream: BinaryIO,
    folder: tempfile.TemporaryDirectory[str],
) -> StdinAudio:
    from tui.audio.sniff import AUDIO_EXTENSIONS

    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        fd = -1
    source = _regular_file_behind(fd) if fd >= 0 else None
    if source is not None:
        with source.open("rb") as fh:
            head = fh.read(64)
        if not head:
            raise StdinError("standard input is empty (0 bytes); nothing to transcribe")
        own = source.suffix.lower() if source.suffix.lower() in AUDIO_EXTENSIONS else None
        path = where / f"{stem}{_extension(head, declared, hint or own)}"
        path.symlink_to(source)
        return StdinAudio(path, 0, folder)
    head = stream.read(64)
    if not head:
        raise StdinError("nothing arrived on standard input (0 bytes); nothing to transcribe")
    path = where / f"{stem}{_extension(head, declared, hint)}"
    copied = len(head)
    try:
        with path.open("wb") as out:
            out.write(head)
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                copied += len(chunk)
    except OSError as exc:
        raise StdinError(
            f"could not copy standard input to {where} ({exc.strerror or exc}); "
            "set TMPDIR to a folder with room"
        ) from None
    return StdinAudio(path, copied, folder)


def accepting_stdin(
    run: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Wraps `transcribe`'s run: ``-`` (or /dev/stdin) among the files becomes a real file for
    the duration of the run, and its outputs go to the current folder by default."""

    @functools.wraps(run)
    def with_stdin(args: argparse.Namespace) -> int:
        at = [i for i, f in enumerate(args.files) if is_stdin(f)]
        if not at:
            if getattr(args, "stdin_name", None):
                return fail_usage("--name names standard input; use it with `-`")
            return run(args)
        if len(at) > 1:
            return fail_usage("standard input (-) can be read only once per run")
        try:
            audio = open_stdin(args.stdin_name, args.format)
        except StdinError as exc:
            return fail_usage(str(exc))
        with audio:
            args.files[at[0]] = audio.path
            if args.out_dir is None:
                # "Beside the audio" would be the temporary folder, gone after the run.
                args.out_dir = Path.cwd()
            return run(args)

    return with_stdin
