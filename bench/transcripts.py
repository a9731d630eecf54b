"""Tick transcripts: bytes per tick, raw against stored, and which compression to store with.

Generates `--ticks` catalog-like transcripts (a persona of scripts/catalog.json acting on
its modules: 3 to 8 tool calls with arguments and the product's JSON answers, the
persona's words before and between them, ratings with notes; seeded, so every run makes
the same ones), then measures, per tick:
- raw: the events' JSON as the runner sends them;
- zlib level 6 and 9 in a bytea column with STORAGE EXTERNAL (what the service stores,
  personas.transcripts.pack), with the time to compress;
- the same JSON as jsonb under PostgreSQL's own TOAST compression, pglz and lz4;
sizes as PostgreSQL keeps them (pg_column_size of the stored value).

    .venv/bin/python bench/transcripts.py
    .venv/bin/python bench/transcripts.py --ticks 2000 --seed 7
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from psycopg.types.json import Jsonb

from bench.stack import bench_parser, print_header, section, throwaway_stack
from personas.transcripts import ZLIB_LEVEL, pack

CATALOG = Path(__file__).resolve().parent.parent / "scripts" / "catalog.json"
VERBS = ("list", "create", "update", "complete")
WORDS = [
    *("today", "tomorrow", "lecture", "deadline", "groceries", "invoice", "client", "draft"),
    *("review", "meeting", "call", "mum", "gym", "reading", "plan", "quick", "note", "remember"),
    *("move", "shift", "after", "before", "lunch", "weekly", "sprint", "bug", "release", "paper"),
    *("chapter", "figure", "budget", "receipt", "school", "pickup", "practice", "song", "idea"),
]
SAYINGS = (
    "Let me check what is already on my list before I add anything.",
    "That worked, but I had to guess which field the due date goes in.",
    "Hmm, the list came back in an order I did not expect; newest first, I suppose.",
    "I will move this to tomorrow, today is already full.",
    "Adding it quickly before I forget, I can sort it out later.",
)


def phrase(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def item(rng: random.Random, module: str) -> dict:
    return {
        "id": f"{module[:3]}-{rng.randrange(16**8):08x}",
        "title": phrase(rng, rng.randint(2, 7)),
        "body": phrase(rng, rng.randint(0, 25)),
        "fields": {"due": f"2025-06-{rng.randint(1, 28):02d}", "priority": rng.choice(["low", "high"])},
        "done": rng.random() < 0.3,
        "createdAt": f"2025-05-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}Z",
    }


def call(rng: random.Random, module: str) -> dict:
    verb = rng.choice(VERBS)
    if verb == "list":
        arguments: dict = {"limit": rng.choice([10, 20, 50]), "includeDone": rng.random() < 0.5}
        output = {"items": [item(rng, module) for _ in range(rng.randint(0, 12))]}
    else:
        made = item(rng, module)
        arguments = {"title": made["title"], "body": made["body"], "fields": made["fields"]}
        if verb != "create":
            arguments = {"id": made["id"], **({} if verb == "complete" else arguments)}
        output = {"item": made}
    failed = rng.random() < 0.1
    return {
        "kind": "call",
        "tool": f"{module}.{verb}",
        "arguments": arguments,
        "result": "error" if failed else "ok",
        "output": "409 conflict: the item changed meanwhile" if failed else json.dumps(output)[:8000],
        "latencyMs": rng.randint(20, 900),
    }


def transcript(rng: random.Random, persona: dict) -> list[dict]:
    modules = [m for m, weight in persona["moduleMix"].items() if weight > 0]
    events: list[dict] = [
        {"kind": "model", "text": persona["systemPrompt"][:300] + " " + rng.choice(SAYINGS)}
    ]
    for _ in range(rng.randint(3, 8)):
        events.append(call(rng, rng.choice(modules)))
        if rng.random() < 0.6:
            events.append(
                {"kind": "model", "text": rng.choice(SAYINGS) + " " + phrase(rng, rng.randint(5, 30))}
            )
    rated = rng.sample(modules, k=min(len(modules), rng.randint(1, 3)))
    ratings = [
        {"module": m, "rating": rng.randint(1, 5), "notes": phrase(rng, rng.randint(6, 30))} for m in rated
    ]
    events.append({"kind": "ratings", "ratings": ratings})
    return events


def stored_sizes(conn, transcripts: list[list[dict]]) -> dict[str, list[int]]:
    """Bytes PostgreSQL keeps per transcript, for each way of storing it."""
    conn.execute(
        "CREATE TEMP TABLE sizes (z6 bytea, z9 bytea, pglz jsonb COMPRESSION pglz, lz4 jsonb COMPRESSION lz4)"
    )
    conn.execute("ALTER TABLE sizes ALTER z6 SET STORAGE EXTERNAL, ALTER z9 SET STORAGE EXTERNAL")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sizes VALUES (%s, %s, %s, %s)",
            [
                (zlib.compress(orjson.dumps(t), 6), zlib.compress(orjson.dumps(t), 9), Jsonb(t), Jsonb(t))
                for t in transcripts
            ],
        )
    rows = conn.execute(
        "SELECT pg_column_size(z6), pg_column_size(z9), pg_column_size(pglz), pg_column_size(lz4) FROM sizes"
    ).fetchall()
    return {
        name: [row[i] for row in rows]
        for i, name in enumerate(("zlib 6", "zlib 9", "jsonb pglz", "jsonb lz4"))
    }


def compress_ms(transcripts: list[list[dict]], level: int) -> float:
    raws = [orjson.dumps(t) for t in transcripts]
    start = time.perf_counter()
    for raw in raws:
        zlib.compress(raw, level)
    return 1000 * (time.perf_counter() - start) / len(raws)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--ticks", type=int, default=1000, help="transcripts to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=25, help="random seed (default 25)")
    args = parser.parse_args()
    print_header("tick transcripts: bytes per tick")
    rng = random.Random(args.seed)
    personas = json.loads(CATALOG.read_text())["personas"]
    transcripts = [transcript(rng, rng.choice(personas)) for _ in range(args.ticks)]
    raw = [len(orjson.dumps(t)) for t in transcripts]
    assert all(pack(t).raw_bytes == n for t, n in zip(transcripts, raw, strict=True))
    with throwaway_stack() as stack, stack.connect(autocommit=True) as conn:
        sizes = stored_sizes(conn, transcripts)
    section(f"{args.ticks} ticks, {statistics.mean(len(t) for t in transcripts):.1f} events each on average")
    print(f"{'stored as':<12} {'mean B':>8} {'median B':>9} {'p95 B':>7} {'of raw':>7}")
    for name, values in {"raw JSON": raw, **sizes}.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        share = statistics.mean(values) / statistics.mean(raw)
        mean, median = statistics.mean(values), statistics.median(values)
        print(f"{name:<12} {mean:>8.0f} {median:>9.0f} {p95:>7.0f} {share:>6.0%}")
    for level in (6, 9):
        mark = "  (the service's level)" if level == ZLIB_LEVEL else ""
        print(f"zlib {level} compress: {compress_ms(transcripts, level):.3f} ms per tick{mark}")


if __name__ == "__main__":
    main()
