"""Trust checks: reasons a transcript that came back "successfully" still deserves a look.

Thresholds (why these numbers):
- Speech rate. Normal speech is ~4–6 Chinese characters or ~2–4 English words (~10–20 letters)
  per second. The model's repetition hallucination returns 3–4x the expected text. So a rate
  above ``MAX_RATE`` (CJK: 9 characters/s; other scripts: 25 letters-or-digits/s) is flagged, but
  only over at least ``RATE_MIN_AUDIO_S`` (20 s) of audio, where a burst of fast speech cannot
  dominate.
- Repeated n-grams. Tokens are CJK characters or Latin words (see similarity.tokens); an n-gram
  is ``NGRAM_WORDS`` (6) words or ``NGRAM_CJK`` (10) characters. Flag when n-grams seen at least
  ``NGRAM_MIN_REPEATS`` (4) times cover at least ``NGRAM_COVERAGE`` (30%) of all tokens, or one
  phrase makes up more than half the text. Coverage, not a bare count, so a long lecture that
  says "at the end of the day" four times is not flagged.
- Loops inside long text. Coverage dilutes a two-minute loop in a 25-minute transcript (~20%),
  so also flag one n-gram occurring ``NGRAM_RUN`` (8) times back to back: each occurrence
  within ``RUN_GAP`` (8) n-gram lengths of the previous one. Speech repeats phrases, but not
  eight times in a row; a looping model (or a chanted chorus, which a cross-check clears) does.
- Cross-check: a similarity below ``CROSS_CHECK_MIN`` (0.75) between the two models. Two sound
  transcripts of one recording typically differ in punctuation, numbers and a few words and
  score well above 0.85; a hallucinated one (3x the text) cannot exceed 0.5.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from tui.transcript.cues import is_cjk_text
from tui.transcript.model import CrossCheck, TranscriptionResult, TrustWarning, WarningKind
from tui.transcript.similarity import tokens

MAX_RATE = {"cjk": 9.0, "other": 25.0}
RATE_MIN_AUDIO_S = 20.0
NGRAM_WORDS = 6
NGRAM_CJK = 10
NGRAM_MIN_REPEATS = 4
NGRAM_COVERAGE = 0.30
NGRAM_RUN = 8
RUN_GAP = 8
SHORT_AUDIO_S = 1.0
CROSS_CHECK_MIN = 0.75

_CROSS_CHECK_HINT = (
    "Cross-check it against step-asr-1.1, which is not prone to this: key v "
    "in the workbench, `stepfun-asr cross-check ID`, or `transcribe "
    "--cross-check`."
)


def assess(
    result: TranscriptionResult, duration_s: float | None, language: str | None
) -> list[TrustWarning]:
    warnings: list[TrustWarning] = []
    text = result.text.strip()
    short = duration_s is not None and duration_s < SHORT_AUDIO_S
    if short:
        warnings.append(
            TrustWarning(
                WarningKind.SHORT_AUDIO,
                f"The audio is only {duration_s:.2f} s long; clips under about 1 s usually come "
                "back empty.",
            )
        )
    if not text:
        warnings.append(
            TrustWarning(WarningKind.EMPTY, empty_message(duration_s, language), serious=True)
        )
        return warnings + _cross_check_warning(result)
    repetition = repetition_warning(text, duration_s, language, result.cross_check)
    if repetition is not None:
        warnings.append(repetition)
    return warnings + _cross_check_warning(result)


def repetition_warning(
    text: str,
    duration_s: float | None,
    language: str | None,
    cross_check: CrossCheck | None = None,
    *,
    where: str = "",
    part: int | None = None,
) -> TrustWarning | None:
    """The repetition warning for ``text`` (a whole transcript, or one part of a long one:
    ``where`` then names it), serious unless a cross-check agrees with it."""
    problem = _repetition(text.strip(), duration_s, language)
    if problem is None:
        return None
    problem = f"{where}: {problem}" if where else problem
    cc = cross_check
    if cc is not None and cc.similarity >= CROSS_CHECK_MIN:
        return TrustWarning(
            WarningKind.REPETITION,
            f"{problem} But {cc.model} agrees ({cc.similarity:.0%} similar), so the audio is "
            "probably repetitive itself.",
            part=part,
        )
    return TrustWarning(
        WarningKind.REPETITION, f"{problem} {_CROSS_CHECK_HINT}", serious=True, part=part
    )


def empty_message(duration_s: float | None, language: str | None) -> str:
    causes = [
        "the audio is silent or has no speech",
        f"the language setting ({language}) does not match the speech"
        if language
        else "the speech is in a language the model did not detect",
        "the declared format does not match the file (e.g. raw PCM with the wrong rate)",
    ]
    if duration_s is not None and duration_s < SHORT_AUDIO_S:
        causes.insert(0, f"the audio is under 1 s ({duration_s:.2f} s)")
    else:
        causes.append("the audio is under about 1 s")
    return "The transcript is empty. Likely causes: " + "; ".join(causes) + "."


def _cross_check_warning(result: TranscriptionResult) -> list[TrustWarning]:
    cc = result.cross_check
    if cc is None or cc.similarity >= CROSS_CHECK_MIN:
        return []
    return [
        TrustWarning(
            WarningKind.CROSS_CHECK_DIFFERS,
            f"{cc.model} transcribed this audio differently (only {cc.similarity:.0%} similar). "
            "Compare the two texts before relying on either.",
            serious=True,
        )
    ]


def _repetition(text: str, duration_s: float | None, language: str | None) -> str | None:
    """A sentence describing the suspected hallucination, or None."""
    cjk = (
        is_cjk_text(text)
        if language is None
        else (language.lower().startswith(("zh", "ja", "ko", "yue")) and is_cjk_text(text))
    )
    toks = tokens(text)
    rate = _rate_problem(toks, text, cjk, duration_s)
    if rate:
        return rate
    return _ngram_problem(toks, cjk)


def _rate_problem(toks: list[str], text: str, cjk: bool, duration_s: float | None) -> str | None:
    if duration_s is None or duration_s < RATE_MIN_AUDIO_S:
        return None
    if cjk:
        count = sum(1 for t in toks if len(t) == 1 and is_cjk_text(t))
        limit, unit = MAX_RATE["cjk"], "characters"
    else:
        count = sum(len(t) for t in toks)
        limit, unit = MAX_RATE["other"], "letters"
    rate = count / duration_s
    if rate <= limit:
        return None
    return (
        f"The transcript has {rate:.1f} {unit} per second of audio, far above normal speech "
        f"(at most ~{limit:.0f}); the model may have repeated itself."
    )


def _ngram_problem(toks: list[str], cjk: bool) -> str | None:
    n = NGRAM_CJK if cjk else NGRAM_WORDS
    if len(toks) < n * NGRAM_MIN_REPEATS:
        return None
    grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    counts = Counter(grams)
    repeated = {g for g, c in counts.items() if c >= NGRAM_MIN_REPEATS}
    if not repeated:
        return None
    covered = bytearray(len(toks))
    positions: dict[tuple[str, ...], list[int]] = {}
    for i, g in enumerate(grams):
        if g in repeated:
            covered[i : i + n] = b"\x01" * n
            positions.setdefault(g, []).append(i)
    coverage = sum(covered) / len(toks)
    top, top_count = counts.most_common(1)[0]
    # The most repeated phrase alone; its occurrences may overlap, so cap at the text.
    top_share = min(1.0, top_count * n / len(toks))
    sep = "" if cjk else " "
    if coverage >= NGRAM_COVERAGE or top_share > 0.5:
        return (
            f"The same phrase (\u201c{sep.join(top)}\u201d) appears {top_count} times and "
            f"repeated passages make up {coverage:.0%} of the text; the model may have "
            "looped."
        )
    run, gram = max((_longest_run(at, n * RUN_GAP), g) for g, at in positions.items())
    if run < NGRAM_RUN:
        return None
    return (
        f"The same phrase (\u201c{sep.join(gram)}\u201d) occurs {run} times in a row; the "
        "model may have looped."
    )


def _longest_run(positions: list[int], max_gap: int) -> int:
    """The most occurrences in a chain where each starts within ``max_gap`` of the previous."""
    best = run = 1
    for before, here in pairwise(positions):
        run = run + 1 if here - before <= max_gap else 1
        best = max(best, run)
    return best
