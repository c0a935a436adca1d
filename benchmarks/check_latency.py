"""How long a student waits for `check()` in a notebook, against the 100 ms budget (issue: instant feedback).

Runs the public cases of the mini course's q1 many times in this process, as a notebook would, and prints the
median and 95th percentile and their ratio to the budget. Wall times are noisy on shared machines: read the median.

    .venv/bin/python benchmarks/check_latency.py [-n 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

BUDGET_S = 0.100
MINI = Path(__file__).resolve().parents[1] / "tests" / "data" / "mini-course"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="calls to time")
    args = parser.parse_args()
    os.environ["AIML_CHECKS_DIR"] = str(MINI / "release" / "part-01-mini" / ".checks")
    os.environ["AIML_HEADLESS"] = "1"
    from contextlib import redirect_stdout
    from io import StringIO

    from aiml_notebooks.checks import case, check

    @case(points=1)
    def double_of_three() -> object:
        return 3 + 3

    namespace = {"double_of_three": double_of_three}
    times = []
    for _ in range(args.n):
        t0 = time.perf_counter()
        with redirect_stdout(StringIO()):
            assert check("q1", "1.1-mini", namespace=namespace)
        times.append(time.perf_counter() - t0)
    first, rest = times[0], times[1:]
    median, p95 = statistics.median(rest), sorted(rest)[int(0.95 * len(rest)) - 1]
    print(f"check(): first call (reads .checks/) {first * 1000:.2f} ms; then over {len(rest)} calls median "
          f"{median * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms; "
          f"budget {BUDGET_S * 1000:.0f} ms → median is {BUDGET_S / median:.0f}× under budget")


if __name__ == "__main__":
    main()
