"""`course build`: source/<part>/*.ipynb → release/<part>/ and autograder/<part>/, deterministically.

References come from running the solution render in the sandbox with every probe; they are rounded to 12
significant digits so the generated files are byte-identical across machines. The output is scanned for leaks
before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.authoring.parse import NotebookSpec, parse_notebook
from aiml_course.authoring.render import (
    bundle,
    dumps_json,
    dumps_notebook,
    probe_cells,
    public_checks,
    render,
)
from aiml_course.authoring.verify import (
    check_judged_outside,
    scan_for_leaks,
    scan_for_mutants,
    scan_for_quiz_keys,
)
from aiml_course.config import Course
from aiml_course.errors import AuthoringError, GradingError
from aiml_course.grading.engine import RUNNER, Execution, execute
from aiml_course.quiz_policy import FORMATIVE
from aiml_course.sandbox import Sandbox

logger = logging.getLogger(__name__)

CACHE_DIR = ".course-cache/references"


@dataclass
class BuiltNotebook:
    """All files generated from one source notebook, as text, keyed by path relative to the course root."""

    spec: NotebookSpec
    files: dict[str, str]
    bundle: dict[str, Any]
    solution_run: Execution | None
    solution_text: str
    release_text: str


@dataclass
class BuildResult:
    part: str
    notebooks: list[BuiltNotebook] = field(default_factory=list)

    @property
    def files(self) -> dict[str, str]:
        return {k: v for nb in self.notebooks for k, v in nb.files.items()}


def source_notebooks(course: Course, part: str) -> list[Path]:
    folder = course.source_dir / part
    if not folder.is_dir():
        raise GradingError(f"no folder {folder} for part {part}")
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise GradingError(f"{folder} holds no notebooks")
    return found


def _round(data: Any) -> Any:
    """12 significant digits: identical files on every machine, far tighter than any tolerance used."""
    if isinstance(data, float):
        return float(f"{data:.12g}")
    if isinstance(data, list):
        return [_round(v) for v in data]
    if isinstance(data, dict):
        return {k: _round(v) for k, v in data.items()}
    return data


def _code_only(notebook_text: str) -> str:
    """What the run depends on: the code cells and their roles (prose edits do not invalidate the cache)."""
    cells = json.loads(notebook_text)["cells"]
    return json.dumps([[c["source"], (c.get("metadata", {}).get("aiml") or {}).get("role")]
                       for c in cells if c.get("cell_type") == "code"])


def _cache_key(solution_text: str, probes: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    evidence = Path(__file__).resolve().parents[2] / "aiml_notebooks" / "evidence.py"
    for part in (_code_only(solution_text), json.dumps(probes, sort_keys=True), RUNNER.read_text(),
                 evidence.read_text()):
        h.update(part.encode())
    return h.hexdigest()


REFERENCE_SEED = 0  # the GRADING_SEED of the solution run that computes the references


def compute_references(spec: NotebookSpec, solution_text: str, sandbox: Sandbox, *, cell_seconds: int,
                       cache: Path | None) -> tuple[dict[str, Any], Execution | None]:
    """Run the solution with every probe; each case's return value becomes its reference."""
    probes = probe_cells(spec)
    cached = cache / f"{_cache_key(solution_text, probes)}.json" if cache else None
    if cached is not None and cached.is_file():
        return json.loads(cached.read_text()), None
    # a fixed GRADING_SEED: the bundle is the same on every build; a case drawing fresh inputs per grading run is
    # judged by a # JUDGE that recomputes its reference from each run's seed, so its stored value is never used
    run = execute(solution_text, probes, sandbox, cell_seconds=cell_seconds, seed=REFERENCE_SEED)
    if run.problem:
        raise AuthoringError(f"the solution notebook could not be run: {run.problem}", notebook=spec.path)
    if run.cell_errors:
        first = run.cell_errors[0]
        raise AuthoringError(f"the solution notebook raises {first['error']['name']}: "
                             f"{first['error']['message']} (the source must run end to end)",
                             notebook=spec.path, cell=_source_cell(spec, solution_text, first["cell"]))
    references = {}
    cases = {c.name: c for c in spec.cases()}
    for name in (n for p in probes for n in p["cases"]):
        record = run.records.get(name, {})
        case = cases.get(name)
        if not record.get("ok"):
            raise AuthoringError(f"case {name} fails on the solution: {record.get('error', 'no record')}",
                                 notebook=spec.path, cell=case.cell if case else None,
                                 question=case.qid if case else None)
        references[name] = _round(record["value"])
        if case is not None and case.spec.get("compare") == "equal" and references[name] != record["value"]:
            # the stored reference is rounded, so an exact comparison with the unrounded answer could never pass
            raise AuthoringError(f"case {name} compares exactly (compare=\"equal\") a float that needs more than "
                                 "12 significant digits; references are stored to 12: use compare=\"close\" with "
                                 "a tolerance, or return repr(x) to check every digit",
                                 notebook=spec.path, cell=case.cell, question=case.qid)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(references, sort_keys=True))
    return references, run


def _source_cell(spec: NotebookSpec, rendered_text: str, rendered_index: int) -> int | None:
    """Map a cell number of a rendered notebook back to the source cell it came from (by cell id)."""
    rendered = json.loads(rendered_text)["cells"]
    if not 1 <= rendered_index <= len(rendered):
        return None
    cell_id = rendered[rendered_index - 1].get("id")
    for cell in spec.cells:
        if cell.node.get("id") == cell_id:
            return cell.index
    return None


def build_notebook(course: Course, part: str, path: Path, sandbox: Sandbox, *, use_cache: bool = True
                   ) -> BuiltNotebook:
    spec = parse_notebook(path)
    check_judged_outside(spec)  # before anything runs: a verdict decided in the sandbox is refused
    quiz = course.quiz
    solution_text = dumps_notebook(render(spec, variant="solution", quiz_policy=quiz))
    cache = course.root / CACHE_DIR if use_cache else None
    references, run = compute_references(spec, solution_text, sandbox,
                                         cell_seconds=sandbox.limits.cell_seconds, cache=cache)
    release_nb = render(spec, variant="release", quiz_policy=quiz)
    release_text = dumps_notebook(release_nb)
    checks = dumps_json(public_checks(spec, references, quiz))
    grading = bundle(spec, part, references)
    files = {
        f"release/{part}/{path.name}": release_text,
        f"release/{part}/.checks/{spec.stem}.json": checks,
        f"autograder/{part}/{spec.stem}.bundle.json": dumps_json(grading),
        f"autograder/{part}/walkthrough/{path.name}":
            dumps_notebook(render(spec, variant="walkthrough", quiz_policy=quiz)),
    }
    scan_for_leaks(spec, {k: v for k, v in files.items() if k.startswith("release/")})
    scan_for_mutants(spec, files)  # mutants reach no generated file: not release/, bundles or walkthroughs
    if quiz != FORMATIVE:
        scan_for_quiz_keys(spec, files[f"release/{part}/.checks/{spec.stem}.json"])
    return BuiltNotebook(spec, files, grading, run, solution_text, release_text)


def build_part(course: Course, part: str, sandbox: Sandbox, *, use_cache: bool = True,
               progress: Callable[[str], None] | None = None) -> BuildResult:
    """Build every notebook of `part` in memory (nothing is written)."""
    result = BuildResult(part)
    for path in source_notebooks(course, part):
        if progress:
            progress(path.name)
        result.notebooks.append(build_notebook(course, part, path, sandbox, use_cache=use_cache))
    return result


def generated_paths(course: Course, part: str) -> set[str]:
    """Files currently on disk under release/<part> and autograder/<part> (relative to the course root)."""
    found = set()
    for top in ("release", "autograder"):
        folder = course.root / top / part
        if folder.is_dir():
            found |= {str(p.relative_to(course.root)) for p in folder.rglob("*") if p.is_file()}
    return found


def write_build(course: Course, result: BuildResult) -> list[str]:
    """Write the built files and delete stale ones under release/<part> and autograder/<part>."""
    wanted = result.files
    changed = []
    for rel in sorted(generated_paths(course, result.part) - set(wanted)):
        (course.root / rel).unlink()
        changed.append(f"deleted {rel}")
    for rel, text in sorted(wanted.items()):
        target = course.root / rel
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)  # atomic: a crash never leaves half a notebook in release/
        changed.append(f"wrote {rel}")
    return changed


def out_of_sync(course: Course, result: BuildResult) -> list[str]:
    """Paths whose content on disk differs from the build (or that are missing / stale)."""
    wanted = result.files
    problems = [f"stale file {rel}" for rel in sorted(generated_paths(course, result.part) - set(wanted))]
    for rel, text in sorted(wanted.items()):
        target = course.root / rel
        if not target.is_file():
            problems.append(f"missing {rel}")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"differs from source: {rel}")
    return problems
