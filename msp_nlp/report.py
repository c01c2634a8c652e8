"""The reviewer report: ``report.html`` (one self-contained page) and ``report.xlsx`` from a results folder.

:func:`write_report` reads ``notes.jsonl``, ``cases.jsonl`` and ``errors.csv`` written by ``msp-nlp check`` and
writes

* ``report.html``: a summary (notes and cases checked, flag rates with bar charts, MSP measures aligned with the
  Safeguarding Adults Collection, breakdowns by team, author, note type and month where the export had them) and,
  per case, its flags with reasons and its notes in date order with every evidence and trigger span highlighted
  (a colour per label; hovering shows label and score), with a flag filter and a search box. Inline CSS, JS and
  SVG only: no network access, and a Content-Security-Policy that lets nothing else run or load.
* ``report.xlsx``: ``summary``, ``cases`` and ``notes`` sheets (autofilter, frozen headers) with the reviewer
  columns of :mod:`msp_nlp.feedback`, and a ``how to review`` sheet.

When ``notes.jsonl`` holds no note text (``check`` without ``--include-text``/``--report``), the report shows the
evidence sentences only, and says so. Every piece of text from the results is escaped (``html.escape``).
Flags are prompts for a human reviewer, not judgements; the report says so at the top.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import __version__
from . import spec as S
from .feedback import CASE_REVIEWER_COLUMNS, REVIEWER_COLUMNS, REVIEWER_MISSING_EVIDENCE, REVIEWER_WRONG_EVIDENCE, \
    REVIEWER_WRONG_FLAGS

# --- colours: one per label of the spec (evidence cool, triggers warm) ------------------------------------------

_EVIDENCE_PALETTE = ("#2563eb", "#16a34a", "#7c3aed", "#0891b2", "#a16207", "#db2777", "#65a30d", "#4f46e5",
                     "#0d9488", "#475569", "#c026d3", "#1e3a8a")
_TRIGGER_PALETTE = ("#dc2626", "#ea580c", "#d97706", "#991b1b", "#e11d48", "#b45309", "#78716c")
#: label code -> colour (every evidence label and trigger of :mod:`msp_nlp.spec`).
LABEL_COLOURS: dict[str, str] = {**dict(zip(S.EVIDENCE_LABELS, _EVIDENCE_PALETTE, strict=True)),
                                 **dict(zip(S.TRIGGERS, _TRIGGER_PALETTE, strict=True))}
_UNKNOWN_COLOUR = "#6e7781"

DISCLAIMER = ("Flags are prompts for a human reviewer, not judgements. A flag says the checker did not find "
              "something in the record; it is not a finding about the adult, the risk or the practitioner, and the "
              "checker cannot know what happened but was not written down. Read the notes before drawing any "
              "conclusion.")
NO_TEXT_NOTICE = ("The results hold no note text (they were written without --include-text), so this report "
                  "shows the evidence and trigger sentences only, not the full notes. Run `msp-nlp check ... "
                  "--report` to see every note with its spans highlighted.")
PRIVACY_NOTICE = ("This report contains case note text: special-category personal data. Store and share it like "
                  "the export itself.")
MEASURES_NOTE = ("Aligned with the Making Safeguarding Personal questions of the Safeguarding Adults Collection "
                 "(SAC), which asks, for concluded section 42 enquiries, whether the adult or their representative "
                 "was asked about and expressed desired outcomes, and whether those outcomes were achieved. These "
                 "figures count what the case notes record, as found by the checker, over all cases in the results; "
                 "they are not the SAC return.")
XLSX_CELL_MAX = 32_000  # Excel's limit is 32,767 characters per cell


# --- loading ----------------------------------------------------------------------------------------------------

class ReportError(ValueError):
    pass


@dataclass
class Results:
    outdir: Path
    notes: list[dict]
    cases: list[dict]
    errors: int = 0

    @property
    def notes_with_text(self) -> int:
        return sum(1 for n in self.notes if isinstance(n.get("text"), str))

    @property
    def has_text(self) -> bool:
        return bool(self.notes) and self.notes_with_text == len(self.notes)


def _read_jsonl(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ReportError(f"{path}: line {i} is not JSON ({e.msg}); was the file cut short?") from None
    return out


def load_results(outdir: str | Path) -> Results:
    out = Path(outdir)
    for name in ("notes.jsonl", "cases.jsonl"):
        if not (out / name).exists():
            raise ReportError(f"{out}: no {name}; give the folder written by `msp-nlp check -o {out}`.")
    errors = 0
    if (out / "errors.csv").exists():
        with open(out / "errors.csv", encoding="utf-8", newline="") as f:
            errors = max(0, sum(1 for _ in csv.reader(f)) - 1)
    return Results(out, _read_jsonl(out / "notes.jsonl"), _read_jsonl(out / "cases.jsonl"), errors)


# --- summary figures --------------------------------------------------------------------------------------------

@dataclass
class Measure:
    key: str
    title: str
    numerator: int
    denominator: int
    label: str  # the evidence label it counts

    @property
    def pct(self) -> float | None:
        return 100.0 * self.numerator / self.denominator if self.denominator else None


@dataclass
class Group:
    name: str
    notes: int = 0
    flags: dict[str, int] = field(default_factory=lambda: {c: 0 for c in S.FLAG_CODES})


@dataclass
class Summary:
    notes: int
    cases: int
    closed_cases: int
    errors: int
    cases_flagged: int
    case_flags: dict[str, int]
    case_applicable: dict[str, int]
    note_flags: dict[str, int]
    note_applicable: dict[str, int]
    measures: list[Measure]
    breakdowns: dict[str, list[Group]]  # "team"/"author"/"note_type"/"month" -> groups (only where data exist)
    notes_with_text: int


def _present(triggers, closing: bool) -> set[str]:
    p = set(triggers)
    if closing:
        p.add(S.CLOSING)
    return p


def _month(date) -> str | None:
    if isinstance(date, str) and re.match(r"^\d{4}-\d{2}", date):
        return date[:7]
    return None


def _groups(notes: list[dict], key, limit: int) -> list[Group]:
    groups: dict[str, Group] = {}
    for n in notes:
        name = key(n)
        name = "(none)" if name in (None, "") else str(name)
        g = groups.setdefault(name, Group(name))
        g.notes += 1
        for f in n.get("flags", []):
            if f.get("code") in g.flags:
                g.flags[f["code"]] += 1
    return list(groups.values())


def _top(groups: list[Group], limit: int) -> list[Group]:
    groups = sorted(groups, key=lambda g: (-g.notes, g.name))
    if len(groups) <= limit:
        return groups
    rest = Group(f"(other {len(groups) - limit + 1} groups)")
    for g in groups[limit - 1:]:
        rest.notes += g.notes
        for c, v in g.flags.items():
            rest.flags[c] += v
    return groups[:limit - 1] + [rest]


def summarise(res: Results, group_limit: int = 20) -> Summary:
    case_flags = {c: 0 for c in S.FLAG_CODES}
    case_app = {c: 0 for c in S.FLAG_CODES}
    note_flags = {c: 0 for c in S.FLAG_CODES}
    note_app = {c: 0 for c in S.FLAG_CODES}
    cases_flagged = closed = views = outcome = reviewed = 0
    for c in res.cases:
        codes = {f.get("code") for f in c.get("flags", [])}
        cases_flagged += bool(codes)
        present = _present(c.get("triggers", []), bool(c.get("closing")))
        for flag in S.FLAGS:
            case_app[flag.code] += flag.applies(present)
            case_flags[flag.code] += flag.code in codes
        ev = set(c.get("evidence", []))
        views += S.ADULT_VIEWS in ev
        outcome += S.DESIRED_OUTCOME in ev
        if c.get("closing"):
            closed += 1
            reviewed += S.OUTCOME_REVIEWED in ev
    for n in res.notes:
        codes = {f.get("code") for f in n.get("flags", [])}
        present = _present([t["label"] for t in n.get("triggers", [])], bool(n.get("closing")))
        for flag in S.FLAGS:
            note_app[flag.code] += flag.applies(present)
            note_flags[flag.code] += flag.code in codes
    nc = len(res.cases)
    measures = [
        Measure("views", "Adult's views recorded", views, nc, S.ADULT_VIEWS),
        Measure("outcome", "Desired outcome recorded", outcome, nc, S.DESIRED_OUTCOME),
        Measure("review", "Outcome review recorded at closure (of closed cases)", reviewed, closed,
                S.OUTCOME_REVIEWED),
    ]
    breakdowns: dict[str, list[Group]] = {}
    for fld in (S.TEAM, S.AUTHOR, S.NOTE_TYPE):
        if any(n.get(fld) not in (None, "") for n in res.notes):
            breakdowns[fld] = _top(_groups(res.notes, lambda n, f=fld: n.get(f), group_limit), group_limit)
    if any(_month(n.get(S.DATE)) for n in res.notes):
        months = _groups(res.notes, lambda n: _month(n.get(S.DATE)) or "(no date)", 0)
        breakdowns["month"] = sorted(months, key=lambda g: (g.name.startswith("("), g.name))
    return Summary(len(res.notes), nc, closed, res.errors, cases_flagged, case_flags, case_app, note_flags,
                   note_app, measures, breakdowns, res.notes_with_text)


# --- HTML helpers -----------------------------------------------------------------------------------------------

def esc(s) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def colour(label: str) -> str:
    return LABEL_COLOURS.get(label, _UNKNOWN_COLOUR)


def _cls(label: str) -> str:
    """The colour class of a label (``c-adult_views``); unknown labels get the grey ``c-other``."""
    return f"c-{label}" if label in LABEL_COLOURS else "c-other"


def colour_css() -> str:
    """One class per label: ``--c`` (tags, chips), ``--bg`` and ``--sh`` (a highlight of that label alone)."""
    rules = [f".{_cls(lab)}{{--c:{c};--bg:{c}22;--sh:inset 0 -2px 0 {c}}}" for lab, c in LABEL_COLOURS.items()]
    rules.append(f".c-other{{--c:{_UNKNOWN_COLOUR};--bg:{_UNKNOWN_COLOUR}22;--sh:inset 0 -2px 0 {_UNKNOWN_COLOUR}}}")
    return "\n".join(rules)


def _kind(label: str) -> str:
    return "t" if label in S.TRIGGERS else "e"


def _pct(num: int, den: int) -> str:
    return f"{100.0 * num / den:.0f}%" if den else "–"


def _bar(num: int, den: int, cls: str = "") -> str:
    w = 100.0 * num / den if den else 0.0
    return (f'<div class="bar {cls}" role="img" aria-label="{esc(_pct(num, den))}">'
            f'<span style="width:{w:.1f}%"></span></div>')


def _chip_label(label: str, describe: bool = True) -> str:
    """A label chip; ``describe`` adds the spec's description as a tooltip (the legend has it; per case it would
    only repeat it thousands of times)."""
    title = ""
    if describe:
        desc = S.EVIDENCE_DESCRIPTIONS.get(label) or S.TRIGGER_DESCRIPTIONS.get(label) or ""
        kind = "trigger" if label in S.TRIGGERS else "evidence"
        title = f' title="{esc(kind)}: {esc(desc)}"'
    return f'<span class="chip lab {_kind(label)} {_cls(label)}"{title}>{esc(label)}</span>'


def _chip_flag(code: str, describe: bool = True) -> str:
    f = S.FLAGS_BY_CODE.get(code)
    title = f' title="{esc(f.description)} ({esc(f.principle)})"' if f and describe else ""
    return f'<span class="chip flag"{title}>{esc(code)}</span>'


def _fmt_date(d) -> str:
    if not isinstance(d, str):
        return ""
    d = d.replace("T", " ")
    return d[:-3] if re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:00$", d) else d


def _clamp_spans(items: list[tuple[int, int, str, str, str]], n: int) -> list[tuple[int, int, str, str, str]]:
    out = []
    for start, end, kind, label, info in items:
        try:
            start, end = max(0, int(start)), min(n, int(end))
        except (TypeError, ValueError):
            continue
        if start < end:
            out.append((start, end, kind, label, info))
    return out


def _spans_of(note: dict) -> list[tuple[int, int, str, str, str]]:
    """(start, end, kind, label, hover line) for evidence (e), triggers (t) and discounted mentions (d)."""
    items = []
    for kind, key, what in (("e", "evidence", "evidence"), ("t", "triggers", "trigger")):
        for f in note.get(key, []):
            score = f.get("score")
            sc = f" · score {score:.2f}" if isinstance(score, (int, float)) else ""
            items.append((f.get("start"), f.get("end"), kind, str(f.get("label")),
                          f"{f.get('label')} ({what}){sc} · {f.get('start')}-{f.get('end')}"))
    for d in note.get("discounted", []):
        items.append((d.get("start"), d.get("end"), "d", str(d.get("label")),
                      f"{d.get('label')} not counted: {d.get('reason')}"))
    return items


def _mark_attrs(active: list[tuple[int, int, str, str, str]]) -> str:
    """``class``/``style`` of a highlight: the label's class alone, or a stripe per label when several overlap."""
    shown = [a for a in active if a[2] != "d"]
    shown.sort(key=lambda a: (a[2] != "e", S.ALL_LABELS.index(a[3]) if a[3] in S.ALL_LABELS else 99))
    labels = list(dict.fromkeys(a[3] for a in shown))
    if len(labels) == 1:
        return f'class="hl {_cls(labels[0])}"'
    return f'class="hl" style="{_mark_style(shown)}"'


def _mark_style(shown: list[tuple[int, int, str, str, str]]) -> str:
    first = colour(shown[0][3])
    shadows = ", ".join(f"inset 0 -{2 * (i + 1)}px 0 {colour(a[3])}" for i, a in enumerate(shown))
    return f"--bg:{first}22;--sh:{shadows};--pb:{2 * len(shown)}px"


def highlight(text: str, note: dict) -> str:
    """The note text, escaped, with a ``<mark>`` per stretch covered by evidence/trigger spans (a colour stripe per
    label, ``title`` = label and score), a tag at each span's start, and dotted underline on discounted mentions."""
    spans = _clamp_spans(_spans_of(note), len(text))
    if not spans:
        return esc(text)
    bounds = sorted({0, len(text)} | {s[0] for s in spans} | {s[1] for s in spans})
    out = []
    for a, b in zip(bounds, bounds[1:]):
        piece = esc(text[a:b])
        active = [s for s in spans if s[0] <= a and s[1] >= b]
        for s in spans:
            if s[0] == a and s[2] != "d":
                out.append(f'<span class="tag {s[2]} {_cls(s[3])}">{esc(s[3])}</span>')
        if not active:
            out.append(piece)
            continue
        title = esc("\n".join(s[4] for s in active))
        counted = [s for s in active if s[2] != "d"]
        if not counted:
            out.append(f'<span class="disc" title="{title}">{piece}</span>')
            continue
        labels = " ".join(dict.fromkeys(s[3] for s in counted))
        out.append(f'<mark {_mark_attrs(active)} data-labels="{esc(labels)}" title="{title}">{piece}</mark>')
    return "".join(out)


def sentences_only(note: dict) -> str:
    """Without note text: the evidence and trigger sentences of the note (one line per sentence, a tag per label),
    each highlighted as a whole."""
    items = [(f, "e", "evidence") for f in note.get("evidence", [])] + \
            [(f, "t", "trigger") for f in note.get("triggers", [])]
    by_sentence: dict[tuple, list] = {}
    for f, kind, what in items:
        key = (f.get("start", 0) if isinstance(f.get("start"), int) else 0, f.get("end"), f.get("text"))
        by_sentence.setdefault(key, []).append((f, kind, what))
    rows = []
    for (start, end, sentence), found in sorted(by_sentence.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        found.sort(key=lambda x: (x[1], S.ALL_LABELS.index(x[0].get("label"))
                                  if x[0].get("label") in S.ALL_LABELS else 99))
        tags, lines, labels = [], [], []
        for f, kind, what in found:
            label = str(f.get("label"))
            score = f.get("score")
            sc = f" · score {score:.2f}" if isinstance(score, (int, float)) else ""
            lines.append(f"{label} ({what}){sc} · {start}-{end}")
            labels.append(label)
            tags.append(f'<span class="tag {kind} {_cls(label)}">{esc(label)}</span>')
        active = [(start, end, kind, str(f.get("label")), "") for f, kind, _ in found]
        rows.append(f'<li>{"".join(tags)}<mark {_mark_attrs(active)} data-labels="{esc(" ".join(labels))}" '
                    f'title="{esc(chr(10).join(lines))}">{esc(sentence)}</mark></li>')
    if not rows:
        return '<p class="muted">No evidence or trigger sentence in this note.</p>'
    return '<ul class="sentences">' + "".join(rows) + '</ul>'


# --- HTML sections ----------------------------------------------------------------------------------------------

def _cards(s: Summary) -> str:
    items = [(s.notes, "notes checked"), (s.cases, "cases checked"), (s.closed_cases, "closed cases"),
             (s.cases_flagged, f"cases with a flag ({_pct(s.cases_flagged, s.cases)})"),
             (s.errors, "rows not checked (errors.csv)")]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="n">{n:,}</div><div class="l">{esc(lab)}</div></div>' for n, lab in items
    ) + "</div>"


def _measures(s: Summary) -> str:
    out = ['<div class="measures">']
    for m in s.measures:
        pct = "–" if m.pct is None else f"{m.pct:.0f}%"
        of = ("no closed cases" if m.denominator == 0 and m.key == "review"
              else f"{m.numerator:,} of {m.denominator:,} cases")
        out.append(f'<div class="measure" id="measure-{esc(m.key)}"><div class="top"><span class="what">'
                   f'{esc(m.title)}</span><span class="pct">{esc(pct)}</span></div>'
                   f'{_bar(m.numerator, m.denominator, "blue")}<div class="fine">{esc(of)} · evidence '
                   f'<code>{esc(m.label)}</code></div></div>')
    out.append("</div>")
    out.append(f'<p class="fine">{esc(MEASURES_NOTE)}</p>')
    return "".join(out)


def _rates(s: Summary) -> str:
    rows = ['<table class="rates"><thead><tr><th>flag</th><th class="num">cases</th><th>% of cases</th>'
            '<th class="num" title="cases where the check applies (its trigger is present)">applies</th>'
            '<th class="num">notes</th><th>% of notes</th></tr></thead><tbody>']
    for f in S.FLAGS:
        cf, nf = s.case_flags[f.code], s.note_flags[f.code]
        rows.append(
            f'<tr data-flag="{esc(f.code)}"><td>{_chip_flag(f.code)}</td>'
            f'<td class="num">{cf:,}</td><td title="{esc(_pct(cf, s.cases))} of cases">'
            f'<div style="display:flex;gap:6px;align-items:center"><span style="flex:1">{_bar(cf, s.cases)}</span>'
            f'<span class="num" style="width:34px;text-align:right">{esc(_pct(cf, s.cases))}</span></div></td>'
            f'<td class="num muted">{s.case_applicable[f.code]:,}</td>'
            f'<td class="num">{nf:,}</td><td><div style="display:flex;gap:6px;align-items:center">'
            f'<span style="flex:1">{_bar(nf, s.notes, "notes")}</span><span class="num" '
            f'style="width:34px;text-align:right">{esc(_pct(nf, s.notes))}</span></div></td></tr>')
    rows.append("</tbody></table>")
    rows.append('<p class="fine">A case flag looks at all the notes of a case together; a note flag at one note '
                'alone (what an inline check while typing shows). "applies" counts the cases where the flag\'s '
                'trigger is present (all cases for flags without one).</p>')
    return "".join(rows)


def _heat(groups: list[Group], what: str) -> str:
    head = "".join(f'<th class="v" title="{esc(S.FLAGS_BY_CODE[c].description)}"><span class="code">{esc(c)}</span>'
                   f'</th>' for c in S.FLAG_CODES)
    rows = [f'<table class="heat" data-breakdown="{esc(what)}"><thead><tr><th>{esc(what)}</th>'
            f'<th class="num">notes</th>{head}</tr></thead><tbody>']
    for g in groups:
        cells = []
        for c in S.FLAG_CODES:
            v = g.flags[c]
            p = v / g.notes if g.notes else 0.0
            cells.append(f'<td class="h" style="background:rgba(180,35,24,{0.06 + 0.6 * p:.2f});'
                         f'color:{"#fff" if p > 0.6 else "inherit"}" title="{esc(c)}: {v} of {g.notes} notes">'
                         f'{100 * p:.0f}</td>')
        rows.append(f'<tr><td class="g" title="{esc(g.name)}">{esc(g.name)}</td><td class="num">{g.notes:,}</td>'
                    + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _month_chart(groups: list[Group]) -> str:
    groups = [g for g in groups if not g.name.startswith("(")]
    if not groups:
        return ""
    w, h, pad_l, pad_b, pad_t = 560, 150, 34, 34, 14
    n = len(groups)
    step = (w - pad_l - 6) / n
    bw = max(2.0, min(38.0, step * 0.7))
    top = max(g.notes for g in groups) or 1
    parts = [f'<svg class="months" role="img" aria-label="notes per month" viewBox="0 0 {w} {h}" width="{w}" '
             f'height="{h}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w}" y2="{h - pad_b}" stroke="#d1d9e0"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end">{top}</text>',
             f'<text x="{pad_l - 4}" y="{h - pad_b}" text-anchor="end">0</text>']
    every = max(1, round(n / 12))
    for i, g in enumerate(groups):
        x = pad_l + i * step + (step - bw) / 2
        bh = (h - pad_b - pad_t) * g.notes / top
        views = g.flags[S.VIEWS_MISSING]
        vh = (h - pad_b - pad_t) * views / top
        parts.append(f'<rect x="{x:.1f}" y="{h - pad_b - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" fill="#8c959f">'
                     f'<title>{esc(g.name)}: {g.notes} notes, {views} with views_missing</title></rect>')
        parts.append(f'<rect x="{x:.1f}" y="{h - pad_b - vh:.1f}" width="{bw:.1f}" height="{vh:.1f}" '
                     f'fill="#b42318" opacity="0.85"><title>{esc(g.name)}: {views} notes with views_missing'
                     f'</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - pad_b + 14}" text-anchor="middle">{esc(g.name)}</text>')
    parts.append("</svg>")
    parts.append('<p class="fine">Notes per month (grey) and, in red, notes flagged <code>views_missing</code> '
                 'on their own.</p>')
    return "".join(parts)


def _breakdowns(s: Summary) -> str:
    titles = {S.TEAM: "By team", S.AUTHOR: "By author", S.NOTE_TYPE: "By note type", "month": "By month"}
    if not s.breakdowns:
        return ('<p class="muted">No team, author, note type or date columns in the results: no breakdowns.</p>')
    # The first breakdown (team, if there is one) is open on the left; the month chart and the other
    # breakdowns (closed) on the right.
    left, right = [], []
    months = s.breakdowns.get("month")
    chart = _month_chart(months) if months else ""
    if chart:
        right.append(f'<h4>Notes per month</h4>{chart}')
    for key, groups in s.breakdowns.items():
        open_ = not left and (key != "month" or not chart)
        block = (f'<details class="block" id="by-{esc(key)}"{" open" if open_ else ""}>'
                 f'<summary>{esc(titles[key])} ({len(groups)})</summary>{_heat(groups, key)}</details>')
        (left if open_ else right).append(block)
    intro = ('<p class="fine">Share of notes (%) with each note-level flag, per group. Groups are for reviewing '
             'recording practice across the service, not for comparing individuals.</p>')
    if left and right:
        return f'<div class="grid2b"><div>{"".join(left)}</div><div>{"".join(right)}{intro}</div></div>'
    return "".join(left + right) + intro


def _legend() -> str:
    ev = "".join(_chip_label(lab) for lab in S.EVIDENCE_LABELS)
    tr = "".join(_chip_label(lab) for lab in S.TRIGGERS)
    return (f'<div class="legend"><div><span class="muted">evidence:</span> {ev}</div>'
            f'<div><span class="muted">triggers:</span> {tr} <span class="muted">· '
            f'<span class="disc">dotted</span>: found but not counted (negated, planned, someone else\'s ...) · '
            f'hover a highlight for its label and score · "note alone": the flags of a note read on its own'
            f'</span></div></div>')


def _note_html(n: dict, anchor: str) -> str:
    meta = []
    if n.get("date"):
        meta.append(f'<span class="date">{esc(_fmt_date(n.get("date")))}</span>')
    else:
        meta.append('<span class="date muted">no date</span>')
    if n.get("note_type"):
        meta.append(f'<span class="ntype">{esc(n.get("note_type"))}</span>')
    who = " · ".join(esc(x) for x in (n.get("author"), n.get("team")) if x)
    meta.append(f'<span class="muted">{who + " · " if who else ""}note <code>{esc(n.get("note_id"))}</code>'
                f'</span>')
    if n.get("closing"):
        meta.append('<span class="chip closed">closing note</span>')
    nflags = [f.get("code") for f in n.get("flags", [])]
    if nflags:
        meta.append('<span class="nflags">note alone: ' + ", ".join(esc(c) for c in nflags) + '</span>')
    text = n.get("text")
    if not isinstance(text, str):
        meta.append('<span class="muted sentences-only">(evidence sentences only: no note text in the results)</span>')
    body = (f'<div class="text">{highlight(text, n)}</div>' if isinstance(text, str) else sentences_only(n))
    return (f'<article class="note" id="{anchor}" data-note-id="{esc(n.get("note_id"))}">'
            f'<header>{"".join(meta)}</header>{body}</article>')


def _case_html(i: int, c: dict, notes_by_id: dict[str, dict], anchors: dict[str, str], open_: bool) -> str:
    flags = c.get("flags", [])
    codes = [f.get("code") for f in flags]
    notes = [notes_by_id[nid] for nid in c.get("note_ids", []) if nid in notes_by_id]
    dates = [n.get("date") for n in notes if isinstance(n.get("date"), str)]
    span = ""
    if dates:
        a, b = _fmt_date(min(dates))[:10], _fmt_date(max(dates))[:10]
        span = f" · {a}" + (f" → {b}" if b != a else "")
    teams = list(dict.fromkeys(n.get("team") for n in notes if n.get("team")))
    team = f" · {', '.join(teams[:3])}{' ...' if len(teams) > 3 else ''}" if teams else ""
    closed = '<span class="chip closed">closed</span>' if c.get("closing") else ""
    summ = (f'<summary><span class="cid">{esc(c.get("case_id"))}</span><span class="muted">'
            f'{len(c.get("note_ids", []))} note{"s" if len(c.get("note_ids", [])) != 1 else ""}{esc(span)}'
            f'{esc(team)}</span> {closed} '
            + ("".join(_chip_flag(x, describe=False) for x in codes) if codes else '<span class="muted">· no case flags</span>')
            + "</summary>")
    items = []
    for f in flags:
        links = ", ".join(f'<a href="#{anchors[nid]}">{esc(nid)}</a>' if nid in anchors else esc(nid)
                          for nid in f.get("evidence_note_ids", []))
        items.append(f'<li>{_chip_flag(f.get("code"), describe=False)} {esc(f.get("reason"))}'
                     + (f' <span class="muted">Trigger in note {links}.</span>' if links else "") + "</li>")
    fl = (f'<ul class="flags">{"".join(items)}</ul>' if items
          else '<p class="muted">No case flags: every check that applies found its evidence.</p>')
    found = ('<div class="found"><span class="muted">evidence in the case:</span> ' +
             ("".join(_chip_label(x, False) for x in c.get("evidence", [])) or '<span class="muted">none</span>') +
             (' <span class="muted">· triggers:</span> ' + "".join(_chip_label(x, False) for x in c.get("triggers", []))
              if c.get("triggers") else "") + "</div>")
    body = "".join(_note_html(n, anchors[n["note_id"]]) for n in notes)
    return (f'<details class="case" id="case-{i}" data-case-id="{esc(c.get("case_id"))}" '
            f'data-flags="{esc(" ".join(codes))}"{" open" if open_ else ""}>{summ}<div class="case-body">'
            f'{fl}{found}{body}</div></details>')


def _asset(name: str) -> str:
    return resources.files("msp_nlp").joinpath("report_assets", name).read_text(encoding="utf-8")


def render_html(res: Results, summary: Summary | None = None, *, max_cases: int | None = None,
                title: str | None = None, generated: str | None = None, open_limit: int = 60) -> str:
    """The whole report page as a string."""
    s = summary or summarise(res)
    css, js = _asset("report.css"), _asset("report.js")
    js_hash = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{js_hash}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    generated = generated or _dt.date.today().isoformat()
    title = title or f"MSP evidence review · {res.outdir.name or res.outdir}"
    notes_by_id = {n.get("note_id"): n for n in res.notes}
    anchors = {nid: f"n{i}" for i, nid in enumerate(notes_by_id)}
    cases = res.cases if max_cases is None else res.cases[:max_cases]
    open_all = len(cases) <= open_limit

    notices = [f'<div class="notice" role="note" id="disclaimer"><strong>Flags are prompts for a human reviewer, '
               f'not judgements.</strong> {esc(DISCLAIMER.split(". ", 1)[1])}</div>']
    if s.notes_with_text:
        notices.append(f'<div class="notice privacy" role="note" id="privacy">{esc(PRIVACY_NOTICE)}</div>')
    if s.notes_with_text < s.notes:
        extra = ("" if s.notes_with_text == 0 else
                 f" ({s.notes - s.notes_with_text:,} of {s.notes:,} notes have no text in the results.)")
        notices.append(f'<div class="notice warn" role="note" id="no-text">{esc(NO_TEXT_NOTICE + extra)}</div>')
    if len(cases) < len(res.cases):
        notices.append(f'<div class="notice warn" role="note">The case list shows the first {len(cases):,} of '
                       f'{len(res.cases):,} cases (--max-cases); the summary counts all of them.</div>')

    options = ['<option value="">all cases</option>', '<option value="__any__">any flag</option>',
               '<option value="__none__">no case flags</option>']
    for code in S.FLAG_CODES:
        options.append(f'<option value="{esc(code)}">{esc(code)} ({s.case_flags[code]:,})</option>')
    toolbar = (f'<div class="toolbar"><label>Flag <select id="flag-filter">{"".join(options)}</select></label>'
               f'<label>Search <input id="search" type="search" placeholder="case, note id, words in the notes ..." '
               f'autocomplete="off"></label><button type="button" id="expand-all">expand all</button>'
               f'<button type="button" id="collapse-all">collapse all</button><span class="muted">'
               f'<span id="shown">{len(cases):,}</span> of {len(cases):,} cases shown</span></div>')
    case_html = "".join(_case_html(i, c, notes_by_id, anchors, open_all) for i, c in enumerate(cases))

    meta = (f'results <code>{esc(res.outdir)}</code> · {s.notes:,} notes in {s.cases:,} cases · generated '
            f'{esc(generated)} · spec {esc(S.SPEC_VERSION)} · msp-nlp {esc(__version__)}')
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
        '<meta name="referrer" content="no-referrer">',
        f'<title>{esc(title)}</title><style>{css}\n{colour_css()}</style></head><body>',
        f'<header class="top"><h1>{esc(title)}</h1><p class="meta">{meta}</p></header><main>',
        "".join(notices),
        '<section id="summary"><h2>Summary</h2>', _cards(s),
        '<div class="grid2"><div><h3>Flag rates</h3>', _rates(s), '</div>',
        '<div><h3>MSP measures</h3>', _measures(s), '</div></div>',
        '<h3>Breakdowns</h3>', _breakdowns(s), '</section>',
        '<section id="cases"><h2>Cases</h2>', toolbar, _legend(), case_html, '</section>',
        f'<footer>{esc(DISCLAIMER)} Labels, triggers and flags are those of the MSP evidence specification '
        f'({esc(S.SPEC_VERSION)}); <code>msp-nlp schema</code> lists them. Mark what the checker got wrong in '
        f'report.xlsx and run <code>msp-nlp feedback</code>.</footer>',
        f'</main><script>{js}</script></body></html>\n',
    ])


# --- Excel ------------------------------------------------------------------------------------------------------

def _xlsx_safe(v):
    """Cell value with characters XML cannot hold removed and long text cut (Excel's cell limit)."""
    if isinstance(v, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
        if len(v) > XLSX_CELL_MAX:
            v = v[:XLSX_CELL_MAX] + " [... cut: the full text is in report.html]"
    return v


def _row(ws, values: list, wrap_idx: set[int] = frozenset(), styles: dict | None = None) -> list:
    """Cells for a write-only sheet: text is never a formula, wrapped columns wrap, all cells align to the top."""
    from openpyxl.cell import WriteOnlyCell

    out = []
    for j, v in enumerate(values):
        v = _xlsx_safe(v)
        if v is None or v == "":
            out.append(None)
            continue
        cell = WriteOnlyCell(ws, value=v)
        if isinstance(v, str) and v.startswith("="):
            cell.data_type = "s"  # text, never a formula
        if styles is not None:
            cell.alignment = styles["wrap"] if j in wrap_idx else styles["top"]
        out.append(cell)
    return out


def _table_sheet(wb, name: str, header: list[str], rows, widths: dict[str, int], wrap: set[str],
                 editable: tuple[str, ...] = (), freeze: str = "B2", preamble: list[str] = ()) -> None:
    """A write-only sheet: optional preamble lines, a header row (reviewer columns in yellow), the rows, an
    autofilter over the table and frozen header."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(name)
    for j, h in enumerate(header, 1):
        ws.column_dimensions[get_column_letter(j)].width = widths.get(h, 14)
    ws.freeze_panes = freeze
    for line in preamble:
        ws.append(_row(ws, [line]))
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DCE3EA")
    edit_fill = PatternFill("solid", fgColor="FFF2A8")
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        c.fill = edit_fill if h in editable else head_fill
        cells.append(c)
    ws.append(cells)
    styles = {"top": Alignment(vertical="top"), "wrap": Alignment(vertical="top", wrap_text=True)}
    wrap_idx = {j for j, h in enumerate(header) if h in wrap}
    first = len(preamble) + 1
    n = 0
    for r in rows:
        ws.append(_row(ws, r, wrap_idx, styles))
        n += 1
    ws.auto_filter.ref = f"A{first}:{get_column_letter(len(header))}{first + max(n, 1)}"


def write_xlsx(res: Results, path: str | Path, summary: Summary | None = None) -> None:
    import openpyxl

    s = summary or summarise(res)
    wb = openpyxl.Workbook(write_only=True)  # streams rows: linear time, bounded memory
    # summary: one table, so it filters like the others
    rows: list[list] = [["notes", "notes checked", s.notes, None, None],
                        ["cases", "cases checked", s.cases, None, None],
                        ["cases", "closed cases", s.closed_cases, s.cases, None],
                        ["cases", "cases with a flag", s.cases_flagged, s.cases,
                         round(100 * s.cases_flagged / s.cases, 1) if s.cases else None],
                        ["errors", "rows not checked (errors.csv)", s.errors, None, None]]
    for m in s.measures:
        rows.append(["MSP measure", f"{m.title} [{m.label}]", m.numerator, m.denominator,
                     None if m.pct is None else round(m.pct, 1)])
    for f in S.FLAGS:
        rows.append(["case flag", f.code, s.case_flags[f.code], s.cases,
                     round(100 * s.case_flags[f.code] / s.cases, 1) if s.cases else None])
    for f in S.FLAGS:
        rows.append(["note flag", f.code, s.note_flags[f.code], s.notes,
                     round(100 * s.note_flags[f.code] / s.notes, 1) if s.notes else None])
    for key, groups in s.breakdowns.items():
        for g in groups:
            for c in S.FLAG_CODES:
                rows.append([f"note flag by {key}", f"{g.name}: {c}", g.flags[c], g.notes,
                             round(100 * g.flags[c] / g.notes, 1) if g.notes else None])
    _table_sheet(wb, "summary", ["section", "measure", "count", "of", "percent"], rows,
                 {"section": 22, "measure": 58, "count": 10, "of": 10, "percent": 10}, set(), freeze="A4",
                 preamble=[DISCLAIMER, MEASURES_NOTE])

    notes_by_id = {n.get("note_id"): n for n in res.notes}
    crow = []
    for c in res.cases:
        notes = [notes_by_id[n] for n in c.get("note_ids", []) if n in notes_by_id]
        dates = [n["date"] for n in notes if isinstance(n.get("date"), str)]
        teams = list(dict.fromkeys(n.get("team") for n in notes if n.get("team")))
        codes = [f.get("code") for f in c.get("flags", [])]
        crow.append([c.get("case_id"), len(c.get("note_ids", [])), min(dates) if dates else None,
                     max(dates) if dates else None, int(bool(c.get("closing"))), "; ".join(teams), "; ".join(codes),
                     len(codes), "; ".join(c.get("evidence", [])), "; ".join(c.get("triggers", [])),
                     "\n".join(f"{f.get('code')}: {f.get('reason')}" for f in c.get("flags", []))]
                    + [""] * len(CASE_REVIEWER_COLUMNS))
    chead = ["case_id", "n_notes", "first_date", "last_date", "closing", "teams", "flags", "n_flags", "evidence",
             "triggers", "flag_reasons"] + list(CASE_REVIEWER_COLUMNS)
    _table_sheet(wb, "cases", chead, crow,
                 {"case_id": 16, "flags": 40, "evidence": 40, "triggers": 28, "flag_reasons": 70, "teams": 20,
                  "first_date": 18, "last_date": 18, REVIEWER_WRONG_FLAGS: 26, "reviewer_comment": 30},
                 {"flag_reasons", "flags", "evidence", "triggers"}, editable=CASE_REVIEWER_COLUMNS)

    with_text = s.notes_with_text > 0
    nhead = ["note_id", "case_id", "date", "note_type", "author", "team", "closing", "flags", "evidence",
             "triggers", "evidence_sentences"] + (["text"] if with_text else []) + list(REVIEWER_COLUMNS)
    nrow = []
    for n in res.notes:
        finds = sorted(n.get("evidence", []) + n.get("triggers", []), key=lambda f: (f.get("start", 0),
                                                                                    f.get("label", "")))
        sent = "\n".join(f"{f.get('label')}@{f.get('start')}-{f.get('end')} [{f.get('score')}]: {f.get('text')}"
                         for f in finds)
        row = [n.get("note_id"), n.get("case_id"), n.get("date"), n.get("note_type"), n.get("author"),
               n.get("team"), int(bool(n.get("closing"))), "; ".join(f.get("code") for f in n.get("flags", [])),
               "; ".join(dict.fromkeys(f.get("label") for f in n.get("evidence", []))),
               "; ".join(dict.fromkeys(f.get("label") for f in n.get("triggers", []))), sent]
        if with_text:
            row.append(n.get("text"))
        nrow.append(row + [""] * len(REVIEWER_COLUMNS))
    _table_sheet(wb, "notes", nhead, nrow,
                 {"note_id": 14, "case_id": 14, "date": 18, "note_type": 20, "flags": 36, "evidence": 32,
                  "triggers": 24, "evidence_sentences": 70, "text": 80, REVIEWER_WRONG_FLAGS: 24,
                  REVIEWER_WRONG_EVIDENCE: 26, REVIEWER_MISSING_EVIDENCE: 34, "reviewer_comment": 30},
                 {"evidence_sentences", "text", "flags"}, editable=REVIEWER_COLUMNS)

    how = wb.create_sheet("how to review")
    how.column_dimensions["A"].width = 28
    how.column_dimensions["B"].width = 110
    lines = [list(x) for x in _HOW_TO_REVIEW]
    lines += [[lab, "evidence: " + S.EVIDENCE_DESCRIPTIONS[lab]] for lab in S.EVIDENCE_LABELS]
    lines += [[lab, "trigger: " + S.TRIGGER_DESCRIPTIONS[lab]] for lab in S.TRIGGERS]
    lines += [[f.code, f"flag: {f.description}. {f.reason}"] for f in S.FLAGS]
    for line in lines:
        how.append(_row(how, line))
    wb.save(path)


_HOW_TO_REVIEW = [
    ("How to review", DISCLAIMER),
    ("", "Read the notes in report.html. Where the checker is wrong, write in the yellow columns of the notes or "
         "cases sheet, save this workbook (keep it .xlsx), and run: msp-nlp feedback report.xlsx -o annotations.jsonl"),
    (REVIEWER_WRONG_FLAGS, "notes and cases sheets: flag codes that should not have been raised, ;-separated, "
                           "e.g. views_missing; consent_missing"),
    (REVIEWER_WRONG_EVIDENCE, "notes sheet: labels found but wrong: consent (all its spans in the note) or "
                              "consent@120-184 (one span, offsets as in evidence_sentences)"),
    (REVIEWER_MISSING_EVIDENCE, 'notes sheet: labels the checker missed: desired_outcome, or with the words from '
                                'the note that carry it: desired_outcome: "wants to stay at home"'),
    ("reviewer_comment", "free text kept with the feedback record"),
    ("", "Codes and labels (spelled as below; case and spaces are forgiven):"),
]


# --- entry point ------------------------------------------------------------------------------------------------

@dataclass
class ReportInfo:
    html: Path | None
    xlsx: Path | None
    notes: int
    cases: int
    has_text: bool
    notes_with_text: int


def write_report(outdir: str | Path, *, html_path: str | Path | None = None, xlsx_path: str | Path | None = None,
                 xlsx: bool = True, max_cases: int | None = None, generated: str | None = None) -> ReportInfo:
    """Write ``report.html`` and ``report.xlsx`` (by default into ``outdir``) from the results in ``outdir``."""
    res = load_results(outdir)
    s = summarise(res)
    hp = Path(html_path) if html_path else res.outdir / "report.html"
    hp.write_text(render_html(res, s, max_cases=max_cases, generated=generated), encoding="utf-8")
    xp = None
    if xlsx:
        xp = Path(xlsx_path) if xlsx_path else res.outdir / "report.xlsx"
        write_xlsx(res, xp, s)
    return ReportInfo(hp, xp, s.notes, s.cases, res.has_text, s.notes_with_text)
