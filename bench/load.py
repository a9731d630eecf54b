"""Load clients, each in its own process with one keep-alive `requests.Session`, so the
clients do not queue behind one GIL. They share the machine's cores with the service and
PostgreSQL, though: the CPU report of each phase shows how much they took.

Processes are spawned (not forked), so none inherits the parent's database connections.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import requests

from bench.fleet import TICK_MARK, batch_template

TIMEOUT = 60
INTERNAL = "/api/v1/personas/internal"


@dataclass
class LoadResult:
    """What all clients of one phase did, from the moment they were let go together."""

    elapsed: float
    cpu_seconds: float
    requests: int
    rows: int
    new_rows: int
    errors: int
    latencies_ms: list[float]
    ids: list[str] = field(default_factory=list)
    stamps: list[tuple[float, int]] = field(default_factory=list)

    def latency_line(self) -> str:
        if not self.latencies_ms:
            return "no requests"
        lat = sorted(self.latencies_ms)
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        return f"latency p50 {statistics.median(lat):.1f} ms  p95 {p95:.1f} ms  max {lat[-1]:.1f} ms"


def run_clients(target: Callable[..., None], count: int, on_go: Callable[[], None], **kwargs) -> LoadResult:
    """Start `count` client processes, each running `target(client, **kwargs)` (but for
    `urls` and `service_key`, which make its `Client`), wait until each is connected, call
    `on_go` (start the meters), let them all go at once, and gather their results."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(count + 1)
    go = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(index, ready, go, results, target), kwargs=kwargs, daemon=True)
        for index in range(count)
    ]
    for proc in procs:
        proc.start()
    ready.wait(timeout=120)
    on_go()
    go.set()
    gathered = [results.get(timeout=kwargs.get("duration", 600) + 600) for _ in procs]
    for proc in procs:
        proc.join()
    failures = [r["failure"] for r in gathered if r.get("failure")]
    if failures:
        raise RuntimeError("a load client failed:\n" + failures[0])
    stamps = sorted(s for r in gathered for s in r["stamps"])
    return LoadResult(
        elapsed=max(r["finished"] for r in gathered) - min(r["started"] for r in gathered),
        cpu_seconds=sum(r["cpu_seconds"] for r in gathered),
        requests=sum(r["requests"] for r in gathered),
        rows=sum(r["rows"] for r in gathered),
        new_rows=sum(r["new_rows"] for r in gathered),
        errors=sum(r["errors"] for r in gathered),
        latencies_ms=[x for r in gathered for x in r["latencies_ms"]],
        ids=[x for r in gathered for x in r["ids"]],
        stamps=stamps,
    )


class Client:
    """One load client: its keep-alive session to one of the APIs, and the tally of what it did."""

    def __init__(self, index: int, url: str, service_key: str) -> None:
        self.index = index
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"X-Service-Key": service_key, "Content-Type": "application/json"})
        self.tally: dict = {
            "requests": 0,
            "rows": 0,
            "new_rows": 0,
            "errors": 0,
            "latencies_ms": [],
            "ids": [],
            "stamps": [],
        }

    def running(self, duration: float) -> bool:
        """Whether `duration` seconds since the start have yet to pass."""
        return time.monotonic() < self.tally["started"] + duration

    def post(self, path: str, body: bytes) -> dict | None:
        """POST `body`, timed and counted; the answer, or None (counted as an error) unless 200."""
        start = time.perf_counter()
        response = self.session.post(f"{self.url}{path}", data=body, timeout=TIMEOUT)
        self.tally["latencies_ms"].append((time.perf_counter() - start) * 1000)
        self.tally["requests"] += 1
        if response.status_code != 200:
            self.tally["errors"] += 1
            return None
        return orjson.loads(response.content)


def _client(
    index: int, ready, go, results, work: Callable[..., None], urls: list[str], service_key: str, **kwargs
) -> None:
    """Connect, wait for the start, run `work` (its tally timed), report the tally (or the failure)."""
    client = Client(index, urls[index % len(urls)], service_key)
    tally = client.tally
    try:
        client.session.get(client.url + "/health", timeout=TIMEOUT).raise_for_status()
        ready.wait(timeout=120)
        go.wait(timeout=120)
        cpu = time.process_time()
        tally["started"] = time.monotonic()
        work(client, **kwargs)
        tally["finished"] = time.monotonic()
        tally["cpu_seconds"] = time.process_time() - cpu
    except Exception:
        tally["failure"] = f"client {index}: {traceback.format_exc()}"
    results.put(tally)


def post_action_batches(
    client: Client, persona_ids: list[str], batch_rows: int, duration: float, run_tag: str, clients: int
) -> None:
    """POST batches of `batch_rows` action rows, each with fresh tick ids, for `duration` s."""
    template = batch_template(batch_rows)
    seq = 0
    while client.running(duration):
        pid = persona_ids[(client.index + seq * clients) % len(persona_ids)]
        body = template.replace(TICK_MARK, f"{run_tag}-c{client.index}-{seq}".encode())
        seq += 1
        answer = client.post(f"{INTERNAL}/{pid}/actions", body)
        if answer is not None:
            client.tally["rows"] += answer["written"]
            client.tally["new_rows"] += answer.get("new", 0)


def ingest(stack, apis: list, meter, persona_ids: list[str], args, run_tag: str) -> LoadResult:
    """`args.clients` processes POST `args.batch_rows`-row action batches to `apis` in turn
    for `args.duration` s, timed by `meter` (a CpuMeter); prints what they did."""
    result = run_clients(
        post_action_batches,
        args.clients,
        meter.start,
        urls=[api.url for api in apis],
        service_key=stack.service_key,
        persona_ids=persona_ids,
        batch_rows=args.batch_rows,
        duration=args.duration,
        run_tag=run_tag,
        clients=args.clients,
    )
    meter.stop(result.cpu_seconds)
    print(
        f"ingested        {result.rows} rows ({result.new_rows} new) in {result.requests} requests, "
        f"{result.elapsed:.2f} s = {result.rows / result.elapsed:,.0f} rows/s, "
        f"{result.requests / result.elapsed:.1f} batches/s; {result.errors} errors"
    )
    print(result.latency_line())
    print(meter.report())
    print(meter.per_unit(result.rows, "row"))
    return result


def claim_until_empty(client: Client, limit: int, lease_seconds: int, duration: float) -> None:
    """Claim `limit` personas at a time until a claim comes back empty (or `duration` ends)."""
    body = orjson.dumps(
        {"runnerId": f"bench-runner-{client.index}", "limit": limit, "leaseSeconds": lease_seconds}
    )
    tally = client.tally
    while client.running(duration):
        answer = client.post(f"{INTERNAL}/claims", body)
        if answer is None:
            if tally["errors"] > 50:
                return
            continue
        claimed = [p["userId"] for p in answer["personas"]]
        if not claimed:
            return
        tally["ids"].extend(claimed)
        tally["rows"] += len(claimed)
        tally["stamps"].append((time.monotonic(), len(claimed)))
