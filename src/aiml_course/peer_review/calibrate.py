"""Peer grades from many noisy reviews: the median, and the PG1 model of Piech et al. (2013).

Ref: C. Piech, J. Huang, Z. Chen, C. Do, A. Ng, D. Koller, "Tuned Models of Peer Assessment in MOOCs",
Educational Data Mining 2013. PG1, for author u and reviewer v:

    s_u ~ N(mu0, 1/gamma0)              true score of u's submission
    b_v ~ N(0, 1/eta0)                  v's bias (a harsh reviewer has b_v < 0)
    tau_v ~ Gamma(alpha0, beta0)        v's reliability (precision; beta0 is a rate)
    z_uv ~ N(s_u + b_v, 1/tau_v)        the score v gave u

Every conditional is conjugate, so a Gibbs sweep draws s, b and tau in closed form, then shifts all s up and all
b down by one exactly drawn amount (the likelihood cannot see that direction; the move makes small classes mix).
Hyperparameters left as None are learned in the same sweep (empirical Bayes, so the model works on any score
scale): mu0 under a flat prior; the precisions gamma0 and eta0 and the rate beta0 under proper Gamma hyperpriors
(`PG1Priors.hyper_strength` pseudo-observations) centred on reference values from the observed spread of the
scores (true scores spread like the reviews, biases about half as much). Those hyperpriors are the shrinkage
that keeps the model bounded: with flat ones and few reviews per author, the prior on biases can go to nothing
and s_u + b_v is then free to run off (two cohorts of two gave 757 and -1180 on a 0-12 rubric). alpha0 is fixed.

Too little data to calibrate anything (fewer than MIN_AUTHORS authors or MIN_REVIEWERS reviewers, or fewer than
MIN_REVIEWS_PER_AUTHOR reviews for the typical author): the median of each author's reviews is returned instead,
with a warning (`Calibration.method == "median"`). Calibrated scores are kept inside the rubric's range when one
is given (`score_range`). Biases are relative to the average reviewer: if every reviewer is harsh, PG1 cannot
tell. Posterior means are averaged from the conditional means of each kept sweep (Rao-Blackwellised), which is
steadier than averaging draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Review = tuple[str, str, float]  # (reviewer, author, score)
MIN_AUTHORS = 3                  # authors needed before PG1 is fitted at all
MIN_REVIEWERS = 2                # reviewers needed (one reviewer's bias cannot be told from the scores)
MIN_REVIEWS_PER_AUTHOR = 2       # reviews the typical (median) author needs before PG1 is fitted


@dataclass(frozen=True)
class PG1Priors:
    """PG1's hyperparameters; None means learned from the reviews."""

    mu0: float | None = None        # mean true score
    gamma0: float | None = None     # precision of true scores around mu0
    eta0: float | None = None       # precision of reviewer biases around 0
    alpha0: float = 2.0             # shape of the reliability prior (small: reviewers differ a lot)
    beta0: float | None = None      # rate of the reliability prior
    hyper_strength: float = 3.0     # pseudo-observations behind each learned precision's Gamma hyperprior


@dataclass(frozen=True)
class Calibration:
    """Posterior means of PG1: each author's score (and its sd), each reviewer's bias and reliability."""

    scores: dict[str, float]
    score_sd: dict[str, float]
    bias: dict[str, float]
    reliability: dict[str, float]
    hyper: dict[str, float] = field(default_factory=dict)  # posterior means of mu0, gamma0, eta0, beta0
    method: str = "pg1"             # "pg1", or "median" when there was too little data to calibrate
    warnings: list[str] = field(default_factory=list)


def median_grades(reviews: Sequence[Review]) -> dict[str, float]:
    """Each author's median review score."""
    by_author: dict[str, list[float]] = {}
    for _reviewer, author, score in reviews:
        by_author.setdefault(author, []).append(float(score))
    return {author: float(np.median(scores)) for author, scores in sorted(by_author.items())}


def calibrated_grades(
    reviews: Sequence[Review], *, iterations: int = 2000, burn_in: int | None = None, seed: int = 0,
    priors: PG1Priors | None = None, score_range: tuple[float, float] | None = None,
) -> Calibration:
    """Fit PG1 to `reviews` by Gibbs sampling and return the posterior means, kept within `score_range` (the
    rubric's lowest and highest total); too few reviews give each author's median instead, with a warning."""
    if not reviews:
        return Calibration({}, {}, {}, {})
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    data = _Data.of(reviews)
    too_few = _too_few(data)
    if too_few:
        return _median_fallback(reviews, too_few)
    sampler = _Gibbs(data, priors or PG1Priors(), np.random.default_rng(seed))
    keep_from = iterations // 4 if burn_in is None else min(burn_in, iterations - 1)
    for sweep in range(iterations):
        sampler.sweep()
        if sweep >= keep_from:
            sampler.accumulate()
    return _within(sampler.result(), score_range)


def _too_few(d: _Data) -> str:
    """Why these reviews are too few to calibrate, in words ('' when they are enough)."""
    per_author = np.bincount(d.a, minlength=len(d.authors))
    if len(d.authors) < MIN_AUTHORS or len(d.reviewers) < MIN_REVIEWERS:
        return (f"{len(d.authors)} authors and {len(d.reviewers)} reviewers (calibration needs at least "
                f"{MIN_AUTHORS} authors and {MIN_REVIEWERS} reviewers)")
    if float(np.median(per_author)) < MIN_REVIEWS_PER_AUTHOR:
        return (f"a typical author has {float(np.median(per_author)):g} review(s) (calibration needs at least "
                f"{MIN_REVIEWS_PER_AUTHOR})")
    return ""


def _median_fallback(reviews: Sequence[Review], why: str) -> Calibration:
    """Each author's median, as a Calibration that says it is one."""
    median = median_grades(reviews)
    spread: dict[str, list[float]] = {}
    for _reviewer, author, score in reviews:
        spread.setdefault(author, []).append(float(score))
    sd = {u: float(np.std(z) / np.sqrt(len(z))) for u, z in spread.items()}
    return Calibration(median, {u: sd[u] for u in median}, {}, {}, method="median",
                       warnings=[f"too little data to calibrate: {why}; the calibrated grade is the median review"])


def _within(result: Calibration, score_range: tuple[float, float] | None) -> Calibration:
    """`result` with every score clipped into the rubric's range (a warning names the authors it moved)."""
    if score_range is None:
        return result
    low, high = score_range
    moved = sorted(u for u, x in result.scores.items() if not low <= x <= high)
    scores = {u: float(min(max(x, low), high)) for u, x in result.scores.items()}
    warnings = list(result.warnings)
    if moved:
        warnings.append(f"calibrated grades of {', '.join(moved)} fell outside {low:g}..{high:g} and were clipped")
    return Calibration(scores, result.score_sd, result.bias, result.reliability, result.hyper, result.method,
                       warnings)


@dataclass
class _Data:
    """Reviews as index arrays: observation i is reviewer r[i]'s score z[i] for author a[i]."""

    authors: list[str]
    reviewers: list[str]
    a: np.ndarray
    r: np.ndarray
    z: np.ndarray

    @classmethod
    def of(cls, reviews: Sequence[Review]) -> _Data:
        authors = sorted({u for _, u, _ in reviews})
        reviewers = sorted({v for v, _, _ in reviews})
        ai, ri = {u: i for i, u in enumerate(authors)}, {v: i for i, v in enumerate(reviewers)}
        return cls(authors, reviewers, np.array([ai[u] for _, u, _ in reviews]),
                   np.array([ri[v] for v, _, _ in reviews]), np.array([float(z) for _, _, z in reviews]))


class _Gibbs:
    """The state of one PG1 Gibbs chain and running sums of its conditional means."""

    def __init__(self, d: _Data, priors: PG1Priors, rng: np.random.Generator) -> None:
        self.d, self.p, self.rng = d, priors, rng
        self.n_u = np.bincount(d.a, minlength=len(d.authors)).astype(float)
        self.n_v = np.bincount(d.r, minlength=len(d.reviewers)).astype(float)
        spread = float(np.var(d.z)) or 1e-6 * max(1.0, float(np.mean(np.abs(d.z)))) ** 2  # all alike: tiny
        self.tiny = 1e-9 * spread   # keeps rates positive when every score is the same
        self.s = np.bincount(d.a, weights=d.z, minlength=len(d.authors)) / self.n_u
        self.b = np.zeros(len(d.reviewers))
        self.tau = np.full(len(d.reviewers), 1.0 / spread)
        # starting values: the observed mean; hyperparameters given in `priors` stay fixed
        self.mu0 = float(np.mean(d.z)) if priors.mu0 is None else priors.mu0
        # reference values: the centres of the hyperpriors (true scores spread like the reviews, biases half as
        # much, noise the size of the spread)
        self.ref = {"gamma0": 1.0 / spread, "eta0": 4.0 / spread, "beta0": priors.alpha0 * spread}
        self.gamma0 = self.ref["gamma0"] if priors.gamma0 is None else priors.gamma0
        self.eta0 = self.ref["eta0"] if priors.eta0 is None else priors.eta0
        self.beta0 = self.ref["beta0"] if priors.beta0 is None else priors.beta0
        self.kept = 0
        self.sum_s = np.zeros(len(d.authors))
        self.sum_s2 = np.zeros(len(d.authors))
        self.sum_var_s = np.zeros(len(d.authors))
        self.sum_b = np.zeros(len(d.reviewers))
        self.sum_tau = np.zeros(len(d.reviewers))
        self.sum_hyper = np.zeros(4)

    def sweep(self) -> None:
        """Draw s, then b, then tau, then the learned hyperparameters, each from its full conditional."""
        d, rng = self.d, self.rng
        w = self.tau[d.r]
        self.prec_s = self.gamma0 + np.bincount(d.a, weights=w, minlength=len(d.authors))
        self.mean_s = (self.gamma0 * self.mu0 + np.bincount(d.a, weights=w * (d.z - self.b[d.r]),
                                                            minlength=len(d.authors))) / self.prec_s
        self.s = rng.normal(self.mean_s, 1.0 / np.sqrt(self.prec_s))
        prec_b = self.eta0 + self.n_v * self.tau
        self.mean_b = self.tau * np.bincount(d.r, weights=d.z - self.s[d.a], minlength=len(d.reviewers)) / prec_b
        self.b = rng.normal(self.mean_b, 1.0 / np.sqrt(prec_b))
        sq = np.bincount(d.r, weights=(d.z - self.s[d.a] - self.b[d.r]) ** 2, minlength=len(d.reviewers))
        self.shape_tau, self.rate_tau = self.p.alpha0 + self.n_v / 2, self.beta0 + sq / 2 + self.tiny
        self.tau = rng.gamma(self.shape_tau, 1.0 / self.rate_tau)
        self._shift()
        self._hyper()

    def _shift(self) -> None:
        """Move every s (and a learned mu0) up and every b down by one c, drawn from its conditional.

        The likelihood only sees s_u + b_v, so along this direction only the priors pin the chain; one exact
        draw of c there keeps the sampler from wandering when reviewers are few.
        """
        n_u, n_v = len(self.s), len(self.b)
        if self.p.mu0 is None:  # mu0 moves with s: only the bias prior decides
            prec, mean = self.eta0 * n_v, float(self.b.mean())
        else:
            prec = self.gamma0 * n_u + self.eta0 * n_v
            mean = (self.gamma0 * float(np.sum(self.mu0 - self.s)) + self.eta0 * float(self.b.sum())) / prec
        c = self.rng.normal(mean, 1.0 / np.sqrt(prec))
        self.s, self.b = self.s + c, self.b - c
        if self.p.mu0 is None:
            self.mu0 += c

    def _hyper(self) -> None:
        rng, n_u, n_v = self.rng, len(self.s), len(self.b)
        if self.p.mu0 is None:
            self.mu0 = rng.normal(self.s.mean(), 1.0 / np.sqrt(self.gamma0 * n_u))
        a = self.p.hyper_strength  # Gamma(a, a / ref) hyperpriors: mean ref, as strong as `a` observations
        if self.p.gamma0 is None:
            self.gamma0 = rng.gamma(a + n_u / 2, 1.0 / (a / self.ref["gamma0"] + np.sum((self.s - self.mu0) ** 2) / 2))
        if self.p.eta0 is None:
            self.eta0 = rng.gamma(a + n_v / 2, 1.0 / (a / self.ref["eta0"] + np.sum(self.b**2) / 2))
        if self.p.beta0 is None:
            self.beta0 = rng.gamma(a + n_v * self.p.alpha0, 1.0 / (a / self.ref["beta0"] + np.sum(self.tau)))

    def accumulate(self) -> None:
        self.kept += 1
        self.sum_s += self.mean_s
        self.sum_s2 += self.mean_s**2
        self.sum_var_s += 1.0 / self.prec_s
        self.sum_b += self.mean_b
        self.sum_tau += self.shape_tau / self.rate_tau
        self.sum_hyper += (self.mu0, self.gamma0, self.eta0, self.beta0)

    def result(self) -> Calibration:
        k, d = self.kept, self.d
        mean_s = self.sum_s / k
        var_s = self.sum_var_s / k + np.maximum(self.sum_s2 / k - mean_s**2, 0.0)  # E[Var] + Var[E]
        hyper = dict(zip(("mu0", "gamma0", "eta0", "beta0"), (self.sum_hyper / k).tolist(), strict=True))
        return Calibration(
            scores=dict(zip(d.authors, mean_s.tolist(), strict=True)),
            score_sd=dict(zip(d.authors, np.sqrt(var_s).tolist(), strict=True)),
            bias=dict(zip(d.reviewers, (self.sum_b / k).tolist(), strict=True)),
            reliability=dict(zip(d.reviewers, (self.sum_tau / k).tolist(), strict=True)),
            hyper=hyper,
        )
