"""The incident report (`rcdoctor report`): one page built from diagnose, status, heal's plan and the
timeline (`page`, pure), laid out by Jinja2 templates as self-contained HTML or Markdown (`render`)."""

from rcdoctor.report.page import Page, build_page
from rcdoctor.report.render import render

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["Page", "build_page", "page", "render"]
