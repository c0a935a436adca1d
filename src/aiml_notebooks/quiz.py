"""Multiple-choice quizzes with immediate feedback that do not give the answers away in the files.

`course build` stores each right answer only as a salted hash, and each explanation encrypted with a key derived
from the right choice: clicking the right choice both confirms it and unlocks the explanation. The graded answers
are the letters the student writes in the answer cell below the quiz.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from aiml_notebooks.checks import load_checks
from aiml_notebooks.environment import in_live_notebook

__all__ = ["answer_hash", "lock_explanation", "show_quiz", "unlock_explanation"]

LETTERS = "ABCDEFGHIJ"


def answer_hash(salt: str, index: int) -> str:
    """The stored fingerprint of choice `index` being right."""
    return hashlib.sha256(f"{salt}:answer:{index}".encode()).hexdigest()


def _keystream(salt: str, index: int, n: int) -> bytes:
    out, counter = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{salt}:explain:{index}:{counter}".encode()).digest()
        counter += 1
    return out[:n]


def lock_explanation(text: str, salt: str, index: int) -> str:
    """Encrypt `text` so only knowing the right choice `index` unlocks it."""
    raw = text.encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _keystream(salt, index, len(raw)), strict=True))).decode()


def unlock_explanation(blob: str, salt: str, index: int) -> str:
    """Decrypt an explanation with choice `index` (garbage unless `index` is right; only called when it is)."""
    raw = base64.b64decode(blob)
    return bytes(a ^ b for a, b in zip(raw, _keystream(salt, index, len(raw)), strict=True)).decode(errors="replace")


def _feedback(item: dict[str, Any], index: int) -> str:
    if answer_hash(item["salt"], index) == item["answer_hash"]:
        return f"✓ {LETTERS[index]} is right. {unlock_explanation(item['explain'], item['salt'], index)}"
    return f"✗ {LETTERS[index]} is not right. Read the question again and try another choice."


def _recorded(index: int) -> str:
    return (f"Recorded: {LETTERS[index]}. Your first answer counts: write {LETTERS[index]} in the answer cell. "
            "You see whether it was right in your feedback after grading.")


def show_quiz(qid: str, notebook: str) -> None:
    """Show the quiz: clickable choices in a live notebook, plain text headless.

    A formative quiz gives instant feedback on every click. A graded quiz (course_config: quiz =
    "graded-first-answer") has no key in the student's files: the first click on a question is recorded and locks
    it, and the feedback comes with the grade."""
    quiz = load_checks(notebook)["quizzes"][qid]
    items, graded = quiz["items"], bool(quiz.get("graded"))
    answers_var = f"{qid}_answers"
    if not in_live_notebook():
        for n, item in enumerate(items, 1):
            print(f"{n}. {item['question']}")
            for i, text in enumerate(item["choices"]):
                print(f"   {LETTERS[i]}) {text}")
        first = " This quiz is graded: your first answer counts." if graded else ""
        print(f"\nWrite the letter you choose for each question in `{answers_var}` in the next cell.{first}")
        return
    import ipywidgets as w
    from IPython.display import display

    boxes = []
    for n, item in enumerate(items, 1):
        buttons = w.RadioButtons(options=[(f"{LETTERS[i]}) {c}", i) for i, c in enumerate(item["choices"])],
                                 value=None, layout=w.Layout(width="auto"))
        out = w.HTML()

        def on_change(change: dict[str, Any], item: dict[str, Any] = item, out: w.HTML = out,
                      buttons: w.RadioButtons = buttons) -> None:
            if change["new"] is None:
                return
            if graded:  # the first answer is the one recorded: lock the question
                buttons.disabled = True
                out.value = f"<p>{_recorded(change['new'])}</p>"
            else:
                out.value = f"<p>{_feedback(item, change['new'])}</p>"

        buttons.observe(on_change, names="value")
        boxes.append(w.VBox([w.HTML(f"<b>{n}. {item['question']}</b>"), buttons, out]))
    boxes.append(w.HTML(f"<p>Then write your letters in <code>{answers_var}</code> in the next cell: "
                        "that cell is what gets graded.</p>"))
    display(w.VBox(boxes))
