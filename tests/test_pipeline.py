"""Each evidence label and trigger: positive forms and hard negatives (negated, planned, someone else's)."""

import pytest

from msp_nlp import spec as S
from msp_nlp.segment import segment

POSITIVE = {
    S.ADULT_VIEWS: ["Mrs A told me she is frightened of her grandson.",
                    "Mr B said he is happy with his carers.",
                    "She became tearful and said 'I just want him to leave me alone'.",
                    "Appeared relaxed and smiled when her key worker came in.",
                    "Daughter states mum wants to stay at home."],
    S.DESIRED_OUTCOME: ["Her desired outcome is to remain at home.", "Mr C wants the money returned.",
                        "DO: for the visits to stop", "She would like to feel safe."],
    S.COERCION_EXPLORED: ["Spoke to Mrs D alone in her bedroom.", "Son asked to leave the room.",
                          "Explored whether anyone controls her money.",
                          "No indication she is being pressured."],
    S.CONSENT: ["Mrs E consented to a referral.", "She does not want police involved.",
                "Proceeding without consent as other residents are at risk."],
    S.CAPACITY: ["MCA completed: lacks capacity re finances.", "No reason to doubt capacity.",
                 "Capacity fluctuates, will revisit in the morning."],
    S.ADVOCACY: ["Referral to Care Act advocate.", "IMCA instructed.", "BSL interpreter booked.",
                 "Advocacy offered and declined."],
    S.RISK_DISCUSSED: ["Discussed the risks of letting strangers in.", "She understands the risks and accepts them.",
                       "Safety plan agreed with Mr F."],
    S.INFORMED_OF_ACTIONS: ["Explained the s42 process to her.", "Informed Mr G of the outcome.",
                            "Mrs H invited to the strategy meeting."],
    S.REFUSAL_EXPLORED: ["Explored her reasons for declining.", "Agreed to visit again next week to revisit.",
                         "Discussed alternatives after he refused."],
    S.PARTNER_REFERRAL: ["Reported to police, crime ref 1234/26.", "Referral to district nurses.",
                         "GP informed."],
    S.LESS_RESTRICTIVE: ["Considered less restrictive options before a placement.",
                         "Alternatives to a care home were discussed."],
    S.OUTCOME_REVIEWED: ["Outcomes fully achieved, Mrs J feels safe now.", "Desired outcome partially met."],
    S.THIRD_PARTY_HARM: ["Concerns that her son is taking her pension.", "Carer alleged to have slapped him."],
    S.CAPACITY_CONCERN: ["Mrs K has vascular dementia.", "He has a learning disability.",
                         "Appeared confused about the day."],
    S.HELP_DECLINED: ["She declined a package of care.", "Mr L refused the OT assessment."],
    S.CRIME_ALLEGED: ["Possible theft of £2,000 from her account.", "Alleged sexual assault by a resident."],
    S.OTHERS_AT_RISK: ["Two children live in the house.", "Other residents may be at risk."],
    S.POSITION_OF_TRUST: ["Night carer alleged to have hit her.", "Staff member suspended pending enquiry."],
    S.COMMUNICATION_NEED: ["Mrs M speaks little English.", "He is deaf and uses BSL.",
                           "She is non-verbal."],
}

NEGATIVE = {
    S.ADULT_VIEWS: ["Views not obtained.", "Views of adult: not obtained", "SW to ask Mr X what he wants next visit.",
                    "Daughter wants mum moved to a home.", "Reported to police.", "I felt she was safe."],
    S.DESIRED_OUTCOME: ["Desired outcome: N/A", "SW to seek her desired outcome next week.",
                        "Son said he would like her to go into care.", "Daughter wants mum moved to a home."],
    S.COERCION_EXPLORED: ["Not seen alone as daughter present throughout.", "SW to see Mrs T alone next week.",
                          "Needs to be seen alone."],
    S.CONSENT: ["If she consents we will refer.", "Consent: to follow", "No consent sought."],
    S.CAPACITY: ["Plan: MCA to be completed.", "Capacity not assessed.", "SW to complete MCA re tenancy."],
    S.ADVOCACY: ["Will refer to advocacy if she wishes.", "No advocate involved.",
                 "Should she wish, an advocate can be arranged."],
    S.RISK_DISCUSSED: ["Risks not discussed with Mrs P.", "SW to discuss risks at next visit."],
    S.INFORMED_OF_ACTIONS: ["Mrs H not informed of the outcome.", "Datix completed, agency informed."],
    S.REFUSAL_EXPLORED: ["Reasons for declining not explored."],
    S.PARTNER_REFERRAL: ["Will refer to police if she agrees.", "Not reported to police."],
    S.LESS_RESTRICTIVE: ["Less restrictive options not considered."],
    S.OUTCOME_REVIEWED: ["Outcomes not reviewed.", "Outcome review to be completed at the next visit."],
    S.THIRD_PARTY_HARM: ["Self-neglect only, no concerns about family."],
    S.CAPACITY_CONCERN: ["No concerns re capacity."],
    S.OTHERS_AT_RISK: ["No children in the household."],
    S.COMMUNICATION_NEED: ["No interpreter needed."],
}


def test_discounted_mentions_have_reasons(analyzer):
    a = analyzer.analyse("Views of adult: not obtained.\nDaughter wants mum moved to a home.\n"
                         "SW to ask Mr X what he wants next visit.")
    reasons = {(d["label"], d["reason"]) for d in a.discounted}
    assert (S.ADULT_VIEWS, "empty_heading") in reasons
    assert (S.ADULT_VIEWS, "other_person") in reasons
    assert (S.ADULT_VIEWS, "hypothetical") in reasons
    assert not a.evidence


def test_heading_section_content_counts(analyzer):
    a = analyzer.analyse("Desired outcome:\nto stay at home with more help\n\nPlan: review in 4 weeks")
    ev = [f for f in a.evidence if f.label == S.DESIRED_OUTCOME]
    assert ev and ev[0].text == "to stay at home with more help"


def test_relative_heading_is_not_adult_view(labels_of):
    assert S.ADULT_VIEWS not in labels_of("Daughter's views: feels mum is not coping and wants a care home.")


def test_adult_name_helps_attribute_views(labels_of):
    text = "Son present. Edna said she wants to stay at home."
    assert S.ADULT_VIEWS in labels_of(text, adult_name="Mrs Edna Holt;Edna")


def test_offsets_point_at_sentence(analyzer):
    text = "Visit made.\nMrs A told me she is frightened of her grandson. Nothing else."
    a = analyzer.analyse(text)
    f = next(f for f in a.evidence if f.label == S.ADULT_VIEWS)
    assert text[f.start:f.end] == f.text == "Mrs A told me she is frightened of her grandson."
    assert f.start <= f.cue_start < f.cue_end <= f.end
    assert 0 < f.score <= 1


def test_closing_from_type_or_text(analyzer):
    assert analyzer.analyse("All actions complete.", note_type="Closure summary").closing
    assert analyzer.analyse("NFA, case closed.").closing
    assert not analyzer.analyse("Case remains open.", note_type="S42 enquiry visit").closing


@pytest.mark.parametrize("text,expected", [
    ("Mrs. Smith said she is scared. She wants him to leave.",
     ["Mrs. Smith said she is scared.", "She wants him to leave."]),
    ("S.42 enquiry opened c/o DN. Seen at home.", ["S.42 enquiry opened c/o DN.", "Seen at home."]),
    ("Views of adult:\n- wants to stay home\n* scared of son", ["Views of adult:", "wants to stay home", "scared of son"]),
    ("e.g. her son. Dr. Patel informed", ["e.g. her son.", "Dr. Patel informed"]),
    ("Joan has Alzheimer's. Daughter visits.", ["Joan has Alzheimer's.", "Daughter visits."]),
    ("tc from dtr. no concerns. nfa", ["tc from dtr.", "no concerns.", "nfa"]),
])
def test_segmentation(text, expected):
    assert [text[s.start:s.end] for s in segment(text)] == expected


@pytest.mark.parametrize("text,adult_name,counts", [
    ("Geoff wants her to stay home.", "Mrs Pam Hale;Pam", False),  # her husband's wish
    ("Lisa says it was an accident and wants it left.", "Mrs Pam Hale;Pam", False),
    ("Gary again said he wants mum in a home.", "Mrs Pam Hale;Pam", False),
    ("Pam wants to stay at home.", "Mrs Pam Hale;Pam", True),  # her own name
    ("Hale said she wants to stay at home.", "Mrs Pam Hale;Pam", True),
    ("Lisa says mum wants to stay at home.", "Mrs Pam Hale;Pam", True),  # her wish, passed on
    ("Victim states she wants to stay at home.", "Mrs Pam Hale;Pam", True),  # words for the adult are not names
    ("Pt says she wants to stay at home.", "Mrs Pam Hale;Pam", True),
    ("Later said she wants to stay at home.", "Mrs Pam Hale;Pam", True),
    ("Geoff wants to stay at home.", None, True),  # no names given: who Geoff is cannot be told
])
def test_someone_else_named_speaking_is_not_the_adult(labels_of, text, adult_name, counts):
    assert (S.ADULT_VIEWS in labels_of(text, adult_name=adult_name)) is counts


def test_segment_headings():
    segs = segment("Views of adult:\nwants to stay\n\nPlan: review")
    assert [s.heading for s in segs] == ["views of adult", "views of adult", "plan"]


def test_a_time_in_a_sentence_is_not_a_heading(labels_of):
    text = "Attended 21:40 with police, Mrs A seen alone.\n14:05 Rang police.\nVisit 2: seen at home\nTel: 0123 456"
    assert [(s.heading, s.heading_end is not None) for s in segment(text)] == [
        (None, False), (None, False), ("visit 2", True), ("tel", True)]
    # the words before the time are read, not skipped as a heading
    assert S.PARTNER_REFERRAL in labels_of("Reported to police 21:40 by the SW.")


def test_spacy_components_write_span_groups(analyzer):
    doc = analyzer.nlp(analyzer.make_doc("Spoke to Mrs D alone. Views of adult: not obtained"))
    assert [s.label_ for s in doc.spans["msp_evidence"]] == [S.COERCION_EXPLORED]
    assert len(doc.spans["msp_evidence"].attrs["scores"]) == 1
    assert doc.spans["msp_discounted"].attrs["reasons"] == ["empty_heading"]
    assert [s.text for s in doc.sents] == ["Spoke to Mrs D alone.", "Views of adult: not obtained"]
    assert analyzer.nlp.pipe_names == ["msp_sentences", "msp_detector", "msp_context"]


def test_every_label_has_rules():
    from msp_nlp.rules import RAW
    assert set(RAW) == set(S.ALL_LABELS)


def test_dispatcher_finds_exactly_what_plain_regex_finds():
    """The prefix dispatcher is an optimisation only: same matches as running every pattern over the text."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from msp_nlp.rules import Dispatcher, compile_patterns
    pats = compile_patterns()
    d = Dispatcher(pats)
    words = ["she", "said", "don't", "want", "to", "go", "home", "i", "explained", "the", "s42", "process", "son",
             "took", "her", "money", "seen", "alone", "mca", "no", "reason", "to", "doubt", "capacity", "'",
             "\"i am scared\"", "dn", "informed", "gp", ".", ",", "\n", "-", "c/o", "outcomes", "partially", "met",
             "would", "like", "desired", "outcome:", "carer", "hit", "him", "declined", "interpreter", "deaf",
             "£400", "stolen", "seen alone: yes", "- achieved", "left mca stroke", "2 other residents",
             "present: pc lee, dn ford", "attendees:", "(", "s44", "rather than a deputyship"]

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(words), max_size=40))
    def check(ws):
        text = " ".join(ws)
        plain = sorted((p.label, p.name, m.start(), m.end()) for p in pats for m in p.regex.finditer(text)
                       if m.end() > m.start())
        fast = sorted((p.label, p.name, m.start(), m.end()) for p, m in d.finditer(text))
        assert plain == fast
    check()


# Phrasings added with the train-split rule review (synonyms, form lines, headings that carry the practice, and the
# context fixes: tried-but-failed, declined-to, form-line negation, offence/anatomy uses of "MCA").
POSITIVE_MORE = {
    S.REFUSAL_EXPLORED: ["Asked him what puts him off having carers.",
                         "Agreed I will ring her on Friday to talk about it again.",
                         "Offered a lunch club instead and he said he would think about it."],
    S.LESS_RESTRICTIVE: ["Options considered: care home; home with a night sitter and telecare.",
                         "Council appointee rather than a deputyship.",
                         "A move was considered but ruled out as it would unsettle her."],
    S.OUTCOME_REVIEWED: ["Stay at home - achieved.", "Her outcomes have been met."],
    S.INFORMED_OF_ACTIONS: ["Explained what happens next: I will speak to the police this week.",
                            "Told Mrs A that I would update her after the strategy meeting."],
    S.RISK_DISCUSSED: ["Risks talked through with her: falls, fire and isolation.",
                       "Talked about what to do if he comes back - ring 999."],
    S.COERCION_EXPLORED: ["Seen alone: Yes", "No family present during the visit.",
                          "Asked her whether she feels she can say no to her son."],
    S.CAPACITY: ["Capacity re where to live: has capacity, understood the options."],
    S.PARTNER_REFERRAL: ["Present: SW (chair), DC Khan (police), GP, Mrs A.", "GP appointment booked for Friday."],
    S.OTHERS_AT_RISK: ["The same carer visits three other clients.", "Another resident has made a similar complaint."],
    S.HELP_DECLINED: ["He does not want to make a statement.", "She still says no to the referral."],
    S.COMMUNICATION_NEED: ["He uses eye-gaze to answer yes or no.", "Dysarthria since his stroke."],
    S.POSITION_OF_TRUST: ["Concern re rough handling by night staff."],
    S.THIRD_PARTY_HARM: ["She said he pushed her against the wall.", "Concern re cuckooing at the flat."],
    S.CRIME_ALLEGED: ["£400 has gone missing from her purse."],
}

# Phrasings added with the review of the rebuilt gold (GUIDELINES §4.10, §5 and the §6 decisions): police process and
# first response, partner agencies acting on the case, refusing police / a statement / the enquiry, closing the case
# as her answer, "has my number", communication through an aid, an interpreter used.
POSITIVE_LATEST = {
    S.PARTNER_REFERRAL: ["Crime recorded as theft, ref 31/XK/5521.", "Officers attended 22:10 after a 999 call.",
                         "Mr Frost was charged with fraud on Tuesday.", "Statement taken from Mrs Quill at her flat.",
                         "Paramedics attended and checked her over.", "The bank has frozen the account.",
                         "CQC inspected the home last week.", "File passed to the CPS for a charging decision.",
                         "Heat alarms fitted in the kitchen and hall."],
    S.CRIME_ALLEGED: ["Her nephew was interviewed under caution.", "She gave a video-recorded statement.",
                      "He keeps her bank card and gives her £10 a week.",
                      "She said her husband checks her phone every night.",
                      "He sulked for days when she went to choir."],
    S.HELP_DECLINED: ["She would not give a statement to the officer.", "Asked again about the police - no police.",
                      "He agreed to the GP being told but not to police.", "Victim does not support a prosecution."],
    S.CONSENT: ["Mrs Dunn wants the case closed.", "She declined to make a statement.",
                "Happy for the case to close.", "District nurse informed with his agreement.",
                "Not consenting to an NRM referral at present.", "Proceeding in her best interests."],
    S.INFORMED_OF_ACTIONS: ["She has the duty number and knows to ring us if he returns.",
                            "Reminded him he can ring me at any time.", "Agreed to the enquiry closing."],
    S.COMMUNICATION_NEED: ["He typed his answers on the tablet.", "Her speech is now very limited.",
                           "No Arabic interpreter was available tonight.", "She pointed to 'home' in her book."],
}
POSITIVE_MORE = {k: POSITIVE_MORE.get(k, []) + POSITIVE_LATEST.get(k, []) for k in {*POSITIVE_MORE, *POSITIVE_LATEST}}

NEGATIVE_MORE = {
    S.CAPACITY: ["Capacity - not assessed.", "Police considering ill-treatment (s44 MCA).",
                 "Capacity re finances to be reviewed in 6 months.", "Right-sided weakness after a left MCA stroke.",
                 "Capacity concerns: very forgetful, lost her keys twice."],
    S.COERCION_EXPLORED: ["Tried to speak to her alone but her son stayed in the room.",
                          "He declined to be seen on his own."],
    S.COMMUNICATION_NEED: ["Registered blind."],
    S.REFUSAL_EXPLORED: ["She asked why nobody had told her about the tablets.", "Police trial date set for March."],
    S.OTHERS_AT_RISK: ["She said the nurse made her feel like a child."],
    S.OUTCOME_REVIEWED: ["S42 criteria not met.", "Outcome: allocate to locality team."],
    S.DESIRED_OUTCOME: ["Outcome: allocate to locality team."],
    S.RISK_DISCUSSED: ["Risks not discussed with him."],
    S.ADULT_VIEWS: ["The plan was to ask Mrs A what she wants."],
}

NEGATIVE_LATEST = {
    S.PARTNER_REFERRAL: ["She doesn't want her grandson arrested.", "Police not informed at her request.",
                         "Keeps her mobile charged by the bed.", "PPN to ASC from the night shift.",
                         "She knows to ring 999 if he comes back."],
    S.CRIME_ALLEGED: ["He doesn't want his son charged.", "Keep the phone charged."],
    S.HELP_DECLINED: ["She said no, he has never hurt her.", "I explained I am not police.",
                      "She does not want to move house."],
    S.CONSENT: ["Daughter came at her request.", "She asked for time to think about a statement."],
    S.COMMUNICATION_NEED: ["I typed up the notes after the visit.", "Speaks fluent English, no interpreter needed."],
}
NEGATIVE_MORE = {k: NEGATIVE_MORE.get(k, []) + NEGATIVE_LATEST.get(k, []) for k in {*NEGATIVE_MORE, *NEGATIVE_LATEST}}

# Phrasings of the round-4 decisions (GUIDELINES §6, "decided in round 4"): every sentence with an interpreter or aid
# used for her exchange, communication support and representatives, planned or passing police process, police NFA /
# DBS / Victim Support / children's services / paramedics as partner work, a carer suspended or taken off the rota,
# "has my number" lines; with their hard negatives (a later interpreter, "no interpreter needed", a relative's LPA
# told, ASC's own NFA, a suspended sentence, safety advice to lock the door).
POSITIVE_ROUND4 = {
    S.COMMUNICATION_NEED: ["Through the interpreter: she said her nephew keeps her pension card.",
                           "Mr Okoro answered each question with a thumbs up or thumbs down.",
                           "She spelled out 'NOT SAFE' on her letter board.",
                           "Explained the safeguarding process in Tigrinya, with a volunteer helping.",
                           "Interpreter needed (Farsi) - do not use the husband.",
                           "He pointed to the picture of the kitchen when asked where it happened."],
    S.ADVOCACY: ["Through the interpreter: she said her nephew keeps her pension card.",
                 "Used an easy-read leaflet to explain the enquiry.",
                 "I wrote the key points down for her on a notepad.",
                 "Considered an IMCA - not required as her sister is an appropriate person.",
                 "Her son consented on her behalf as she lacks capacity for this decision.",
                 "She could not follow the options, even with pictures and short questions."],
    S.PARTNER_REFERRAL: ["Police: NFA, insufficient evidence.", "The agency has made a DBS barring referral.",
                         "Victim Support have been in touch with him twice.",
                         "Children's social worker visited the grandchildren on Monday.",
                         "Paramedics checked her over and left her at home.",
                         "Attended 22:15 following a call from the neighbour.",
                         "IDVA (Safer Lives) continues to support her weekly."],
    S.CRIME_ALLEGED: ["Police will interview her grandson under caution next week.",
                      "She is anxious about what happens when his bail ends.",
                      "A CPS charging decision on the theft is still awaited.",
                      "Her nephew has been using her bank card for his own shopping.",
                      "He said he'd kill her if she told anyone.",
                      "Repositioning charts blank for most of the last fortnight."],
    S.THIRD_PARTY_HARM: ["The night carer was suspended pending investigation.",
                         "The agency has taken the worker off her rota.",
                         "Her grandson was interviewed under caution on Friday.",
                         "Her nephew has been using her bank card for his own shopping."],
    S.POSITION_OF_TRUST: ["The night carer was suspended pending investigation.",
                          "Bank nurse moved to another ward pending the outcome.",
                          "Provider dismissed the support worker and referred him to the DBS."],
    S.INFORMED_OF_ACTIONS: ["She has my mobile number and the duty number.",
                            "Told Mr Ansah I'll ring him on Friday with the outcome.",
                            "Mrs Webb agreed to the s42 closing.",
                            "Explained that she can stop the conversation at any time."],
}
POSITIVE_MORE = {k: POSITIVE_MORE.get(k, []) + POSITIVE_ROUND4.get(k, []) for k in {*POSITIVE_MORE, *POSITIVE_ROUND4}}

NEGATIVE_ROUND4 = {
    S.COMMUNICATION_NEED: ["I'll come back with the same interpreter next week.",
                           "Interpreter not needed as she is fluent in English.",
                           "The Deaf club raised the concern.", "Typed my notes up back at the office."],
    S.ADVOCACY: ["Will come back with an interpreter on Tuesday.", "Son (LPA health and welfare) informed by phone.",
                 "The deputy manager sat in on the visit.", "Mrs Adeyemi uses a communication book."],
    S.PARTNER_REFERRAL: ["NFA for ASC, case closed.", "Will refer to Victim Support if she agrees.",
                         "Mrs Doyle turned down the offer of an IDVA."],
    S.CRIME_ALLEGED: ["She does not want her grandson arrested.", "Advised her to lock the door at night.",
                      "She showed me her bank statement for March."],
    S.THIRD_PARTY_HARM: ["The care package was suspended while she was in hospital.",
                         "I was struck by how isolated she is.", "She doesn't want him arrested."],
    S.POSITION_OF_TRUST: ["He received a suspended sentence in 2019.",
                          "Mr Hale was moved to another home nearer his family."],
    S.INFORMED_OF_ACTIONS: ["She told me that her son takes her pension.", "Closure letter will be sent next week."],
}
NEGATIVE_MORE = {k: NEGATIVE_MORE.get(k, []) + NEGATIVE_ROUND4.get(k, []) for k in {*NEGATIVE_MORE, *NEGATIVE_ROUND4}}


@pytest.mark.parametrize("label,text", [(k, t) for d in (POSITIVE, POSITIVE_MORE) for k, ts in d.items() for t in ts])
def test_positive(labels_of, label, text):
    assert label in labels_of(text), f"{label} not found in {text!r}"


@pytest.mark.parametrize("label,text", [(k, t) for d in (NEGATIVE, NEGATIVE_MORE) for k, ts in d.items() for t in ts])
def test_hard_negative(labels_of, label, text):
    assert label not in labels_of(text), f"{label} wrongly found in {text!r}"


def test_the_batch_path_gives_what_single_notes_give(analyzer):
    """``analyse_many`` skips spaCy objects nobody reads (sentence starts, span groups): same plain results."""
    items = [("Spoke to Mrs D alone. She said she wants to stay at home.\nViews of son: wants her in a home.",
              "S42 visit", "Mrs D;Doris"),
             ("Police informed, crime ref 123. Case closed, outcomes met: she is happy.", "Closure", None),
             ("", None, None)]
    assert list(analyzer.analyse_many(items)) == [analyzer.analyse(t, nt, an) for t, nt, an in items]
    doc = analyzer.nlp(analyzer.make_doc(items[0][0], items[0][2]))
    assert len(list(doc.sents)) == 3 and len(doc.spans["msp_evidence"]) > 0  # a doc from nlp() still has them


@pytest.mark.parametrize("text,adult_name,label,counts", [
    ("She wants him out of the house.", "Mr Ian Lee;Ian", S.DESIRED_OUTCOME, False),  # she is not Mr Lee
    ("She said he wants to go home.", "Mr Ian Lee;Ian", S.DESIRED_OUTCOME, True),  # his wish, passed on
    ("He wants to go home.", "Mr Ian Lee;Ian", S.DESIRED_OUTCOME, True),
    ("He wants her to move into a care home.", "Mrs Pam Hale;Pam", S.DESIRED_OUTCOME, False),
    ("He wants to go home.", "Sam Lee;Sam", S.DESIRED_OUTCOME, True),  # no title: the pronoun is not used
])
def test_a_pronoun_of_the_other_gender_than_the_adults_title_is_someone_else(labels_of, text, adult_name, label,
                                                                               counts):
    assert (label in labels_of(text, adult_name=adult_name)) is counts


def test_the_name_pam_is_not_the_acronym_pam(labels_of):
    assert S.THIRD_PARTY_HARM not in labels_of("Pam wants to stay at home.", adult_name="Mrs Pam Hale;Pam")
    assert S.THIRD_PARTY_HARM in labels_of("PAM is her son, who manages her money.")
