"""Sentence and section segmentation for case notes.

Case notes do not follow newspaper punctuation: line breaks end statements, bullets start them, headings such as
``Views of adult:`` open a section whose content may sit on the same line or the lines below, and abbreviations
(``Mrs.``, ``S.42``, ``c/o``, ``e.g.``) contain full stops that do not end a sentence.  Segmentation works on
characters (so offsets are exact) and is exposed as a spaCy component that sets ``is_sent_start`` and records the
heading of each sentence's section.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

import numpy
from spacy.attrs import IDX, LENGTH, SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

# Words after which a full stop does not end a sentence (compared lower-cased, without the dot).
ABBREVIATIONS = frozenset(
    """mr mrs ms mx dr miss prof cllr st rev sgt pc dc ds dci insp supt e.g i.e eg ie etc approx appt no nos ref
    tel tel.no mob dob vs v cf incl inc dept ext fig mins hrs wk wks yrs yr s sec ss para paras jan feb mar apr jun
    jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun nr res re""".split()
)

_LINE_RE = re.compile(r"[^\n]*(?:\n|$)")
# Bullet/number markers at the start of a line.
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022\u25cf\u25aa\u2013>]+|\d{1,2}[.)]|[a-z][.)])\s+")
# A heading: short title-like words followed by a colon, at the start of a line.
_HEADING_RE = re.compile(r"^\s*(?:[-*\u2022]\s*)?(?P<h>[A-Za-z][A-Za-z0-9 /'&()\u2019,-]{0,48}?)\s*:(?!//)\s*")
# Candidate sentence ends inside a line.
# That is: ``(?<=[.!?])["'\u201d\u2019)]*\s+(?=NEXT)|(?<=[!?])\s+|\s*;\s+(?=[A-Z])|\s+-\s+(?=[A-Z])``, where NEXT is
# a sentence's first character, written so that every match starts with one character class: Python's ``re`` then
# skips the other characters quickly (twice as fast; the same matches, checked on every line of the corpus).
_NEXT = r"(?=[\"'\u201c\u2018(]?[A-Za-z0-9\u2022*-])"
_END_RE = re.compile(
    r"[\s\"'\u201d\u2019);]"
    r"(?:(?<=[.!?][\"'\u201d\u2019)])[\"'\u201d\u2019)]*\s+" + _NEXT  # after . ! ?, closing quotes, then space
    + r"|(?<=[.!?]\s)\s*" + _NEXT  # after . ! ?, then space
    + r"|(?<=[!?]\s)\s*"  # after ! or ?, then space, whatever follows
    r"|(?<=\s)\s*;\s+(?=[A-Z])|(?<=;)\s+(?=[A-Z])"  # a semicolon before a capital
    r"|(?<=\s)\s*-\s+(?=[A-Z]))")  # a spaced dash before a capital


class Segment(NamedTuple):
    start: int
    end: int
    heading: str | None  # normalised heading of the section this segment is in (None if none)
    heading_end: int | None  # end offset of the heading text when this segment starts with it
    line: int = 0  # index of the line the segment is on


def _heading_of(line: str) -> tuple[str, int] | None:
    m = _HEADING_RE.match(line)
    if not m:
        return None
    words = m.group("h").split()
    if not words or len(words) > 6:
        return None
    colon = line.index(":", m.end("h"))
    if m.group("h")[-1].isdigit() and line[colon + 1:colon + 2].isdigit():
        return None  # a time in a sentence ("Attended 21:40 with police"), not a heading "Attended 21"
    # "Tel: 0123", "Visit 2: ..." are headings; a heading is short (six words at most).
    return " ".join(w.lower() for w in words), m.end()


_CLOSERS = "\"'\u201d\u2019)"
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.")
_INITIALS_RE = re.compile(r"(?:[a-z]\.)+[a-z]?")


def _abbreviation_before(text: str, cur: int, cut: int) -> bool:
    """Whether the text before a candidate sentence end ``cut`` ends with an abbreviation or initial and its full
    stop ("Mrs.", "e.g.", "J."), looking back no further than ``cur``: the word is the run of letters and dots
    before the final dot, starting the text or after a space or "("."""
    k = cut
    while k > cur and text[k - 1] in _CLOSERS:
        k -= 1
    if k <= cur or text[k - 1] != ".":
        return False
    i = k - 1
    while i > cur and text[i - 1] in _WORD_CHARS:
        i -= 1
    if i >= k - 1 or not (i == cur or text[i - 1].isspace() or text[i - 1] == "("):
        return False
    w = text[i:k - 1].lower()
    return w in ABBREVIATIONS or len(w) == 1 or _INITIALS_RE.fullmatch(w) is not None


def _split_line(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one line [start, end) at sentence ends, respecting abbreviations."""
    pieces: list[tuple[int, int]] = []
    cur = start
    for m in _END_RE.finditer(text, start, end):
        cut = m.start()
        if _abbreviation_before(text, cur, cut):
            continue
        if text[cur:cut].strip():
            pieces.append((cur, cut))
        cur = m.end()
    if text[cur:end].strip():
        pieces.append((cur, end))
    return pieces


def segment(text: str) -> list[Segment]:
    """Split ``text`` into sentence segments (character offsets, whitespace trimmed) with their section heading.

    A heading line with no content opens a section that lasts until the next heading or a blank line.
    """
    segments: list[Segment] = []
    section: str | None = None
    for line_no, m in enumerate(_LINE_RE.finditer(text)):
        if m.start() == m.end():
            break
        line_start, line_end = m.start(), m.end()
        raw = text[line_start:line_end].rstrip("\r\n")
        if not raw.strip():
            section = None  # a blank line closes a heading section
            continue
        b = _BULLET_RE.match(raw)
        content_start = line_start + (b.end() if b else 0)
        content_end = line_start + len(raw)
        h = _heading_of(text[content_start:content_end])
        heading_end = None
        if h is not None:
            section, rel_end = h
            heading_end = content_start + rel_end
        for i, (s, e) in enumerate(_split_line(text, content_start, content_end)):
            piece = text[s:e]
            stripped = piece.strip()
            if not stripped:
                continue
            s2 = s + len(piece) - len(piece.lstrip())
            e2 = s2 + len(stripped)
            if i > 0:  # a heading may also start a sentence mid-line ("Seen alone. Views: not obtained")
                h = _heading_of(text[s2:e2])
                heading_end = None
                if h is not None:
                    section, rel_end = h
                    heading_end = s2 + rel_end
            segments.append(Segment(s2, e2, section, heading_end, line_no))
    return segments


def user_data_extension(name: str) -> None:
    """Register ``doc._.<name>`` with its value kept in ``doc.user_data[name]``: our components read and write the
    dict directly (spaCy's ``doc._`` builds an accessor object on every use), users keep ``doc._.<name>``."""
    if not Doc.has_extension(name):
        Doc.set_extension(name, getter=lambda doc: doc.user_data.get(name),
                          setter=lambda doc, value: doc.user_data.__setitem__(name, value))


user_data_extension("msp_sections")


def token_bounds(doc: Doc) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Start and end character offsets of the doc's tokens (without trailing whitespace), computed once per doc."""
    bounds = doc.user_data.get("msp_token_bounds")
    if bounds is None:
        arr = doc.to_array([IDX, LENGTH]).astype(numpy.int64)
        bounds = doc.user_data["msp_token_bounds"] = (arr[:, 0], arr[:, 0] + arr[:, 1])
    return bounds


def char_spans(doc: Doc, items: list[tuple[int, int, str]]) -> list:
    """``doc.char_span(start, end, label=label, alignment_mode="expand")`` for many spans (None where that gives
    None), from the token offsets computed once per doc. A token owns the characters from its start to the next
    token's (its trailing space included), as in spaCy's own lookup; a span starting on a token's trailing space
    starts at the next token. (Plain bisect: a doc has a dozen spans, too few for numpy to pay.)"""
    if not items or len(doc) == 0:
        return [None] * len(items)
    starts, ends = (a.tolist() for a in token_bounds(doc))
    n_chars = len(doc_text(doc))
    strings = doc.vocab.strings
    out = []
    for s, e, label in items:
        if not (0 <= s < n_chars and 0 < e <= n_chars):
            out.append(None)
            continue
        first = bisect_right(starts, s) - 1
        if s == ends[first]:
            first += 1
        out.append(Span(doc, first, bisect_right(starts, e - 1), label=strings.add(label)))
    return out


def doc_text(doc: Doc) -> str:
    """``doc.text``, computed once per doc (spaCy rebuilds it from the tokens on every access)."""
    text = doc.user_data.get("msp_text")
    if text is None:
        text = doc.user_data["msp_text"] = doc.text
    return text


@Language.factory("msp_sentences", default_config={})
def make_sentences(nlp: Language, name: str):
    return SentenceSegmenter()


class SentenceSegmenter:
    """spaCy component: sets sentence starts from :func:`segment` and stores the segments in ``doc._.msp_sections``."""

    def __call__(self, doc: Doc, plain: bool = False) -> Doc:
        segs = segment(doc_text(doc))
        doc.user_data["msp_sections"] = segs
        if plain or len(doc) == 0:  # plain: only plain data is wanted (Analyzer.analyse_many); no sentence starts
            return doc
        # Token i starts a sentence if it is the token containing a segment's first character (vectorised).
        ends = token_bounds(doc)[1]
        first = numpy.searchsorted(ends, numpy.fromiter((s.start for s in segs), dtype=numpy.int64), side="right")
        sent = numpy.full(len(doc), -1, dtype=numpy.int64)
        sent[0] = 1
        sent[first[first < len(doc)]] = 1
        doc.from_array([SENT_START], sent.astype(numpy.uint64).reshape(-1, 1))
        return doc
