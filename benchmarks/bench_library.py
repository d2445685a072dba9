"""Search across a large library: a real job database filled through ``Store.finish_job`` (the
engine's path: result saved and cues indexed in one transaction) with generated transcripts,
then timed.

    pip install -e '.[bench]'          # wordfreq: real Chinese and English word frequencies
    python benchmarks/bench_library.py            # 10,000 transcripts, ~5 M characters (~1 min)
    python benchmarks/bench_library.py --full     # 10,000 transcripts, ~100 M characters
    python benchmarks/bench_library.py --full --db /tmp/lib.sqlite3   # keep it (3.5 GB), then
    python benchmarks/bench_library.py --db /tmp/lib.sqlite3 --reuse  # measure it again

Text: words drawn with the frequencies wordfreq gives for Chinese and English (its top 30,000
words of each), in sentences, timed as speech (4 Chinese characters or 2.5 English words a
second, one segment per word, as the service streams them): 70 % Chinese, 25 % English, 5 %
Chinese with English terms. Prints
- search latency (median, 95th percentile, worst) over 200 queries: Chinese words of 1 to 4
  characters, English words, prefixes (``budg*``), two-word phrases and mixed queries, drawn
  from common (top 200), middling and rare words of the same lists;
- index-add time for one 30-minute transcript (the cue index only, and the whole finish_job);
- the database size against the raw text (UTF-8), and the index's share (``dbstat``).
Wall-clock times on this machine; the first search (which checks the index is current) is
timed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.store.search_query import CJK_CHAR
from tui.store.store import Store
from tui.transcript.model import Segment, TranscriptionResult

VOCAB = 30_000


class Words:
    """A language's top words with their frequencies; draws are Zipf-like, as in real text."""

    def __init__(self, lang: str) -> None:
        try:
            from wordfreq import get_frequency_dict
        except ImportError:
            sys.exit("This benchmark needs wordfreq: pip install -e '.[bench]'.")
        freq = get_frequency_dict(lang)
        ranked = sorted(freq.items(), key=lambda kv: -kv[1])
        if lang == "en":
            ranked = [(w, f) for w, f in ranked if w.isalpha() and w.isascii()]
        else:
            ranked = [(w, f) for w, f in ranked if CJK_CHAR.match(w) and w.isalpha()]
        self.words = [w for w, _ in ranked[:VOCAB]]
        self.cum = list(itertools.accumulate(f for _, f in ranked[:VOCAB]))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)

    def band(self, rng: random.Random, lo: int, hi: int) -> str:
        return self.words[rng.randrange(lo, min(hi, len(self.words)))]


def chinese_segments(zh: Words, en: Words | None, rng: random.Random, chars: int) -> list[str]:
    out: list[str] = []
    n = 0
    while n < chars:
        sentence = zh.draw(rng, rng.randint(6, 18))
        if en is not None and rng.random() < 0.5:
            sentence.insert(rng.randrange(len(sentence)), " " + en.draw(rng, 1)[0] + " ")
        sentence[-1] += rng.choice("。。。？，")
        out += sentence
        n += sum(len(w) for w in sentence)
    return out


def english_segments(en: Words, rng: random.Random, chars: int) -> list[str]:
    out: list[str] = []
    n = 0
    while n < chars:
        sentence = en.draw(rng, rng.randint(5, 16))
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += rng.choice("...?,")
        out += [w + " " for w in sentence]
        n += sum(len(w) + 1 for w in sentence)
    return out


def timed(pieces: list[str], cjk: bool) -> list[Segment]:
    out, t = [], 0
    for p in pieces:
        dur = 250 * len(p.strip()) if cjk else 400
        out.append(Segment(t, t + dur, p))
        t += dur + (900 if p.rstrip()[-1:] in "。？.?" else 0)
    return out


def transcript(zh: Words, en: Words, rng: random.Random, chars: int) -> TranscriptionResult:
    r = rng.random()
    if r < 0.70:
        segs = timed(chinese_segments(zh, None, rng, chars), True)
    elif r < 0.95:
        segs = timed(english_segments(en, rng, chars), False)
    else:
        segs = timed(chinese_segments(zh, en, rng, chars), True)
    text = "".join(s.text for s in segs).strip()
    return TranscriptionResult(
        file="x",
        text=text,
        segments=segs,
        model="stepaudio-2.5-asr",
        duration_s=segs[-1].end_ms / 1000,
    )


def finish(store: Store, path: Path, result: TranscriptionResult) -> None:
    job = store.add_job(path)
    store.claim_one(job.id, "bench")
    store.finish_job(job.id, result, owner="bench")


def queries(zh: Words, en: Words, rng: random.Random, n: int) -> list[str]:
    """Common (top 200), middling (200-5,000) and rare (5,000-30,000) words, 1:4:5."""
    out = []
    for _ in range(n):
        r = rng.random()
        lo, hi = (0, 200) if r < 0.1 else (200, 5000) if r < 0.5 else (5000, VOCAB)
        kind = rng.random()
        if kind < 0.2:  # one Chinese character
            word = zh.band(rng, lo, hi)
            out.append(word[0])
        elif kind < 0.5:  # a Chinese word (mostly two characters)
            out.append(zh.band(rng, lo, hi))
        elif kind < 0.7:
            out.append(en.band(rng, lo, hi))
        elif kind < 0.8:
            word = en.band(rng, lo, hi)
            out.append((word[:4] if len(word) > 4 else word) + "*")
        elif kind < 0.9:
            out.append(f'"{en.band(rng, 0, 2000)} {en.band(rng, lo, hi)}"')
        else:
            out.append(f"{zh.band(rng, lo, hi)} {en.band(rng, lo, hi)}")
    return out


async def open_library(store: Store) -> tuple[float, float]:
    """Milliseconds from pushing the library screen to its first page shown, and to load
    the next page (as scrolling near the end does), in a headless workbench."""
    from textual.app import App

    from tui.app.screens.library_screen import LibraryScreen

    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        screen = LibraryScreen(store)
        await app.push_screen(screen)
        await pilot.pause()
        opened = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        screen.load_more()
        await pilot.pause()
        return opened, (time.perf_counter() - t0) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="~100 M characters (10,000 x 10,000)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--chars", type=int, help="characters per transcript (default 500)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", type=Path, help="keep the database here (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing --db again, without filling"
    )
    args = parser.parse_args()
    chars = args.chars or (10_000 if args.full else 500)
    rng = random.Random(args.seed)
    zh, en = Words("zh"), Words("en")

    tmp = tempfile.TemporaryDirectory(prefix="bench_library_")
    db = args.db or Path(tmp.name) / "jobs.sqlite3"
    raw_bytes = raw_chars = 0
    started = time.perf_counter()
    with Store(db) as store:
        if args.reuse:
            # Measure again over a library filled by an earlier run (--db FILE --reuse).
            row = store._db.one(
                "SELECT COUNT(*), SUM(length(text)), SUM(length(CAST(text AS BLOB))) FROM results"
            )
            if row is None or not row[0]:
                sys.exit(f"{db} holds no transcripts to reuse.")
            args.jobs, raw_chars, raw_bytes = row[0], row[1], row[2]
        for i in range(0 if args.reuse else args.jobs):
            result = transcript(zh, en, rng, chars)
            raw_bytes += len(result.text.encode())
            raw_chars += len(result.text)
            finish(
                store, Path(f"/recordings/{2020 + i % 7}/{i // 100:03d}/meeting-{i}.m4a"), result
            )
            if (i + 1) % 1000 == 0:
                print(f"  filled {i + 1} / {args.jobs}", file=sys.stderr)
        fill_s = time.perf_counter() - started

        t0 = time.perf_counter()
        store.search("warmup")
        first_ms = (time.perf_counter() - t0) * 1000
        latencies: list[tuple[float, str, int]] = []
        for q in queries(zh, en, rng, args.queries):
            t0 = time.perf_counter()
            hits = store.search(q, limit=20)
            ms = (time.perf_counter() - t0) * 1000
            latencies.append((ms, q, len(hits), bool(hits) and not hits[0].ranked))

        # One 30-minute Chinese meeting (4 characters a second), added five times.
        meeting = TranscriptionResult(
            file="m",
            text="",
            segments=timed(chinese_segments(zh, en, rng, 30 * 60 * 4), True),
            duration_s=1800,
        )
        meeting.text = "".join(s.text for s in meeting.segments)
        index_ms, finish_ms = [], []
        for n in range(5):
            t0 = time.perf_counter()
            finish(store, Path(f"/recordings/new/meeting-{n}.m4a"), meeting)
            finish_ms.append((time.perf_counter() - t0) * 1000)
            job_id = store.list_jobs(limit=1)[0].id
            t0 = time.perf_counter()
            cues = store.reindex(job_id)
            index_ms.append((time.perf_counter() - t0) * 1000)

        opened_ms, page_ms = asyncio.run(open_library(store))

        conn = store._db.conn  # dbstat: bytes per table, the index's share of the file
        sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        index_bytes = sum(v for k, v in sizes.items() if k.startswith("search_"))
        store.close()
        db_bytes = os.path.getsize(db) + sum(
            os.path.getsize(p) for p in (Path(f"{db}-wal"),) if p.exists()
        )

    print(
        f"library view: first page shown {opened_ms:.0f} ms after opening; next page {page_ms:.0f} ms"
    )
    times = [t for t, _, _, _ in latencies]
    broad = sum(b for _, _, _, b in latencies)
    worst = max(latencies)
    print(
        f"library: {args.jobs:,} transcripts, {raw_chars / 1e6:.1f} M characters "
        f"({raw_bytes / 1e6:.1f} MB UTF-8), "
        + ("reused" if args.reuse else f"filled in {fill_s:.0f} s")
        + f" ({fill_s / args.jobs * 1000:.1f} ms per finish_job)"
    )
    print(
        f"search over {len(latencies)} queries (20 hits each): median {statistics.median(times):.1f} ms, "
        f"p95 {percentile(times, 0.95):.1f} ms, worst {worst[0]:.1f} ms ({worst[1]!r}, {worst[2]} hits); "
        f"first search (index check) {first_ms:.1f} ms; {broad} broad (newest first)"
    )
    slow = sorted(latencies, reverse=True)[:5]
    print("  slowest: " + "; ".join(f"{q!r} {t:.0f} ms" for t, q, _, _ in slow))
    print(
        f"index add, one 30-minute transcript ({len(meeting.text):,} characters, {cues} cues): "
        f"median {statistics.median(index_ms):.1f} ms (whole finish_job {statistics.median(finish_ms):.1f} ms)"
    )
    print(
        f"database {db_bytes / 1e6:.1f} MB for {raw_bytes / 1e6:.1f} MB of text; "
        f"search index {index_bytes / 1e6:.1f} MB = {index_bytes / raw_bytes:.2f}x the raw text "
        "("
        + ", ".join(
            f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items()) if k.startswith("search_")
        )
        + ")"
    )
    if args.db is None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
