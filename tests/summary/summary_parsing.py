"""Reading the rendered summary back the way a reader (or a mail client) would: the HTML with the
standard library's parser, the plain text line by line. The tests compare what they read with the
``WeeklySummary`` that was rendered."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"br", "img", "meta", "hr", "input", "link", "col", "wbr"}


class SummaryHTML(HTMLParser):
    """Collects every table with an id (its rows as lists of cell texts, with each row's attributes),
    the text of every element carrying a ``data-*`` marker, every tag and attribute seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self.headers: dict[str, list[str]] = {}
        self.marked: list[tuple[dict, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self._table: list[str | None] = []
        self._row: tuple[dict, list[str]] | None = None
        self._cell: list[str] | None = None
        self._header = False
        self._open: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table.append(attrs.get("id"))
            if attrs.get("id"):
                self.tables[attrs["id"]] = []
                self.headers[attrs["id"]] = []
        current = self._table[-1] if self._table else None
        if current and tag == "tr":
            self._row = (attrs, [])
        if current and tag in ("td", "th"):
            self._cell = []
            self._header = tag == "th"
        if tag not in VOID:
            self._open.append((tag, attrs, []))

    def handle_endtag(self, tag):
        current = self._table[-1] if self._table else None
        if current and tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if self._header:
                self.headers[current].append(text)
            elif self._row is not None:
                self._row[1].append(text)
            self._cell = None
        if current and tag == "tr" and self._row is not None:
            if self._row[1]:
                self.tables[current].append(self._row)
            self._row = None
        if tag == "table" and self._table:
            self._table.pop()
        while self._open:
            open_tag, attrs, parts = self._open.pop()
            if any(k.startswith("data-") and k != "data-row" for k in attrs):
                self.marked.append((attrs, "".join(parts).strip()))
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        for _, _, parts in self._open:
            parts.append(data)

    def marked_text(self, **match: str) -> list[str]:
        want = {f"data-{k}": v for k, v in match.items()}
        return [text for attrs, text in self.marked if all(attrs.get(k) == v for k, v in want.items())]


def parse_html(html: str) -> SummaryHTML:
    parser = SummaryHTML()
    parser.feed(html)
    parser.close()
    return parser


def number(text: str) -> int | None:
    """``1,234`` → 1234; ``—`` → None."""
    text = text.strip()
    if text in ("—", ""):
        return None
    return int(text.replace(",", ""))


def text_section(text: str, heading: str) -> str:
    """The lines of the plain-text part from ``heading`` to the next numbered section heading."""
    start = text.index(f"\n{heading}")
    rest = text[start + 1 :]
    following = re.search(r"\n[一二三四五六七八九十]、", rest[len(heading) :])
    return rest if following is None else rest[: len(heading) + following.start()]


def text_rows(section: str) -> dict[str, dict[str, str]]:
    """``- 标签：甲 1；乙 2`` lines → {标签: {甲: "1", 乙: "2"}}."""
    rows = {}
    for line in section.splitlines():
        if not line.startswith("- ") or "：" not in line:
            continue
        label, rest = line[2:].split("：", 1)
        cells = {}
        for part in rest.split("；"):
            if " " in part:
                key, value = part.rsplit(" ", 1)
                cells[key] = value
        rows[label] = cells
    return rows
