"""Text from targets and case files, made safe for each report format.

A target's message may hold anything: megabytes, ESC or NUL, `<script>`, a `|`
that would split a Markdown table. Records keep a bounded copy (`bounded`),
JUnit keeps only what XML 1.0 allows (`xml_text`), Markdown escapes what it
would otherwise read as markup (`md_text`, `md_code`). HTML is escaped by the
templates (Jinja's autoescape).
"""

import json
import os
import re

MAX_TEXT_ENV = "CONFORMANCE_MAX_REPORT_TEXT"
MAX_TEXT = 20_000  # characters of one message or value a record keeps (default)

# What XML 1.0 forbids: the C0 controls but tab, newline and carriage return; surrogates; U+FFFE, U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Markdown reads these as markup: `_` only at a word's edge (GitHub ignores it inside words), `]`
# only where it would close a link's text ("](" or "]["), so that a plain [note] stays as it is.
_MD_SPECIAL = re.compile(r"([\\`*<>|~]|\](?=[(\[])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def max_text():
    """The bound on one stored text: CONFORMANCE_MAX_REPORT_TEXT, else MAX_TEXT (at least 100)."""
    raw = os.environ.get(MAX_TEXT_ENV, "").strip().replace("_", "")
    try:
        return max(100, int(raw)) if raw else MAX_TEXT
    except ValueError:
        return MAX_TEXT


def cut(text, most=None):
    """`text` (made a str) at most `most` characters long, ending with a note of how long it was.
    Without `most`, the bound on a text a report keeps (max_text), and the note names its variable."""
    text = text if isinstance(text, str) else repr(text)
    bound = max_text() if most is None else most
    if len(text) <= bound:
        return text
    note = f" [... cut: {len(text):,} characters in all" + (f"; {MAX_TEXT_ENV} sets the bound]" if most is None else "]")
    # A short bound (a snippet inside a message) keeps its characters and the note comes after them.
    return text[: bound - len(note) if bound > 4 * len(note) else bound] + note


def bounded(value, most=None):
    """A record's field with its size bounded: a string is cut; a list or mapping whose JSON is
    longer than the bound becomes its JSON text, cut (a note says so); numbers stay as they are."""
    if isinstance(value, str):
        return cut(value, most)
    if isinstance(value, (dict, list, tuple)):
        bound = max_text() if most is None else most
        try:
            text = json.dumps(value, allow_nan=True, default=str)
        except (TypeError, ValueError, RecursionError):
            return cut(repr(value)[: bound + 1], most)
        return value if len(text) <= bound else cut(text, most)
    return value


def xml_text(text):
    """Text XML 1.0 can hold: each forbidden character shown as an escape (\\x1b, \\x00)."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 256 else f"\\u{ord(m[0]):04x}",
                              str(text))


def one_line(text, most=400):
    """Text on one line: whitespace runs become one space, control characters escapes, then cut."""
    text = " ".join(str(text).split())
    text = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 256 else f"\\u{ord(m[0]):04x}", text)
    return text if len(text) <= most else text[: most - 3] + "..."


def md_text(text, most=400):
    """Text for a Markdown line or table cell: one line, markup characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text, most))


def md_code(text, most=400, in_table=False):
    """Text as a Markdown code span: one line, fenced by more backticks than it holds; in a table
    a `|` is escaped (GitHub reads it as a column even inside a code span)."""
    text = one_line(text, most)
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"
