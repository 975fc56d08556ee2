"""Sample the service with py-spy while it is under load, and summarise where the time goes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sampling(pid: int, seconds: int, output: Path) -> Iterator[None]:
    """Record `pid` for `seconds` as collapsed stacks (flamegraph.pl and speedscope read them)."""
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if py_spy is None:
        raise RuntimeError("py-spy is missing: pip install py-spy")
    command = [
        py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
        "--format", "raw", "--output", str(output), "--nonblocking",
    ]  # fmt: skip
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 30)


def summary(collapsed: Path, top: int = 25) -> str:
    """The functions with the most samples: on the stack (inclusive) and on top of it (self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"-- {title}")
        lines.extend(f"{100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(top))
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/site-packages/pkg/module.py:123)" -> "function (pkg/module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "wt-bench/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
