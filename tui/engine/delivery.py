"""Delivering a finished job: its transcript files, then the on-done hook, each reported.

A file that cannot be written fails only the export (the result stays in the store, and the
event says how to get it); a hook's failure is reported and never fatal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tui.config import Settings
from tui.engine.events import EventBus, ExportFailed, ExportWritten, FileSkipped, HookFailed
from tui.engine.hooks import run_hook
from tui.engine.watch_files import sha256_file
from tui.store.records import Job
from tui.store.store import Store
from tui.transcript.exports import ExportSpec, planned_paths, rewrite_outputs, write_spec
from tui.transcript.model import TranscriptionResult


class Delivery:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        redact: Callable[[str], str] = lambda text: text,
        *,
        settings: Settings | None = None,
    ) -> None:
        """``redact`` cleans what a hook printed before it is shown (it may echo the key);
        ``settings``: the key kept out of hooks' environment, and ``hook_concurrency``."""
        self.store = store
        self.bus = bus
        self.redact = redact
        self.settings = settings or Settings()
        self._hooks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._slots_size = 0

    def export_for(self, job: Job, source: Path, spec: ExportSpec | None = None) -> list[Path]:
        """Write ``job``'s stored result as transcripts of ``source`` (a second copy of the same
        audio). Publishes ExportWritten / FileSkipped and runs the on-done hook."""
        result = self.store.corrections.result(job.id)  # corrected, as every export
        spec = spec or job.options.export
        if result is None or spec is None:
            return []
        return self.deliver(job, result, source, spec, ())

    def deliver(
        self,
        job: Job,
        result: TranscriptionResult,
        source: Path,
        spec: ExportSpec,
        previous: tuple[Path, ...],
    ) -> list[Path]:
        """Write the transcripts of ``source``; ``previous``: this job's own files from an
        earlier run, rewritten in place whatever the policy."""
        try:
            if previous and source == job.source:
                paths = rewrite_outputs(result, previous)
            else:
                paths = write_spec(result, source, spec)
                if spec.policy == "skip":  # skip protects the user's files, not our own
                    paths += rewrite_outputs(result, self._own_transcripts(source, spec, paths))
            self._record_written(job.id, source, paths)
        except Exception as exc:  # any failure here fails the export, never the job
            self.bus.publish(
                ExportFailed(
                    job.id,
                    source,
                    f"Could not write the transcript of "
                    f"{source}: {exc}; the result is kept "
                    f"(stepfun-asr show {job.id}).",
                )
            )
            return []
        if source == job.source:
            self.store.set_outputs(job.id, paths)
        self.store.ledger.mark_exported(source, job.id)
        if not paths:
            existing = [
                str(p)
                for p in planned_paths(
                    source,
                    spec.formats,
                    Path(spec.out_dir) if spec.out_dir else None,
                    Path(spec.root) if spec.root else None,
                )
                if p.exists()
            ]
            self.bus.publish(
                FileSkipped(
                    source,
                    f"transcript already exists ({', '.join(existing)}) and the policy is "
                    f"skip; the result is kept (stepfun-asr show {job.id})",
                    job.id,
                )
            )
            return []
        self.bus.publish(ExportWritten(job.id, tuple(paths), source))
        if spec.on_done:
            hook = asyncio.get_running_loop().create_task(
                self._hook(job.id, spec.on_done, paths[0], spec.hook_timeout_s)
            )
            self._hooks.add(hook)
            hook.add_done_callback(self._hooks.discard)
        return paths

    def _record_written(self, job_id: int, source: Path, paths: list[Path]) -> None:
        self.store.revisions.record_written(job_id, source, [(p, sha256_file(p)) for p in paths])

    def _own_transcripts(self, source: Path, spec: ExportSpec, written: list[Path]) -> list[Path]:
        """The planned transcript files of ``source`` that exist because we wrote them (for
        this same source) and that nobody changed since."""
        own: list[Path] = []
        for path in planned_paths(
            source,
            spec.formats,
            Path(spec.out_dir) if spec.out_dir else None,
            Path(spec.root) if spec.root else None,
        ):
            if path not in written and self.ours(path, source):
                own.append(path)
        return own

    def ours(self, path: Path, source: Path) -> bool:
        """``path`` is a transcript of ``source`` that we wrote and nobody has changed since."""
        mine = self.store.revisions.written_by_us(path)
        if mine is None or mine[0] != source:
            return False
        try:
            return sha256_file(path) == mine[1]
        except OSError:
            return False

    def foreign_transcript(self, source: Path, spec: ExportSpec) -> Path | None:
        """The first existing transcript of ``source`` that a person made (not ours)."""
        for path in planned_paths(
            source,
            spec.formats,
            Path(spec.out_dir) if spec.out_dir else None,
            Path(spec.root) if spec.root else None,
        ):
            if path.exists() and not self.ours(path, source):
                return path
        return None

    def rewrite(self, job: Job, result: TranscriptionResult) -> list[Path]:
        """Re-render ``job``'s own transcript files that still exist, after its result changed
        in place (a cross-check). The on-done hook does not run again: the text is the same."""
        paths = [p for p in job.outputs if p.exists()]
        if not paths:
            return []
        try:
            written = rewrite_outputs(result, paths)
        except Exception as exc:  # the result is saved; only the files are behind
            self.bus.publish(
                ExportFailed(
                    job.id,
                    job.source,
                    f"Could not rewrite the "
                    f"transcripts of {job.source}: {exc}; the result is "
                    f"kept (stepfun-asr show {job.id}).",
                )
            )
            return []
        if written:
            self._record_written(job.id, job.source, written)
            self.bus.publish(ExportWritten(job.id, tuple(written), job.source))
        return written

    def _hook_slots(self) -> asyncio.Semaphore:
        # Read each time: a settings change applies to the next hooks.
        size = max(1, self.settings.hook_concurrency)
        if self._slots is None or size != self._slots_size:
            self._slots, self._slots_size = asyncio.Semaphore(size), size
        return self._slots

    async def _hook(self, job_id: int, command: str, transcript: Path, timeout_s: float) -> None:
        started = False

        def mark() -> None:
            nonlocal started
            started = True

        key = self.settings.api_key.reveal() if self.settings.api_key else None
        try:
            async with self._hook_slots():  # at most hook_concurrency at once; the rest wait
                outcome = await run_hook(
                    command, transcript, timeout_s=timeout_s, key=key, on_start=mark
                )
        except asyncio.CancelledError:
            what = "was stopped" if started else "did not run (its turn had not come)"
            self.bus.publish(
                HookFailed(job_id, f"on-done command for {transcript} {what}: stopping")
            )
            raise
        if not outcome.ok:
            self.bus.publish(HookFailed(job_id, self.redact(outcome.message)))

    async def wait_for_hooks(self, force: asyncio.Event, timeout_s: float | None = None) -> None:
        """Let running hooks finish (each has its own timeout) for up to ``timeout_s``; then,
        or once ``force`` is set, they are killed with their process groups."""
        forced = asyncio.ensure_future(force.wait())
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + max(0.0, timeout_s)
        try:
            # Bounded: every round ends when a hook ends, ``force`` is set or time is up.
            while self._hooks and not forced.done():
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    break
                await asyncio.wait(
                    {*self._hooks, forced}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            forced.cancel()
        hooks = list(self._hooks)
        for hook in hooks:
            hook.cancel()
        await asyncio.gather(*hooks, return_exceptions=True)
