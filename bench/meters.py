"""Measurements from outside the processes: CPU time of process trees and of the whole
machine (/proc/<pid>/stat, /proc/stat), resident memory (/proc/<pid>/status), and
timings taken in turn so that someone else's load hits every candidate alike.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.stack import Stack
    from devstack.processes import Process

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            raw = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name sits in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                parents[int(entry)] = int(fields[1])
    return parents


def children_of(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    parents = _parents() if parents is None else parents
    return sorted(child for child, parent in parents.items() if parent == pid)


def tree_cpu_seconds(root: int, parents: dict[int, int], exclude: frozenset[int] = frozenset()) -> float:
    """CPU time of `root` and its live children (but `exclude`), plus what `root` reaped
    from dead children, so a child that exits between two samples still counts."""
    total = 0.0
    fields = _stat_fields(root)
    if fields:
        # utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat (1-based).
        total += sum(int(x) for x in fields[11:15])
    for child in children_of(root, parents):
        child_fields = None if child in exclude else _stat_fields(child)
        if child_fields:
            total += int(child_fields[11]) + int(child_fields[12])
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    with open("/proc/stat") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def gunicorn_memory(proc: Process) -> list[tuple[str, int, float, float]]:
    """(role, pid, VmRSS MB, peak VmHWM MB) of a gunicorn master and each of its workers."""
    found = []
    master = proc.proc.pid
    for role, pid in [("master", master), *(("worker", c) for c in children_of(master))]:
        status = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    status[key] = value.strip()
        except FileNotFoundError:
            continue
        rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
        peak = int(status.get("VmHWM", "0 kB").split()[0]) / 1024
        found.append((role, pid, rss, peak))
    return found


def memory_lines(proc: Process) -> list[str]:
    return [
        f"{proc.name} {role:<6} pid {pid:<7} VmRSS {rss:6.1f} MB  peak VmHWM {peak:6.1f} MB"
        for role, pid, rss, peak in gunicorn_memory(proc)
    ]


def max_rss_mb(proc: Process) -> float:
    return max(rss for _, _, rss, _ in gunicorn_memory(proc))


class CpuMeter:
    """CPU seconds spent by each group between start() and stop(): each gunicorn instance
    (master and workers), PostgreSQL (postmaster and backends, the exited ones too),
    `clients` (this script, plus what its load processes report for the phase), and the
    whole machine; the rest of the machine's busy time is `other`: load we did not make."""

    def __init__(self, stack: Stack, apis: list[Process]) -> None:
        self.stack = stack
        self.apis = apis

    def _sample(self) -> dict[str, float]:
        parents = _parents()
        sample = {api.name: tree_cpu_seconds(api.proc.pid, parents) for api in self.apis}
        sample["postgres"] = tree_cpu_seconds(self.stack.postmaster_pid(), parents)
        own = os.times()
        sample["clients"] = own.user + own.system
        sample["machine"] = machine_busy_seconds()
        sample["wall"] = time.monotonic()
        return sample

    def start(self) -> None:
        self.before = self._sample()

    def stop(self, clients_cpu: float = 0.0) -> dict[str, float]:
        """`clients_cpu`: CPU seconds the load processes spent in the phase, by their own count."""
        after = self._sample()
        self.used = {k: after[k] - self.before[k] for k in after}
        self.used["clients"] += clients_cpu
        return self.used

    def shares(self) -> dict[str, float]:
        """Cores kept busy over the phase by each group, `other` and the whole machine."""
        used = dict(self.used)
        wall = used.pop("wall")
        machine = used.pop("machine")
        shares = {name: seconds / wall for name, seconds in used.items()}
        shares["other"] = max(0.0, machine - sum(used.values())) / wall
        shares["machine"] = machine / wall
        return shares

    def per_unit(self, units: float, unit: str) -> str:
        """CPU time per unit of work (a row, a claim) by group: what sizing multiplies out."""
        groups = {k: v for k, v in self.used.items() if k not in {"wall", "machine"}}
        scale, label = (1e6, "us") if max(groups.values()) / max(units, 1) < 1e-3 else (1e3, "ms")
        parts = "  ".join(
            f"{name} {seconds / max(units, 1) * scale:.1f} {label}" for name, seconds in groups.items()
        )
        return f"cpu per {unit}: {parts}"

    def report(self) -> str:
        shares = self.shares()
        machine = shares.pop("machine")
        parts = "  ".join(f"{name} {cores:4.2f}" for name, cores in shares.items())
        return f"cpu, cores busy: {parts}  | machine {machine:4.2f} of {len(os.sched_getaffinity(0))}"


def interleaved_medians(
    runs: int, candidates: dict[str, Callable[[], object]]
) -> dict[str, tuple[float, list[float]]]:
    """Each candidate once as a warm-up, then in turn `runs` times, so that a burst of
    someone else's load hits them alike; the median of each."""
    for run in candidates.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: (statistics.median(t), t) for name, t in times.items()}


def spread(times: list[float]) -> str:
    return f"min {min(times):.1f}  max {max(times):.1f} ms over {len(times)} runs"
