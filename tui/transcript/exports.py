"""Writing transcript files next to the audio (or in a mirrored out dir), and the on-done hook.

Names keep the source's stem (``talk.wav`` → ``talk.txt``, ``talk.srt``); when another
recording with the same stem sits beside it and the plain names are taken, its transcripts
are named after the full file name (``talk.mp3`` → ``talk.mp3.txt``), so two recordings never
share, overwrite or skip each other's transcript. Writes are atomic, so
a reader (or a sync tool) never sees half a transcript. When a transcript already exists the
policy decides: ``skip`` leaves it alone, ``overwrite`` replaces it, ``suffix`` picks the first
free ``talk.N.*`` shared by every requested format.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.fsutil import atomic_write_text
from tui.transcript.formats import EXTENSIONS, FORMATS, render
from tui.transcript.model import TranscriptionResult

POLICIES = ("skip", "overwrite", "suffix")
# 255-byte names: room for the longest extension (".json"), a ".999" suffix and slack.
MAX_STEM_BYTES = 240
_MAX_SUFFIX = 999
HOOK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ExportSpec:
    """What to write for one job. ``root`` is the watched folder the source sits under: with an
    ``out_dir`` the source's path relative to ``root`` is kept (recursive watches)."""

    formats: tuple[str, ...] = ("txt",)
    out_dir: str | None = None
    root: str | None = None
    policy: str = "skip"
    on_done: str | None = None
    hook_timeout_s: float = HOOK_TIMEOUT_S

    def __post_init__(self) -> None:
        check_formats(self.formats)
        if self.policy not in POLICIES:
            raise ValueError(f"Existing-transcript policy must be one of {', '.join(POLICIES)}.")

    def to_json(self) -> dict[str, Any]:
        return {
            "formats": list(self.formats),
            "out_dir": self.out_dir,
            "root": self.root,
            "policy": self.policy,
            "on_done": self.on_done,
            "hook_timeout_s": self.hook_timeout_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportSpec:
        return cls(
            formats=tuple(data.get("formats") or ("txt",)),
            out_dir=data.get("out_dir"),
            root=data.get("root"),
            policy=data.get("policy") or "skip",
            on_done=data.get("on_done"),
            hook_timeout_s=float(data.get("hook_timeout_s") or HOOK_TIMEOUT_S),
        )


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Normalised formats; ValueError naming the bad one and the choices."""
    out: list[str] = []
    for fmt in formats:
        norm = fmt.strip().lower().lstrip(".")
        if norm not in FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}; choose from {', '.join(FORMATS)}.")
        if norm not in out:
            out.append(norm)
    if not out:
        raise ValueError(f"No export format given; choose from {', '.join(FORMATS)}.")
    return tuple(out)


def parse_formats(text: str) -> tuple[str, ...]:
    """``"txt,srt"`` → ``("txt", "srt")`` (CLI helper)."""
    return check_formats(p for p in text.split(",") if p.strip())


def target_dir(source: Path, out_dir: Path | None, root: Path | None = None) -> Path:
    """Where ``source``'s transcripts go: beside it, or under ``out_dir`` mirroring ``root``."""
    if out_dir is None:
        return source.parent
    if root is not None:
        with contextlib.suppress(ValueError):
            return out_dir / source.parent.relative_to(root)
    return out_dir


def planned_paths(
    source: Path,
    formats: Sequence[str],
    out_dir: Path | None = None,
    root: Path | None = None,
) -> list[Path]:
    """The unsuffixed transcript paths for ``source`` (what ``skip`` checks)."""
    folder = target_dir(source, out_dir, root)
    exts = [EXTENSIONS[f] for f in check_formats(formats)]
    plain = [folder / f"{output_stem(source)}{ext}" for ext in exts]
    if any(p.exists() for p in plain) and _same_stem_sibling(source):
        return [folder / f"{source.name}{ext}" for ext in exts]
    return plain


def _same_stem_sibling(source: Path) -> bool:
    """Another file beside ``source`` with its stem that is not a transcript: ``talk.wav``
    next to ``talk.mp3``. (Any such file counts: a wrong guess only lengthens a name.)"""
    transcript_exts = set(EXTENSIONS.values())
    try:
        siblings = list(source.parent.glob(glob.escape(source.stem) + ".*"))
    except OSError:
        return False
    return any(
        p.name != source.name
        and p.stem == source.stem
        and p.suffix.lower() not in transcript_exts
        and not p.name.startswith(".")
        and p.is_file()
        for p in siblings
    )


def output_stem(source: Path) -> str:
    """``source``'s stem, shortened when the transcript's name would not fit the file system's
    255-byte limit (with room for a ``.N`` suffix): its start, ``~`` and a hash of the whole
    stem, so two long names that share a start still get different transcripts."""
    stem = source.stem
    if len(os.fsencode(stem)) <= MAX_STEM_BYTES:
        return stem
    tag = "~" + hashlib.sha256(os.fsencode(stem)).hexdigest()[:10]
    keep = stem
    while len(os.fsencode(keep)) > MAX_STEM_BYTES - len(tag):
        keep = keep[:-1]
    return keep + tag


def transcript_exists(
    source: Path,
    formats: Sequence[str],
    out_dir: Path | None = None,
    root: Path | None = None,
) -> Path | None:
    """The first existing transcript for ``source``, if any."""
    return next((p for p in planned_paths(source, formats, out_dir, root) if p.exists()), None)


def _choose_paths(base: list[Path], policy: str) -> list[Path]:
    if policy == "overwrite":
        return base
    if policy == "skip":
        return [p for p in base if not p.exists()]
    if not any(p.exists() for p in base):
        return base
    for n in range(1, _MAX_SUFFIX + 1):
        # talk.txt → talk.1.txt; one N for every format so the set stays together.
        candidate = [p.with_name(f"{p.stem}.{n}{p.suffix}") for p in base]
        if not any(p.exists() for p in candidate):
            return candidate
    raise OSError(f"No free suffix for {base[0]} (tried 1–{_MAX_SUFFIX}).")


def write_exports(
    result: TranscriptionResult,
    source: Path,
    formats: Sequence[str] = ("txt",),
    out_dir: Path | None = None,
    policy: str = "skip",
    *,
    root: Path | None = None,
) -> list[Path]:
    """Render and atomically write each format; returns the paths written (in format order).

    With ``skip`` a format whose file exists is left out of the result; the caller can compare
    against ``planned_paths`` to tell the user. Raises ValueError for a bad format or policy and
    OSError when the folder cannot be written.
    """
    fmts = check_formats(formats)
    if policy not in POLICIES:
        raise ValueError(f"Existing-transcript policy must be one of {', '.join(POLICIES)}.")
    base = planned_paths(source, fmts, out_dir, root)
    by_ext = {p.suffix: p for p in _choose_paths(base, policy)}
    return _write(result, [(by_ext[EXTENSIONS[f]], f) for f in fmts if EXTENSIONS[f] in by_ext])


def _write(result: TranscriptionResult, targets: Iterable[tuple[Path, str]]) -> list[Path]:
    """Render and atomically write each (path, format); the paths written, in order."""
    written: list[Path] = []
    for path, fmt in targets:
        atomic_write_text(path, render(result, fmt))
        written.append(path)
    return written


def write_spec(result: TranscriptionResult, source: Path, spec: ExportSpec) -> list[Path]:
    return write_exports(
        result,
        source,
        spec.formats,
        Path(spec.out_dir) if spec.out_dir else None,
        spec.policy,
        root=Path(spec.root) if spec.root else None,
    )


def rewrite_outputs(result: TranscriptionResult, paths: Iterable[Path]) -> list[Path]:
    """Re-render exactly these files (a rerun replaces its own transcripts); the format is
    taken from each file's extension."""
    by_ext = {ext: fmt for fmt, ext in EXTENSIONS.items()}
    return _write(
        result, [(p, by_ext[p.suffix.lower()]) for p in paths if p.suffix.lower() in by_ext]
    )
