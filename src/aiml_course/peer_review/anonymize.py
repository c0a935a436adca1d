"""Anonymous copies of submitted notebooks for peer review.

Metadata is cut down to a whitelist (kernel and language only: nbgrader ids, `aiml` student data, authors,
widget state and anything else a tool may have written are dropped), outputs are cleared, and every occurrence
of the author's id and names in what is left is replaced, case-insensitively, by the alias.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KEEP_CELL_METADATA = ("tags", "collapsed", "scrolled", "editable", "deletable", "jupyter", "slideshow")


def anonymize_notebook(
    nb_json: dict[str, Any], *, author: str, alias: str, names: Iterable[str] = (), keep_outputs: bool = False
) -> dict[str, Any]:
    """A copy of `nb_json` with the author's id (and `names`: full name, e-mail, ...) replaced by `alias`.

    With `keep_outputs`, text outputs are kept and scrubbed too; binary outputs (PNG, JPEG) are kept as they are,
    so a plot title showing the author's name would survive: the default clears every output.
    """
    scrub = _scrubber([author, *names], alias)
    nb = copy.deepcopy(nb_json)
    nb["metadata"] = scrub(_pick(nb.get("metadata") or {}, KEEP_NOTEBOOK_METADATA))
    for cell in nb.get("cells", []):
        _anonymize_cell(cell, scrub, keep_outputs=keep_outputs)
    return nb


def _anonymize_cell(cell: dict[str, Any], scrub: Any, *, keep_outputs: bool) -> None:
    """Scrub one cell in place: source, whitelisted metadata, attachment names and (kept) outputs."""
    cell["source"] = scrub(cell.get("source", ""))
    cell["metadata"] = scrub(_pick(cell.get("metadata") or {}, KEEP_CELL_METADATA))
    if "attachments" in cell:  # names are scrubbed like the source's `attachment:NAME` links; data stays
        cell["attachments"] = {scrub(name): data for name, data in cell["attachments"].items()}
    if cell.get("cell_type") != "code":
        return
    if not keep_outputs:
        cell["outputs"], cell["execution_count"] = [], None
        return
    cell["outputs"] = [_scrub_output(out, scrub) for out in cell.get("outputs", [])]


def _scrub_output(output: dict[str, Any], scrub: Any) -> dict[str, Any]:
    """Scrub an output's text fields and text-like MIME bundles; leave base64 images untouched."""
    out = {key: scrub(value) if key in ("text", "ename", "evalue", "traceback", "metadata") else value
           for key, value in output.items()}
    if isinstance(out.get("data"), dict):
        out["data"] = {mime: scrub(value) if _is_text_mime(mime) else value for mime, value in out["data"].items()}
    return out


def _is_text_mime(mime: str) -> bool:
    return mime.startswith("text/") or mime.endswith(("json", "javascript", "+xml"))


def _pick(mapping: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key in keys}


def _scrubber(needles: list[str], alias: str) -> Any:
    """A function replacing every needle in any string of a JSON value (keys included) by `alias`."""
    words = sorted({n.strip() for n in needles if n and n.strip()}, key=len, reverse=True)
    pattern = re.compile("|".join(_needle_pattern(w) for w in words), re.IGNORECASE) if words else None

    def scrub(value: Any) -> Any:
        if pattern is None:
            return value
        if isinstance(value, str):
            return pattern.sub(alias, value)
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {scrub(k): scrub(v) for k, v in value.items()}
        return value

    return scrub


def _needle_pattern(word: str) -> str:
    """`word`, not inside a longer run of the same kind: 'ada' matches 'jupyter-ada' and 'ada2' but not 'canada'.

    A needle starting (ending) with a letter may not be preceded (followed) by a letter, one starting (ending)
    with a digit not by a digit; anything else is matched as a plain substring.
    """
    before = r"(?<![^\W\d_])" if word[0].isalpha() else r"(?<!\d)" if word[0].isdigit() else ""
    after = r"(?![^\W\d_])" if word[-1].isalpha() else r"(?!\d)" if word[-1].isdigit() else ""
    return f"{before}{re.escape(word)}{after}"
