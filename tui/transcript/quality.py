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
- Coverage. A model can skip a stretch or stop early and still end with a clean ``done``. The
  stretches holding sound (splitting's silence detection) are compared with those the
  timestamped text covers, each word widened by ``COVER_PAD_S`` (2 s: word times are
  approximate, and breaths and short pauses sit between words). Flag more than
  ``UNCOVERED_MIN_S`` (20 s) of sound with no text between two pieces of text, or more than
  ``TAIL_MIN_S`` (15 s) after the last word: a minute-long talk cannot lose 20 s unnoticed,
  while an intro jingle or applause of a few seconds stays below both.
- Language. No source shows that the service detects the language when none is sent; a
  mismatch gives empty or very thin text. With no language set, an empty transcript, or one
  under ~10% of normal speech over at least ``LANGUAGE_MIN_SOUND_S`` (15 s) of sound (CJK:
  0.5 characters/s; other scripts: 1.5 letters/s), gets a hint to set one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

from tui.transcript.cues import format_clock, is_cjk_text
from tui.transcript.model import (
    CrossCheck,
    Segment,
    TranscriptionResult,
    TrustWarning,
    WarningKind,
)
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
COVER_PAD_S = 2.0
UNCOVERED_MIN_S = 20.0
TAIL_MIN_S = 15.0
LANGUAGE_MIN_SOUND_S = 15.0
FAR_TOO_SHORT = {"cjk": 0.5, "other": 1.5}
LANGUAGE_ADVICE = (
    "No language was set, and no source shows that the service detects it when none is "
    "sent: set one (--language en or --language zh, or the language override for this file "
    "in the workbench) and transcribe again."
)

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


# ------------------------------------------------------------------------------ coverage


def coverage_warning(
    segments: Sequence[Segment], sound: Sequence[tuple[float, float]]
) -> TrustWarning | None:
    """A serious warning listing the stretches of sound no timestamped text covers (see the
    module docstring), or None. Needs real timestamps; without them there is nothing to check.
    """
    words = [(s.start_ms / 1000, s.end_ms / 1000) for s in segments if s.text.strip()]
    if not sound or not any(b > 0 for _, b in words):
        return None
    covered = _merged([(a - COVER_PAD_S, b + COVER_PAD_S) for a, b in words])
    last_word = max(b for _, b in words)
    holes: list[tuple[float, float, float]] = []  # (start, end, seconds of sound)
    ends = [b for _, b in covered]
    for a, b in _subtract(sorted(sound), covered):
        if holes:
            # Join the previous hole unless some text lies between the two.
            k = bisect_right(ends, holes[-1][1])
            if not (k < len(covered) and covered[k][0] < a):
                start, _end, secs = holes[-1]
                holes[-1] = (start, b, secs + (b - a))
                continue
        holes.append((a, b, b - a))
    flagged = [
        (a, b, secs)
        for a, b, secs in holes
        if secs > (TAIL_MIN_S if a >= last_word else UNCOVERED_MIN_S)
    ]
    if not flagged:
        return None
    total = sum(secs for *_, secs in flagged)
    listed = ", ".join(
        f"{format_clock(round(a * 1000))}–{format_clock(round(b * 1000))}"
        for a, b, _ in flagged[:5]
    )
    more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    tail = any(a >= last_word for a, _, _ in flagged)
    why = (
        "the text ends well before the sound does: the model may have stopped early"
        if tail and len(flagged) == 1
        else "the model may have skipped part of the audio or stopped early"
    )
    return TrustWarning(
        WarningKind.UNCOVERED_AUDIO,
        f"About {total:.0f} s of audio with sound has no text ({listed}{more}): {why}. Listen "
        "to those stretches; transcribing again, or in shorter parts, may fill them.",
        serious=True,
        spans=tuple((round(a, 2), round(b, 2)) for a, b, _ in flagged),
    )


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(
    spans: Sequence[tuple[float, float]], covered: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``spans`` minus the (sorted, disjoint) ``covered`` stretches."""
    ends = [c1 for _, c1 in covered]
    out: list[tuple[float, float]] = []
    for a, b in spans:
        at = a
        k = bisect_right(ends, a)  # the first covered stretch ending after a
        while k < len(covered) and covered[k][0] < b and at < b:
            c0, c1 = covered[k]
            if c0 > at:
                out.append((at, c0))
            at = max(at, c1)
            k += 1
        if at < b:
            out.append((at, b))
    return [(a, b) for a, b in out if b - a > 0.05]


# ------------------------------------------------------------------------------ language


def language_hint(text: str, sound_s: float | None, language: str | None) -> TrustWarning | None:
    """With no language set: a hint to set one when the text is empty (the empty-transcript
    warning is the serious one) or far too short for the sound (serious)."""
    if language:
        return None
    text = text.strip()
    if not text:
        if sound_s is not None and sound_s < SHORT_AUDIO_S:
            return None  # nothing to hear: the language is not the reason
        return TrustWarning(
            WarningKind.LANGUAGE_HINT, f"The transcript is empty. {LANGUAGE_ADVICE}"
        )
    if sound_s is None or sound_s < LANGUAGE_MIN_SOUND_S:
        return None
    toks = tokens(text)
    if is_cjk_text(text):
        count = sum(1 for t in toks if len(t) == 1 and is_cjk_text(t))
        limit, unit = FAR_TOO_SHORT["cjk"], "characters"
    else:
        count = sum(len(t) for t in toks)
        limit, unit = FAR_TOO_SHORT["other"], "letters"
    if count / sound_s >= limit:
        return None
    return TrustWarning(
        WarningKind.LANGUAGE_HINT,
        f"The transcript is far too short for the audio ({count} {unit} for {sound_s:.0f} s "
        f"of sound). {LANGUAGE_ADVICE}",
        serious=True,
    )
