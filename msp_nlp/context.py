"""A ConText-style context component for MSP evidence.

ConText (Harkema et al., 2009) decides whether a finding is negated, hypothetical or experienced by someone other
than the patient from *modifier* cues and their scope in the sentence.  We implement the same idea with our own
rule set because (1) medspaCy's ConText pins spaCy < 3.8 on Python 3.11, (2) its default rules are clinical
("declined" negates what follows, a relative's name makes the finding "family") and wrong for case notes, where
"she declined police involvement" *is* consent evidence and "daughter said mum wants to stay home" *is* the adult's
view, and (3) its spans do not survive ``nlp.pipe(n_process=...)``; our results are plain data.

Modifiers (all within the cue's sentence, stopping at a clause terminator):

* ``negated``      - a negation before the cue ("not seen alone") or after it ("views not obtained");
* ``hypothetical`` - planned, conditional or recommended ("SW to ask", "if she agrees", "at the next visit"),
  and cues in a ``Plan:`` / ``Next steps:`` section unless the sentence reports a done action;
* ``other_person`` - for person-centred labels, the nearest person before the cue is someone other than the adult
  ("daughter wants mum moved"), including sections headed by someone else's view ("Daughter's views:");
* ``practitioner`` - the nearest person is the writer ("I felt she was safe");
* ``empty_heading`` - a heading such as "Views of adult:" whose content is "not obtained", "N/A" or blank.
"""

from __future__ import annotations

import bisect
import re

from . import rules as R
from . import spec as S

# Which labels each modifier can discount.
PERSON_CENTRED = frozenset({S.ADULT_VIEWS, S.DESIRED_OUTCOME, S.CONSENT})
#: Pattern names whose cue is itself a future follow-up (the brief counts "agreed to visit again next week"), or
#: whose planned form still asserts the trigger (a planned police step: the offence is alleged now, §6 round 4).
FUTURE_OK = frozenset({(S.REFUSAL_EXPLORED, "followup"), (S.CRIME_ALLEGED, "process"),
                       (S.CRIME_ALLEGED, "process_lb")})
#: Cues that name whose consent it is ("GP informed with her consent"): the nearest person before them is the one
#: informed or referred, not the one consenting, so the experiencer check does not apply.
OWN_CONSENT = frozenset({(S.CONSENT, "with_consent")})

_TERMINATOR = re.compile(
    r"[,;:()]|\s-\s|\b" + R.alternation(
        r"but|however|although|though|whereas|except|because|as|since|so|which|who|whilst|while|"
        r"then|and (?:she|he|they|i|we|sw|mrs|mr|ms)|after|before|when|until") + r"\b")

_NEG_PRE = re.compile(r"\b" + R.alternation(
    r"not|no|nil|never|without|unable to|could not|couldn't|can't|cannot|did not|didn't|has not|hasn't|"
    r"have not|haven't|was not|wasn't|were not|weren't|no evidence (?:of|that)|no record (?:of|that)|failed to|"
    r"yet to|lack of|absence of|neither|nor|no one|nobody|too (?:unwell|confused|distressed) to") + r"\b")
_NEG_POST = re.compile(
    r"^\W{0,3}(?:\w+\W+){0,3}?(?:(?:was|were|has|have|had)\s+)?(?:not|n't|never)\s+(?:been\s+)?"
    r"(?:obtained|recorded|done|completed|sought|asked|explored|discussed|possible|assessed|considered|gathered|"
    r"established|known|seen|offered|arranged|made|given|clear|ascertained|undertaken|carried out|happened|"
    r"able|available|present|requested)\b"
    r"|^\W{0,3}(?:n/a|unknown|none|nil)\b",
    )
_HYPO_PRE = re.compile(r"\b" + R.alternation(
    r"if|should (?:she|he|they|mrs|mr|ms|the)|unless|in case|would need|needs? to|need to be|to be|will|shall|"
    r"'ll|plan(?:s|ned)? to|planning to|intend\w* to|aim(?:s)? to|going to|sw to|worker to|i to|we to|team to|"
    r"duty to|ooh to|dn to|gp to|staff to|nurse to|practitioner to|tbc|may|might|"
    r"could (?:be )?(?:offer|consider|arrang|refer|explor|ask|discuss)\w*|"
    r"consider(?:ing)? (?:a |an )?referral|"
    r"recommend\w*|await\w*|requested|pending|next (?:visit|week|time)|in future|ought to|must|hope to|"
    r"would be (?:helpful|useful|good|beneficial)|try to|attempt to|offer to|able to offer|"
    r"can be|would be|plan was to|plan is to") + r"\b")
_HYPO_POST = re.compile(
    r"^\W{0,3}(?:\w+\W+){0,6}?(?:next (?:visit|week|time|month)|at (?:the |a )?(?:later|future) date|"
    r"to be (?:arranged|completed|confirmed|booked|done|sought|made|undertaken|explored|considered|discussed|offered)|"
    r"to follow|tbc|is planned|are planned|planned for|when (?:able|possible|she is|he is)|in due course|"
    r"if (?:she|he|they) (?:agrees?|consents?|wishes|wants|is willing)|if needed|if required|if appropriate|"
    r"once (?:she|he|they)|is required|are required|needed|outstanding)\b",
    )
_DONE = re.compile(r"\b" + R.alternation(
    r"done|completed|made|sent|spoke|spoken|discussed|agreed|informed|explained|booked|"
    r"referred|reported|attended|visited|saw|seen|obtained|consented|said|told|stated|confirmed") + r"\b")

_ADULT_REF = re.compile(r"\b" + R.alternation(
    r"she|he|they|mrs\.? [a-z'-]+|mr\.? [a-z'-]+|ms\.? [a-z'-]+|miss [a-z'-]+|mx\.? [a-z'-]+|pt|patient|"
    r"the adult|adult at risk|client|service user|resident|mum|mother|dad|father|nan|gran|grandma|grandad|"
    r"the person") + r"\b")
_OTHER_REF = re.compile(r"\b" + R.alternation(
    R.REL_ALTS + r"|family|manager|home manager|gp|doctor|dr|consultant|police|officers?|pc|referrer|"
    r"provider|the home|ward|staff|professionals?|housing officer|landlord|ot|dn|neighbours?") + r"s?\b")
_PRACTITIONER_REF = re.compile(r"\b" + R.alternation(
    r"i|we|sw|worker|writer|social worker|duty worker|practitioner|myself|the team|undersigned") + r"\b")
_PRONOUN = re.compile(r"^(?:she|he|they)$")
# A capitalised name speaking or wishing ("Geoff wants her to stay home", "Lisa says ..."): when the note gives the
# adult's names, a name that is not one of them is someone else. Matched on the original (cased) sentence.
_NAME_SPEAKS = re.compile(
    r"(?<![\w'])([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\s+(?:(?:again|also|then|now|later|initially|still|clearly|has|had|"
    r"is|was)\s+)?(?:said|says|states|stated|feels|felt|wants|wanted|would like|thinks|thought|believes|reports|"
    r"reported|explained|asked|asking|denies|denied|admitted|told|confirmed|insists|insisted|worries|is worried|"
    r"wishes|is keen|was keen)\b")
# Capitalised words before such verbs that are not someone else's name: pronouns, words for the adult, fragments.
_NOT_A_NAME = frozenset("""she he they we you i it her his their this that who which what when then also not
    pt patient client adult victim resident lady gentleman man woman person user considered keeps later today
    initially again still now yesterday previously recently subsequently apparently reportedly allegedly""".split())
_SPEAKER_VERB = re.compile(r"^\W*(?:\w+\W+){0,2}?(?:said|says|states|stated|told|tells|reports|reported|feels|felt|"
                           r"wants|wanted|would like|believes|thinks|asked|requested|explained|expressed|is keen|"
                           r"was keen|wishes|informed)\b")


_QUOTED = re.compile(r"[\"\u201c][^\"\u201d]*[\"\u201d]?")
_CONDITIONAL_SENTENCE = re.compile(r"^\W*(?:if|should (?:she|he|they|mrs|mr|ms)|unless|in the event|once|where (?:she|he|they) (?:agrees?|consents?|wishes))\b",
                                   )
# Speech verbs that are mostly the practitioner's own in fragments ("Explained next steps", "Reported to police"):
# they need an explicit adult subject to count as the adult's view.
_NEEDS_SUBJECT = re.compile(r"^(?:explained|confirmed|agreed|reported|reports|informed|advised|discussed|"
                            r"mentioned|shared|responded|answered|replied|indicated|described)$")
_COORD = re.compile(r"\band\b")
_EVIDENCE = frozenset(S.EVIDENCE_LABELS)
_DECLINED_TO = re.compile(r"\b(?:declined|refused) to\b")
_HYPO_POST_EV = re.compile(r"^\W{0,3}(?:\w+\W+){0,6}?(?:to be (?:assessed|reviewed|revisited)|needs? (?:\w+ )?assess\w*|"
                           r"needs? to be (?:done|assessed|completed))\b")
_FORM_NEG = re.compile(r"\s*(?:-|:|\u2013)\s*(?:not (?:\w+ )?(?:assessed|known|done|discussed|obtained|sought|considered|"
                       r"explored|completed|possible|asked|recorded|required)\b|n/a\b|nil\b|unknown\b|tbc\b|to be \w+)")
# "doesn't want him arrested", "risk of being arrested himself": a wish or risk about police action, not police action.
_WANTED_ACTION = re.compile(r"^(?:arrest|charg|prosecut)")
_WANT_BEFORE = re.compile(r"\b(?:wants?|wanted|wish(?:es|ed)?|like|of being|be|get|getting)\s+(?:[\w']+\s+){0,2}$")
_POLICE_LABELS = frozenset({S.PARTNER_REFERRAL, S.CRIME_ALLEGED, S.THIRD_PARTY_HARM})
_TRIED = re.compile(r"\b(?:tried|attempted|attempts?|trying) to\b")
_BUT = re.compile(r"\b(?:but|however)\b")
_SUPPORT = frozenset({S.ADVOCACY, S.COMMUNICATION_NEED})
# "could not understand, even with pictures" / "despite simple words": the support was used, whatever the outcome.
_DESPITE = re.compile(r"\b(?:despite|even (?:with|in|using|when))\b")
# "Interpreter not needed": no need. "Considered IMCA - not required as her son is an appropriate person": advocacy
# considered and judged not needed, with a reason (§4.6), so not negated.
_NOT_NEEDED = re.compile(r"^\W{0,3}(?:is |was |were )?(?:not|n't) (?:needed|required|necessary|appropriate)\b")
_REASON = re.compile(r"\s*(?:(?:\w+ ){0,3}?(?:as|because|since|given|per)\b|[-\u2013,;:(])")
# "Interpreter needed (Punjabi)", "must be seen with a Vietnamese interpreter", "interpreter requested": words of
# need assert the communication need, they do not make it hypothetical (§5.7).
_NEED = re.compile(r"\b" + R.alternation(r"would need|needs? to be|needs? to|needs?|needed|must|is required|"
                                          r"are required|required|requested") + r"\b")


def _blank_quotes(s: str) -> str:
    """Quoted speech is the speaker's words: blank it out when looking for who is speaking."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), s)


def _clause_after(sent_text: str, rel_end: int) -> str:
    tail = sent_text[rel_end:]
    m = _TERMINATOR.search(tail)
    return tail[: m.start()] if m else tail


def _adult_name_re(adult_name: str | None) -> re.Pattern | None:
    if not adult_name:
        return None
    names = []
    for part in adult_name.split(";"):
        part = part.strip()
        if not part:
            continue
        names.append(re.escape(part))
        for w in part.split():
            w = w.strip(".,")
            if len(w) > 2 and w.lower() not in {"mrs", "mr", "ms", "miss", "mx", "dr"}:
                names.append(re.escape(w))
    if not names:
        return None
    return re.compile(r"\b(?:" + "|".join(sorted(set(names), key=len, reverse=True)) + r")\b", re.IGNORECASE)


_TITLE_PRONOUN = {"mrs": "she", "ms": "she", "miss": "she", "mr": "he"}


def adult_pronoun(adult_name: str | None) -> str | None:
    """"she" or "he" when every title in the adult's names agrees (Mrs/Ms/Miss or Mr), else None."""
    found = {_TITLE_PRONOUN[w] for w in re.findall(r"[a-z]+", (adult_name or "").lower()) if w in _TITLE_PRONOUN}
    return found.pop() if len(found) == 1 else None


class Sentence:
    """Modifier cues of one sentence, found once and shared by all the cues in it."""

    __slots__ = ("text", "orig", "terminators", "adult_re", "_refs", "_ref_ends", "conditional", "done", "adult_pron")

    def __init__(self, text: str, adult_re: re.Pattern | None, adult_pron: str | None = None):
        # Modifier patterns are lower-case and run on the lower-cased sentence (much faster than IGNORECASE).
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        self.text = lowered
        self.orig = text
        self.terminators = [m.end() for m in _TERMINATOR.finditer(text)]
        self.adult_re = adult_re
        self.adult_pron = adult_pron  # "she"/"he" from the adult's title: the other one is someone else
        self._refs = None
        self.conditional = bool(_CONDITIONAL_SENTENCE.match(lowered))
        self.done = None

    @property
    def refs(self) -> list[tuple[int, int, str]]:
        """People mentioned in the sentence (quoted speech blanked out), by end offset."""
        if self._refs is None:
            blanked = _blank_quotes(self.text)
            refs: list[tuple[int, int, str]] = []
            for rx, kind in ((_ADULT_REF, "adult"), (_OTHER_REF, "other"), (_PRACTITIONER_REF, "practitioner")):
                refs += [(m.start(), m.end(), kind) for m in rx.finditer(blanked)]
            if self.adult_re is not None:
                refs += [(m.start(), m.end(), "adult") for m in self.adult_re.finditer(blanked)]
                for m in _NAME_SPEAKS.finditer(self.orig):
                    a, b = m.span(1)
                    name = blanked[a:b]
                    if name.strip() and name not in _NOT_A_NAME and not self.adult_re.fullmatch(name):
                        refs.append((a, b, "other"))
            # Nearest reference wins; for ties (same end), prefer the adult's name over a generic word inside it.
            refs.sort(key=lambda r: (r[1], r[2] == "adult"))
            self._refs = refs
            self._ref_ends = [r[1] for r in refs]
        return self._refs

    def refs_before(self, pos: int) -> list[tuple[int, int, str]]:
        """References ending at or before ``pos`` (nearest last)."""
        refs = self.refs
        return refs[: bisect.bisect_right(self._ref_ends, pos)]

    def clause_start(self, pos: int) -> int:
        """Offset after the last clause terminator that ends at or before ``pos``."""
        i = bisect.bisect_right(self.terminators, pos)
        return self.terminators[i - 1] if i else 0

    def is_done(self) -> bool:
        if self.done is None:
            self.done = bool(_DONE.search(self.text))
        return self.done


def experiencer(sent: Sentence, rel_start: int) -> str:
    """Whose is the cue at ``rel_start``: 'adult', 'other' or 'practitioner' (nearest person before it)."""
    head = sent.text[:rel_start]
    refs = sent.refs_before(rel_start)
    if not refs:
        return "adult"
    start, end, kind = refs[-1]
    # "Daughter feels mum should move and wants ...": a reference followed by its own verb phrase and "and" is
    # not the subject of the cue; the subject is the one before it.
    if kind == "adult" and len(refs) > 1 and _COORD.search(head[end:]):
        prev = [r for r in refs if r[1] <= start]
        if prev and prev[-1][2] != "adult":
            start, end, kind = prev[-1]
    if kind == "practitioner" and head[start:end] == "i" and sent.orig[start:end] != "I":
        kind = "adult"  # lower-case "i" is usually not the writer in these notes
    if kind == "adult" and sent.adult_pron and head[start:end] in ("she", "he") and head[start:end] != sent.adult_pron:
        return "other"  # "He said she is happy living with him" when the adult is Mrs X: he is someone else
    if kind == "adult" and _PRONOUN.match(head[start:end]):
        # "Daughter said she wants mum moved": a pronoun after another person speaking is that person.
        explicit = [r for r in refs if r[1] <= start and not _PRONOUN.match(head[r[0]:r[1]])]
        if explicit:
            s0, e0, k0 = explicit[-1]
            if k0 == "other" and _SPEAKER_VERB.match(head[e0:]):
                return "other"
    return kind


def classify(label: str, pattern_name: str, rs: int, re_: int, sent: Sentence, heading: str | None,
             adult_re: re.Pattern | None) -> str | None:
    """Return the reason the cue at sentence offsets [rs, re_) is discounted, or None if it counts."""
    text = sent.text
    cs = sent.clause_start(rs)
    after = _clause_after(text, re_)
    before = text[cs:rs]
    if label in _SUPPORT:
        last = None
        for last in _DESPITE.finditer(before):
            pass
        if last is not None:
            before = before[last.end():]
        m = _NOT_NEEDED.match(after)
        if m and not _NEG_PRE.search(before):
            if label != S.ADVOCACY:
                return "negated"
            if _REASON.match(text, re_ + m.end()):
                return None
    if _NEG_PRE.search(before) or _NEG_POST.search(after):
        return "negated"
    if label in _POLICE_LABELS and _WANTED_ACTION.match(text[rs:re_]) and _WANT_BEFORE.search(before):
        return "hypothetical"
    if label in _EVIDENCE and _HYPO_POST_EV.search(after) and (label, pattern_name) not in FUTURE_OK:
        return "hypothetical"  # "Capacity re finances to be reviewed in 6 months", "... needs assessing"
    if label in _EVIDENCE and _FORM_NEG.match(text, re_):
        return "negated"  # a form-like line: "Capacity - not assessed", "MCA - not done"
    if label in _EVIDENCE and (_DECLINED_TO.search(before) or (_TRIED.search(before) and _BUT.search(text, re_))):
        # the practice did not happen: the adult declined it ("declined to speak to SW on his own"), or it was
        # tried and failed ("tried to speak to him alone but son stayed in the room")
        return "negated"
    if (label, pattern_name) not in FUTURE_OK:
        if _HYPO_PRE.search(before) or _HYPO_POST.search(after):
            if label != S.COMMUNICATION_NEED:
                return "hypothetical"
            if _HYPO_PRE.search(_NEED.sub(" ", before)) or _HYPO_POST.search(_NEED.sub(" ", after)):
                return "hypothetical"
        if heading and R.PLAN_HEADING_RE.match(heading) and not sent.is_done():
            return "hypothetical"
        if sent.conditional:
            return "hypothetical"
    if label in PERSON_CENTRED and (label, pattern_name) not in OWN_CONSENT:
        who = experiencer(sent, rs)
        if who == "adult":
            if (label == S.ADULT_VIEWS and pattern_name == "speech"
                    and _NEEDS_SUBJECT.match(text[rs:re_].split()[0] if text[rs:re_].split() else "")
                    and not any(cs <= r[0] and r[2] == "adult" for r in sent.refs_before(rs))):
                return "practitioner"
            if heading and R.OTHER_HEADING_RE.search(heading):
                # In a section headed by someone else's view, the adult must be named explicitly.
                m = _ADULT_REF.search(before)
                if not (m and not _PRONOUN.match(m.group(0))):
                    return "other_person"
        if who == "other":
            return "other_person"
        if who == "practitioner":
            return "practitioner"
    return None
