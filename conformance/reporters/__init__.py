"""Reports derived from report.json: JUnit XML and a Markdown summary."""

from .junit import write_junit
from .markdown import write_markdown

__all__ = ["write_junit", "write_markdown"]
