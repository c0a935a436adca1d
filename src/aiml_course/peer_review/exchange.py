"""Peer review through nbgrader's file exchange: one private packet per reviewer out, filled-in forms back in.

Release (`course peer-review release PART`). nbgrader's outbound/ is shared by the whole course, so each reviewer
gets an assignment of their own, `<part>-review-<reviewer>`, holding an anonymous copy of every notebook of each
author they review (`<alias>__<notebook>.ipynb`, see anonymize.py) and `review.ipynb`, a form with one cell per
author (rubric scores and a comment; form.py). nbgrader releases it into a staging exchange under state/ (root only); the
copy is then made root:<reviewer's own group>, folders 0750 and files 0640, and renamed into the live outbound/
in one step, so nobody else can read it at any moment (a plain release is world-readable until chmod'ed).

Collect (`course peer-review collect PART`). Submissions in a reviewer's name created by another OS user are moved
to state/peer-review-quarantine first; then `nbgrader collect --update --student=<reviewer>` for each packet. The
form's cells are parsed with ast.literal_eval (never run; form.py), checked against the rubric (rubric.py) and the
stored assignment, and valid reviews are stored in `peer_reviews` (store.py). Invalid ones are reported with the reason
and never stored. `peer_feedback` gives an author their reviews as "Reviewer 1", "Reviewer 2", ...
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.config import Course, RubricItem
from aiml_course.gradebook import Gradebook, Student
from aiml_course.hub.layout import HubLayout
from aiml_course.peer_review.anonymize import _scrubber, anonymize_notebook
from aiml_course.peer_review.assign import PeerReviewError
from aiml_course.peer_review.form import FORM, check_rubric, read_form, review_form
from aiml_course.peer_review.rubric import review_total
from aiml_course.peer_review.store import (
    Pair,
    StoredReview,
    StoreOutcome,
    load_pairs,
    load_reviews,
    store_reviews,
)

MAX_FORM_BYTES = 5 * 2**20         # a filled-in form is a few kB; anything huge is not read
STAGING, QUARANTINE = "peer-review-staging", "peer-review-quarantine"   # under the layout's state/ (0700 root)
PRIVATE_COURSE = "peer-review-course"   # under state/: the nbgrader course root of review packets


def review_assignment(part: str, reviewer: str) -> str:
    """The nbgrader assignment id of `reviewer`'s packet for `part`."""
    return f"{part}-review-{reviewer}"


# ---------------------------------------------------------------- release


@dataclass(frozen=True)
class Packet:
    """One reviewer's released packet: its nbgrader assignment id, the aliases and the files in it."""

    reviewer: str
    assignment: str
    aliases: list[str]
    files: list[str]


@dataclass
class ReleaseReport:
    """What `release_reviews` did: packets released, problems per reviewer, submission folders ignored."""

    part: str
    released: list[Packet] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def release_reviews(
    course: Course, gradebook: Gradebook, part: str, *, layout: HubLayout, submissions: Path | None = None,
    notebooks: Sequence[str] = (), keep_outputs: bool = False, progress: Callable[[str], None] | None = None,
) -> ReleaseReport:
    """Build and release every reviewer's private packet for `part` (re-running replaces the packets).

    `submissions` holds `<author>/<part>/*.ipynb` (nbgrader's submitted/ layout; default: the hub's
    course/submitted); `notebooks` limits the copies to those notebook names (stems).
    """
    rubric = check_rubric(course.peer_review.rubric)
    by_reviewer = _pairs_by_reviewer(gradebook, part)
    if os.geteuid() != 0:
        raise PeerReviewError("releasing review packets needs root: each packet is given to its reviewer's group")
    source = submissions or layout.course_dir / "submitted"
    report = ReleaseReport(part)
    authors = {p.author for pairs in by_reviewer.values() for p in pairs}
    if source.is_dir():
        report.ignored = [f"{d}: {d.name!r} is not an author in the assignment of {part} (unknown student, or "
                          "not graded): ignored" for d in sorted(source.iterdir())
                          if d.is_dir() and not d.name.startswith(".") and d.name not in authors]
    layout.create()
    people = {s.id: s for s in gradebook.students()}
    groups = _private_groups()
    for reviewer, pairs in by_reviewer.items():
        if progress is not None:
            progress(reviewer)
        problems: list[str] = []
        gid = groups.get(reviewer)
        if gid is None:
            problems.append(_no_private_group(reviewer))
        else:
            packet = _release_one(layout, part, reviewer, pairs, gid=gid, source=source, people=people,
                                  notebooks=notebooks, keep_outputs=keep_outputs, rubric=rubric, problems=problems)
            if packet is not None:
                report.released.append(packet)
        if problems:
            report.problems[reviewer] = problems
    return report


def _pairs_by_reviewer(gradebook: Gradebook, part: str) -> dict[str, list[Pair]]:
    pairs = load_pairs(gradebook, part)
    if not pairs:
        raise PeerReviewError(f"no peer-review assignment stored for {part}: run `course peer-review assign {part}`")
    out: dict[str, list[Pair]] = {}
    for pair in pairs:
        out.setdefault(pair.reviewer, []).append(pair)
    return out


def _release_one(layout: HubLayout, part: str, reviewer: str, pairs: list[Pair], *, gid: int, source: Path,
                 people: dict[str, Student], notebooks: Sequence[str], keep_outputs: bool,
                 rubric: tuple[RubricItem, ...], problems: list[str]) -> Packet | None:
    """Write, release and publish one reviewer's packet; None (with a problem) when there is nothing to review."""
    assignment = review_assignment(part, reviewer)
    folder = _private_course(layout) / "release" / assignment
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files: dict[str, list[str]] = {}
    for pair in pairs:
        written = _write_anonymous(folder, pair, part, source, people.get(pair.author), notebooks, keep_outputs)
        if written:
            files[pair.alias] = written
        else:
            problems.append(f"no submitted notebook of {pair.author} ({pair.alias}) under {source / pair.author}: "
                            "left out of the packet")
    if not files:
        problems.append("nothing to review: the packet was not released")
        shutil.rmtree(folder)
        return None
    _write_json(folder / FORM, review_form(part, files, rubric))
    staging = layout.state_dir / STAGING   # nbgrader makes it 0777, but state/ (0700 root) keeps everyone out
    _nbgrader(layout, "release_assignment", assignment, "--force", exchange=staging)
    staged = staging / layout.course_id / "outbound" / assignment
    _publish(staged, _live_outbound(layout) / assignment, gid)
    shutil.rmtree(staged, ignore_errors=True)
    return Packet(reviewer, assignment, list(files), sorted([FORM, *(n for ns in files.values() for n in ns)]))


def _write_anonymous(folder: Path, pair: Pair, part: str, source: Path, student: Student | None,
                     notebooks: Sequence[str], keep_outputs: bool) -> list[str]:
    """Anonymous copies of `pair.author`'s notebooks in `folder`, named `<alias>__<notebook>.ipynb`."""
    base = source / pair.author
    base = base / part if (base / part).is_dir() else base
    if not base.is_dir():
        return []
    names = [pair.author, *_names_of(pair.author, student)]
    rename = _scrubber(names, pair.alias)
    written = []
    for path in sorted(base.glob("*.ipynb")):
        if path.name.startswith(".") or (notebooks and path.stem not in notebooks):
            continue
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # the grader already reported it; an unreadable notebook cannot be reviewed
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            continue
        name = f"{pair.alias}__{rename(path.name)}"
        _write_json(folder / name, anonymize_notebook(nb, author=pair.author, alias=pair.alias, names=names[1:],
                                                      keep_outputs=keep_outputs))
        written.append(name)
    return written


def _names_of(student_id: str, student: Student | None) -> list[str]:
    """Every name the author may have written in a notebook: gradebook name and e-mail, the OS account's name."""
    names = [student.name, student.email] if student is not None else []
    try:
        names.append(pwd.getpwnam(student_id).pw_gecos.split(",")[0])
    except KeyError:
        pass
    return [n for n in names if n and n.strip()]  # not single words of a name: 'Max' would eat np.max


def _private_groups() -> dict[str, int]:
    """User -> primary group id, for each user whose primary group has no other member (a packet stays private)."""
    users = pwd.getpwall()
    by_gid: dict[int, set[str]] = {}
    for user in users:
        by_gid.setdefault(user.pw_gid, set()).add(user.pw_name)
    private = {}
    for user in users:
        try:
            members = set(grp.getgrgid(user.pw_gid).gr_mem)
        except KeyError:
            members = set()
        if (by_gid[user.pw_gid] | members) == {user.pw_name}:
            private[user.pw_name] = user.pw_gid
    return private


def _no_private_group(reviewer: str) -> str:
    try:
        pw = pwd.getpwnam(reviewer)
    except KeyError:
        return f"no OS account {reviewer!r}: import the roster first; the packet was not released"
    return (f"the primary group of {reviewer!r} (gid {pw.pw_gid}) has other members, so a packet readable by it "
            "would not be private (give each student a group of their own); the packet was not released")


def _live_outbound(layout: HubLayout) -> Path:
    """The live exchange's outbound/ (and inbound/), created with nbgrader's own modes if missing."""
    course = layout.exchange / layout.course_id
    for path, mode in ((course, 0o755), (course / "outbound", 0o755), (course / "inbound", 0o2733)):
        if not path.is_dir():
            path.mkdir(parents=True)
            path.chmod(mode)
    return course / "outbound"


def _publish(staged: Path, live: Path, gid: int) -> None:
    """Copy `staged` into a root-only folder beside `live`, lock it to root:gid, then swap it in with one rename."""
    holder = live.with_name(f".{live.name}.{secrets.token_hex(4)}")
    holder.mkdir(mode=0o700)  # nothing inside is reachable by students; nbgrader's list skips dot names
    packet = holder / "packet"
    shutil.copytree(staged, packet)
    for path in [packet, *packet.rglob("*")]:
        os.chown(path, 0, gid, follow_symlinks=False)
        path.chmod(0o750 if path.is_dir() else 0o640)
    if live.exists():
        live.rename(holder / "old")
    packet.rename(live)
    shutil.rmtree(holder)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _private_course(layout: HubLayout) -> Path:
    """The nbgrader course root of review packets: root-only (under state/), never the staff-writable course/.

    nbgrader loads `nbgrader_config.py` from its course root and imports from its working folder: with course/
    there, a TA's config file or `traitlets.py` would run as root. Packets are written and collected here instead.
    """
    root = layout.state_dir / PRIVATE_COURSE
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def _nbgrader(layout: HubLayout, *args: str, exchange: Path | None = None, timeout: int = 300) -> str:
    """Run one nbgrader app as root for the review packets, isolated from everything staff can write:
    `python -I` (no working folder or PYTHON* variables on the import path), its working folder the root-only
    `layout.nbgrader_dir`, its course root `_private_course(layout)`."""
    cwd = layout.nbgrader_dir
    cwd.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = [sys.executable, "-I", "-m", "nbgrader", *args, f"--CourseDirectory.root={_private_course(layout)}",
            f"--CourseDirectory.course_id={layout.course_id}", f"--Exchange.root={exchange or layout.exchange}",
            f"--CourseDirectory.db_url=sqlite:///{layout.state_dir / PRIVATE_COURSE / 'gradebook.db'}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("NBGRADER_HUB_AUTH", "NBGRADER_STUDENT_ID") and not k.startswith("PYTHON")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])  # alembic
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerReviewError(f"`nbgrader {' '.join(args)}` could not run: {exc}") from exc
    if proc.returncode != 0:
        raise PeerReviewError(f"`nbgrader {' '.join(args)}` failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return proc.stdout + proc.stderr


def _collect_regular_files(layout: HubLayout, assignment: str, outcome: ReviewerOutcome) -> None:
    """Collect the reviewer's form as the hub collects parts (hub.inbound): the owner of the inbound folder is who
    handed it in, the system's time is the time, and only regular files are copied, never through a link (root's
    `nbgrader collect` copied a student's link to /etc/shadow)."""
    from aiml_course.hub.inbound import collect

    inbound = layout.exchange / layout.course_id / "inbound"
    collected = collect(inbound, _private_course(layout), layout.state_dir / STAGING / "collect", assignment,
                        collected_stamp={})
    outcome.notes += collected.problems


# ---------------------------------------------------------------- collect


@dataclass
class ReviewerOutcome:
    """One reviewer's collected form: aliases stored, invalid reviews with reasons, aliases not reviewed."""

    reviewer: str
    submitted: bool = False
    stored: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class CollectReport:
    """What `collect_reviews` found per reviewer, and what it wrote to `peer_reviews`."""

    part: str
    reviewers: list[ReviewerOutcome] = field(default_factory=list)
    stored: StoreOutcome = field(default_factory=lambda: StoreOutcome([], [], []))


def collect_reviews(course: Course, gradebook: Gradebook, part: str, *, layout: HubLayout,
                    progress: Callable[[str], None] | None = None) -> CollectReport:
    """Collect every reviewer's submitted form for `part`, store the valid reviews, report the rest (idempotent)."""
    rubric = check_rubric(course.peer_review.rubric)
    by_reviewer = _pairs_by_reviewer(gradebook, part)
    owner = {p.alias: p.author for pairs in by_reviewer.values() for p in pairs}
    report = CollectReport(part)
    reviews: list[StoredReview] = []
    for reviewer, pairs in by_reviewer.items():
        if progress is not None:
            progress(reviewer)
        outcome = ReviewerOutcome(reviewer)
        assignment = review_assignment(part, reviewer)
        outcome.notes += _screen_inbound(layout, assignment, reviewer)
        folder = _private_course(layout) / "submitted" / reviewer / assignment
        if _has_submission(layout, assignment, reviewer):
            _collect_regular_files(layout, assignment, outcome)
        if folder.is_dir():
            outcome.submitted = True
            reviews += _read_submission(folder, part, outcome, [p.alias for p in pairs], owner, rubric)
        else:
            outcome.missing = [p.alias for p in pairs]
        report.reviewers.append(outcome)
    report.stored = store_reviews(gradebook, reviews)
    return report


def _read_submission(folder: Path, part: str, outcome: ReviewerOutcome, assigned: list[str],
                     owner: dict[str, str], rubric: tuple[RubricItem, ...]) -> list[StoredReview]:
    """The valid reviews in one collected submission; everything else goes into `outcome`."""
    from aiml_course.grading.pipeline import submission_time

    form = folder / FORM
    submitted_at, note = submission_time(folder, form if form.is_file() else folder)
    if note:
        outcome.notes.append(note)
    nb = _load_form(form, outcome)
    reading = read_form(nb, reviewer=outcome.reviewer, assigned=assigned, known=owner, rubric=rubric)
    outcome.invalid += reading.invalid
    outcome.missing = reading.missing
    outcome.stored = sorted(reading.valid)
    return [StoredReview(part, outcome.reviewer, owner[alias], alias, dict(r["scores"]), review_total(r, rubric),
                         r["comment"], submitted_at) for alias, r in sorted(reading.valid.items())]


def _load_form(form: Path, outcome: ReviewerOutcome) -> Any:
    if not form.is_file():
        outcome.invalid.append(f"{FORM} is missing from the submission (renamed or deleted?)")
        return None
    if form.stat().st_size > MAX_FORM_BYTES:
        outcome.invalid.append(f"{FORM} is {form.stat().st_size} bytes, more than a form can be: not read")
        return None
    try:
        return json.loads(form.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        outcome.invalid.append(f"{FORM} is not a readable notebook ({type(exc).__name__})")
        return None


def _inbound(layout: HubLayout, assignment: str) -> list[tuple[Path, str, str]]:
    """(path, claimed student, owning user) of every submission of `assignment` in the live inbound/."""
    inbound = layout.exchange / layout.course_id / "inbound"
    found = []
    for path in sorted(inbound.glob(f"*+{assignment}+*")) if inbound.is_dir() else []:
        if path.name.split("+")[1] != assignment:
            continue
        uid = path.lstat().st_uid
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = f"uid {uid}"
        found.append((path, path.name.split("+")[0], user))
    return found


def _has_submission(layout: HubLayout, assignment: str, reviewer: str) -> bool:
    return any(claimed == reviewer for _, claimed, _ in _inbound(layout, assignment))


def _screen_inbound(layout: HubLayout, assignment: str, reviewer: str) -> list[str]:
    """Quarantine submissions in `reviewer`'s name made by someone else; note others' submissions to the packet."""
    notes = []
    for path, claimed, user in _inbound(layout, assignment):
        if claimed != reviewer:
            notes.append(f"{claimed} handed in to {reviewer}'s review packet ({path.name}): ignored")
        elif user != reviewer:
            quarantine = layout.state_dir / QUARANTINE
            quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(path, quarantine / path.name)
            notes.append(f"a submission in {reviewer}'s name was made by {user} ({path.name}): moved to "
                         f"{quarantine}, not collected")
    return notes


# ---------------------------------------------------------------- feedback for authors


def peer_feedback(gradebook: Gradebook, part: str, author: str) -> list[dict[str, Any]]:
    """The stored reviews of `author`'s `part`, anonymous: [{"reviewer": "Reviewer 1", "scores", "total", "comment"}].

    The order (hence the numbering) follows a hash of each review's content, so it says nothing about who wrote
    it, and a reviewer's id or name written in a comment is replaced by their label.
    """
    people = {s.id: s for s in gradebook.students()}
    rows = sorted(load_reviews(gradebook, part, author=author), key=_content_key)
    out = []
    for i, review in enumerate(rows, 1):
        label = f"Reviewer {i}"
        scrub = _scrubber([review.reviewer, *_names_of(review.reviewer, people.get(review.reviewer))], label)
        out.append({"reviewer": label, "scores": dict(review.scores), "total": review.total,
                    "comment": scrub(review.comment)})
    return out


def _content_key(review: StoredReview) -> str:
    text = json.dumps([review.scores, review.comment], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def peer_tasks(gradebook: Gradebook, part: str, reviewer: str) -> list[dict[str, Any]]:
    """The reviews `reviewer` was assigned for `part`: [{"part", "alias", "done"}] (done: a valid review stored)."""
    done = {r.author for r in load_reviews(gradebook, part) if r.reviewer == reviewer}
    return [{"part": part, "alias": p.alias, "done": p.author in done}
            for p in load_pairs(gradebook, part) if p.reviewer == reviewer]
