"""Errors raised by aiml_course. Each says where the problem is (file, cell, question) and what to do.

* CourseError
  + ConfigError            course_config.py is missing, malformed or inconsistent
  + AuthoringError         a source notebook breaks the authoring format (notebook, cell, question)
    - LeakError            solution or hidden-test text would reach release/
  + SyncError              release/ or autograder/ is not what `course build` would write
  + SandboxError           the sandbox could not be set up
    - SandboxUnavailable   the backend is not installed or not permitted here
  + GradingError           a submission could not be graded at all (bad path, unknown part)
    - SubmissionRejected   one submitted file cannot be read safely (a link, not a regular file, too large,
                           not a notebook): that notebook gets a zero row with the reason, the run goes on
  + ImportFailure          an nbgrader/otter assignment could not be imported (`course import`)
  + GradebookError         the gradebook database is unusable
  + PeerReviewError        a peer-review request cannot be carried out
  + CertificateError       a certificate cannot be issued, read, verified or revoked
  + HubError               the hub could not be prepared, started or reached, or an exchange step failed
    - RosterError          a roster file or a roster change is invalid (each bad row named)
"""

from __future__ import annotations

from pathlib import Path


class CourseError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(CourseError):
    """course_config.py is missing, malformed or inconsistent."""


class AuthoringError(CourseError):
    """A source notebook breaks the authoring format."""

    def __init__(self, problem: str, *, notebook: Path, cell: int | None = None, question: str | None = None):
        self.problem, self.notebook, self.cell, self.question = problem, notebook, cell, question
        where = str(notebook)
        if cell is not None:
            where += f", cell {cell}"
        if question:
            where += f", question {question}"
        super().__init__(f"{where}: {problem}")


class LeakError(AuthoringError):
    """Solution or hidden-test text would reach a student-facing file."""


class SyncError(CourseError):
    """A generated tree differs from what `course build` would write."""


class SandboxError(CourseError):
    """The sandbox could not be set up or run."""


class SandboxUnavailable(SandboxError):
    """The chosen sandbox backend cannot run on this machine."""


class GradingError(CourseError):
    """A grading request cannot be carried out (unknown part, missing folder)."""


class SubmissionRejected(GradingError):
    """One submitted file cannot be read safely or is not a notebook; its grade is zero with this reason."""


class ImportFailure(CourseError):
    """An nbgrader or otter assignment could not be imported (file, cell and reason in the message)."""


class GradebookError(CourseError):
    """The gradebook database is unusable."""


class PeerReviewError(CourseError):
    """A peer-review request cannot be carried out (bad arguments, invalid reviews, no assignment stored)."""


class CertificateError(CourseError):
    """A certificate cannot be issued, read, verified or revoked (bad key file, unknown id, a file not written)."""


class HubError(CourseError):
    """The hub could not be prepared, started or reached, or a release/collect/feedback step failed."""


class RosterError(HubError):
    """A roster file or a roster change is invalid (each bad row is named)."""
