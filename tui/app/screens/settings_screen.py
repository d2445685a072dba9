"""Settings: region, model, language, hotwords, output formats, concurrency and the key.

Saving writes the changed settings into the config file in place (mode 0600, atomically, via
``tui.config.edit``; the user's comments survive); the key field is a masked input that is left
empty to keep the current key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from tui import config
from tui.config import REGIONS, ConfigError, Settings
from tui.config_values import LANGUAGES
from tui.secrets import mask_key
from tui.stepfun.options import SSE_MODELS
from tui.transcript.cost import CURRENCY_SIGNS, region_currency
from tui.transcript.formats import FORMATS

HINT = (
    "A Step Plan key needs region cn-plan or intl-plan. Output formats apply to t and watch "
    "mode. Saved to the config file (mode 0600); ctrl+s saves, Esc cancels."
)
LANGUAGE_CHOICES = [("detect automatically", "")] + [
    (f"{name} ({code})", code) for code, name in LANGUAGES.items()
]


@dataclass(frozen=True)
class SettingsSaved:
    values: dict[str, Any]
    key: str | None = None
    path: Path | None = None
    changed: frozenset[str] = field(default_factory=frozenset)


class SettingsScreen(ModalScreen[SettingsSaved | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", show=False),
        Binding("ctrl+s", "save", "Save", show=False),
    ]
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > VerticalScroll {
        width: 90; max-width: 95%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 1 2;
    }
    SettingsScreen .row { height: auto; margin-bottom: 1; }
    SettingsScreen .field-label { text-style: bold; width: 18; }
    SettingsScreen .row > Select, SettingsScreen .row > Input { width: 1fr; }
    SettingsScreen SelectionList { height: auto; border: none; padding: 0; }
    SettingsScreen .hint { color: $text-muted; margin-top: 1; }
    SettingsScreen #settings-error { color: $error; height: auto; margin-top: 1; }
    /* Docked: on a short terminal the form scrolls and the buttons stay in view. */
    SettingsScreen #settings-buttons {
        dock: bottom; height: auto; align-horizontal: right; background: $surface;
    }
    SettingsScreen Button { margin-left: 2; }
    """

    def __init__(self, settings: Settings, config_path: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.config_path = config_path

    def compose(self) -> ComposeResult:
        s = self.settings
        models = list(dict.fromkeys([s.model, *SSE_MODELS]))
        current_key = mask_key(s.api_key.reveal() if s.api_key else None)
        sign = CURRENCY_SIGNS.get(region_currency(s.region), "")
        with VerticalScroll() as box:
            box.border_title = "Settings"
            for label, widget in (
                (
                    "Region",
                    Select(
                        [(r, r) for r in REGIONS],
                        value=s.region,
                        allow_blank=False,
                        compact=True,
                        id="set-region",
                    ),
                ),
                (
                    "Model",
                    Select(
                        [(m, m) for m in models],
                        value=s.model,
                        allow_blank=False,
                        compact=True,
                        id="set-model",
                    ),
                ),
                (
                    "Language",
                    Select(
                        LANGUAGE_CHOICES,
                        value=s.language or "",
                        allow_blank=False,
                        compact=True,
                        id="set-language",
                    ),
                ),
                (
                    "Hotwords",
                    Input(
                        ", ".join(s.hotwords),
                        compact=True,
                        id="set-hotwords",
                        placeholder="comma-separated terms to favour",
                    ),
                ),
                (
                    "Output formats",
                    SelectionList[str](
                        *[(f, f, f in s.formats) for f in FORMATS], id="set-formats"
                    ),
                ),
                (
                    "Speakers",
                    Input(
                        s.speakers,
                        compact=True,
                        id="set-speakers",
                        placeholder="off, auto, a count (3) or a range (2-4); computed locally",
                    ),
                ),
                (
                    "Files at once",
                    Input(str(s.concurrency), type="integer", compact=True, id="set-concurrency"),
                ),
                (
                    f"Budget/day {sign}",
                    Input(
                        _amount(s.budget_daily),
                        type="number",
                        compact=True,
                        id="set-budget-daily",
                        placeholder="0 = no cap",
                    ),
                ),
                (
                    f"Budget/month {sign}",
                    Input(
                        _amount(s.budget_monthly),
                        type="number",
                        compact=True,
                        id="set-budget-monthly",
                        placeholder="0 = no cap",
                    ),
                ),
                (
                    "API key",
                    Input(
                        password=True,
                        compact=True,
                        id="set-key",
                        placeholder=f"now {current_key}; empty keeps it",
                    ),
                ),
            ):
                with Horizontal(classes="row"):
                    yield Label(label, classes="field-label")
                    yield widget
            yield Static(Text(HINT), classes="hint", markup=False)
            yield Static("", id="settings-error", markup=False)
            with Horizontal(id="settings-buttons"):
                yield Button("Cancel", id="settings-cancel")
                yield Button("Save", variant="primary", id="settings-save")

    def on_mount(self) -> None:
        self.query_one("#set-region", Select).focus()

    def collect(self) -> tuple[dict[str, Any], str | None]:
        formats = list(self.query_one("#set-formats", SelectionList).selected)
        values: dict[str, Any] = {
            "region": str(self.query_one("#set-region", Select).value),
            "model": str(self.query_one("#set-model", Select).value),
            "language": str(self.query_one("#set-language", Select).value or ""),
            "hotwords": self.query_one("#set-hotwords", Input).value,
            "formats": ",".join(str(f) for f in formats),
            "speakers": self.query_one("#set-speakers", Input).value.strip() or "off",
            "concurrency": self.query_one("#set-concurrency", Input).value.strip(),
            "budget_daily": self.query_one("#set-budget-daily", Input).value.strip() or "0",
            "budget_monthly": self.query_one("#set-budget-monthly", Input).value.strip() or "0",
        }
        key = self.query_one("#set-key", Input).value.strip() or None
        return values, key

    @on(Button.Pressed, "#settings-save")
    def action_save(self) -> None:
        values, key = self.collect()
        error = self.query_one("#settings-error", Static)
        if not values["formats"]:
            error.update("Choose at least one output format.")
            return
        probe = Settings()
        try:
            for name, value in values.items():
                config.apply(probe, name, value)
        except ConfigError as exc:
            error.update(Text(str(exc)))
            return
        if probe.speakers != "off" and probe.speakers != self.settings.speakers:
            from tui.speakers.model_files import ModelMissingError, require_model

            try:
                require_model()  # else every job would fail on it: say so now
            except ModelMissingError as exc:
                error.update(Text(str(exc)))
                return
        # Only what changed is written: the rest of the user's file stays as they wrote it, and
        # an unchanged region does not drop a base_url they set on purpose.
        updates = {
            n: v for n, v in values.items() if getattr(probe, n) != getattr(self.settings, n)
        }
        if key is not None:
            updates["api_key"] = key
        try:
            saved = config.edit(updates, self.config_path)
        except (ConfigError, OSError) as exc:
            error.update(Text(str(exc)))
            return
        for note in saved.notes():
            self.app.notify(note, markup=False, timeout=10)
        path = saved.path
        changed = frozenset(n for n in values if getattr(probe, n) != getattr(self.settings, n))
        if key is not None:
            changed |= {"api_key"}
        self.dismiss(SettingsSaved(values, key, path, changed))

    @on(Button.Pressed, "#settings-cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def _amount(value: float) -> str:
    return f"{value:g}"
