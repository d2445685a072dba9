"""Time to group 20,000 word segments into subtitle cues: ``build_cues`` now (the open cue is
tracked word by word and wrapped once when it closes) against the plain algorithm it replaced
(the whole cue re-joined and re-wrapped for every word), kept in
``tests/test_transcript_cue_equivalence.py`` as the reference. Both outputs are compared too.

    /work/venv/bin/python benchmarks/bench_cues.py [--segments 20000] [--runs 5]

Figures are CPU time of this process, the best of ``--runs`` runs of each, interleaved (the
least disturbed by other load on a shared machine).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_transcript_cue_equivalence import reference_build_cues
from tui.transcript.cues import Cue, build_cues
from tui.transcript.model import Segment

_VOCABULARY = """the of and a to in is you that it was for on are as with they at be this
from or one had by word but not what all were we when your can said there use each which she do
how their if will up other about out many then them these so some her would make like him into
time has look two more write go see number way could people pipeline subtitles recording"""
WORDS = _VOCABULARY.split()
HANZI = "我们今天讨论字幕的分段规则这些细节决定了是否好读时间戳音频模型服务会议记录"


def latin(n: int, seed: int = 1) -> list[Segment]:
    """One segment per word (" word", as the service sends deltas), 300 ms apart, with commas,
    full stops and the odd pause, like a long English recording."""
    rng = random.Random(seed)
    out, t = [], 0
    for i in range(n):
        word = rng.choice(WORDS)
        r = rng.random()
        word += "." if r < 0.06 else "," if r < 0.12 else ""
        out.append(Segment(t, t + 250, (" " if i else "") + word))
        t += 300 + (1000 if rng.random() < 0.02 else 0)
    return out


def chinese(n: int, seed: int = 2) -> list[Segment]:
    """One or two characters per segment, with ， and 。 now and then."""
    rng = random.Random(seed)
    out, t = [], 0
    for _ in range(n):
        text = "".join(rng.choice(HANZI) for _ in range(rng.choice((1, 2))))
        r = rng.random()
        text += "。" if r < 0.05 else "，" if r < 0.12 else ""
        out.append(Segment(t, t + 200, text))
        t += 220 + (1000 if rng.random() < 0.02 else 0)
    return out


Build = Callable[[list[Segment]], list[Cue]]


def best_of(
    runs: int, fns: tuple[Build, Build], segs: list[Segment]
) -> list[tuple[float, list[Cue]]]:
    best = [float("inf"), float("inf")]
    outs: list[list[Cue]] = [[], []]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            start = time.process_time()
            outs[i] = fn(segs)
            best[i] = min(best[i], time.process_time() - start)
    return list(zip(best, outs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    same = True
    for name, make in (("English words", latin), ("Chinese characters", chinese)):
        segs = make(args.segments)
        (before, expected), (after, got) = best_of(
            args.runs, (reference_build_cues, build_cues), segs
        )
        same = same and got == expected
        print(
            f"{name:<19} {len(segs):>6} segments → {len(got):>5} cues: "
            f"before {before * 1000:6.1f} ms, after {after * 1000:6.1f} ms "
            f"({before / after:.1f}x), identical output: {got == expected}"
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
