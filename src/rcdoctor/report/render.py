"""The report page rendered by Jinja2 templates (report/templates): self-contained HTML (inline CSS and
SVG, no script, no external URL) or Markdown for tickets and chat."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from rcdoctor.report.page import Page
from rcdoctor.timeline.events import short_ids

TEMPLATES = Path(__file__).parent / "templates"


def markdown_escape(text: object) -> str:
    """Table cells and inline text: a `|` would end the cell, a newline the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,  # a typo in a template is an error in the tests, not an empty cell
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["shortids"] = short_ids
    env.filters["md"] = markdown_escape
    return env


def render(page: Page, fmt: str = "html") -> str:
    name = "report.html.j2" if fmt == "html" else "report.md.j2"
    return environment().get_template(name).render(page=page)
