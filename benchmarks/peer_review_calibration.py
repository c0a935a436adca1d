"""Peer grades against the truth: the median of k reviews versus the calibrated PG1 model, on simulated cohorts.

    .venv/bin/python benchmarks/peer_review_calibration.py [-n 200] [-k 3 4] [--seeds 5] [--integer] [--tau-shape 2]
    .venv/bin/python benchmarks/peer_review_calibration.py --small [--seeds 20]   # tiny cohorts: bounded?

Each student's true score is drawn from N(7, 2²) (a 0–12 rubric total), each reviewer's bias from N(0, 1.5²) and
reliability (precision) from Gamma(shape 2, mean 1); a reviewer's score is true + bias + N(0, 1/reliability).
Reviews are assigned with `assign_reviews` (one cohort). With --integer, observed scores are rounded and clipped
to 0..12 like real rubric totals. RMSE is taken against the true scores; ratio = calibrated ÷ median (< 1: PG1
is better).

--small runs tiny cohorts (2 to 20 students, k = 3, integer scores): how often PG1 is fitted rather than falling
back to the median, both RMSEs, and how far the model's own estimates (before clipping to the rubric) stray
outside 0..12 (the unbounded model gave 757 and -1180 on two cohorts of two).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from aiml_course.peer_review import assign_reviews, calibrated_grades, median_grades
from aiml_course.peer_review.calibrate import Review

TRUE_MEAN, TRUE_SD, BIAS_SD, TAU_SHAPE, TAU_MEAN = 7.0, 2.0, 1.5, 2.0, 1.0


def simulate(
    n: int, k: int, seed: int, *, integer: bool = False, tau_shape: float = TAU_SHAPE
) -> tuple[dict[str, float], list[Review]]:
    """True scores and the reviews of one simulated cohort."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    true = dict(zip(ids, rng.normal(TRUE_MEAN, TRUE_SD, n).tolist(), strict=True))
    bias = dict(zip(ids, rng.normal(0.0, BIAS_SD, n).tolist(), strict=True))
    tau = dict(zip(ids, rng.gamma(tau_shape, TAU_MEAN / tau_shape, n).tolist(), strict=True))
    reviews: list[Review] = []
    for reviewer, authors in assign_reviews(dict.fromkeys(ids, "all"), k=k, seed=seed).items():
        for author in authors:
            z = true[author] + bias[reviewer] + rng.normal(0.0, 1.0 / np.sqrt(tau[reviewer]))
            reviews.append((reviewer, author, float(np.clip(np.rint(z), 0, 12)) if integer else float(z)))
    return true, reviews


def rmse(estimate: dict[str, float], true: dict[str, float]) -> float:
    return float(np.sqrt(np.mean([(estimate[u] - true[u]) ** 2 for u in true])))


def small_cohorts(seeds: int, iterations: int) -> None:
    """Tiny cohorts: fallback rate, RMSEs, and the largest excursion of the unclipped estimates outside 0..12."""
    print(f"{'n':>3} {'fitted':>7} {'median':>8} {'calibr.':>8} {'ratio':>6} {'outside 0..12 (unclipped)':>26}")
    for n in (2, 3, 4, 5, 6, 8, 10, 15, 20):
        fitted, r_med, r_cal, outside = 0, [], [], 0.0
        for seed in range(seeds):
            true, reviews = simulate(n, 3, seed, integer=True)
            raw = calibrated_grades(reviews, iterations=iterations, seed=seed)
            clipped = calibrated_grades(reviews, iterations=iterations, seed=seed, score_range=(0, 12))
            fitted += raw.method == "pg1"
            outside = max([outside, *(max(-x, x - 12, 0.0) for x in raw.scores.values())])
            reviewed = {u: t for u, t in true.items() if u in clipped.scores}
            r_med.append(rmse(median_grades(reviews), reviewed))
            r_cal.append(rmse(clipped.scores, reviewed))
        print(f"{n:>3} {fitted:>3}/{seeds:<3} {np.mean(r_med):>8.3f} {np.mean(r_cal):>8.3f} "
              f"{np.mean(r_cal) / np.mean(r_med):>6.3f} {outside:>26.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="students in the cohort")
    parser.add_argument("-k", type=int, nargs="+", default=[3, 4], help="reviews per submission")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--integer", action="store_true", help="round and clip observed scores to 0..12")
    parser.add_argument("--tau-shape", type=float, default=TAU_SHAPE,
                        help="shape of the simulated reliabilities' Gamma (the model assumes alpha0 = 2)")
    parser.add_argument("--small", action="store_true", help="tiny cohorts instead (2 to 20 students, k = 3)")
    args = parser.parse_args()
    if args.small:
        small_cohorts(args.seeds, args.iterations)
        return
    print(f"n={args.n}  true ~ N({TRUE_MEAN}, {TRUE_SD}²)  bias ~ N(0, {BIAS_SD}²)  "
          f"reliability ~ Gamma({args.tau_shape}, mean {TAU_MEAN})  integer={args.integer}")
    print(f"{'k':>2} {'seed':>4} {'median':>8} {'mean':>8} {'PG1':>8} {'PG1/median':>10} {'fit s':>6}")
    for k in args.k:
        ratios = []
        for seed in range(args.seeds):
            true, reviews = simulate(args.n, k, seed, integer=args.integer, tau_shape=args.tau_shape)
            mean = {u: float(np.mean([z for _, a, z in reviews if a == u])) for u in true}
            start = time.perf_counter()
            calibrated = calibrated_grades(reviews, iterations=args.iterations, seed=seed).scores
            seconds = time.perf_counter() - start
            r_med, r_cal = rmse(median_grades(reviews), true), rmse(calibrated, true)
            ratios.append(r_cal / r_med)
            print(f"{k:>2} {seed:>4} {r_med:>8.3f} {rmse(mean, true):>8.3f} {r_cal:>8.3f} {r_cal / r_med:>10.3f} "
                  f"{seconds:>6.2f}")
        print(f"{k:>2} mean ratio {np.mean(ratios):.3f} (worst {max(ratios):.3f})")


if __name__ == "__main__":
    main()
