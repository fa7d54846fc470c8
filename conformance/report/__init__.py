"""report.json records first; JUnit, Markdown, HTML, diff, merge, expectations and progress derived from them."""

from conformance.report.junit import write_junit
from conformance.report.markdown import write_markdown

__all__ = ["write_junit", "write_markdown"]
