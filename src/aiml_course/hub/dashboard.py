"""The course dashboard: a hub-managed service that knows people through hub OAuth.

Who sees what (the roster decides the role; the hub only says who you are):
  student     their own page: points per part and question, feedback, peer-review tasks, certificate status
  ta          the instructor pages of their own cohort (all cohorts if the roster gives them none)
  instructor  every cohort, the CSV, and the buttons that release and grade a part
Anyone else signed in to the hub (say, a student of another course on the same hub) gets 403.

Run by the hub (see hub_config/jupyterhub_config.py) as `python -m aiml_course.hub.dashboard`.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web

from aiml_course.cli_support import db_url
from aiml_course.config import Course
from aiml_course.csv_safe import csv_text
from aiml_course.gradebook import Gradebook
from aiml_course.hub.layout import HubLayout
from aiml_course.hub.roster import Member, load_members
from aiml_course.hub.settings import HubSettings

log = logging.getLogger("aiml_course.dashboard")


@dataclass
class Jobs:
    """Release / grade jobs started from the dashboard: one at a time per part, status kept for the page."""

    status: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, key: str, fn: Any) -> bool:
        with self.lock:
            if self.status.get(key, "").startswith("running"):
                return False
            self.status[key] = f"running since {datetime.now(UTC):%H:%M:%S} UTC"

        def work() -> None:
            try:
                result = fn()
                self.status[key] = f"done {datetime.now(UTC):%H:%M:%S} UTC: {result}"
            except Exception as exc:  # shown to the instructor; the traceback goes to the log
                log.error("%s failed:\n%s", key, traceback.format_exc())
                self.status[key] = f"failed: {exc}"

        threading.Thread(target=work, name=key, daemon=True).start()
        return True


@dataclass
class Dashboard:
    course: Course
    layout: HubLayout
    gradebook: Gradebook
    prefix: str
    jobs: Jobs = field(default_factory=Jobs)

    @property
    def reports(self) -> Path:
        return self.layout.reports_dir   # root only: staff cannot place links or files there

    def released(self) -> frozenset[str]:
        """Parts released to students (in nbgrader's outbound): the others are neither missing nor counted."""
        outbound = self.layout.exchange / self.course.id / "outbound"
        return frozenset(p.id for p in self.course.parts if (outbound / p.id).is_dir())

    def cohorts_for(self, m: Member) -> list[str]:
        """The cohorts a member of staff may see."""
        if m.role == "instructor" or not m.cohort:
            return list(self.course.cohorts)
        return [m.cohort]

    def release(self, part: str) -> str:
        from aiml_course.hub.exchange import release_part

        return release_part(self.course, part, self.layout).summary()

    def grade(self, part: str) -> str:
        from aiml_course.hub.exchange import collect_and_grade, worker_count
        from aiml_course.hub.roster import load_members
        from aiml_course.sandbox import make_sandbox

        sandbox = make_sandbox(self.course.sandbox.backend, self.course.limits_for(part))
        outcome = collect_and_grade(self.course, part, self.layout, gradebook=self.gradebook, sandbox=sandbox,
                                    workers=worker_count(self.course, part), reports=self.reports / part,
                                    known_students={u for u, m in load_members(self.layout).items()
                                                    if m.role == "student"})
        return _describe(outcome)


def _describe(outcome: Any) -> str:
    """One line for the instructor: what `collect_and_grade` did."""
    text = f"collected and graded {len(outcome.collected.students)} student(s)"
    if outcome.grades is not None:
        text += f" ({len(outcome.grades.graded)} notebook(s) graded now)"
    text += f"; feedback to {len(outcome.feedback)}; formgrader: {outcome.formgrader} submission(s)"
    if outcome.collected.unknown:
        text += f"; not in the roster: {', '.join(outcome.collected.unknown)}"
    return text


class Page(HubOAuthenticated, web.RequestHandler):
    """Every page: signed in through the hub, and in this course's roster."""

    def initialize(self, app: Dashboard) -> None:
        self.app = app

    @property
    def base(self) -> str:
        return self.app.prefix

    def roster(self) -> dict[str, Member]:
        """The roster, read once per request (so a `course roster import` applies from the next request on)."""
        if not hasattr(self, "_roster"):
            self._roster = load_members(self.app.layout)
        return self._roster

    def me(self) -> Member:
        user = self.get_current_user()
        assert user is not None  # @web.authenticated ran first
        member = self.roster().get(user["name"])
        if member is None or not member.active:
            raise web.HTTPError(403, f"{user['name']} is not in the roster of {self.app.course.id}")
        return member

    def staff(self, *, instructor: bool = False) -> Member:
        m = self.me()
        if not m.staff or (instructor and m.role != "instructor"):
            raise web.HTTPError(403, "instructors only" if instructor else "course staff only")
        return m

    def require_view_of(self, student: str) -> Member:
        """The student themself, or staff who may see the student's cohort; 403/404 otherwise."""
        m = self.me()
        if m.username == student:
            return m
        self.staff()
        other = self.roster().get(student)
        if other is None or other.role != "student":
            raise web.HTTPError(404, f"no student {student!r} in this course")
        if other.cohort not in self.app.cohorts_for(m):
            raise web.HTTPError(403, f"{student} is not in a cohort {m.username} may see")
        return m

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        from aiml_course.hub.dashboard_pages import render_error_page

        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(render_error_page(status_code, message, base_url=self.base))

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                        "img-src 'self' data:; frame-ancestors 'self'")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def notice(self) -> str:
        return "\n".join(f"{key}: {status}" for key, status in sorted(self.app.jobs.status.items()))

    def send_html(self, html: str) -> None:
        notice = self.notice()
        if notice and self.me().role == "instructor":
            from html import escape

            banner = ('<div role="status" style="margin:.5rem;padding:.5rem;border:1px solid #888">'
                      f'<pre style="white-space:pre-wrap;overflow-wrap:anywhere;margin:0">{escape(notice)}</pre></div>')
            html = html.replace("<main", banner + "<main", 1) if "<main" in html else banner + html
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


class Home(Page):
    @web.authenticated
    def get(self) -> None:
        m = self.me()
        if m.staff:
            self._instructor(self.app.cohorts_for(m))
        else:
            self._student(m.username)

    def _student(self, student: str) -> None:
        from aiml_course.certificates import certificate_status
        from aiml_course.hub.dashboard_pages import render_student_page
        from aiml_course.hub.dashboard_views import student_view

        issued = certificate_status(self.app.gradebook, student, root=self.app.course.root)
        view = student_view(self.app.course, self.app.gradebook, student, now=datetime.now(UTC),
                            released=self.app.released(),
                            **_peer_review(self.app, student), feedback_url=self._feedback_url(student),
                            issued=issued, certificate_url=f"{self.base}certificate/{quote(student)}.pdf")
        self.send_html(render_student_page(view, base_url=self.base))

    def _feedback_url(self, student: str) -> Any:
        base = self.base

        def url(who: str, part: str, notebook: str) -> str | None:  # (student, part, notebook), as the views ask
            if who != student or not _report(self.app, who, part, notebook):
                return None
            return f"{base}feedback/{quote(who)}/{quote(part)}/{quote(notebook)}"

        return url

    def _instructor(self, cohorts: list[str]) -> None:
        from aiml_course.hub.dashboard_pages import render_instructor_page
        from aiml_course.hub.dashboard_views import instructor_view

        view = instructor_view(self.app.course, self.app.gradebook, cohorts=cohorts, now=datetime.now(UTC),
                               released=self.app.released())
        self.send_html(render_instructor_page(view, base_url=self.base, xsrf_token=self.xsrf_token.decode()))


class CohortPage(Home):
    @web.authenticated
    def get(self, cohort: str) -> None:
        m = self.staff()
        if cohort not in self.app.course.cohorts:
            raise web.HTTPError(404, f"no cohort {cohort!r}")
        if cohort not in self.app.cohorts_for(m):
            raise web.HTTPError(403, f"{m.username} may see cohort(s) {', '.join(self.app.cohorts_for(m))} only")
        self._instructor([cohort])


class StudentPage(Home):
    @web.authenticated
    def get(self, student: str) -> None:
        self.require_view_of(student)
        self._student(student)


class Feedback(Page):
    @web.authenticated
    def get(self, student: str, part: str, notebook: str) -> None:
        self.require_view_of(student)
        body = read_report(self.app.reports, part, student, notebook)
        if body is None:
            raise web.HTTPError(404, "no feedback report for that notebook yet")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(body)


class CertificatePDF(Page):
    """GET certificate/<student>.pdf: the holder's current certificate (the student, or staff who may see them)."""

    @web.authenticated
    def get(self, student: str) -> None:
        from aiml_course.certificates import certificate_status

        self.require_view_of(student)
        held = certificate_status(self.app.gradebook, student, root=self.app.course.root)
        if not held or held.get("revoked") or not held.get("pdf_path"):
            raise web.HTTPError(404, "no current certificate")
        path = self.app.course.root / held["pdf_path"]
        if not path.is_file():
            raise web.HTTPError(404, f"the certificate's PDF is missing ({held['pdf_path']}); ask your instructor")
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{self.app.course.id}-certificate.pdf"')
        self.finish(path.read_bytes())


class ExportCSV(Page):
    @web.authenticated
    def get(self) -> None:
        from aiml_course.export import grade_rows

        m = self.staff()
        cohort = self.get_argument("cohort", None)
        allowed = self.app.cohorts_for(m)
        if cohort is not None and cohort not in allowed:
            raise web.HTTPError(403, f"cohort {cohort!r} is not yours to export")
        columns, rows = grade_rows(self.app.course, self.app.gradebook)
        keep = [cohort] if cohort else allowed
        body = csv_text(columns, (r for r in rows if r.get("cohort") in keep))  # formula injection neutralised
        name = f"{self.app.course.id}-grades{'-' + cohort if cohort else ''}.csv"
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(body)


class Action(Page):
    """POST release / grade (instructors; the hub's xsrf check applies to cookie logins)."""

    def initialize(self, app: Dashboard, action: str) -> None:  # type: ignore[override]
        self.app, self.action = app, action

    @web.authenticated
    async def post(self) -> None:
        self.staff(instructor=True)
        part = self.get_argument("part")
        try:
            self.app.course.part(part)
        except Exception as exc:
            raise web.HTTPError(400, str(exc)) from exc
        fn = getattr(self.app, self.action)
        key = f"{self.action} {part}"
        started = self.app.jobs.start(key, lambda: fn(part))
        if "application/json" in self.request.headers.get("Accept", ""):  # scripts: poll GET jobs
            self.set_status(202 if started else 409)
            self.finish({"job": key, "status": self.app.jobs.status[key]})
            return
        self.redirect(self.base)


class JobStatus(Page):
    """GET jobs: every release / grade job's status, as JSON (staff)."""

    @web.authenticated
    def get(self) -> None:
        self.staff()
        self.finish(dict(self.app.jobs.status))


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


REPORT_MAX_BYTES = 20 * 2**20
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def read_report(reports: Path, part: str, student: str, notebook: str) -> bytes | None:
    """The HTML report `grade_part` wrote for this notebook (reports/<part>/<student>/<notebook>.html), or None.

    Only a regular file root made is served: every folder on the way and the file itself are opened without
    following links (confined to `reports`), and the file must be owned by root with one link (no hard link to a
    secret). Names with a slash or a leading dot are refused outright.
    """
    names = (part, student, f"{notebook}.html")
    if any(not name or "/" in name or "\0" in name or name.startswith(".") for name in (part, student, notebook)):
        return None
    fds: list[int] = []
    try:
        fds.append(os.open(reports, _DIR))
        for name in names[:-1]:
            fds.append(os.open(name, _DIR, dir_fd=fds[-1]))
        fds.append(os.open(names[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1]))
        st = os.fstat(fds[-1])
        if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_nlink != 1 or st.st_size > REPORT_MAX_BYTES:
            log.warning("refused to serve %s/%s/%s: not a regular root-owned file", part, student, names[-1])
            return None
        return os.read(fds[-1], REPORT_MAX_BYTES)
    except OSError:
        return None
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _report(app: Dashboard, student: str, part: str, notebook: str) -> bool:
    """Whether there is a report to link to."""
    return read_report(app.reports, part, student, notebook) is not None


def _peer_review(app: Dashboard, student: str) -> dict[str, Any]:
    """Peer-review tasks to do and anonymous reviews received, over every part."""
    from aiml_course.peer_review.exchange import peer_feedback, peer_tasks

    out: dict[str, Any] = {"peer_tasks": [], "peer_feedback": []}
    for part in app.course.parts:
        out["peer_tasks"] += peer_tasks(app.gradebook, part.id, student)
        out["peer_feedback"] += [{"part": part.id, **f} for f in peer_feedback(app.gradebook, part.id, student)]
    return out


def make_app(settings: HubSettings, *, gradebook_url: str | None = None) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboard/")
    app = Dashboard(settings.course, settings.layout, Gradebook(gradebook_url or db_url(settings.course, None)),
                    prefix)
    kw = {"app": app}
    return web.Application([
        (prefix, Home, kw),
        (url_path_join(prefix, r"cohort/([^/]+)"), CohortPage, kw),
        (url_path_join(prefix, r"student/([^/]+)"), StudentPage, kw),
        (url_path_join(prefix, r"feedback/([^/]+)/([^/]+)/([^/]+)"), Feedback, kw),
        (url_path_join(prefix, "export.csv"), ExportCSV, kw),
        (url_path_join(prefix, r"certificate/([^/]+)\.pdf"), CertificatePDF, kw),
        (url_path_join(prefix, "release"), Action, {**kw, "action": "release"}),
        (url_path_join(prefix, "grade"), Action, {**kw, "action": "grade"}),
        (url_path_join(prefix, "jobs"), JobStatus, kw),
        (url_path_join(prefix, "health"), Health),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ], cookie_secret=os.urandom(32), dashboard=app)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dashboard %(levelname)s %(message)s")
    settings = HubSettings.from_env()
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{settings.dashboard_port}"))
    app = make_app(settings, gradebook_url=os.environ.get("AIML_GRADEBOOK_URL"))
    app.listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("dashboard for %s on %s", settings.course.id, url.geturl())

    def stop(signum: int, _frame: object) -> None:
        # Do not wait for a grading job: every graded notebook is already in the gradebook, and running the
        # job again skips those and finishes the rest.
        running = [k for k, v in app.settings["dashboard"].jobs.status.items() if v.startswith("running")]
        log.info("stopping (signal %d)%s", signum, f"; unfinished: {', '.join(running)}" if running else "")
        logging.shutdown()
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
