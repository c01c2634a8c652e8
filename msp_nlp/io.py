"""Reading case-note exports: the input side of the batch checker.

``read_records`` streams the rows of one or more export files (CSV/TSV/TXT, Excel, Parquet, JSON Lines, and
gzipped CSV/JSONL) as chunks of :class:`Record` (a usable note) or :class:`RowError` (a row that cannot be
checked, with the reason and what to do).  Every data row yields exactly one of the two; rows are never
dropped silently.  Problems with the input as a whole (missing file, unknown format, unknown column) raise
:class:`InputError` with a one-line message, before any row is yielded.

Memory is bounded by ``chunk_size``: files are never loaded whole (csv module over a text stream, openpyxl
read-only mode, pyarrow ``iter_batches``, JSONL line by line).

Case notes are special-category personal data: no message, warning or error produced here ever contains
note text.  Messages name the file, the row, the column and the note id only.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import decimal
import difflib
import gzip
import html
import io as _io
import json
import math
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .spec import (
    ADULT_NAME,
    AUTHOR,
    CASE_ID,
    DATE,
    INPUT_FIELDS,
    NOTE_ID,
    NOTE_TYPE,
    REQUIRED_FIELDS,
    TEAM,
    TEXT,
)

__all__ = [
    "InputError",
    "ColumnMapping",
    "Record",
    "RowError",
    "strip_html",
    "read_records",
    "normalise_date",
    "OPTION_FOR_FIELD",
    "SUPPORTED_EXTENSIONS",
]

#: The command-line option that names the column of each field (used in error messages; same as msp_nlp.cli).
OPTION_FOR_FIELD: dict[str, str] = {
    NOTE_ID: "--id-col", TEXT: "--text-col", CASE_ID: "--case-col", DATE: "--date-col",
    NOTE_TYPE: "--type-col", ADULT_NAME: "--name-col", AUTHOR: "--author-col", TEAM: "--team-col",
}

_CSV_EXTS = (".csv", ".tsv", ".tab", ".txt")
_XLSX_EXTS = (".xlsx", ".xlsm")
_PARQUET_EXTS = (".parquet", ".pq")
_JSONL_EXTS = (".jsonl", ".ndjson")
_GZ_EXTS = tuple(e + ".gz" for e in _CSV_EXTS + _JSONL_EXTS)

#: Every file-name ending that ``read_records`` accepts (case-insensitive).
SUPPORTED_EXTENSIONS: tuple[str, ...] = _CSV_EXTS + _XLSX_EXTS + _PARQUET_EXTS + _JSONL_EXTS + _GZ_EXTS

#: Longest single CSV field accepted; a longer one almost always means an unclosed quote.
MAX_FIELD_CHARS = 10_000_000

_READ_BLOCK = 1 << 20  # bytes per read when checking the encoding
_JSONL_KEY_SCAN = 1000  # objects scanned to learn the keys of a JSONL file


# --------------------------------------------------------------------------------------------------
# public types
# --------------------------------------------------------------------------------------------------


class InputError(Exception):
    """Unusable input as a whole (unknown column, unreadable file, unsupported format).

    ``str(e)`` is one line a user can act on, e.g. ``input.csv: no column 'Case Note' for text; columns are:
    'ID', 'Notes', 'Date'. Use --text-col.``
    """

    def __init__(self, message: str = "", *args: Any) -> None:
        super().__init__(_one_line(str(message)), *args)


@dataclass
class ColumnMapping:
    """Maps each spec field to a column name in the file (``None``: use the default for that field)."""

    note_id: str | None = None
    text: str | None = None
    case_id: str | None = None
    date: str | None = None
    note_type: str | None = None
    adult_name: str | None = None
    author: str | None = None
    team: str | None = None

    def resolve(self, columns: list[str], source: str) -> dict[str, str]:
        """Return ``{field: actual column}`` for the fields found among ``columns``.

        An explicitly given column must exist (exact match, else a case/whitespace-insensitive one), otherwise
        :class:`InputError` lists the columns that exist and the option to use.  A field not given defaults to
        a column with the field's own name, compared case-insensitively and ignoring spaces, ``_`` and ``-``
        (so "Note ID" is ``note_id``, "Case ID" is ``case_id``); it is absent if there is none, except the
        required ``note_id`` and ``text``, whose absence raises :class:`InputError` naming the option.
        """
        cols = ["" if c is None else str(c) for c in columns]
        resolved: dict[str, str] = {}
        # explicitly given columns first: an error about what the user named is the most useful one
        explicit = [f for f in INPUT_FIELDS if getattr(self, f) is not None and str(getattr(self, f)).strip()]
        for f in explicit + [f for f in INPUT_FIELDS if f not in explicit]:
            given = getattr(self, f)
            option = OPTION_FOR_FIELD[f]
            if f in explicit:
                given = str(given)
                matches = _match_explicit(given, cols)
                if not matches:
                    hint = ""
                    close = difflib.get_close_matches(given.casefold(), [c.casefold() for c in cols], n=1, cutoff=0.6)
                    if close:
                        hint = " (did you mean " + repr(next(c for c in cols if c.casefold() == close[0])) + "?)"
                    raise InputError(
                        f"{source}: no column {given!r} for {f}{hint}; columns are: {_list_columns(cols)}. "
                        f"Use {option} with one of these names."
                    )
                if len(matches) > 1:
                    raise InputError(
                        f"{source}: column name {given!r} for {f} matches several columns: "
                        f"{_list_columns(matches)}. Use {option} with the exact name."
                    )
                resolved[f] = matches[0]
            else:  # default: a column named like the field
                matches = _match_default(f, cols)
                if len(matches) > 1:
                    raise InputError(
                        f"{source}: several columns could hold {f}: {_list_columns(matches)}. "
                        f"Use {option} to say which one."
                    )
                if matches:
                    resolved[f] = matches[0]
                elif f in REQUIRED_FIELDS:
                    raise InputError(
                        f"{source}: no column for {f} (looked for a column named {f!r}); columns are: "
                        f"{_list_columns(cols)}. Use {option} to name the column that holds {f}."
                    )
        return {f: resolved[f] for f in INPUT_FIELDS if f in resolved}


@dataclass
class Record:
    """One usable case note."""

    source: str  # file name as given
    row: int  # 1-based data-row number in that file (header excluded; line number for JSONL)
    note_id: str
    text: str
    case_id: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd or yyyy-mm-ddThh:mm:ss
    note_type: str | None = None
    adult_name: str | None = None
    author: str | None = None
    team: str | None = None
    html_stripped: bool = False
    warnings: list[str] = field(default_factory=list)  # e.g. unparseable date (the note is still checked)


@dataclass
class RowError:
    """A data row that cannot be checked; ``reason`` says what is wrong and what to do (never note text)."""

    source: str
    row: int
    note_id: str | None
    field: str | None
    reason: str


# --------------------------------------------------------------------------------------------------
# column matching
# --------------------------------------------------------------------------------------------------


def _one_line(s: str) -> str:
    return " ".join(s.splitlines()) if ("\n" in s or "\r" in s) else s


def _list_columns(cols: list[str], limit: int = 40) -> str:
    if not cols:
        return "(none)"
    shown = ", ".join(repr(c) for c in cols[:limit])
    if len(cols) > limit:
        shown += f", ... ({len(cols) - limit} more)"
    return shown


def _ws_fold(s: str) -> str:
    return " ".join(s.split()).casefold()


def _squash(s: str) -> str:
    return re.sub(r"[\W_]+", "", s).casefold()


def _match_explicit(given: str, cols: list[str]) -> list[str]:
    for key in (lambda s: s, lambda s: s.strip(), _ws_fold, lambda s: "".join(s.split()).casefold()):
        want = key(given)
        found = _unique([c for c in cols if key(c) == want])
        if found:
            return found
    return []


def _match_default(f: str, cols: list[str]) -> list[str]:
    exact = [c for c in cols if c.strip() == f]
    if exact:
        return exact[:1]
    want = _squash(f)
    return _unique([c for c in cols if c and _squash(c) == want])


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

_KNOWN_TAGS = (
    "a|abbr|address|b|big|blockquote|body|br|caption|center|cite|code|col|colgroup|dd|del|div|dl|dt|em|font|"
    "h[1-6]|head|hr|html|i|img|ins|label|li|mark|meta|nobr|ol|p|pre|q|s|small|span|strike|strong|style|sub|"
    "sup|table|tbody|td|tfoot|th|thead|title|tr|tt|u|ul|wbr|[a-z]+:[a-z]+"
)
# What makes text "look like HTML": a known tag with only name=value attributes (so "a<b and c>d" is not
# HTML), a closing known tag, an HTML comment, or a standard entity.
_LOOKS_HTML_RE = re.compile(
    r"<(?:" + _KNOWN_TAGS + r")(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>]+))*\s*/?>"
    r"|</(?:" + _KNOWN_TAGS + r")\s*>"
    r"|<!--"
    r"|&(?:nbsp|amp|lt|gt|quot|apos|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(
    r"<!--.*?(?:-->|\Z)"  # comment
    r"|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<![^<>]*>"  # doctype, Word conditional comments
    r"|<\?[^<>]*>"  # processing instruction
    r"|<(/?)([a-zA-Z][\w:.-]*)[^<>]*>",  # tag
    re.DOTALL,
)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLOCK_TAGS = frozenset(
    "p div ul ol table tbody thead tfoot tr h1 h2 h3 h4 h5 h6 blockquote pre dl dt dd title section article "
    "header footer caption address center hr".split()
)
_SKIP_CONTENT_TAGS = frozenset({"script", "style", "head"})


def strip_html(text: str) -> tuple[str, bool]:
    """Return ``(plain_text, True)`` if ``text`` looks like HTML from a rich-text export, else ``(text, False)``.

    Tags are removed; ``<br>`` and the ends of block elements (``</p>``, ``</div>``, ``</li>`` ...) become
    newlines, ``<li>`` becomes ``"- "``; entities (``&nbsp;``, ``&amp;``, ``&#39;`` ...) are unescaped; runs of
    spaces and of blank lines are collapsed.  Plain text that merely contains ``<`` ("score < 3") is returned
    unchanged.
    """
    if not text or ("<" not in text and "&" not in text) or not _LOOKS_HTML_RE.search(text):
        return text, False

    out: list[str] = []

    def soft_break() -> None:
        if out and not out[-1].endswith("\n"):
            out.append("\n")

    def add_text(s: str) -> None:
        if s and not s.strip() and ("\n" in s or "\r" in s):
            s = " " if out and not out[-1].endswith(("\n", " ")) else ""  # source layout between tags
        if s:
            out.append(_ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), s))

    pos = 0
    skip_until: str | None = None
    for m in _TOKEN_RE.finditer(text):
        if skip_until is None:
            add_text(text[pos : m.start()])
        pos = m.end()
        name = (m.group(2) or "").lower()
        closing = m.group(1) == "/"
        if skip_until is not None:
            if closing and name == skip_until:
                skip_until = None
            continue
        if not name:
            continue  # comment, doctype, etc.
        if name in _SKIP_CONTENT_TAGS and not closing and not m.group(0).endswith("/>"):
            if re.search(r"</" + name + r"\s*>", text[pos:], re.IGNORECASE):  # never swallow an unclosed rest
                skip_until = name
        elif name == "br":
            out.append("\n")
        elif name == "li":
            soft_break()
            if not closing:
                out.append("- ")
        elif name in _BLOCK_TAGS:
            soft_break()
        elif name in ("td", "th") and closing:
            out.append(" ")
    if skip_until is None:
        add_text(text[pos:])

    s = "".join(out).replace("\r\n", "\n").replace("\r", "\n")
    s = s.replace("\xa0", " ").replace("\u200b", "")
    s = re.sub(r"[ \t\f\v]+", " ", s)
    s = re.sub(r" *\n *", "\n", s)
    s = re.sub(r"\n{3,}", "\n\n", s)
    return s.strip(), True


# --------------------------------------------------------------------------------------------------
# values and dates
# --------------------------------------------------------------------------------------------------


def _to_str(value: Any) -> str | None:
    """A cell value as a stripped string; None/NaN/"" -> None; 123.0 -> "123"; dates -> ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        s = value
    elif isinstance(value, bool):
        s = "true" if value else "false"
    elif isinstance(value, float):
        if math.isnan(value):
            return None
        s = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, int):
        s = str(value)
    elif isinstance(value, decimal.Decimal):
        if value.is_nan():
            return None
        s = str(int(value)) if value == value.to_integral_value() else str(value)
    elif isinstance(value, _dt.datetime):
        value = value.replace(tzinfo=None)
        if value.time() == _dt.time(0, 0):
            s = value.date().isoformat()
        else:
            s = value.isoformat(timespec="seconds")
    elif isinstance(value, _dt.date):
        s = value.isoformat()
    elif isinstance(value, _dt.time):
        s = value.replace(tzinfo=None).isoformat(timespec="seconds")
    elif isinstance(value, (bytes, bytearray)):
        s = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, (dict, list, tuple)):
        s = json.dumps(value, ensure_ascii=False, default=str)
    else:
        s = str(value)
        if s in ("nan", "NaN", "NaT", "<NA>"):
            return None
    s = s.strip()
    return s or None


_UK_DATE_RE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_ISO_LIKE_RE = re.compile(r"\d{4}-?\d{2}|\d{4}-W")


def normalise_date(value: str) -> tuple[str | None, str | None]:
    """``(iso, None)`` for an ISO 8601 date/datetime or a UK ``dd/mm/yyyy [hh:mm[:ss]]``, else ``(None, problem)``.

    Dates become ``yyyy-mm-dd``; datetimes ``yyyy-mm-ddThh:mm:ss`` (local time as written, offset dropped).
    """
    v = value.strip()
    m = _UK_DATE_RE.fullmatch(v)
    if m:
        d, mo, y, hh, mi, ss = m.groups()
        try:
            if hh is None:
                return _dt.date(int(y), int(mo), int(d)).isoformat(), None
            t = _dt.datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0))
            return t.isoformat(timespec="seconds"), None
        except ValueError as e:
            return None, f"not a valid dd/mm/yyyy date ({e})"
    if _ISO_LIKE_RE.match(v):
        has_time = re.search(r"[Tt ]\d|:", v) is not None
        try:
            if not has_time:
                return _dt.date.fromisoformat(v).isoformat(), None
            t = _dt.datetime.fromisoformat(v[:-1] + "Z" if v.endswith("z") else v)
        except ValueError as e:
            msg = str(e)
            if v in msg or "isoformat" in msg or len(msg) > 80:  # keep only the kind of problem
                msg = "not a valid ISO 8601 " + ("datetime" if has_time else "date")
            return None, msg
        return t.replace(tzinfo=None).isoformat(timespec="seconds"), None
    return None, "not a recognised date format"


def _describe_value(value: str, text: str | None) -> str:
    """A short, safe way to show a bad value in a message (never note text)."""
    short = len(value) <= 30 and "\n" not in value and "\r" not in value
    if short and not (text and len(value) >= 8 and value in text):
        return repr(value)
    return f"a value of {len(value)} characters"


# --------------------------------------------------------------------------------------------------
# file plans (checked up front) and readers (streamed)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    path: Path
    source: str
    kind: str  # "csv" | "xlsx" | "parquet" | "jsonl"
    gz: bool = False
    sheet: str | None = None
    encoding: str | None = None
    errors: str = "strict"
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)
    colmap: dict[str, str] = field(default_factory=dict)  # field -> column


def _split_sheet(p: str) -> tuple[str, str | None]:
    if "#" in p and not os.path.exists(p):
        base, _, sheet = p.rpartition("#")
        if base.lower().endswith(_XLSX_EXTS):
            return base, sheet
    return p, None


def _kind_of(name: str) -> tuple[str, bool, str]:
    low = name.lower()
    gz = low.endswith(".gz")
    inner = low[:-3] if gz else low
    ext = os.path.splitext(inner)[1]
    if gz and ext not in _CSV_EXTS + _JSONL_EXTS:
        ext = ""
    if ext in _CSV_EXTS:
        return "csv", gz, ext
    if ext in _XLSX_EXTS:
        return "xlsx", gz, ext
    if ext in _PARQUET_EXTS:
        return "parquet", gz, ext
    if ext in _JSONL_EXTS:
        return "jsonl", gz, ext
    hint = ""
    if inner.endswith(".xls"):
        hint = " Save the workbook as .xlsx first."
    elif inner.endswith(".json"):
        hint = " Convert it to JSON Lines (.jsonl: one JSON object per line) first."
    raise InputError(
        f"{name}: unsupported file type; supported are: {', '.join(SUPPORTED_EXTENSIONS)}.{hint}"
    )


def _plan(raw: str | os.PathLike, mapping: ColumnMapping, encoding: str | None) -> _Plan:
    source = os.fspath(raw)
    if not isinstance(source, str):
        source = os.fsdecode(source)
    path_str, sheet = _split_sheet(source)
    kind, gz, ext = _kind_of(path_str)
    path = Path(path_str)
    if not path.exists():
        raise InputError(f"{source}: file not found (working directory is {os.getcwd()}).")
    if path.is_dir():
        raise InputError(f"{source}: is a folder, not a file; give the export file(s) inside it.")
    plan = _Plan(path=path, source=source, kind=kind, gz=gz, sheet=sheet)
    try:
        if kind == "csv":
            plan.encoding, plan.errors = _choose_encoding(plan, encoding)
            plan.delimiter, plan.columns = _csv_header(plan, ext)
        elif kind == "xlsx":
            plan.columns = _xlsx_header(plan)
        elif kind == "parquet":
            plan.columns = _parquet_header(plan)
        else:
            plan.encoding = encoding
            plan.columns = _jsonl_keys(plan)
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"{source}: permission denied; check you can open the file.") from None
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{source}: could not be read ({_describe_os_error(e)}).") from None
    except csv.Error as e:
        raise InputError(f"{source}: the header row could not be read ({e}); check the file is a table.") from None
    if kind == "jsonl" and not plan.columns:
        plan.colmap = {}  # no JSON object in the file: every line is reported as a row error
    else:
        plan.colmap = mapping.resolve(plan.columns, source)
    return plan


# --- CSV ------------------------------------------------------------------------------------------


def _describe_os_error(e: BaseException) -> str:
    """A short description of a file-level error (never file content)."""
    if isinstance(e, gzip.BadGzipFile):
        return "not a valid gzip file"
    if isinstance(e, EOFError):
        return "the compressed file is cut short"
    if isinstance(e, zlib.error):
        return "the compressed data is damaged"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return type(e).__name__


def _open_binary(plan: _Plan):
    return gzip.open(plan.path, "rb") if plan.gz else open(plan.path, "rb")


def _open_text(plan: _Plan):
    return _io.TextIOWrapper(_open_binary(plan), encoding=plan.encoding, errors=plan.errors, newline="")


def _validate(plan: _Plan, enc: str) -> tuple[int, int] | None:
    """None if the whole (decompressed) file decodes with ``enc``, else (byte offset, byte value)."""
    dec = codecs.getincrementaldecoder(enc)(errors="strict")
    offset = 0
    with _open_binary(plan) as fb:
        while True:
            block = fb.read(_READ_BLOCK)
            pending = len(dec.getstate()[0])
            try:
                dec.decode(block, final=not block)
            except UnicodeDecodeError as e:
                pos = max(0, offset - pending + e.start)
                bad = e.object[e.start] if e.start < len(e.object) else 0
                return pos, bad
            if not block:
                return None
            offset += len(block)


def _choose_encoding(plan: _Plan, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(f"{plan.source}: unknown encoding {encoding!r}; try utf-8 or cp1252.") from None
        if name in ("cp1252", "windows-1252"):
            return name, "replace"
        bad = _validate(plan, name)
        if bad:
            raise InputError(
                f"{plan.source}: not valid {encoding} (byte 0x{bad[1]:02x} at offset {bad[0]}); "
                "leave out --encoding to detect it, or give the right encoding."
            )
        return name, "strict"
    with _open_binary(plan) as fb:
        head = fb.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", ("strict" if _validate(plan, "utf-8-sig") is None else "replace")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", ("strict" if _validate(plan, "utf-16") is None else "replace")
    if _validate(plan, "utf-8") is None:
        return "utf-8", "strict"
    return "cp1252", "replace"


def _count_outside_quotes(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n


def _sniff_delimiter(first_line: str, ext: str) -> str:
    if ext in (".tsv", ".tab"):
        return "\t"
    order = [",", "\t", ";", "|"] if ext == ".csv" else ["\t", ",", ";", "|"]
    counts = {d: _count_outside_quotes(first_line, d) for d in order}
    best = max(order, key=lambda d: (counts[d], -order.index(d)))
    return best if counts[best] > 0 else order[0]


def _clean_header(cells: list[str]) -> list[str]:
    cols = [c.strip() for c in cells]
    if cols:
        cols[0] = cols[0].lstrip("\ufeff").strip()
    return cols


def _csv_header(plan: _Plan, ext: str) -> tuple[str, list[str]]:
    with _open_text(plan) as f:
        first = ""
        while True:
            line = f.readline()
            if not line:
                break
            if line.strip().lstrip("\ufeff"):
                first = line
                break
    if not first:
        raise InputError(f"{plan.source}: the file is empty; expected a header row naming the columns.")
    delim = _sniff_delimiter(first, ext)
    _raise_field_limit()
    with _open_text(plan) as f:
        reader = csv.reader(f, delimiter=delim)
        for cells in reader:
            if any(c.strip().lstrip("\ufeff") for c in cells):
                return delim, _clean_header(cells)
    raise InputError(f"{plan.source}: the file is empty; expected a header row naming the columns.")


def _raise_field_limit() -> None:
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


_EOF_SENTINEL = "\x00msp-nlp end of file\x00"


def _lines_with_sentinel(f) -> Iterator[str]:
    """The file's lines, then a sentinel line: if it ends up inside a field, a quote was never closed."""
    last = ""
    for line in f:
        last = line
        yield line
    if last and not last.endswith(("\n", "\r")):
        yield "\n"
    yield _EOF_SENTINEL + "\n"


def _csv_rows(plan: _Plan) -> Iterator[RowError | tuple[int, dict[str, Any]]]:
    _raise_field_limit()
    with _open_text(plan) as f:
        reader = csv.reader(_lines_with_sentinel(f), delimiter=plan.delimiter)
        header: list[str] | None = None
        for cells in reader:
            if any(_EOF_SENTINEL in c for c in cells):
                return  # header-only file
            if any(c.strip().lstrip("\ufeff") for c in cells):
                header = _clean_header(cells)
                break
        if header is None:
            return
        index = {f_: header.index(col) for f_, col in plan.colmap.items()}
        width = len(header)
        row = 0
        while True:
            start_line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                row += 1
                if "field larger than field limit" in str(e):
                    yield RowError(
                        plan.source, row, None, None,
                        f"a field starting on line {start_line} is longer than {MAX_FIELD_CHARS:,} characters, "
                        "probably because a quote (\") is never closed; rows after it were not read. "
                        "Fix the quoting in the file and run again.",
                    )
                    return
                yield RowError(
                    plan.source, row, None, None,
                    f"could not parse the row starting on line {start_line} ({e}): check quoting/delimiters.",
                )
                continue
            if any(_EOF_SENTINEL in c for c in cells):
                if len(cells) == 1 and cells[0] == _EOF_SENTINEL:
                    return  # normal end of file
                row += 1
                yield RowError(
                    plan.source, row, None, None,
                    f"a quote (\") opened in the row starting on line {start_line} is never closed, so the rest "
                    f"of the file (to line {reader.line_num - 1}) could not be read: fix the quoting "
                    "(a quote inside a quoted field must be doubled \"\") and run again.",
                )
                return
            row += 1
            if not any(c.strip() for c in cells):
                continue  # blank line / empty row: not a data row
            if len(cells) != width:
                yield RowError(
                    plan.source, row, None, None,
                    f"row has {len(cells)} fields, header has {width}: check quoting/delimiters "
                    f"(row starts on line {start_line}).",
                )
                continue
            yield row, {f_: cells[i] for f_, i in index.items()}


# --- Excel ----------------------------------------------------------------------------------------


def _open_workbook(plan: _Plan):
    import openpyxl  # lazy: only needed for Excel input

    try:
        return openpyxl.load_workbook(plan.path, read_only=True, data_only=True)
    except PermissionError:
        raise
    except Exception as e:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise InputError(
            f"{plan.source}: could not be opened as an Excel workbook ({type(e).__name__}); "
            "check it is a .xlsx/.xlsm file and not open/locked or password-protected."
        ) from None


def _sheet(plan: _Plan, wb):
    if plan.sheet is None:
        if not wb.worksheets:
            raise InputError(f"{plan.source}: the workbook has no worksheets.")
        ws = wb.worksheets[0]
    else:
        if plan.sheet not in wb.sheetnames:
            raise InputError(
                f"{plan.source}: no sheet {plan.sheet!r}; sheets are: {_list_columns(list(wb.sheetnames))}."
            )
        ws = wb[plan.sheet]
    if not hasattr(ws, "iter_rows"):
        raise InputError(f"{plan.source}: the sheet is a chart, not a table of rows.")
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # some exporters write a wrong sheet size; read every row there is
    return ws


def _xlsx_header(plan: _Plan) -> list[str]:
    wb = _open_workbook(plan)
    try:
        ws = _sheet(plan, wb)
        for cells in ws.iter_rows(values_only=True):
            vals = [_to_str(c) or "" for c in cells]
            if any(vals):
                while vals and not vals[-1]:
                    vals.pop()
                return vals
    finally:
        wb.close()
    raise InputError(f"{plan.source}: the sheet is empty; expected a header row naming the columns.")


def _xlsx_rows(plan: _Plan) -> Iterator[RowError | tuple[int, dict[str, Any]]]:
    wb = _open_workbook(plan)
    try:
        ws = _sheet(plan, wb)
        rows = ws.iter_rows(values_only=True)
        header: list[str] | None = None
        for cells in rows:
            vals = [_to_str(c) or "" for c in cells]
            if any(vals):
                while vals and not vals[-1]:
                    vals.pop()
                header = vals
                break
        if header is None:
            return
        index = {f_: header.index(col) for f_, col in plan.colmap.items()}
        row = 0
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                return
            except Exception as e:
                yield RowError(
                    plan.source, row + 1, None, None,
                    f"the workbook could not be read past this row ({type(e).__name__}); rows after it were not "
                    "read. Re-save it from Excel and run again.",
                )
                return
            row += 1
            if not any(c is not None and str(c).strip() for c in cells):
                continue  # empty row
            yield row, {f_: (cells[i] if i < len(cells) else None) for f_, i in index.items()}
    finally:
        wb.close()


# --- Parquet --------------------------------------------------------------------------------------


def _parquet_file(plan: _Plan):
    import pyarrow.parquet as pq  # lazy: only needed for Parquet input

    try:
        return pq.ParquetFile(plan.path)
    except PermissionError:
        raise
    except Exception as e:  # pyarrow.ArrowInvalid ...
        detail = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputError(f"{plan.source}: could not be opened as a Parquet file ({detail}).") from None


def _parquet_header(plan: _Plan) -> list[str]:
    pf = _parquet_file(plan)
    try:
        return [str(n) for n in pf.schema_arrow.names]
    finally:
        pf.close()


def _parquet_rows(plan: _Plan, batch_size: int) -> Iterator[RowError | tuple[int, dict[str, Any]]]:
    pf = _parquet_file(plan)
    try:
        wanted = _unique(list(plan.colmap.values()))
        positions = {c: plan.columns.index(c) for c in wanted}
        row = 0
        batches = pf.iter_batches(batch_size=batch_size, columns=[pf.schema_arrow.names[positions[c]] for c in wanted])
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as e:
                yield RowError(
                    plan.source, row + 1, None, None,
                    f"the Parquet file could not be read from this row on ({type(e).__name__}); rows after it "
                    "were not read. Re-export the file and run again.",
                )
                return
            data = {c: batch.column(i).to_pylist() for i, c in enumerate(wanted)}
            for k in range(batch.num_rows):
                row += 1
                yield row, {f_: data[col][k] for f_, col in plan.colmap.items()}
    finally:
        pf.close()


# --- JSON Lines -----------------------------------------------------------------------------------


def _decode_json_line(plan: _Plan, raw: bytes, lineno: int) -> tuple[Any, str | None]:
    """(object, None) or (None, reason)."""
    try:
        if plan.encoding:
            s = raw.decode(plan.encoding)
        else:
            s = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as e:
        return None, (
            f"line {lineno} is not valid {plan.encoding or 'UTF-8'} (byte 0x{e.object[e.start]:02x} at "
            f"position {e.start + 1}): save the file as UTF-8 (JSON Lines must be UTF-8)."
        )
    except LookupError:
        raise InputError(f"{plan.source}: unknown encoding {plan.encoding!r}; try utf-8.") from None
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as e:
        return None, (
            f"line {lineno} is not valid JSON ({e.msg} at column {e.colno}): each line must be one "
            "JSON object {...}."
        )
    except RecursionError:
        return None, f"line {lineno} is nested too deeply to read: each line must be one flat JSON object."
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(obj), "a number")
        return None, f"line {lineno} is {kind}, not a JSON object: each line must be one JSON object {{...}}."
    return obj, None


def _iter_lines(plan: _Plan) -> Iterator[tuple[int, bytes]]:
    with _open_binary(plan) as fb:
        for lineno, raw in enumerate(fb, start=1):
            yield lineno, raw


def _jsonl_keys(plan: _Plan) -> list[str]:
    keys: dict[str, None] = {}
    n = 0
    for lineno, raw in _iter_lines(plan):
        if not raw.strip():
            continue
        obj, _ = _decode_json_line(plan, raw.strip(), lineno)
        if obj is None:
            continue
        for k in obj:
            keys.setdefault(str(k), None)
        n += 1
        if n >= _JSONL_KEY_SCAN:
            break
    return list(keys)


def _jsonl_rows(plan: _Plan) -> Iterator[RowError | tuple[int, dict[str, Any]]]:
    lineno = 0
    try:
        for lineno, raw in _iter_lines(plan):
            raw = raw.strip()
            if not raw:
                continue  # blank lines are not rows
            obj, reason = _decode_json_line(plan, raw, lineno)
            if reason is not None:
                yield RowError(plan.source, lineno, None, None, reason)
                continue
            yield lineno, {f_: obj.get(col) for f_, col in plan.colmap.items()}
    except (OSError, EOFError, zlib.error) as e:
        yield RowError(
            plan.source, lineno + 1, None, None,
            f"the file could not be read past line {lineno} ({_describe_os_error(e)}); rows after it were not "
            "read.",
        )


# --------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------


def _make_item(
    plan: _Plan, row: int, raw: dict[str, Any], seen: dict[str, tuple[str, int]]
) -> Record | RowError:
    values = {f_: _to_str(v) for f_, v in raw.items()}
    note_id = values.get(NOTE_ID)
    id_col = plan.colmap.get(NOTE_ID, NOTE_ID)
    if note_id is None:
        return RowError(
            plan.source, row, None, NOTE_ID,
            f"note_id is empty (column {id_col!r}): give every note a unique id.",
        )
    first = seen.get(note_id)
    if first is not None:
        return RowError(
            plan.source, row, note_id, NOTE_ID,
            f"duplicate note_id {note_id!r}: first seen in {first[0]} row {first[1]}; "
            "give each note a unique id or remove the repeated row.",
        )
    seen[note_id] = (plan.source, row)

    text = values.get(TEXT)
    stripped = False
    if text is not None:
        text, stripped = strip_html(text)
        text = text.strip() or None
    if text is None:
        return RowError(plan.source, row, note_id, TEXT, "text is empty: nothing to check")

    warnings: list[str] = []
    date = values.get(DATE)
    if date is not None:
        iso, problem = normalise_date(date)
        if iso is None:
            warnings.append(
                f"date {_describe_value(date, text)} in column {plan.colmap.get(DATE, DATE)!r} could not be read "
                f"({problem}); expected yyyy-mm-dd, yyyy-mm-ddThh:mm or dd/mm/yyyy [hh:mm]. "
                "The note is checked without a date."
            )
        date = iso

    return Record(
        source=plan.source,
        row=row,
        note_id=note_id,
        text=text,
        case_id=values.get(CASE_ID),
        date=date,
        note_type=values.get(NOTE_TYPE),
        adult_name=values.get(ADULT_NAME),
        author=values.get(AUTHOR),
        team=values.get(TEAM),
        html_stripped=stripped,
        warnings=warnings,
    )


def _as_paths(paths: Any) -> list[str | os.PathLike]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [paths]  # type: ignore[list-item]
    return list(paths)


def read_records(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    mapping: ColumnMapping | None = None,
    *,
    chunk_size: int = 2000,
    encoding: str | None = None,
) -> Iterator[list[Record | RowError]]:
    """Stream the rows of one or more files, in input order, in chunks of at most ``chunk_size`` items.

    Every data row of every file yields exactly one :class:`Record` or one :class:`RowError`; empty rows of
    CSV/Excel files and blank lines of JSONL files are not data rows.  All files are opened and their columns
    resolved before anything is yielded: a missing file, unsupported format or unknown column raises
    :class:`InputError` at call time.  ``note_id`` must be unique across all the files read together.
    Memory is bounded by ``chunk_size``.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    items = _as_paths(paths)
    if not items:
        raise InputError("no input files given.")
    mapping = mapping or ColumnMapping()
    plans = [_plan(p, mapping, encoding) for p in items]
    return _stream(plans, chunk_size)


def _rows_of(plan: _Plan, chunk_size: int) -> Iterator[RowError | tuple[int, dict[str, Any]]]:
    if plan.kind == "csv":
        return _csv_rows(plan)
    if plan.kind == "xlsx":
        return _xlsx_rows(plan)
    if plan.kind == "parquet":
        return _parquet_rows(plan, min(chunk_size, 10_000))
    return _jsonl_rows(plan)


def _stream(plans: list[_Plan], chunk_size: int) -> Iterator[list[Record | RowError]]:
    seen: dict[str, tuple[str, int]] = {}
    chunk: list[Record | RowError] = []
    for plan in plans:
        rows = _rows_of(plan, chunk_size)
        last_row = 0
        try:
            for item in rows:
                if isinstance(item, RowError):
                    chunk.append(item)
                    last_row = item.row
                else:
                    row, raw = item
                    last_row = row
                    chunk.append(_make_item(plan, row, raw, seen))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
        except InputError:
            raise
        except UnicodeDecodeError:
            chunk.append(RowError(
                plan.source, last_row + 1, None, None,
                f"the file is not valid {plan.encoding} after row {last_row}; rows after it were not read. "
                "Give the right --encoding.",
            ))
        except csv.Error as e:
            chunk.append(RowError(
                plan.source, last_row + 1, None, None,
                f"the file could not be parsed after row {last_row} ({e}); rows after it were not read. "
                "Check quoting/delimiters.",
            ))
        except PermissionError:
            raise InputError(f"{plan.source}: permission denied; check you can open the file.") from None
        except FileNotFoundError:
            raise InputError(f"{plan.source}: the file disappeared while it was being read.") from None
        except (OSError, EOFError, zlib.error) as e:
            chunk.append(RowError(
                plan.source, last_row + 1, None, None,
                f"the file could not be read past row {last_row} ({_describe_os_error(e)}); rows after it "
                "were not read.",
            ))
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
