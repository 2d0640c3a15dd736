"""The incident report (`rcdoctor report`): one page built from diagnose, status, heal's plan and the
timeline (`page`, pure), laid out by Jinja2 templates as self-contained HTML or Markdown (`render`)."""

from rcdoctor.report.page import Page, build_page
from rcdoctor.report.render import render

__all__ = ["Page", "build_page", "render"]
