"""The printable certificate: one A4 landscape page drawn with matplotlib from the signed credential itself,
with a QR code of its verification URL (segno, or the qrcode package)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiml_course.certificates import store
from aiml_course.certificates.crypto import CertificateError

A4_LANDSCAPE = (11.69, 8.27)
INK = "#1f2a44"
ACCENT = "#b08d3c"
MUTED = "#5b6475"
MAX_ROWS = 14


def qr_matrix(data: str) -> list[list[int]]:
    """The QR code of `data` as rows of 0/1 modules (1 = dark), without a quiet zone."""
    try:
        import segno
    except ImportError:
        try:
            import qrcode
        except ImportError:
            raise CertificateError("the certificate's QR code needs `segno` (or `qrcode`): pip install segno") from None
        code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(data)
        code.make(fit=True)
        return [[int(bool(m)) for m in row] for row in code.get_matrix()]
    return [[int(bool(m)) for m in row] for row in segno.make(data, error="m", micro=False).matrix]


def certificate_figure(credential: dict[str, Any], *, url: str) -> Any:
    """The certificate page as a matplotlib Figure (no pyplot state, no window)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=A4_LANDSCAPE)
    for inset, width, colour in ((0.02, 3.0, INK), (0.032, 1.0, ACCENT)):
        fig.add_artist(Rectangle((inset, inset * 1.414), 1 - 2 * inset, 1 - 2 * inset * 1.414, fill=False,
                                 transform=fig.transFigure, linewidth=width, edgecolor=colour))
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    name = _identity(subject, "name") or _identity(subject, "studentId")

    def text(*args: Any, **kwargs: Any) -> Any:  # names are text, never mathtext: "$x$" or a lone "$" is drawn as is
        return fig.text(*args, parse_math=False, **kwargs)

    text(0.5, 0.865, "CERTIFICATE  OF  COMPLETION", ha="center", fontsize=15, color=ACCENT, weight="bold")
    text(0.5, 0.785, "This certifies that", ha="center", fontsize=13, color=MUTED, style="italic")
    text(0.5, 0.695, name, ha="center", fontsize=_fit(name, 36, 28), color=INK, weight="bold")
    text(0.5, 0.625, "has completed the course", ha="center", fontsize=13, color=MUTED, style="italic")
    text(0.5, 0.555, achievement["name"], ha="center", fontsize=_fit(achievement["name"], 22, 50), color=INK)
    dates = f"Issued {_long_date(credential['validFrom'])} by {credential['issuer']['name']}"
    if "validUntil" in credential:
        dates += f" · valid until {_long_date(credential['validUntil'])}"
    text(0.5, 0.495, dates, ha="center", fontsize=11, color=MUTED)
    _scores(fig, achievement, subject.get("result", []))
    _qr(fig, url)
    text(0.07, 0.105, f"Certificate id: {credential['id']}", fontsize=9, color=MUTED, family="monospace")
    text(0.07, 0.08, f"Verify at: {url}", fontsize=9, color=MUTED, family="monospace")
    return fig


def write_pdf(credential: dict[str, Any], path: Path, *, url: str) -> Path:
    """Render the certificate to `path` as a one-page PDF whose metadata carries the id and verification URL.

    Written atomically (store.write_atomically): a failure leaves no PDF, never a truncated one."""
    fig = certificate_figure(credential, url=url)
    metadata = {"Title": f"{credential['credentialSubject']['achievement']['name']}: certificate",
                "Subject": credential["id"], "Keywords": url, "Author": credential["issuer"]["name"],
                "Creator": "aiml_course certificates"}
    try:
        store.write_atomically(path, lambda fh: fig.savefig(fh, format="pdf", metadata=metadata))
    except (ValueError, RuntimeError) as exc:  # matplotlib could not draw it: no file is left
        raise CertificateError(f"could not draw the certificate PDF {path.name}: {exc}") from exc
    return path


def is_complete_pdf(path: Path) -> bool:
    """Is `path` a PDF written to the end (its trailer's %%EOF is there)?"""
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
            fh.seek(max(0, path.stat().st_size - 1024))
            tail = fh.read()
    except OSError:
        return False
    return head == b"%PDF-" and b"%%EOF" in tail


def _scores(fig: Any, achievement: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """The per-part score table, left of the QR code; rows get tighter as parts get more."""
    names = {d["id"]: d["name"] for d in achievement.get("resultDescription", [])}
    fig.text(0.09, 0.405, "Score per part", fontsize=12, color=INK, weight="bold")
    shown = results[:MAX_ROWS]
    step = min(0.036, 0.22 / max(len(shown), 1))
    size = min(10.5, step * A4_LANDSCAPE[1] * 72 * 0.62)
    y = 0.365
    for result in shown:
        label = names.get(result.get("resultDescription"), str(result.get("resultDescription", "")))
        fig.text(0.09, y, label if len(label) <= 60 else label[:57] + "…", fontsize=size, color=INK,
                 parse_math=False)
        fig.text(0.62, y, f"{result.get('value', '?')} %", fontsize=size, color=INK, ha="right", weight="bold",
                 parse_math=False)
        fig.add_artist(_rule(y - step / 3))
        y -= step
    if len(results) > MAX_ROWS:
        fig.text(0.09, y, f"… and {len(results) - MAX_ROWS} more parts (see the credential)", fontsize=size,
                 color=MUTED)


def _rule(y: float) -> Any:
    """A thin line under one score row, in figure coordinates."""
    from matplotlib.lines import Line2D

    return Line2D([0.09, 0.62], [y, y], linewidth=0.4, color="#c9ccd3")


def _qr(fig: Any, url: str) -> None:
    """The QR code of the verification URL, bottom right, square on the page."""
    import numpy as np

    matrix = np.pad(np.array(qr_matrix(url), dtype=float), 4)   # the standard quiet zone: four modules
    height = 0.30
    width = height * A4_LANDSCAPE[1] / A4_LANDSCAPE[0]
    ax = fig.add_axes((0.91 - width, 0.14, width, height))
    ax.imshow(matrix, cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    fig.text(0.91 - width / 2, 0.115, "scan to verify", ha="center", fontsize=9, color=MUTED)


def _identity(subject: dict[str, Any], kind: str) -> str:
    for ident in subject.get("identifier", []):
        if ident.get("identityType") == kind:
            return str(ident.get("identityHash", ""))
    return ""


def _long_date(stamp: str) -> str:
    """'2026-03-06T12:00:00Z' → '6 March 2026'."""
    when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    return f"{when.day} {when:%B %Y}"


def _fit(text: str, size: float, chars: int) -> float:
    """A font size that keeps `text` on the page: `size` up to `chars` characters, smaller beyond."""
    return size if len(text) <= chars else max(12.0, size * chars / len(text))
