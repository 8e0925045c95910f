"""Read a run report page as a person's browser would get it: its figures, and whether it loads anything."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

SVG_URI = "data:image/svg+xml;base64,"


@dataclass
class Page(HTMLParser):
    """``figures`` maps each figure's kind to its SVG; ``loads`` is every address the page would fetch."""

    figures: dict[str, str] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)
    scripts: int = 0
    html: str = ""
    _kind: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "figure":
            self._kind = values.get("data-kind")
        for name in ("src", "href"):
            value = values.get(name) or ""
            if value and not value.startswith(SVG_URI):
                self.loads.append(value)
        if tag == "img" and self._kind and (values.get("src") or "").startswith(SVG_URI):
            self.figures[self._kind] = base64.b64decode((values["src"] or "")[len(SVG_URI) :]).decode()

    def handle_data(self, data: str) -> None:
        if re.search(r"url\(|@import", data):  # a style that fetches something
            self.loads.append(data.strip()[:80])


def read_page(html: str) -> Page:
    page = Page(html=html)
    page.feed(html)
    return page


def svg_texts(svg: str) -> list[str]:
    """The texts of a matplotlib SVG (it draws text as paths, each after a comment with the text)."""
    return [text.strip() for text in re.findall(r"<!--(.*?)-->", svg, flags=re.S)]
