"""Who reviews whom: a shuffled circulant inside each cohort, and anonymous aliases for the authors.

In a cohort of n members shuffled into a seeded order p_0 .. p_(n-1), reviewer p_i reviews p_(i+1) .. p_(i+k)
(indices mod n). Every author then gets exactly k reviews and every reviewer writes exactly k, nobody reviews
themselves (1 <= j <= k < n), and the same seed always gives the same assignment, whatever the order of the
input. A cohort with n <= k members cannot give k reviews to anyone: each member then reviews the n - 1 others
(a single member reviews nobody and is reviewed by nobody).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping

from aiml_course.errors import PeerReviewError

ALIAS_PREFIX = "author-"


def assign_reviews(submitters: Mapping[str, str], *, k: int, seed: int) -> dict[str, list[str]]:
    """Reviewer -> the authors they review, within each cohort of `submitters` (student -> cohort).

    Every submitter appears as a reviewer key (possibly with an empty list, in a cohort of one); students not in
    `submitters` (no submission, dropped out) are neither reviewers nor authors.
    """
    if k < 1:
        raise PeerReviewError(f"k (reviews per submission) must be at least 1, got {k}")
    cohorts: dict[str, list[str]] = {}
    for student, cohort in submitters.items():
        cohorts.setdefault(cohort, []).append(student)
    assignment: dict[str, list[str]] = {}
    for cohort in sorted(cohorts):
        assignment.update(_circulant(sorted(cohorts[cohort]), k=k, rng=random.Random(f"{seed}/{cohort}")))
    return {reviewer: assignment[reviewer] for reviewer in sorted(assignment)}


def _circulant(members: list[str], *, k: int, rng: random.Random) -> dict[str, list[str]]:
    """Shuffle `members`, then let position i review positions i+1 .. i+k (mod n), k capped at n - 1."""
    order = list(members)
    rng.shuffle(order)
    n = len(order)
    reach = min(k, n - 1)
    return {order[i]: [order[(i + j) % n] for j in range(1, reach + 1)] for i in range(n)}


def make_aliases(
    authors: Iterable[str], *, keep: Mapping[str, str] | None = None, rng: random.Random | None = None
) -> dict[str, str]:
    """A distinct alias such as 'author-7f3a' for each author; aliases in `keep` (author -> alias) are kept.

    New aliases are drawn from the system's secure random source (pass `rng` only in tests), so that knowing the
    assignment seed and the class list does not reveal who is behind an alias.
    """
    draw = rng or secrets.SystemRandom()
    names = sorted(set(authors))
    kept = {a: alias for a, alias in (keep or {}).items() if a in names}
    width = 4
    while 16**width < 8 * (len(names) + len(kept)):  # keep collisions (and redraws) rare
        width += 1
    taken = set(kept.values())
    aliases = dict(kept)
    for author in names:
        while author not in aliases:
            alias = f"{ALIAS_PREFIX}{draw.randrange(16**width):0{width}x}"
            if alias not in taken:
                taken.add(alias)
                aliases[author] = alias
    return {a: aliases[a] for a in names}
