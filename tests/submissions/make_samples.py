"""Regenerate the sample submissions of Part 2 from its source notebooks.

    .venv/bin/python tests/submissions/make_samples.py

Students (one folder each, one notebook per module):
  alice   correct everywhere
  bob     partly wrong: the first exercise of each notebook returns 0, quiz answers all "A"
  carol   raising: every answer raises ValueError, and her first cell crashes
  dave    empty: the student notebooks exactly as released
  eve     cheater: monkeypatches numpy/math/builtins comparison functions, answers return 0
  frank   broken: one notebook is truncated JSON, the others were never submitted
Each folder has nbgrader's timestamp.txt; bob submitted 10.5 hours late (one late day under the late policy).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PART = "part-02-first-neuron"
OUT = ROOT / "tests" / "submissions" / PART
CHEAT = ("import builtins, math\nimport numpy as np\n"
         "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
         "math.isclose = lambda *a, **k: True\nbuiltins.abs = lambda x: 0\n")


def _cells(nb: dict) -> list[dict]:
    return nb["cells"]


def _answers(nb: dict) -> list[dict]:
    return [c for c in _cells(nb) if c["metadata"].get("aiml", {}).get("role") == "answer"]


def _code(source: str) -> dict:
    cell_id = "extra-" + hashlib.sha1(source.encode()).hexdigest()[:8]
    return {"cell_type": "code", "execution_count": None, "id": cell_id,
            "metadata": {}, "outputs": [], "source": source}


def _replace_stub(source: str, body: str) -> str:
    """Swap `raise NotImplementedError()` for `body` at the same indentation."""
    return re.sub(r"(?m)^(\s*)raise NotImplementedError\(\)$", lambda m: m.group(1) + body, source)


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def variants(release: dict, solution: dict) -> dict[str, str | None]:
    out: dict[str, str | None] = {"alice": json.dumps(solution, indent=1), "dave": json.dumps(release, indent=1)}
    bob = json.loads(json.dumps(solution))
    first, release_answers = _answers(bob)[0], _answers(release)
    first["source"] = _replace_stub(_text(release_answers[0]), "return 0")
    for cell in _answers(bob):
        if cell["metadata"]["aiml"]["question"] == "quiz":
            cell["source"] = re.sub(r'"[A-J]"', '"A"', _text(cell))
    out["bob"] = json.dumps(bob, indent=1)
    carol = json.loads(json.dumps(release))
    for cell in _answers(carol):
        cell["source"] = _replace_stub(_text(cell), 'raise ValueError("I give up")')
    _cells(carol).insert(1, _code("raise RuntimeError('my first cell crashes')"))
    out["carol"] = json.dumps(carol, indent=1)
    eve = json.loads(json.dumps(release))
    for cell in _answers(eve):
        cell["source"] = _replace_stub(_text(cell), "return 0")
    _cells(eve).insert(1, _code(CHEAT))
    out["eve"] = json.dumps(eve, indent=1)
    return out


# when each student submitted (nbgrader's timestamp.txt format); Part 2 is due 2026-03-06 23:59 UTC
TIMESTAMPS = {"alice": "2026-03-05 20:00:00.000000 UTC", "bob": "2026-03-07 10:30:00.000000 UTC",
              "carol": "2026-03-06 23:50:00.000000 UTC", "dave": "2026-03-01 09:00:00.000000 UTC",
              "eve": "2026-03-06 12:00:00.000000 UTC", "frank": "2026-03-06 23:59:00.000000 UTC"}


def generate(target: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT / "src"))
    from aiml_course.authoring.parse import parse_notebook
    from aiml_course.authoring.render import dumps_notebook, render

    written = []
    sources = sorted((ROOT / "source" / PART).glob("*.ipynb"))
    for n, path in enumerate(sources):
        spec = parse_notebook(path)
        release = json.loads(dumps_notebook(render(spec, variant="release")))
        solution = json.loads(dumps_notebook(render(spec, variant="solution")))
        for student, text in variants(release, solution).items():
            file = target / student / path.name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text + "\n", encoding="utf-8")
            written.append(file)
        if n == 0:  # frank: one truncated notebook, nothing else
            file = target / "frank" / path.name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(release)[:500], encoding="utf-8")
            written.append(file)
    for student, stamp in TIMESTAMPS.items():
        file = target / student / "timestamp.txt"
        file.write_text(stamp + "\n", encoding="utf-8")
        written.append(file)
    return written


if __name__ == "__main__":
    files = generate(OUT)
    print(f"wrote {len(files)} sample notebooks under {OUT.relative_to(ROOT)}")
