"""Flag rules, their applicability, reasons, and case aggregation."""

import pytest

from msp_nlp import spec as S
from msp_nlp.flags import NoteFindings, case_result, note_flags


def codes(flags):
    return {f["code"] for f in flags}


def test_spec_codes_are_exact():
    assert S.EVIDENCE_LABELS == ("adult_views", "desired_outcome", "coercion_explored", "consent", "capacity",
                                 "advocacy", "risk_discussed", "informed_of_actions", "refusal_explored",
                                 "partner_referral", "less_restrictive", "outcome_reviewed")
    assert S.TRIGGERS == ("third_party_harm", "capacity_concern", "help_declined", "crime_alleged",
                          "others_at_risk", "position_of_trust", "communication_need")
    assert S.FLAG_CODES == ("views_missing", "outcome_missing", "coercion_unexplored", "consent_missing",
                            "capacity_unconsidered", "advocacy_unconsidered", "refusal_unexplored",
                            "crime_unreferred", "risks_undiscussed", "actions_uncommunicated", "outcome_unreviewed")
    assert S.HEADLINE_FLAGS == ("views_missing", "outcome_missing", "coercion_unexplored")


@pytest.mark.parametrize("present,raised,not_raised", [
    (set(), {"views_missing", "outcome_missing", "consent_missing", "risks_undiscussed", "actions_uncommunicated"},
     {"coercion_unexplored", "capacity_unconsidered", "advocacy_unconsidered", "refusal_unexplored",
      "crime_unreferred", "outcome_unreviewed"}),
    ({"third_party_harm"}, {"coercion_unexplored"}, set()),
    ({"third_party_harm", "coercion_explored"}, set(), {"coercion_unexplored"}),
    ({"capacity_concern"}, {"capacity_unconsidered", "advocacy_unconsidered"}, set()),
    ({"capacity_concern", "capacity", "advocacy"}, set(), {"capacity_unconsidered", "advocacy_unconsidered"}),
    ({"communication_need"}, {"advocacy_unconsidered"}, {"capacity_unconsidered"}),
    ({"help_declined"}, {"refusal_unexplored"}, set()),
    ({"help_declined", "refusal_explored"}, set(), {"refusal_unexplored"}),
    ({"crime_alleged"}, {"crime_unreferred"}, set()),
    ({"crime_alleged", "partner_referral"}, set(), {"crime_unreferred"}),
    ({"closing"}, {"outcome_unreviewed"}, set()),
    ({"closing", "outcome_reviewed"}, set(), {"outcome_unreviewed"}),
    (set(S.EVIDENCE_LABELS) | set(S.TRIGGERS) | {"closing"}, set(), set(S.FLAG_CODES)),
])
def test_flag_rules(present, raised, not_raised):
    got = {f.code for f in S.raised_flags(present)}
    assert raised <= got
    assert not (not_raised & got)


def test_note_flags_from_text(analyzer):
    a = analyzer.analyse("Concerns that her son is taking her pension. Mrs A told me she is scared of him.")
    fl = note_flags(a)
    assert "coercion_unexplored" in codes(fl) and "views_missing" not in codes(fl)
    coercion = next(f for f in fl if f["code"] == "coercion_unexplored")
    assert "third_party_harm" in coercion["reason"]
    assert coercion["triggers"] and coercion["triggers"][0]["label"] == "third_party_harm"


def test_reason_mentions_discounted_mentions(analyzer):
    fl = note_flags(analyzer.analyse("Views of adult: not obtained."))
    views = next(f for f in fl if f["code"] == "views_missing")
    assert "empty_heading" in views["reason"]


def test_case_flag_clears_when_a_later_note_has_the_evidence(analyzer):
    n1 = NoteFindings("n1", analyzer.analyse("Concern: grandson alleged to be taking her money."), "2026-01-01", 0)
    n2 = NoteFindings("n2", analyzer.analyse("Spoke to Mrs B alone. She said she wants the money back."),
                      "2026-01-05", 1)
    assert "coercion_unexplored" in codes(note_flags(n1.analysis))
    case = case_result("C1", [n1])
    assert "coercion_unexplored" in codes(case.flags)
    case = case_result("C1", [n2, n1])
    assert "coercion_unexplored" not in codes(case.flags)
    assert "views_missing" not in codes(case.flags)
    assert case.note_ids == ["n1", "n2"]  # date order
    assert "third_party_harm" in case.triggers and "coercion_explored" in case.evidence


def test_case_flag_names_the_notes_behind_it(analyzer):
    n1 = NoteFindings("n1", analyzer.analyse("Visit made."), None, 0)
    n2 = NoteFindings("n2", analyzer.analyse("She declined carers."), None, 1)
    case = case_result("C2", [n1, n2])
    refusal = next(f for f in case.flags if f["code"] == "refusal_unexplored")
    assert refusal["evidence_note_ids"] == ["n2"]
    assert refusal["triggers"][0]["note_id"] == "n2"


def test_outcome_unreviewed_only_for_closed_cases(analyzer):
    open_case = case_result("C3", [NoteFindings("a", analyzer.analyse("Visit made."))])
    assert "outcome_unreviewed" not in codes(open_case.flags)
    closed = case_result("C4", [NoteFindings("a", analyzer.analyse("Visit made.")),
                                NoteFindings("b", analyzer.analyse("NFA, case closed."), order=1)])
    assert closed.closing and "outcome_unreviewed" in codes(closed.flags)
    reviewed = case_result("C5", [NoteFindings("a", analyzer.analyse(
        "Closure: outcomes partially achieved, Mrs J feels safer. Case closed."))])
    assert "outcome_unreviewed" not in codes(reviewed.flags)


def test_check_labels_refuses_other_label_sets():
    S.check_labels(list(S.ALL_LABELS))
    with pytest.raises(ValueError, match="unknown"):
        S.check_labels(list(S.ALL_LABELS) + ["views_of_family"])
    with pytest.raises(ValueError, match="missing"):
        S.check_labels(list(S.ALL_LABELS)[1:])


def test_schema_lists_everything():
    sch = S.schema()
    assert [f["code"] for f in sch["flags"]] == list(S.FLAG_CODES)
    assert all(f["principle"] for f in sch["flags"])
    assert len(sch["evidence"]) == 12 and len(sch["triggers"]) == 7
