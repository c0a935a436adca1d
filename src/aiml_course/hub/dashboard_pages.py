"""The course dashboard's pages rendered as self-contained HTML + inline SVG, from the view models in
dashboard_views.py.

No JavaScript and no external resources (the pages work offline). Every string is escaped (names and problem
texts are untrusted). Layout is mobile-first: tables scroll inside their own box, plots scale with `viewBox`.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from urllib.parse import quote

from aiml_course.hub.dashboard_views import (
    DASHES,
    HIST_BINS,
    PALETTE,
    Cell,
    CohortView,
    Histogram,
    InstructorView,
    NotebookView,
    PartView,
    PeerFeedback,
    StudentView,
    e,
)

# ── rendering ───────────────────────────────────────────────────────────────────────────────────────────────

CSS = """
*,*::before,*::after{box-sizing:border-box}
:root{--ink:#1d2430;--muted:#5b6472;--line:#d9dee5;--soft:#f4f6f9;--accent:#1f5fa8;--ok:#1e6b34;--okbg:#e6f4ea;
--late:#8a4b00;--latebg:#fff1db;--bad:#8a1c1c;--badbg:#fdecec}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff;overflow-wrap:break-word}
a{color:var(--accent)}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.25rem .5rem}
.top{background:var(--ink);color:#fff;padding:.6rem 1rem}.top a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .25rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;
padding-bottom:.25rem;border-bottom:2px solid var(--line)}h3{font-size:1.05rem;margin:1.25rem 0 .5rem}
.muted,.sub{color:var(--muted)}.sub{font-size:.9rem;margin:0 0 1rem}
.meta{display:block;font-size:.85rem;font-weight:400;color:var(--muted);margin:.1rem 0}
ul.meta{display:block}.group{background:var(--soft)}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem;background:#fff}
.card h3{margin-top:0}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,16rem),1fr))}
.kpis{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;margin:.5rem 0}.kpis b{font-size:1.25rem}
.scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:.5rem;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{padding:.4rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap}
tbody tr:last-child>*{border-bottom:0}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.wide td{white-space:nowrap}
.wide tbody th{position:sticky;left:0;z-index:1;background:#fff;min-width:7rem;max-width:42vw;box-shadow:1px 0 0 var(--line)}
.tag{display:inline-block;font-size:.8rem;line-height:1.4;padding:0 .4rem;border-radius:.25rem;
border:1px solid currentColor;white-space:nowrap;margin-left:.25rem}
.ok{color:var(--ok);background:var(--okbg)}.late{color:var(--late);background:var(--latebg)}
.bad{color:var(--bad);background:var(--badbg)}.open{color:var(--muted);background:var(--soft)}
.problem{background:var(--latebg);border-left:4px solid var(--late);padding:.5rem .75rem;margin:.5rem 0}
svg.plot{display:block;width:100%;height:auto}svg.wide-plot{max-width:36rem}
.split{display:grid;gap:0 2rem;grid-template-columns:minmax(0,1fr)}
@media (min-width:64rem){.split{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
svg text{font-family:inherit}
.legend{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem}
.legend svg{width:2rem;height:.75rem;vertical-align:middle;margin-right:.3rem}
details{margin:.25rem 0 1rem}summary{cursor:pointer;color:var(--accent)}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
select{max-width:100%}
select,button{font:inherit;padding:.35rem .6rem;border-radius:.35rem;border:1px solid var(--line)}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
ul.plain{padding-left:1.1rem;margin:.25rem 0}.comment{white-space:pre-line}
@media (max-width:47.99rem){.wide td .tag{display:block;width:max-content;margin:.15rem 0 0 auto}}
@media (min-width:48rem){main{padding:1.5rem 2rem}h1{font-size:1.8rem}}
"""


def _page(title: str, body: str, *, base_url: str, brand: str) -> str:
    """The shared page shell: viewport, one inline style block, no scripts (CSP forbids them)."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'"
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            f'<a class="skip" href="#main">Skip to content</a>'
            f'<header class="top"><a href="{e(base_url)}">{e(brand)}</a></header>'
            f'<main id="main">{body}</main></body></html>\n')


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}\u00a0%"


def _pts(value: float) -> str:
    return f"{round(value, 2):g}"


def _when(dt: datetime) -> str:
    utc = dt.astimezone(UTC)
    return f'<time datetime="{e(utc.isoformat())}">{utc:%Y-%m-%d %H:%M} UTC</time>'


def _span(delta: timedelta) -> str:
    """A duration in words, e.g. '2 days 4 h' or '35 min'."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} day{'s' * (days != 1)}" + (f" {hours} h" if hours else "")
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _tag(kind: str, text: str) -> str:
    return f'<span class="tag {kind}">{e(text)}</span>'


def _part_label(part_id: str) -> str:
    """'part-02-first-neuron' → 'Part 2'."""
    number = part_id.split("-")[1] if part_id.count("-") >= 2 else part_id
    return f"Part {int(number)}" if number.isdigit() else part_id


# ── the student page ────────────────────────────────────────────────────────────────────────────────────────


def render_student_page(view: StudentView, *, base_url: str) -> str:
    """One student's grades, deadlines, feedback links, peer reviews and certificate standing."""
    who = view.name or view.student
    head = (f"<h1>{e(who)}</h1><p class=\"sub\">{e(view.course_title)} · student <b>{e(view.student)}</b> · "
            f"cohort {e(view.cohort)} · as of {_when(view.now)}</p>")
    summary = (f'<section class="card" aria-labelledby="overview"><h2 id="overview" style="margin-top:0">'
               f'Overview</h2><div class="kpis"><span>Course grade so far <b>{_pct(view.percent)}</b></span>'
               f"<span>{_certificate_tag(view)}</span></div>{_parts_chart(view)}</section>")
    parts = "".join(_part_section(view, p) for p in view.parts)
    body = head + summary + parts + _peer_section(view) + _certificate_section(view)
    return _page(f"{who} — {view.course_title}", body, base_url=base_url, brand=view.course_title)


def _part_status(view: StudentView, part: PartView) -> str:
    if part.submitted_at is not None:
        late = part.submitted_at - part.deadline
        if part.late_penalty > 0:
            return _tag("late", f"late by {_span(late)}: −{part.late_penalty * 100:g} %")
        return _tag("ok", "✓ on time" if late <= timedelta(0) else "✓ within grace period")
    if not part.released:
        return _tag("open", "not released yet")
    if view.now > part.deadline:
        return _tag("bad", "✗ missing: deadline passed")
    return _tag("open", f"open: due in {_span(part.deadline - view.now)}")


def _part_section(view: StudentView, part: PartView) -> str:
    extension = f" (extended from {_when(part.due)})" if part.extended else ""
    submitted = f" · last submitted {_when(part.submitted_at)}" if part.submitted_at else ""
    penalty = f" × (1 − {part.late_penalty:g}) late penalty" if part.late_penalty else ""
    head = (f'<section aria-labelledby="{e(part.id)}"><h2 id="{e(part.id)}">{e(_part_label(part.id))}: '
            f'{e(part.title)}</h2><p class="sub">Deadline {_when(part.deadline)}{extension}{submitted} '
            f"{_part_status(view, part)}</p>"
            f"<p><b>Score {_pts(part.score)} / {_pts(part.possible)}</b> ({_pct(part.percent)}) — "
            f"{_pts(part.raw)} points{penalty}</p>")
    if not part.notebooks:
        return head + '<p class="muted">This part has no graded notebooks yet.</p></section>'
    problems = "".join(f'<p class="problem"><b>{e(nb.notebook)}:</b> {e(nb.problem)}</p>'
                       for nb in part.notebooks if nb.problem)
    adjusted = [(nb.notebook, q) for nb in part.notebooks for q in nb.questions if q.reasons]
    staff = "".join(f"<li>{e(nb)} · <code>{e(q.question)}</code>: {'; '.join(e(r) for r in q.reasons)}</li>"
                    for nb, q in adjusted)
    staff = f'<p class="meta">Changed by staff:</p><ul class="plain meta">{staff}</ul>' if staff else ""
    rows = "".join(f'<tr><th scope="row">{e(nb.notebook)}<span class="meta">{_notebook_meta(nb)}</span></th>'
                   f'<td class="num">{_pts(nb.earned)} / {_pts(nb.possible)}</td></tr>' for nb in part.notebooks)
    table = (f'<div class="scroll"><table><thead><tr><th scope="col">Notebook</th>'
             f'<th scope="col" class="num">Points</th></tr></thead><tbody>{rows}</tbody></table></div>')
    details = (f"<details><summary>Points per question, {e(_part_label(part.id))}</summary>"
               f'<div class="scroll"><table><thead><tr><th scope="col">Question</th>'
               f'<th scope="col" class="num">Points</th></tr></thead>'
               f'{"".join(_question_rows(nb) for nb in part.notebooks)}</table></div></details>')
    return head + problems + staff + table + details + "</section>"


def _notebook_meta(nb: NotebookView) -> str:
    if nb.submitted_at is None:
        return "not submitted"
    link = f' · <a href="{e(nb.feedback_url)}">feedback report</a>' if nb.feedback_url else ""
    return f"submitted {_when(nb.submitted_at)}{link}"


def _question_rows(nb: NotebookView) -> str:
    rows = [f'<tbody><tr><th scope="rowgroup" colspan="2" class="group">{e(nb.notebook)}</th></tr>']
    for q in nb.questions:
        note = ""
        if q.adjustment:
            auto = "not graded" if q.autograded is None else f"autograded {_pts(q.autograded)}"
            note = f'<span class="meta">{auto}, staff {q.adjustment:+g}</span>'
        rows.append(f'<tr><th scope="row"><code>{e(q.question)}</code>{note}</th>'
                    f'<td class="num">{_pts(q.earned)} / {_pts(q.possible)}</td></tr>')
    return "".join(rows) + "</tbody>"


def _parts_chart(view: StudentView) -> str:
    """Horizontal bars: each part's percent after penalty, with the certificate bar as a dashed line."""
    row_h, left, width = 30, 64, 260
    height = row_h * len(view.parts) + 28
    label = "Percent of points per part: " + ", ".join(
        f"{_part_label(p.id)} {_pct(p.percent)}" for p in view.parts)
    bar_x = left + width * view.certificate_bar
    out = [f'<svg class="plot wide-plot" viewBox="0 0 360 {height}" role="img" aria-label="{e(label)}">'
           f"<title>{e(label)}</title>"]
    for i, p in enumerate(view.parts):
        y, pct = 8 + i * row_h, p.percent or 0.0
        out.append(f'<text x="0" y="{y + 15}" font-size="12" fill="#1d2430">{e(_part_label(p.id))}</text>'
                   f'<rect x="{left}" y="{y}" width="{width}" height="20" fill="#eef1f5"/>'
                   f'<rect x="{left}" y="{y}" width="{width * min(pct, 100) / 100:.1f}" height="20" '
                   f'fill="{PALETTE[0]}"/><text x="{left + width + 4}" y="{y + 15}" font-size="12" '
                   f'fill="#1d2430">{pct:.0f}%</text>')
    out.append(f'<line x1="{bar_x:.1f}" x2="{bar_x:.1f}" y1="2" y2="{height - 16}" stroke="#1d2430" '
               f'stroke-dasharray="4 3"/><text x="{bar_x:.1f}" y="{height - 4}" font-size="11" '
               f'text-anchor="middle" fill="#5b6472">certificate {view.certificate_bar * 100:g}%</text></svg>')
    return "".join(out)


def _certificate_tag(view: StudentView) -> str:
    if view.certificate is None:
        return _tag("open", "certificate: not assessed")
    return _tag("ok", "✓ certificate: qualifies") if view.certificate.qualifies else _tag(
        "open", "certificate: not yet")


def _certificate_section(view: StudentView) -> str:
    head = '<section aria-labelledby="certificate"><h2 id="certificate">Certificate</h2>'
    held = view.issued
    if held and not held.get("revoked") and not held.get("expired"):
        link = (f' · <a href="{e(view.certificate_url)}">download the PDF</a>'
                if view.certificate_url and not held.get("missing_files") else "")
        return head + (f"<p>{_tag('ok', '✓ issued')} Issued {e(str(held['issued_at'])[:10])}, "
                       f"id <code>{e(str(held['id']))}</code>{link}. Anyone can check it with "
                       f"<code>course certificates verify</code>.</p></section>")
    if held and held.get("revoked"):
        head += f"<p>{_tag('open', 'revoked')} {e(str(held.get('revoked_reason') or ''))}</p>"
    if view.certificate is None:
        return head + '<p class="muted">Not assessed: this account is not active.</p></section>'
    if view.certificate.qualifies:
        return head + f"<p>{_tag('ok', '✓ qualifies')} You meet every requirement for the certificate.</p></section>"
    items = "".join(f"<li>{e(m)}</li>" for m in view.certificate.missing)
    return head + f"<p>Not yet. Still needed:</p><ul class=\"plain\">{items}</ul></section>"


def _peer_section(view: StudentView) -> str:
    if view.peer_tasks is None and view.peer_feedback is None:
        return ""
    out = ['<section aria-labelledby="peer"><h2 id="peer">Peer review</h2>']
    if view.peer_tasks is not None:
        items = "".join(f"<li>{e(_part_label(t.part))}: review <b>{e(t.alias)}</b> "
                        f"{_tag('ok', '✓ done') if t.done else _tag('late', 'to do')}</li>" for t in view.peer_tasks)
        out.append(f"<h3>Reviews to write</h3><ul class=\"plain\">{items or '<li>None assigned.</li>'}</ul>")
    if view.peer_feedback is not None:
        out.append("<h3>Reviews of your work</h3>")
        out.append("".join(_feedback_card(view, f) for f in view.peer_feedback)
                   or '<p class="muted">No reviews yet.</p>')
    return "".join(out) + "</section>"


def _feedback_card(view: StudentView, fb: PeerFeedback) -> str:
    scores = "".join(f"<li>{e(k)}: <b>{_pts(v)}</b>"
                     f"{' / ' + str(view.rubric_max[k]) if k in view.rubric_max else ''}</li>" for k, v in fb.scores)
    comment = f'<p class="comment">{e(fb.comment)}</p>' if fb.comment else ""
    return (f'<div class="card"><h3>{e(_part_label(fb.part))} · reviewer {e(fb.reviewer)}</h3>'
            f'<ul class="plain">{scores}</ul>{comment}</div>')


# ── the instructor page ─────────────────────────────────────────────────────────────────────────────────────


def render_instructor_page(view: InstructorView, *, base_url: str, xsrf_token: str) -> str:
    """Every cohort's grade table and plots, a Release / Grade now form and the CSV exports."""
    options = "".join(f'<option value="{e(pid)}">{e(_part_label(pid))}: {e(title)}</option>'
                      for pid, title in view.parts)
    exports = "".join(f'<li><a href="{e(base_url)}export.csv?cohort={e(quote(c.cohort, safe=""))}">'
                      f"Cohort {e(c.cohort)} (CSV)</a></li>" for c in view.cohorts)
    actions = (f'<div class="grid"><section class="card" aria-labelledby="grade"><h3 id="grade">Release and grade'
               f'</h3><form class="inline" method="post" action="{e(base_url)}grade">'
               f'<input type="hidden" name="_xsrf" value="{e(xsrf_token)}">'
               f'<label for="part">Part</label><select id="part" name="part">{options}</select>'
               f'<button type="submit">Grade now</button>'
               f'<button type="submit" formaction="{e(base_url)}release">Release</button></form></section>'
               f'<section class="card" aria-labelledby="export"><h3 id="export">Export</h3><ul class="plain">'
               f'<li><a href="{e(base_url)}export.csv">Whole course (CSV)</a></li>{exports}</ul></section></div>')
    cohorts = "".join(_cohort_section(view, c) for c in view.cohorts) or '<p class="muted">No students yet.</p>'
    body = (f"<h1>Instructor dashboard</h1><p class=\"sub\">{e(view.course_title)} · as of {_when(view.now)}</p>"
            + actions + cohorts)
    return _page(f"Instructor dashboard — {view.course_title}", body, base_url=base_url, brand=view.course_title)


def _cohort_section(view: InstructorView, c: CohortView) -> str:
    anchor = f"cohort-{quote(c.cohort, safe='')}"
    counted = [r.percent for r in c.rows if r.active]
    kpis = (f'<div class="kpis"><span>Students <b>{len(c.rows)}</b></span>'
            + (f"<span>Mean <b>{_pct(statistics.fmean(counted))}</b></span>"
               f"<span>Median <b>{_pct(statistics.median(counted))}</b></span>" if counted else "") + "</div>")
    hists = "".join(f'<figure class="card" style="margin:0"><figcaption><b>{e(_part_label(h.part))}</b> '
                    f'<span class="muted">{e(h.title)} · {h.missing} without work</span></figcaption>'
                    f"{_histogram_svg(h)}</figure>" for h in c.histograms)
    return (f'<section aria-labelledby="{e(anchor)}"><h2 id="{e(anchor)}">Cohort {e(c.cohort)}</h2>{kpis}'
            f"<h3>Grades</h3>{_grade_table(view, c)}"
            f'<h3>Score distribution</h3><div class="grid">{hists}</div>'
            f'<div class="split"><div><h3>Completion over time</h3>{_completion_block(view, c)}</div>'
            f"<div><h3>Hardest questions</h3>{_hardest_table(c)}</div></div></section>")


def _grade_table(view: InstructorView, c: CohortView) -> str:
    if not c.rows:
        return '<p class="muted">No students in this cohort.</p>'
    head = "".join(f'<th scope="col" class="num" title="{e(title)}">{e(_part_label(pid))}</th>'
                   for pid, title in view.parts)
    body = []
    for r in c.rows:
        name = f'<span class="meta">{e(r.name)}</span>' if r.name else ""
        inactive = _tag("open", "inactive") if not r.active else ""
        cells = "".join(f'<td class="num">{_cell(cell)}</td>' for cell in r.cells)
        body.append(f'<tr><th scope="row">{e(r.student)}{name}{inactive}</th>{cells}'
                    f'<td class="num"><b>{_pct(r.percent)}</b></td></tr>')
    return (f'<div class="scroll" tabindex="0" role="region" aria-label="Grades of cohort {e(c.cohort)}">'
            f'<table class="wide"><thead><tr><th scope="col">Student</th>{head}'
            f'<th scope="col" class="num">Overall</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _cell(cell: Cell) -> str:
    if not cell.submitted:
        if not cell.released:
            return _tag("open", "not released")
        return _tag("bad", "✗ missing") if cell.due_passed else _tag("open", "open")
    late = _tag("late", f"late −{cell.late_penalty * 100:g}%") if cell.late_penalty > 0 else ""
    return _pct(cell.percent) + late


def _histogram_svg(h: Histogram) -> str:
    """Ten bars (0–10 %, …, 90–100 %) with their counts written above them."""
    left, top, plot_w, plot_h = 22, 14, 210, 100
    peak = max(h.counts) or 1
    bar_w = plot_w / HIST_BINS
    label = (f"{_part_label(h.part)} score distribution: "
             + ", ".join(f"{i * 10}–{i * 10 + 10} %: {n}" for i, n in enumerate(h.counts))
             + f"; {h.missing} without work")
    out = [f'<svg class="plot" viewBox="0 0 240 150" role="img" aria-label="{e(label)}"><title>{e(label)}</title>',
           f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#5b6472"/>']
    for i, n in enumerate(h.counts):
        bh = plot_h * n / peak
        x = left + i * bar_w
        out.append(f'<rect x="{x + 2:.1f}" y="{top + plot_h - bh:.1f}" width="{bar_w - 4:.1f}" height="{bh:.1f}" '
                   f'fill="{PALETTE[0]}"/>')
        if n:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - bh - 3:.1f}" font-size="12" '
                       f'text-anchor="middle" fill="#1d2430">{n}</text>')
    for tick in range(0, 101, 20):
        x = left + plot_w * tick / 100
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 13}" font-size="10" text-anchor="middle" '
                   f'fill="#5b6472">{tick}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="146" font-size="10" text-anchor="middle" fill="#5b6472">'
               f"percent of points (after late penalty)</text>"
               f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end" fill="#5b6472">{max(h.counts)}</text>'
               f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" fill="#5b6472">0</text></svg>')
    return "".join(out)


def _completion_block(view: InstructorView, c: CohortView) -> str:
    series = [s for s in c.completion if s.points]
    if not series:
        return '<p class="muted">No graded submissions yet.</p>'
    legend = "".join(f'<li><svg viewBox="0 0 32 12" aria-hidden="true"><line x1="0" x2="32" y1="6" y2="6" '
                     f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="3" '
                     f'stroke-dasharray="{DASHES[i % len(DASHES)]}"/></svg>{e(_part_label(s.part))}: '
                     f"{s.points[-1][1]} of {len(c.rows)}</li>" for i, s in enumerate(c.completion) if s.points)
    rows = "".join(f'<tr><th scope="row">{e(_part_label(s.part))}</th><td>'
                   + ", ".join(f"{d.isoformat()}: {n}" for d, n in s.points) + "</td></tr>" for s in series)
    data = (f'<details><summary>Completion data</summary><div class="scroll"><table><thead><tr>'
            f'<th scope="col">Part</th><th scope="col">Date: students with graded work</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></details>")
    return _completion_svg(view, c) + f'<ul class="legend">{legend}</ul>' + data


def _completion_svg(view: InstructorView, c: CohortView) -> str:
    """Cumulative step lines, one per part, distinguished by colour and dash pattern."""
    left, top, plot_w, plot_h = 30, 10, 356, 140
    days = [d for s in c.completion for d, _ in s.points]
    start, end = min(days), max(max(days), view.now.astimezone(UTC).date())
    span = max((end - start).days, 1)
    peak = max(len(c.rows), 1)

    def xy(day: date, n: int) -> str:
        return f"{left + plot_w * (day - start).days / span:.1f},{top + plot_h * (1 - n / peak):.1f}"

    label = "Students with graded work over time: " + "; ".join(
        f"{_part_label(s.part)} {s.points[-1][1]} of {len(c.rows)} by {s.points[-1][0].isoformat()}"
        for s in c.completion if s.points)
    grey = 'fill="#5b6472" font-size="12"'
    out = [f'<svg class="plot wide-plot" viewBox="0 0 400 196" role="img" aria-label="{e(label)}">'
           f"<title>{e(label)}</title>",
           f'<line x1="{left}" x2="{left + plot_w}" y1="{top}" y2="{top}" stroke="#d9dee5"/>'
           f'<polyline points="{left},{top} {left},{top + plot_h} {left + plot_w},{top + plot_h}" fill="none" '
           f'stroke="#5b6472"/><text x="{left - 4}" y="{top + 4}" text-anchor="end" {grey}>{peak}</text>'
           f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {grey}>0</text>']
    for i, s in enumerate(c.completion):
        if not s.points:
            continue
        pts, prev = [xy(s.points[0][0], 0)], 0
        for day, n in s.points:
            pts += [xy(day, prev), xy(day, n)]
            prev = n
        pts.append(xy(end, prev))
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" '
                   f'stroke-width="2.5" stroke-dasharray="{DASHES[i % len(DASHES)]}"/>')
    for frac, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
        day = start + timedelta(days=round(span * frac))
        out.append(f'<text x="{left + plot_w * (day - start).days / span:.1f}" y="{top + plot_h + 16}" '
                   f'text-anchor="{anchor}" {grey}>{day:%b %d}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="192" text-anchor="middle" fill="#5b6472" font-size="11">'
               f"date of first graded submission (UTC)</text></svg>")
    return "".join(out)


def _hardest_table(c: CohortView) -> str:
    if not c.hardest:
        return '<p class="muted">No graded questions yet.</p>'
    rows = "".join(f'<tr><td class="num">{i}</td><th scope="row"><code>{e(q.question)}</code><span class="meta">'
                   f"{e(_part_label(q.part))} · {e(q.notebook)}</span></th>"
                   f'<td class="num">{_pct(100 * q.mean_fraction)}</td><td class="num">{q.n}</td></tr>'
                   for i, q in enumerate(c.hardest, 1))
    return (f'<div class="scroll"><table><thead><tr><th scope="col" class="num">#</th><th scope="col">Question</th>'
            f'<th scope="col" class="num">Mean</th><th scope="col" class="num" title="students who submitted '
            f'the notebook">n</th></tr></thead><tbody>{rows}</tbody></table></div>')


# ── errors ──────────────────────────────────────────────────────────────────────────────────────────────────


def render_error_page(status: int, message: str, *, base_url: str) -> str:
    """A plain page for an HTTP error: the status, its reason, the message and a way back."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = (f"<h1>{status} · {e(reason)}</h1><p>{e(message)}</p>"
            f'<p><a href="{e(base_url)}">Back to the dashboard</a></p>')
    return _page(f"{status} {reason}", body, base_url=base_url, brand="Course dashboard")


__all__ = ["render_error_page", "render_instructor_page", "render_student_page"]
