"""What this machine (or container) gives a grader: usable cores and memory, and how many notebooks to grade at
once by default. Reads the CPU affinity, /proc/meminfo and this process's own cgroup limits (v1 or v2), so a
Kubernetes pod's limits count, not the node's size."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
RESERVED_MB = 1024   # the grader process and the warm server's own pages, beside the notebooks


def _cgroup_file(controller: str, name: str) -> Path | None:
    """`name` in this process's own cgroup of `controller` (v1) or its v2 cgroup, if readable."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctls, path = line.split(":", 2)
            if (controller in ctls.split(",")) or (ctls == "" and (CGROUP_ROOT / "cgroup.controllers").exists()):
                base = CGROUP_ROOT / (controller if ctls else "") / path.lstrip("/")
                if (base / name).exists():
                    return base / name
    except OSError:
        return None
    return None


def usable_cores() -> float:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota (a container's limit)."""
    cores: float = len(os.sched_getaffinity(0))
    for controller, name in (("cpu", "cpu.max"), ("cpu", "cpu.cfs_quota_us")):
        path = _cgroup_file(controller, name)
        if path is None:
            continue
        text = path.read_text().split()
        try:
            if name == "cpu.max" and text[0] != "max":
                cores = min(cores, int(text[0]) / int(text[1]))
            elif name == "cpu.cfs_quota_us" and int(text[0]) > 0:
                period = int((path.parent / "cpu.cfs_period_us").read_text())
                cores = min(cores, int(text[0]) / period)
        except (ValueError, IndexError, OSError):
            pass
    return max(1.0, cores)


def usable_memory_mb() -> float:
    """Memory this process may use: the machine's, capped by a cgroup memory limit (a container's limit)."""
    total = 0.0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) / 1024
    for name in ("memory.max", "memory.limit_in_bytes"):
        path = _cgroup_file("memory", name)
        if path is not None:
            text = path.read_text().strip()
            if text.isdigit():
                total = min(total, int(text) / 2**20)
    return total


def default_workers(memory_limit_mb: int) -> int:
    """Notebooks graded at once by default: one per usable core, no more than fit in memory when each notebook
    may use its whole memory limit (a 2-core, 4 GiB pod with the 2 GiB default limit grades one at a time)."""
    by_memory = int((usable_memory_mb() - RESERVED_MB) // memory_limit_mb)
    return max(1, min(int(usable_cores()), by_memory))
