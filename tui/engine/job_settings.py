"""The settings one job runs with, and where its transcripts go.

Global settings < the folder's ``.stepfun-asr.toml`` files < the job's own options; the
glossary's terms for the recording's folders follow the user's hotwords. A broken folder file
raises FolderSettingsError (that job fails, saying which file).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from tui.config import Settings
from tui.folder_settings import FolderSettingsError, effective_settings
from tui.store.records import Job
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.glossary_rules import merged_hotwords

log = logging.getLogger(__name__)


def settings_for(settings: Settings, store: Store, job: Job) -> Settings:
    """``settings`` with the job's folder files and its own options applied."""
    opts = job.options
    base, _ = effective_settings(settings, job.source, watch_root(job))
    hotwords = list(opts.hotwords) if opts.hotwords is not None else list(base.hotwords)
    return dataclasses.replace(
        base,
        model=opts.model or base.model,
        language=opts.language if opts.language is not None else base.language,
        # The glossary's terms (global and the recording's folders) follow the user's own.
        hotwords=merged_hotwords(hotwords, store.glossary.rules_for(job.source)),
        compress=opts.compress if opts.compress is not None else base.compress,
        speakers=opts.speakers if opts.speakers is not None else base.speakers,
    )


def watch_root(job: Job) -> Path | None:
    return Path(job.watch_id) if job.watch_id else None  # a watch's id is its folder


def folder_export(settings: Settings, job: Job, spec: ExportSpec) -> ExportSpec:
    """The export spec with the formats and out dir a folder file sets for the job's file."""
    try:
        eff, sources = effective_settings(settings, job.source, watch_root(job))
    except FolderSettingsError as exc:  # broken since the job started: it ran without it
        log.warning("job %s: %s", job.id, exc)
        return spec
    changes: dict[str, Any] = {}
    if sources["formats"].folder_file:
        changes["formats"] = tuple(eff.formats)
    if (where := sources["out_dir"].folder) is not None:
        changes.update(out_dir=eff.out_dir, root=str(where))  # mirrored below that folder
    return dataclasses.replace(spec, **changes) if changes else spec
