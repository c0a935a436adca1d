"""`course import nbgrader|otter PATH`: bring an existing assignment into source/<part>/ in our authoring format.

Writes one notebook per foreign notebook and `import-report.md` (every question, its points, how each test was
converted — judged outside or inside the sandbox — and every piece not imported, with its cell and the reason).
Nothing here runs the foreign code: `course build PART` does that, in the sandbox, as for any part.
"""

from __future__ import annotations

from pathlib import Path

from aiml_course.config import PART_ID
from aiml_course.errors import ImportFailure
from aiml_course.importers import nbgrader, otter
from aiml_course.importers.notebook import stem_for, write_notebook
from aiml_course.importers.report import ImportReport

TOOLS = {"nbgrader": nbgrader.import_assignment, "otter": otter.import_assignment}
REPORT_NAME = "import-report.md"

__all__ = ["REPORT_NAME", "TOOLS", "ImportReport", "import_assignment"]


def import_assignment(tool: str, path: Path, source_dir: Path, part: str, *, overwrite: bool = False
                      ) -> ImportReport:
    """Import `path` (a `tool` assignment) into `source_dir/part/`; refuses to overwrite unless told to."""
    if tool not in TOOLS:
        raise ImportFailure(f"unknown tool {tool!r}: {', '.join(sorted(TOOLS))}")
    if not PART_ID.match(part):
        raise ImportFailure(f"part id {part!r} must look like 'part-05-imported-ps1'")
    target = source_dir / part
    if target.exists() and any(target.glob("*.ipynb")) and not overwrite:
        raise ImportFailure(f"{target} already holds notebooks: pass --overwrite to replace them")
    imported = TOOLS[tool](Path(path))
    report = ImportReport(tool, part)
    for stem, nb, nb_report in imported:
        stem = stem_for(stem)
        nb_report.stem = stem
        write_notebook(nb, target / f"{stem}.ipynb")
        report.notebooks.append(nb_report)
    (target / REPORT_NAME).write_text(report.to_markdown(), encoding="utf-8")
    return report
