"""Large /due: worker memory and time while GET /internal/due streams a fleet at the largest prompts.

Workload: `--personas` personas, all due, each with a system prompt of the largest size
the API accepts (20,000 characters), so the unpaged /due answer is over 200 MB. Two
phases against the service as the Procfile runs it:

1. timing: one client reads the whole /due body (in 1 MB pieces, discarded) and one
   psycopg connection fetches the same rows into Python (the raw baseline, as in
   bench/due.py), alternating, `--runs` times each after a warm-up; medians compared
   (target: API <= 1.5 x raw);
2. memory: `--concurrent` clients read /due at once while every gunicorn worker's
   resident memory is sampled every 20 ms (target: no worker above 150 MB); the same
   number of raw fetches at once are timed for reference.

    .venv/bin/python bench/due_large.py
    .venv/bin/python bench/due_large.py --personas 20000 --concurrent 8
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.due import RAW_DUE
from bench.meters import gunicorn_memory, interleaved_medians, memory_lines, spread
from bench.stack import INTERNAL, bench, bench_args, every, print_ratio, section, seed_fleet
from personas.validation import PROMPT_MAX

RSS_TARGET_MB = 150
RSS_SAMPLE_S = 0.02


def concurrent(parser) -> None:
    parser.add_argument("--concurrent", type=int, default=4, help="clients at once in phase 2 (default 4)")


class RssSampler:
    """The largest resident size seen of any gunicorn worker, one `sample` at a time."""

    def __init__(self, api) -> None:
        self.api = api
        self.peak_mb = 0.0

    def sample(self) -> None:
        for role, _pid, rss, _hwm in gunicorn_memory(self.api):
            if role == "worker":
                self.peak_mb = max(self.peak_mb, rss)


def main() -> int:
    args = bench_args(__doc__, concurrent, personas=10_000, runs=3)
    with bench("due_large: GET /internal/due at the largest prompts, memory and time", args) as stack:
        due = seed_fleet(stack, args.personas, 1.0, prompt_chars=PROMPT_MAX)
        print(f"prompts         {PROMPT_MAX} characters, {due} due")
        api = stack.start_api(args)
        for line in memory_lines(api):
            print(f"at start        {line}")

        def api_due() -> int:
            """The body's size: read in 1 MB pieces and dropped, as a streaming client would."""
            url = f"{api.url}{INTERNAL}/due"
            headers = {"X-Service-Key": stack.service_key}
            with requests.get(url, headers=headers, timeout=120, stream=True) as response:
                response.raise_for_status()
                return sum(len(piece) for piece in response.iter_content(1 << 20))

        def raw_due() -> int:
            with stack.connect(autocommit=True) as raw:
                return len(raw.execute(RAW_DUE).fetchall())

        body_bytes = api_due()
        print(f"rows            raw {raw_due()}; API body {body_bytes / 1e6:.1f} MB")

        section(f"timing: API and raw alternating, {args.runs} runs each after a warm-up")
        single = RssSampler(api)
        with every(RSS_SAMPLE_S, single.sample):
            medians = interleaved_medians(args.runs, {"api": api_due, "raw": raw_due})
        for name, (median, times) in medians.items():
            print(f"{name:<8} median {median:8.1f} ms  ({spread(times)})")
        print(f"largest worker RSS seen, one stream at a time: {single.peak_mb:.1f} MB")

        section(f"memory: {args.concurrent} clients read /due at once")
        sampler = RssSampler(api)
        with every(RSS_SAMPLE_S, sampler.sample), ThreadPoolExecutor(args.concurrent) as pool:
            began = time.perf_counter()
            sizes = list(pool.map(lambda _: api_due(), range(args.concurrent)))
            api_wall = (time.perf_counter() - began) * 1000
        with ThreadPoolExecutor(args.concurrent) as pool:
            began = time.perf_counter()
            list(pool.map(lambda _: raw_due(), range(args.concurrent)))
            raw_wall = (time.perf_counter() - began) * 1000
        complete = all(size == body_bytes for size in sizes)
        print(f"API, {args.concurrent} at once   {api_wall:8.1f} ms for {sum(sizes) / 1e6:.0f} MB")
        print(f"raw, {args.concurrent} at once   {raw_wall:8.1f} ms")
        for line in memory_lines(api):
            print(f"after           {line}")

        section("result")
        ratio = medians["api"][0] / medians["raw"][0]
        print(f"API median      {medians['api'][0]:.1f} ms (whole {body_bytes / 1e6:.0f} MB body received)")
        print(f"raw median      {medians['raw'][0]:.1f} ms (rows in Python)")
        print_ratio("API/raw", ratio, 1.5)
        print(
            f"worker RSS      {sampler.peak_mb:.1f} MB at most while {args.concurrent} streams ran "
            f"(target <= {RSS_TARGET_MB} MB: {'met' if sampler.peak_mb <= RSS_TARGET_MB else 'NOT met'})"
        )
        if not complete:
            print("WARNING: a concurrent read did not get the whole body")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
