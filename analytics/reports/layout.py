"""Page template, styles and table helpers shared by the reports. Pure module."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from analytics import i18n
from analytics.i18n import Lang

BRAND = colors.HexColor("#0b3d6e")
LIGHT = colors.HexColor("#eef3f8")

_base = getSampleStyleSheet()
STYLES: dict[str, ParagraphStyle] = {
    "title": ParagraphStyle(
        "title",
        parent=_base["Title"],
        fontSize=16,
        textColor=BRAND,
        alignment=TA_LEFT,
        spaceAfter=2,
    ),
    "sub": ParagraphStyle("sub", parent=_base["Normal"], fontSize=9, textColor=colors.grey),
    "h2": ParagraphStyle(
        "h2", parent=_base["Heading2"], fontSize=12, textColor=BRAND, spaceBefore=8, spaceAfter=4
    ),
    "body": ParagraphStyle("body", parent=_base["Normal"], fontSize=9, leading=12),
    "bullet": ParagraphStyle(
        "bullet",
        parent=_base["Normal"],
        fontSize=9,
        leading=12,
        leftIndent=10,
        bulletIndent=0,
        spaceAfter=3,
    ),
    "cell": ParagraphStyle("cell", parent=_base["Normal"], fontSize=7.5, leading=9),
    "head": ParagraphStyle(
        "head",
        parent=_base["Normal"],
        fontName="Helvetica-Bold",
        fontSize=8,
        leading=9.5,
        textColor=colors.white,
    ),
    "note": ParagraphStyle(
        "note", parent=_base["Normal"], fontSize=7.5, textColor=colors.grey, leading=9
    ),
}


def esc(text: str) -> str:
    """Escape text for a ReportLab Paragraph (a mini-markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def para(text: str, style: str = "body") -> Paragraph:
    return Paragraph(esc(text), STYLES[style])


def heading(text: str) -> Paragraph:
    return para(text, "h2")


def bullets(items: Sequence[str]) -> list[Flowable]:
    return [Paragraph(esc(x), STYLES["bullet"], bulletText="•") for x in items]


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float] | None = None,
    align_right_from: int = 1,
) -> Table:
    """A zebra table; cells may be text or Paragraphs; numbers right-aligned from a column."""
    head = [Paragraph(esc(h), STYLES["head"]) for h in header]
    data = [head, *[list(r) for r in rows]]
    tb = Table(data, colWidths=list(widths) if widths else None, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
        ("BACKGROUND", (0, 0), (-1, 0), BRAND),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (align_right_from, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8d3df")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for i in range(1, len(data)):
        if i % 2 == 0:
            style.append(("BACKGROUND", (0, i), (-1, i), LIGHT))
    tb.setStyle(TableStyle(style))
    return tb


def build(
    story: list[Flowable],
    *,
    title: str,
    branding: str,
    site_name: str,
    generated: datetime,
    lang: Lang,
) -> bytes:
    """Render ``story`` on A4 with the branded header and a footer on every page."""
    buf = io.BytesIO()

    def _page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        w, h = A4
        canvas.setFillColor(BRAND)
        canvas.rect(0, h - 14 * mm, w, 14 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(15 * mm, h - 9 * mm, branding)
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(w - 15 * mm, h - 9 * mm, title)
        canvas.setFillColor(colors.grey)
        canvas.setFont("Helvetica", 7)
        canvas.drawString(
            15 * mm,
            8 * mm,
            f"{site_name} · {i18n.t('generated', lang)} {i18n.when(generated, lang)}",
        )
        canvas.drawRightString(w - 15 * mm, 8 * mm, f"{i18n.t('page', lang)} {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=20 * mm,
        bottomMargin=15 * mm,
        title=title,
        author=branding,
        subject=site_name,
        creator="emusa-analytics",
    )
    doc.build(story, onFirstPage=_page, onLaterPages=_page)
    return buf.getvalue()


def spacer(h: float = 4) -> Spacer:
    return Spacer(1, h * mm)
