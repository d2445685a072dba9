"""The main screen's speaker keys: the Speakers screen for the selected job, and the
"How many speakers?" question when files are queued (``t``) or a folder is watched (``w``).

The question is asked only when it can matter and has no answer yet: the speaker model is
installed, the global ``speakers`` setting was never chosen (config file), the folder's
``.stepfun-asr.toml`` does not set it, and it was not answered for that folder in this
session. The answer reaches the queued jobs as their ``speakers`` option; it is remembered in
the folder's file (or, when that cannot be written, for the session, saying so), or becomes
the global setting ("don't ask again").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui import config, locations
from tui.app import messages as msg
from tui.app.job_actions import JobActionsScreen
from tui.engine.engine import Engine
from tui.folder_settings import (
    FolderSettingsError,
    effective_settings,
    write_folder_setting,
)
from tui.store.records import JobOptions
from tui.store.speaker_edits import SpeakerEditError

if TYPE_CHECKING:  # the screens are imported when opened (not on the first screen)
    from tui.app.screens.speaker_count_screen import SpeakerCountChoice


def model_ready() -> bool:
    from tui.speakers.model_files import status

    return status(verify=False).ready


class SpeakerActionsScreen(JobActionsScreen):
    def __init__(
        self,
        engine: Engine,
        root: Path,
        *,
        id: str | None = None,
        config_path: Path | None = None,
    ) -> None:
        super().__init__(engine, root, id=id)
        self.config_path = config_path
        # Folder → the answer given this session (asked once per folder per session).
        self.speaker_answers: dict[Path, str] = {}
        self._never_ask = False  # "don't ask again" when the config file could not be written

    # --- the Speakers screen ---------------------------------------------------------------------

    def action_speakers(self) -> None:
        if (job := self._need_job()) is None:
            return
        from tui.engine.speaker_editor import NoSpeakerLabels  # with the editor, not before

        try:
            overview = self.engine.speakers(job.id)
        except NoSpeakerLabels as exc:
            hint = "" if model_ready() else " (first: stepfun-asr speakers install)"
            self.notify(f"{exc}{hint}", severity="warning", markup=False)
            return
        except SpeakerEditError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        from tui.app.screens.speakers_screen import SpeakersScreen

        self.app.push_screen(SpeakersScreen(self.engine, job.id, overview))

    # --- "How many speakers?" --------------------------------------------------------------------

    def ask_speakers(
        self,
        files: list[Path],
        then: Callable[[str | None], None],
        *,
        what: str = "",
        canceled: str = "Nothing queued.",
    ) -> None:
        folder = files[0].parent
        if (answer := self.speaker_answers.get(folder)) is not None:
            then(answer)
            return
        if not self._should_ask(files):
            then(None)
            return
        what = what or f"{len(files)} file{'s' if len(files) != 1 else ''}"

        def answered(choice: SpeakerCountChoice | None) -> None:
            if choice is None:
                self.notify(canceled, markup=False)
                return
            self.speaker_answers[folder] = choice.value
            if choice.everywhere:
                self._set_globally(choice.value)
            elif choice.remember:
                self._remember_in(folder, choice.value)
            then(choice.value)

        from tui.app.screens.speaker_count_screen import SpeakerCountScreen

        self.app.push_screen(SpeakerCountScreen(folder, what), answered)

    async def action_toggle_watch(self) -> None:
        """Watching a folder starts its jobs: asked first like ``t`` (unwatching never)."""
        path = self.files.highlighted_path() or self.root
        folder = path if path.is_dir() else path.parent
        if self.engine.is_watched(folder):
            await super().action_toggle_watch()
            return

        def watch(speakers: str | None) -> None:
            options = JobOptions(speakers=speakers)
            self.engine.watch_folder(folder, **({"options": options} if speakers else {}))
            self.refresh_status()

        # Any name in the folder: its own file is what a watch rooted there reads for it.
        self.ask_speakers(
            [folder / "new recording"],
            watch,
            what="new recordings",
            canceled=f"Not watching {folder}.",
        )

    def _should_ask(self, files: list[Path]) -> bool:
        if self._never_ask or self._decided_globally() or not model_ready():
            return False
        for path in files:
            try:
                _, sources = effective_settings(self.engine.settings, path)
            except FolderSettingsError:
                return False  # the job fails on the folder's file, saying which
            if sources["speakers"].folder_file is not None:
                return False
        return True

    def _decided_globally(self) -> bool:
        if self.engine.settings.speakers != "off":
            return True  # turned on (the config file, a flag): that is the answer
        try:
            return "speakers" in config.read_file(self.config_path or locations.config_file())
        except config.ConfigError:
            return False

    def _remember_in(self, folder: Path, value: str) -> None:
        try:
            file = write_folder_setting(folder, "speakers", value)
        except FolderSettingsError as exc:
            self.notify(
                f"{exc.reason} The answer ({value}) is kept for this session.",
                severity="warning",
                markup=False,
            )
            return
        self.notify(f'Remembered: speakers = "{value}" in {file}.', markup=False)

    def _set_globally(self, value: str) -> None:
        settings = self.engine.settings
        try:
            saved = config.edit({"speakers": value}, self.config_path)
        except config.ConfigError as exc:
            self._never_ask = True
            self.notify(f"{exc} Not asked again in this session.", severity="warning", markup=False)
            return
        config.apply(settings, "speakers", value)
        self.engine.apply_settings({"speakers"})
        self.post_message(msg.SettingsApplied())
        self.notify(
            f'speakers = "{value}" is now the setting everywhere ({saved.path}); '
            "a folder's .stepfun-asr.toml still decides for its own files.",
            markup=False,
        )
