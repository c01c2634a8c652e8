"""Request and response models of the API (pydantic).  The response shapes are those of the library's
``note_result`` (a line of ``notes.jsonl``) and ``CaseResult.as_dict`` (a line of ``cases.jsonl``)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from msp_nlp.io import normalise_date

from .store import DATE_MAX, ID_MAX


def _no_surrogates(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired UTF-16 surrogate (invalid Unicode); send valid UTF-8 text") from None
    return v


def _identifier(v: str) -> str:
    v = _no_surrogates(v).strip()
    if not v:
        raise ValueError("must not be empty or blank")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in v):
        raise ValueError("must not contain control characters (tabs, line breaks, NUL ...)")
    return v


def _text(v: str) -> str:
    _no_surrogates(v)
    if not v.strip():
        raise ValueError("text is empty: nothing to check")
    return v


def _date(v: str | None) -> str | None:
    if v is None:
        return None
    v = _no_surrogates(v).strip()
    if not v:
        return None
    iso, problem = normalise_date(v)
    if iso is None:
        raise ValueError(f"date could not be read ({problem}); expected yyyy-mm-dd, yyyy-mm-ddThh:mm[:ss] or "
                         "dd/mm/yyyy [hh:mm]")
    return iso


Identifier = Annotated[str, Field(min_length=1, max_length=ID_MAX), AfterValidator(_identifier)]
NoteText = Annotated[str, Field(description="Free text of the note as typed (HTML from rich-text editors is "
                                "converted to plain text first; offsets refer to the plain text). At most "
                                "MSP_NLP_MAX_NOTE_CHARS characters (default 20,000)."), AfterValidator(_text)]
DateStr = Annotated[str | None, Field(default=None, max_length=DATE_MAX,
                                      description="ISO 8601 date or datetime (or dd/mm/yyyy); orders notes in a case"),
                    AfterValidator(_date)]
ShortText = Annotated[str | None, Field(default=None, max_length=500), AfterValidator(
    lambda v: None if v is None else _no_surrogates(v))]


class CheckNote(BaseModel):
    """One case note (the input table of the MSP evidence spec). Only ``text`` is required for a check."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note_id": "N1", "case_id": "C1", "date": "2026-03-02", "note_type": "S42 enquiry visit",
        "adult_name": "Mrs Holt; Edna",
        "text": "Spoke to Mrs Holt alone. She told me she is frightened of her grandson and wants him to stop "
                "visiting."}]})

    text: NoteText
    note_id: Identifier | None = Field(default=None, description="unique id of the note")
    case_id: Identifier | None = Field(default=None, description="the enquiry / case the note belongs to")
    date: DateStr = None
    note_type: ShortText = Field(default=None, description='e.g. "S42 enquiry visit", "Closure summary"')
    adult_name: ShortText = Field(default=None, description="names/initials of the adult at risk, ';'-separated")
    author: ShortText = Field(default=None, description="accepted for compatibility; not used or stored")
    team: ShortText = Field(default=None, description="accepted for compatibility; not used or stored")


class Note(CheckNote):
    """A case note with its id (required to record it in a case and for batches)."""

    note_id: Identifier = Field(description="unique id of the note; re-sending it replaces its findings")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: list[Note] = Field(min_length=1, description="at most MSP_NLP_MAX_BATCH notes (default 50)")


# --- responses -----------------------------------------------------------------------------------------------------

class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")  # fields the library adds later pass through


class FindingOut(_Open):
    label: str
    start: int
    end: int
    text: str = Field(description="the sentence that carries the finding")
    score: float
    cue: list[int] = Field(description="[start, end] of the cue inside the note")


class SpanRef(_Open):
    label: str
    start: int
    end: int


class NoteFlagOut(_Open):
    code: str
    reason: str
    triggers: list[SpanRef]


class DiscountedOut(_Open):
    label: str
    start: int
    end: int
    text: str
    reason: str = Field(description="negated, hypothetical, other_person, practitioner or empty_heading")


class NoteResultOut(_Open):
    note_id: str | None
    case_id: str | None
    evidence: list[FindingOut]
    triggers: list[FindingOut]
    flags: list[NoteFlagOut]
    closing: bool
    discounted: list[DiscountedOut]
    html_stripped: bool = False
    model_version: str | None = None


class CaseSpanRef(SpanRef):
    note_id: str


class CaseFlagOut(_Open):
    code: str
    reason: str
    evidence_note_ids: list[str] = Field(description="notes holding the triggers that made the flag apply")
    triggers: list[CaseSpanRef]


class CaseOut(_Open):
    case_id: str
    note_ids: list[str] = Field(description="in date order")
    evidence: list[str]
    triggers: list[str]
    closing: bool
    flags: list[CaseFlagOut]


class RecordOut(BaseModel):
    note: NoteResultOut
    case: CaseOut
    model_version: str


class BatchOut(BaseModel):
    results: list[NoteResultOut]
    cases: list[CaseOut] = Field(description="case flags over the notes of this batch only (nothing is stored)")
    model_version: str


class DeletedOut(BaseModel):
    case_id: str
    deleted_notes: int


class SchemaOut(_Open):
    spec_version: str
    input_fields: list[str]
    required_fields: list[str]
    evidence: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    model_version: str
    limits: dict[str, int]


class StatusOut(BaseModel):
    status: str
    model_version: str | None = None


class ErrorOut(BaseModel):
    detail: Any
