"""The MSP evidence specification as code.

This module is the single place where the public codes of ``shared/spec/msp-evidence.md`` are spelled:
the input fields, the 12 evidence labels, the 7 triggers and the 11 flags with their rules.  Everything
else in the package imports these constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

SPEC_VERSION = "msp-evidence/1"

# --- input record ---------------------------------------------------------------------------------

NOTE_ID = "note_id"
TEXT = "text"
CASE_ID = "case_id"
DATE = "date"
NOTE_TYPE = "note_type"
ADULT_NAME = "adult_name"
AUTHOR = "author"
TEAM = "team"

INPUT_FIELDS: tuple[str, ...] = (NOTE_ID, TEXT, CASE_ID, DATE, NOTE_TYPE, ADULT_NAME, AUTHOR, TEAM)
REQUIRED_FIELDS: tuple[str, ...] = (NOTE_ID, TEXT)

# --- evidence labels -------------------------------------------------------------------------------

ADULT_VIEWS = "adult_views"
DESIRED_OUTCOME = "desired_outcome"
COERCION_EXPLORED = "coercion_explored"
CONSENT = "consent"
CAPACITY = "capacity"
ADVOCACY = "advocacy"
RISK_DISCUSSED = "risk_discussed"
INFORMED_OF_ACTIONS = "informed_of_actions"
REFUSAL_EXPLORED = "refusal_explored"
PARTNER_REFERRAL = "partner_referral"
LESS_RESTRICTIVE = "less_restrictive"
OUTCOME_REVIEWED = "outcome_reviewed"

# --- triggers --------------------------------------------------------------------------------------

THIRD_PARTY_HARM = "third_party_harm"
CAPACITY_CONCERN = "capacity_concern"
HELP_DECLINED = "help_declined"
CRIME_ALLEGED = "crime_alleged"
OTHERS_AT_RISK = "others_at_risk"
POSITION_OF_TRUST = "position_of_trust"
COMMUNICATION_NEED = "communication_need"

EVIDENCE_DESCRIPTIONS: dict[str, str] = {
    ADULT_VIEWS: "The adult's own views, wishes, feelings or account (or observed non-verbal response).",
    DESIRED_OUTCOME: "What the adult (or their representative for them) wants to happen as a result.",
    COERCION_EXPLORED: "Adult seen or spoken to alone, or pressure/control/coercion explicitly explored.",
    CONSENT: "Consent sought and the answer recorded, or the reason to proceed without consent.",
    CAPACITY: "Mental capacity for the relevant decision considered, assessed or revisited.",
    ADVOCACY: "Advocate, representative, interpreter or communication support considered, offered or arranged.",
    RISK_DISCUSSED: "Risks talked through with the adult (or representative), or a risk plan agreed with them.",
    INFORMED_OF_ACTIONS: "Adult told what will happen, by whom and why, or invited to / involved in meetings.",
    REFUSAL_EXPLORED: "A refusal of help was explored or followed up rather than accepted at face value.",
    PARTNER_REFERRAL: "Referral or report to, or joint work with, a partner agency.",
    LESS_RESTRICTIVE: "Less restrictive or proportionate options were considered.",
    OUTCOME_REVIEWED: "At review or closure, whether the desired outcomes were achieved and the adult's view of it.",
}

TRIGGER_DESCRIPTIONS: dict[str, str] = {
    THIRD_PARTY_HARM: "Alleged source of harm is a person known to the adult (family, partner, carer, staff ...).",
    CAPACITY_CONCERN: "Dementia, cognitive impairment, confusion, learning disability, brain injury or doubtful capacity.",
    HELP_DECLINED: "The adult declined or refused help, an assessment, a service or the enquiry.",
    CRIME_ALLEGED: "A possible crime: theft, fraud, assault, sexual offence, hate crime, wilful neglect, coercive control.",
    OTHERS_AT_RISK: "Children or other adults may also be at risk.",
    POSITION_OF_TRUST: "Someone in a position of trust (paid carer, nurse, staff, volunteer, professional) is implicated.",
    COMMUNICATION_NEED: "Interpreter needed, limited English, hearing/speech impairment, or non-verbal communication.",
}

EVIDENCE_LABELS: tuple[str, ...] = tuple(EVIDENCE_DESCRIPTIONS)
TRIGGERS: tuple[str, ...] = tuple(TRIGGER_DESCRIPTIONS)
ALL_LABELS: tuple[str, ...] = EVIDENCE_LABELS + TRIGGERS

# --- flags -----------------------------------------------------------------------------------------

VIEWS_MISSING = "views_missing"
OUTCOME_MISSING = "outcome_missing"
COERCION_UNEXPLORED = "coercion_unexplored"
CONSENT_MISSING = "consent_missing"
CAPACITY_UNCONSIDERED = "capacity_unconsidered"
ADVOCACY_UNCONSIDERED = "advocacy_unconsidered"
REFUSAL_UNEXPLORED = "refusal_unexplored"
CRIME_UNREFERRED = "crime_unreferred"
RISKS_UNDISCUSSED = "risks_undiscussed"
ACTIONS_UNCOMMUNICATED = "actions_uncommunicated"
OUTCOME_UNREVIEWED = "outcome_unreviewed"

#: Pseudo-condition used by ``outcome_unreviewed``: the case (or note) is a closing one.
CLOSING = "closing"


@dataclass(frozen=True)
class Flag:
    """One flag of the spec: raised when any trigger of ``when_any`` holds (or always, if empty)
    and the ``missing`` evidence label is absent."""

    code: str
    missing: str
    when_any: tuple[str, ...]
    principle: str
    description: str
    reason: str
    headline: bool = field(default=False)

    def applies(self, present: frozenset[str] | set[str]) -> bool:
        """Whether the flag's check applies given the present triggers (and ``CLOSING``)."""
        return not self.when_any or any(t in present for t in self.when_any)

    def raised(self, present: frozenset[str] | set[str]) -> bool:
        """Whether the flag is raised given everything present (evidence, triggers, ``CLOSING``)."""
        return self.applies(present) and self.missing not in present


FLAGS: tuple[Flag, ...] = (
    Flag(VIEWS_MISSING, ADULT_VIEWS, (), "Person led; empowerment",
         "No adult_views",
         "The adult's own views, wishes or account are not recorded.", headline=True),
    Flag(OUTCOME_MISSING, DESIRED_OUTCOME, (), "Outcome focused",
         "No desired_outcome",
         "No desired outcome of the adult (or their representative for them) is recorded.", headline=True),
    Flag(COERCION_UNEXPLORED, COERCION_EXPLORED, (THIRD_PARTY_HARM,),
         "Seen alone to avoid coercion; protection",
         "third_party_harm and no coercion_explored",
         "The alleged source of harm is someone known to the adult, but there is no record that the adult "
         "was seen alone or that pressure or coercion was explored.", headline=True),
    Flag(CONSENT_MISSING, CONSENT, (), "Consent and safety",
         "No consent",
         "No record that the adult's consent was sought (or why the enquiry proceeded without it)."),
    Flag(CAPACITY_UNCONSIDERED, CAPACITY, (CAPACITY_CONCERN,),
         "Choice and consent, taking account of capacity",
         "capacity_concern and no capacity",
         "There are indications of cognitive impairment or doubtful capacity, but no record that mental "
         "capacity was considered."),
    Flag(ADVOCACY_UNCONSIDERED, ADVOCACY, (CAPACITY_CONCERN, COMMUNICATION_NEED),
         "Advocacy and involvement; statutory advocacy duty",
         "(capacity_concern or communication_need) and no advocacy",
         "The adult may need support to be involved (capacity or communication), but no advocate, "
         "representative, interpreter or communication support is recorded as considered."),
    Flag(REFUSAL_UNEXPLORED, REFUSAL_EXPLORED, (HELP_DECLINED,),
         "Refusal not taken at face value",
         "help_declined and no refusal_explored",
         "The adult declined help, but there is no record that the refusal was explored or followed up."),
    Flag(CRIME_UNREFERRED, PARTNER_REFERRAL, (CRIME_ALLEGED,),
         "Support to report a crime; timely referrals",
         "crime_alleged and no partner_referral",
         "A possible crime is described, but no report or referral to police or another partner agency "
         "is recorded."),
    Flag(RISKS_UNDISCUSSED, RISK_DISCUSSED, (), "Support the adult to understand the risks",
         "No risk_discussed",
         "No record that the risks were talked through with the adult or a safety plan agreed with them."),
    Flag(ACTIONS_UNCOMMUNICATED, INFORMED_OF_ACTIONS, (),
         "The adult knows what action is taken, by whom, why",
         "No informed_of_actions",
         "No record that the adult was told what will happen, by whom and why, or involved in meetings."),
    Flag(OUTCOME_UNREVIEWED, OUTCOME_REVIEWED, (CLOSING,), "Outcome focused; accountability",
         "Closing note and no outcome_reviewed",
         "The enquiry is closing, but there is no record of whether the adult's desired outcomes were "
         "achieved or of their view of it."),
)

FLAG_CODES: tuple[str, ...] = tuple(f.code for f in FLAGS)
FLAGS_BY_CODE: Mapping[str, Flag] = {f.code: f for f in FLAGS}
HEADLINE_FLAGS: tuple[str, ...] = tuple(f.code for f in FLAGS if f.headline)


def raised_flags(present: set[str] | frozenset[str]) -> list[Flag]:
    """The flags raised given the set of present evidence labels, triggers and ``CLOSING``."""
    return [f for f in FLAGS if f.raised(present)]


def check_labels(labels: list[str] | tuple[str, ...], what: str = "labels") -> None:
    """Raise ValueError if ``labels`` is not exactly the spec's label set (used by model loading)."""
    expected = set(ALL_LABELS)
    got = set(labels)
    if got != expected:
        missing = sorted(expected - got)
        extra = sorted(got - expected)
        raise ValueError(
            f"{what} do not match the spec {SPEC_VERSION}: missing {missing or 'none'}, unknown {extra or 'none'}. "
            "This model was built for another label set; retrain it with `msp-nlp train` on data for this spec."
        )


def schema() -> dict:
    """A JSON-able description of the spec for clients (labels, triggers, flags, principles)."""
    return {
        "spec_version": SPEC_VERSION,
        "input_fields": list(INPUT_FIELDS),
        "required_fields": list(REQUIRED_FIELDS),
        "evidence": [{"code": k, "description": v} for k, v in EVIDENCE_DESCRIPTIONS.items()],
        "triggers": [{"code": k, "description": v} for k, v in TRIGGER_DESCRIPTIONS.items()],
        "flags": [
            {"code": f.code, "rule": f.description, "principle": f.principle, "reason": f.reason,
             "missing": f.missing, "applies_when_any": list(f.when_any), "headline": f.headline}
            for f in FLAGS
        ],
    }


