"""Sampling profiles of the services while row 4 runs (issue 17: the profile decides).

Off unless ``BENCH_PYSPY`` names a py-spy binary (it is a measuring tool, not
a dependency of CAPAflow: ``pip install py-spy`` into any venv). Each service
process is sampled with ``py-spy record --format raw`` (collapsed stacks) for
the saturated part of row 4; ``python -m bench.profile FILE...`` then sums the
samples by where the time goes (the package of the innermost frame that is
not the interpreter's own, and a few of CAPAflow's own stages).
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Stages of CAPAflow's own code that a profile is read by, matched on any frame
# of a stack, innermost first: a sample counts for the first that matches.
STAGES = (
    ("relay: rows to records", "shared/relay.py"),
    ("consumer: inbox + handler", "shared/inbox.py"),
    ("delivery worker", "services/notifications/service/delivery"),
    ("HTTP request", "starlette/"),
)


class Profiler:
    """py-spy on each given process from start() to stop(); nothing without BENCH_PYSPY."""

    def __init__(self, out_dir: Path, label: str) -> None:
        self.binary = os.environ.get("BENCH_PYSPY", "")
        self.out_dir = out_dir
        self.label = label
        self.running: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []

    def start(self, pids: dict[str, int]) -> None:
        if not self.binary:
            return
        for name, pid in pids.items():
            out = self.out_dir / f"profile-{self.label}-{name}.txt"
            self.files.append(out)
            self.running.append(subprocess.Popen(
                # --gil: samples only while the process holds the GIL, i.e. works.
                [self.binary, "record", "--pid", str(pid), "--rate", "100", "--gil",
                 "--format", "raw", "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> list[str]:
        for proc in self.running:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in self.running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.running = []
        return [str(f) for f in self.files if f.exists()]


def summarise(path: Path, top: int = 25) -> str:
    """Where the samples of one collapsed-stack file went, by package and by stage."""
    leaves: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        leaves[_package(frames)] += count
        stages[next((name for name, marker in STAGES
                     if any(marker in f for f in frames)), "other")] += count
    lines = [f"{path.name}: {total} samples"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in leaves.most_common(top)]
    lines += ["  by stage:"] + [f"  {n / total:6.1%}  {name}" for name, n in stages.most_common()]
    return "\n".join(lines)


def _package(frames: list[str]) -> str:
    # A frame reads "function (path/to/file.py:line)"; the innermost frame with a
    # file names the package the time was spent in.
    for frame in reversed(frames):
        if "(" not in frame:
            continue
        where = frame.rsplit("(", 1)[1].rstrip(")")
        path = where.rsplit(":", 1)[0]
        if "site-packages/" in path:
            return path.split("site-packages/", 1)[1].split("/", 1)[0]
        if "/lib/python3" in path:
            return "stdlib:" + path.rsplit("/", 1)[-1]
        for root in ("shared/", "services/", "bench/"):
            if root in path:
                return root + path.split(root, 1)[1]
        return path
    return "(no frame)"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(summarise(Path(name)))
