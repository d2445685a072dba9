"""Time to align a long final text onto its deltas (``tui.transcript.align``), the step every
SRT/VTT/Markdown/JSON export now takes, for a 25-minute-sized transcript.

    .venv/bin/python benchmarks/bench_align.py [--segments 20000] [--runs 3] [--full]

Cases: final text equal to the deltas (the common case, a fast path), with 1% and 5% of the
deltas changed (punctuation, casing, dropped fillers, inserted words), with the last tenth of
the final text missing from the deltas, and (``--full``) a final text sharing nothing with the
deltas (the worst case: no anchors, everything timed from neighbours). Figures are CPU time of
this process, the best of ``--runs``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.transcript.align import align
from tui.transcript.model import Segment

WORDS = ["the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "was", "for", "on"]
HANZI = "我们今天讨论字幕的分段规则这些细节决定了是否好读时间戳音频模型服务会议记录"


def deltas(n: int, cjk: bool, seed: int = 1) -> list[Segment]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = (
            "".join(rng.choice(HANZI) for _ in range(rng.randint(1, 3)))
            if cjk
            else " " + rng.choice(WORDS)
        )
        out.append(Segment(i * 75, i * 75 + 60, text))
    return out


def drifted(segments: list[Segment], share: float, seed: int = 2) -> str:
    rng = random.Random(seed)
    pieces = []
    for s in segments:
        text = s.text
        if rng.random() < share:
            text = rng.choice([text + "，", text.upper(), "", text + " indeed"])
        pieces.append(text)
    return "".join(pieces)


def best(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="include the worst case")
    args = parser.parse_args()
    for cjk in (False, True):
        segs = deltas(args.segments, cjk)
        joined = "".join(s.text for s in segs)
        cases = {
            "identical": joined,
            "1% changed": drifted(segs, 0.01),
            "5% changed": drifted(segs, 0.05),
            "last 10% only in final": joined + joined[: len(joined) // 10],
        }
        if args.full:
            cases["nothing shared"] = "x" * len(joined)
        script = "CJK" if cjk else "Latin"
        for name, final in cases.items():
            out: list[Segment] = []

            def run(
                final: str = final, segs: list[Segment] = segs, out: list[Segment] = out
            ) -> None:
                out[:] = align(segs, final)

            seconds = best(args.runs, run)
            assert "".join(s.text for s in out) == final
            print(
                f"{script:5} {args.segments} deltas, {len(final):7d} chars, {name:24}: "
                f"{seconds * 1000:8.1f} ms"
            )


if __name__ == "__main__":
    main()
