"""What a soak run reports: each kind of request's tally, the daemon process's samples, the result in words."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOUNDS = {"rss_mib": 20.0, "fds": 8, "threads": 4}
"""Growth allowed from the highest value of the warm-up to the highest after it (``--rss-growth-mib`` sets the first)."""


@dataclass
class Tally:
    """What happened to one kind of request."""

    sent: int = 0
    answered: int = 0
    refused: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        from models.dsp import percentiles  # numpy: not for the command's --help

        # the nearest latency at or above each percentile ("higher"): one a request really took
        found = percentiles(self.latencies_ms, method="higher") if self.latencies_ms else {"p50": None, "p99": None}
        return {"sent": self.sent, "answered": self.answered, "refused": self.refused, "unanswered": self.sent - self.answered,
                **{f"{name}_ms": None if value is None else round(value, 1) for name, value in found.items()},
                "max_ms": round(max(self.latencies_ms), 1) if self.latencies_ms else None}


def proc_sample(pid: int) -> dict[str, float]:
    """Resident memory (MiB), open file descriptors and threads of process ``pid``, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}


def words(result: dict[str, Any]) -> str:
    lines = [f"soak: {result['minutes']} min at a {result['period']}-frame JACK period, "
             f"JACK {'real-time' if result['realtime'] else 'not real-time'}"]
    for kind, tally in result["requests"].items():
        lines.append(f"  {kind:<7} sent {tally['sent']:5d}  answered {tally['answered']:5d}  refused {tally['refused']:3d}  "
                     f"p50 {tally['p50_ms']} ms  p99 {tally['p99_ms']} ms  max {tally['max_ms']} ms")
    traffic = ", ".join(f"{count} {kind}" for kind, count in sorted(result["traffic"].items()) if "refused" not in kind)
    lines.append(f"  traffic: {traffic}")
    lines += [f"  refused: {count} x {kind}" for kind, count in result["traffic"].items() if "refused" in kind]
    lines.append(f"  synth in step: {result['checks']['passed']} of {result['checks']['total']} checks")
    labels = {"first": "first sample at", "warm": "warm-up high to", "last": "last sample at",
              "end": "traffic stopped at"}
    for name, label in labels.items():
        if result[name]:
            sample = result[name]
            lines.append(f"  {label} {sample['t']:4.0f} s: rss {sample['rss_mib']} MiB, {sample['fds']} fds, "
                         f"{sample['threads']} threads")
    growth = ", ".join(f"{k} {v:g} (bound {result['bounds'][k]})" for k, v in result["growth"].items())
    lines.append(f"  growth past the warm-up high: {growth}")
    lines.append("  " + ("FAILED: " + "; ".join(result["failures"]) if result["failures"] else "clean"))
    return "\n".join(lines)
