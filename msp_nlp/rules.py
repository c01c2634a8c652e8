"""Rule patterns for the evidence labels and triggers of the spec.

Each label has a few *folded* regular expressions (alternations of alike phrasings), compiled once, in two
confidence tiers. The patterns find *cues*; whether a cue counts (negated? planned? someone else's?) is decided by
the ConText-style component in :mod:`msp_nlp.context`.  Heading sections (``Views of adult: ...``) are cues too:
see :data:`HEADINGS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import spec as S

# Reusable fragments --------------------------------------------------------------------------------------------
PRON = r"(?:she|he|they|her|him|them|his|their)"
SUBJ = r"(?:she|he|they|mrs\.? [a-z'-]+|mr\.? [a-z'-]+|ms\.? [a-z'-]+|miss [a-z'-]+|mx\.? [a-z'-]+|pt|patient|the adult|adult|client|service user|resident|mum|dad|mother|father)"
REL_ALTS = (r"son|daughter|grandson|granddaughter|nephew|niece|husband|wife|partner|boyfriend|girlfriend|ex[- ]partner|"
       r"brother|sister|sibling|cousin|uncle|aunt|stepson|stepdaughter|son[- ]in[- ]law|daughter[- ]in[- ]law|"
       r"grandchild(?:ren)?|mother|father|mum|dad|family member|relative|friend|neighbour|lodger|flatmate|"
       r"carer|care worker|support worker|paid carer|staff member|member of staff|nurse|hca|agency worker|"
       r"volunteer|landlord|tenant|associate|acquaintance|ex|in-laws?|step-?father|step-?mother|stepson")
REL = "(?:" + REL_ALTS + ")"
NEG_INNER = r"(?:(?:does|did|do|would|could|is|was|has|had)\s*(?:n't|\s+not)\s+|not\s+|never\s+|no\s+longer\s+)?"


def _split_alternatives(src: str) -> list[str]:
    """The top-level alternatives of a regex source (``a|b(?:c|d)|[|]`` -> ``a``, ``b(?:c|d)``, ``[|]``)."""
    out, depth, cls, esc, cur = [], 0, False, False, []
    for ch in src:
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


_SPECIAL = frozenset("\\.^$*+?{}[]|()")


def alternation(src: str) -> str:
    """``(?:src)`` with its alternatives grouped by first character: ``(?:s(?:on|ister)|d(?:aughter|ad))`` for
    ``son|daughter|sister|dad``.  Python's ``re`` compares the current character with the first character of every
    alternative in turn; grouped, it compares once per group, which makes long word lists several times faster.
    Matches are the same: only alternatives with the same first character can match at a position, and their order
    is kept.  Every alternative must start with a literal character that has no quantifier."""
    groups: dict[str, list[str]] = {}
    for alt in _split_alternatives(src):
        if not alt or alt[0] in _SPECIAL or (len(alt) > 1 and alt[1] in "?*+{"):
            raise ValueError(f"alternative {alt!r} does not start with a literal character")
        groups.setdefault(alt[0], []).append(alt[1:])
    parts = [c + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")") for c, rests in groups.items()]
    return "(?:" + "|".join(parts) + ")"


#: Languages named in notes ("speaks Urdu", "explained in Polish").
LANGS = alternation(r"urdu|punjabi|polish|romanian|arabic|bengali|sylheti|gujarati|somali|tigrinya|farsi|kurdish|sorani|"
                    r"mandarin|cantonese|portuguese|lithuanian|turkish|tamil|pashto|dari|albanian|vietnamese|ukrainian|"
                    r"russian|spanish|italian|hindi|german|tagalog")
#: A communication aid used in the exchange ("with his board", "her communication book", "PECS", "E-tran").
AIDS = (r"(?:communication|letter|alphabet|picture|word|feelings|e-?tran|eye[- ]gaze|symbol) "
        r"(?:board|book|cards?|chart)|photo book|yes/no cards?|e-?tran|pecs|makaton|talking mats?|deafblind manual")
#: ... or named by what it is used with ("with his board", "using the mat"). Patterns that start with look-behinds are
#: kept apart from the word lists: the dispatcher tries them only where their word is, and ``re`` can skip the
#: alternatives of a list by their first character, but not alternatives that start with a look-behind.
AID_USED = (r"(?:(?<=with )|(?<=using )|(?<=via )|(?<=through )|(?<=with the )|(?<=with his )|(?<=with her )|"
            r"(?<=using the )|(?<=using his )|(?<=using her )|(?<=through the )|(?<=via the )|(?<=via his )|"
            r"(?<=via her ))(?:board|mats?|book|cards)\b")

#: A paid carer or staff member suspended, dismissed or taken off the rota (§5.1, §5.6, §6): the sentence says who is
#: implicated, as an arrest asserts an offence.
REMOVED = (r"\b(?:suspended(?<!lpa suspended)(?<!package was suspended)(?<!package suspended)(?! sentence)|dismissed|gross misconduct|"
           r"final written warning|removed from (?:the |his |her |their |all |clinical |night |[a-z]+'s )?(?:rota|shifts?|"
           r"floor|duty|duties|calls|support|placements?|ward|unit|scheme|befriending scheme|lone working)|"
           r"(?:taken|moved|removed) (?:\w+ ){0,2}?off (?:the |our |his |her |[a-z]+'s )?rota|"
           r"(?:moved|transferred) to (?:another|a different) (?:ward|unit|area|scheme|service|floor|role)|"
           r"sent (?:home|off (?:the )?ward)(?: immediately)? (?:pending|and)|stood down|not to work with|"
           r"not on (?:the )?rota|(?:no longer|not) working (?:with|on)|employment (?:ended|terminated)|"
           r"(?:dbs|nmc|hcpc) (?:barring )?referral|barred)\b")
REMOVED_LB = (r"(?:(?<=asked )not to (?:work|return)|(?<=will )not (?:be booked|work here|be working)|"
              r"(?:(?<=referred to )|(?<=referred to the )|(?<=referred him to )|(?<=referred her to )|"
              r"(?<=referred him to the )|(?<=referred her to the ))(?:dbs|nmc))\b")

#: Conduct by a known person that could be an offence, as notes describe it rather than name it (§5.1, §5.4): money
#: or cards taken or used, touching, threats, rough handling, documents or wages withheld, repeated gaps in care.
CONDUCT = (r"\b(?:(?:borrow\w*|taking|takes|took|taken|has had|uses|used|using|spent|spending|collects|kept|keeps|"
           r"holds)\b(?: \w+){0,2}? (?:her|his|their|mum's|dad's|[a-z]+'s) (?:bank |debit |dp |pension |post office )?"
           r"(?:cards?|pension|money|wallet|purse|savings|benefits?|pip|esa|uc|wages|allowance)|"
           r"touch(?:ed|es|ing)? (?:her|him|me|my)|hand (?:under|inside|up|on) (?:her|his|my)|"
           r"pulled up(?:(?<=top pulled up)|(?<=nightdress pulled up)|(?<=nightie pulled up))|"
           r"pull(?:ed|ing|s)? (?:her|him|them|\w+) (?:up|back|out|by|along|across|off)|"
           r"by (?:her|his|their) (?:arms|wrists?|hair)|"
           r"(?:grab|grip|yank)\w* (?:her|his|my) (?:arm|wrist|hair)s?|threw (?:\w+ ){0,3}at (?:her|him|me)|"
           r"not been paid|never (?:been )?paid|no wages|wages (?:go|went|withheld|kept)|owes? (?:\w+ )?£|"
           r"passport (?:was |is )?(?:taken|held|kept)|"
           r"(?:holds?|has|kept|keeps|took|taken) (?:his|her|my) (?:passport|id|papers|documents)|"
           r"(?:repositioning|turning|fluid|food|turn|call) (?:charts?|logs?|records?)[^.;\n]{0,40}?\b(?:blank|gaps?|"
           r"missing|no entries))\b")
MISSED_CALLS = (r"(?:(?<=\d )|(?<=repeated )|(?<=several ))(?:missed|late)(?: or (?:very )?(?:late|missed))? "
                r"(?:calls|visits)\b")
CONDUCT_LB = r"(?:(?<='d )|(?<='ll ))(?:kill|cut|hurt|smash|burn|knock)\b|" + MISSED_CALLS

#: The content of a heading that names the interpreter used ("Through the interpreter: she said ...", "DASH completed
#: via interpreter: medium"): the heading's own words are skipped, so the cue is the content's start. (The short
#: look-behind is the pattern's gate: only notes that contain "eter:" are scanned.)
AID_HEADING = r"(?<=eter: )(?<!peter: )(?!required|needed|not |no |n/a|none|yes|tbc)[a-z0-9'\"\u201c]"


@dataclass(frozen=True)
class Pattern:
    label: str
    regex: re.Pattern
    score: float
    name: str


def _c(p: str) -> re.Pattern:
    # Patterns are lower-case and run on the lower-cased text: much faster than re.IGNORECASE on big alternations.
    return re.compile(p)


# label -> list of (name, score, pattern source).
RAW: dict[str, list[tuple[str, float, str]]] = {
    S.ADULT_VIEWS: [
        ("speech", 0.85,
         r"\b(?:said|says|stated|states|stating|told (?:me|us|the (?:sw|worker|officers?|nurse|police|staff))|tells me|"
         r"reported(?! to)|reports(?! to)|reporting(?! to)|explained|expressed|disclosed|described|shared|confirmed|denied|denies|admitted|"
         r"commented|replied|responded|answered|mentioned|recalled|complained|alleged|alleges|voiced|indicated|"
         r"spoke (?:about|of|openly)|talked (?:about|of|openly)|was able to (?:say|tell|explain|describe)|"
         r"was clear(?: that)?|is clear(?: that)?|was adamant|is adamant|insisted|insists)\b"),
        ("feeling", 0.8,
         r"\b" + NEG_INNER + r"(?:feels?|felt|wants?|wanted|wishe[sd]|would (?:like|prefer|rather)|prefers?|likes?|"
         r"dislikes?|enjoys?|hopes?|hoped|worries|worried|fears?|feared|misses|loves?|hates?|is (?:happy|unhappy|frightened|"
         r"scared|afraid|worried|anxious|content|keen|relieved|upset|lonely|fed up|embarrassed|ashamed|angry)|"
         r"was (?:happy|unhappy|frightened|scared|afraid|anxious|content|keen|relieved|upset|tearful|distressed|angry|"
         r"embarrassed|ashamed|reluctant)|became (?:tearful|upset|distressed|angry|agitated|emotional))\b"),
        ("quote", 0.85, r"(?:[\"\u201c][^\"\u201d]{6,}[\"\u201d])"),
        ("own_words", 0.9,
         r"\b(?:in (?:her|his|their) (?:own )?words|(?:her|his|their) (?:own )?(?:views?|wishes|account|feelings|"
         r"perspective|understanding)|wishes and feelings|voice of the (?:adult|person)|when asked)\b"),
        ("nonverbal", 0.75,
         r"\b(?:smiled|smiling|laughed|cried|crying|shouted|screamed|nodded|shook (?:her|his|their) head|pulled away|"
         r"flinched|grimaced|pushed (?:me|staff|the \w+) away|gestured|pointed|squeezed|held (?:my|the \w+'s) hand|"
         r"(?:appeared|seemed|looked|was observed to be|presented as) (?:relaxed|calm|settled|comfortable|happy|"
         r"content|distressed|anxious|frightened|upset|agitated|withdrawn|uncomfortable|fearful|scared|tearful))\b"),
        ("cpl", 0.7, r"(?:^|\b)(?:c/o|complains of|complaining of)\b"),
    ],
    S.DESIRED_OUTCOME: [
        ("named", 0.95,
         r"\b(?:desired outcomes?|d\.?o\.?:|outcomes? (?:she|he|they) (?:wants?|would like|wishes|hopes? for)|"
         r"(?:her|his|their) (?:desired )?outcomes? (?:is|are|was|were|would be)|"
         r"what (?:she|he|they) (?:wants?|would like) to (?:happen|change|see)|wants? to feel safe|would like to feel safe|"
         r"(?:her|his|their|the adult's) wish(?:es)? (?:is|are|was|were)|personal outcomes?)\b"),
        ("wants", 0.75,
         r"\b" + NEG_INNER + r"(?:wants?|wanted|would (?:like|prefer|rather)|wishe[sd]|hopes?|hoped|is keen|"
         r"asked (?:for|that)|requested|is adamant|was adamant|would be happy)\s+(?:to |that |for |the |him |her |"
         r"them |it |his |her |this |a |an |some |more |help |support |contact |no )"),
        ("wants_obj", 0.75,
         r"\b(?:wants?|wanted|would like|wishes) (?:\w+ ){1,2}?(?:to (?:go|leave|stop|move|be|have|get|come|stay|"
         r"repay|return)|back|returned|gone|out|removed|stopped|arrested|charged|prosecuted)\b|"
         r"\b(?:does not|doesn't|did not|didn't) want (?:\w+ ){0,3}?(?:to go to prison|in trouble|arrested|"
         r"prosecuted|charged|to move|to leave|to go into)\b|\bwould accept\b"),
        ("stay", 0.85,
         r"\b(?:wants?|wish(?:es)?|would like|hopes?|desire|determined|adamant|keen)\b[^.]{0,40}?\b(?:stay|remain|"
         r"return|go) (?:at |in )?(?:home|her own home|his own home|in (?:her|his) (?:flat|house|home))\b"),
    ],
    S.COERCION_EXPLORED: [
        ("alone", 0.95,
         r"\b(?:seen|spoke(?:n)?(?: to| with)?|visited|met|interviewed|saw|speak(?:ing)? (?:to|with)|talked? (?:to|with)|"
         r"was|were|conversation)\b[^.;\n]{0,40}?\b(?:alone|on (?:her|his|their) own|privately|in private|"
         r"without (?:her|his|their) (?:\w+ )?(?:present|there)|away from)\b"),
        ("asked_to_leave", 0.9,
         r"\b(?:asked to (?:leave|wait (?:in|outside|downstairs|elsewhere)|step out)|left the room|(?:was|were) not present|stepped out|went out of the room|"
         r"out of earshot|separately from|away from (?:her|his|their) (?:\w+)|1:1 conversation|one to one|private space)\b"),
        ("no_indication", 0.9,
         r"\bno (?:indication|evidence|sign|suggestion|concerns?|impression)s? (?:of|that|she|he|they)[^.;\n]{0,30}?"
         r"\b(?:pressur\w+|coerc\w+|controll\w+|influenc\w+|forced|intimidat\w+|told what to say)"),
        ("explored", 0.9,
         r"\b(?:explored|asked (?:her|him|them|if|whether|about)|discussed|checked|considered|enquired|"
         r"spoke about|talked about|gently asked)\b[^.;\n]{0,50}?\b(?:coerc\w+|pressur\w+|control\w*|influence\w*|"
         r"threat\w*|forced|made to|scared|afraid|frightened|makes? (?:her|him|them)|free to|duress)\b|"
         r"\b(?:free to (?:speak|talk)|anyone (?:controls?|manages?|tells? (?:her|him))|undue influence)\b|"
         r"\b(?:asked|asking|explored|checked)\b[^.;\n]{0,40}?\b(?:(?:feels? (?:she|he|they) )?(?:can|could) say no|"
         r"takes? money|took money|gets? angry|hurts? (?:her|him)|hits? (?:her|him)|keep (?:things|secrets)|"
         r"allowed to|let (?:her|him|them) (?:go|see|out))|"
         r"\b(?:(?:she|he|they) (?:feels? (?:she|he|they) )?(?:can|could) say no|pattern of pressure|"
         r"(?:pressure|influence) (?:here |is |was )?(?:significant|considerable)|significant (?:pressure|influence))"),
        ("alone2", 0.85,
         r"\b(?:no (?:(?:\w+ )?(?:staff|family|carers?|relatives?)|one else)(?: members?)?(?: (?:or|and) [\w ]{1,20}?)? "
         r"(?:were |was )?present|just the two of us|on our own|(?:introduced us|brought (?:her|him|them)) and left|"
         r"seen without|(?:not aware of|did not know about|didn't know about|doesn't know about) (?:the |my |our )?"
         r"(?:meeting|visit|call|appointment)|rather than at home)\b"),
        ("form_yes", 0.9, r"(?<=seen alone: )(?:yes|y)\b|(?<=seen alone\?: )(?:yes|y)\b"),
        ("absent", 0.85,
         r"\b(?:without (?:\w+ ){0,3}?(?:present|there|in the room)|on (?:her|his|their) own|"
         r"(?:was|were|had gone|went) (?:out|away|at work|in the toilet|out of the room)|out of the room|"
         r"left (?:the room|us|so i)|not (?:on (?:the )?(?:ward|site)|in the room|at home|present)|"
         r"(?:kept|was) away|time with (?:\w+ )?(?:on (?:her|his) own|alone)|private room|side room)\b"),
    ],
    S.CONSENT: [
        ("agreed", 0.8,
         r"\b(?:agreed|agrees|accepted|accepts|said yes|was happy for|is happy for|with (?:her|his|their|\w+'s) "
         r"(?:consent|agreement|permission)|as long as|(?:does not|doesn't|did not|didn't|do not|don't) want "
         r"(?:\w+ ){0,3}?(?:told|informed|involved|contacted|arrested|in trouble|to know|prosecuted|charged|"
         r"to be told|knowing))\b"),
        ("consent", 0.9,
         r"\b(?:consent(?:s|ed|ing)?|(?:agreed|agrees|happy) (?:to|for) (?:a |an |the |us |me |sw |information |info |"
         r"details )?(?:referral|refer\w*|share|sharing|information|info|police|contact\w*|speak\w* to|enquiry|s\.?\s?42|"
         r"safeguarding|assessment|visit|this|professionals|gp)|permission|happy for (?:me|us|the|a|her|him|this|"
         r"information|info|sw|referral|police)|gave (?:her|his|their) (?:verbal |written )?(?:consent|permission)|"
         r"without (?:her|his|their) consent|proceed(?:ing|ed)? without|overrid(?:e|ing|den) (?:her|his|their) "
         r"(?:wishes|consent|decision)|vital interests|public interest|(?:does|did|do)(?:n't| not) want (?:the )?"
         r"(?:police|referral|sw|social services|safeguarding|an enquiry|us|anyone|information)|refused (?:consent|permission)|"
         r"declined (?:consent|permission|police|the referral|a referral|referral|to (?:consent|give|share|make|provide)|"
         r"(?:the |an |any )?(?:nrm|sarc|involvement|further involvement|ongoing involvement|any further involvement))|"
         r"(?:not|has not|have not|did not|does not|didn't|doesn't) consent(?:ing|ed)?|w/o consent|without consent|"
         r"(?:happy|content) for (?:the )?(?:case|enquiry|s\.?\s?42|safeguarding|asc) to close|"
         r"wants? (?:the )?(?:case|enquiry) closed|agreed (?:to|with) (?:the )?(?:enquiry |case )?clos\w+|"
         r"agreed (?:to close|(?:the )?(?:enquiry|case|asc) (?:can|could|should) close)|chose to close|"
         r"(?:declined|refused|not ready|not willing|unwilling|won't|will not|would not|does not want|doesn't want|"
         r"did not want|didn't want|did not wish|does not wish|still does not want) (?:to )?(?:make|give|provide) "
         r"(?:a |any |her |his )?(?:statement|police report|first account|complaint)|"
         r"(?:willing|agreed|decided|wants?|does want) to (?:give|make) (?:a |her |his )?statement|"
         r"gave (?:a |an )?(?:video[- ]recorded |abe )?(?:statement|interview)|"
         r"(?:support|supports|supported|supporting|pursue) (?:a |the )?prosecution|not pressing charges|"
         r"want(?:s|ed)? (?:a )?prosecution|no police(?: please)?(?! [a-z])|not police\b(?<!am not police)|"
         r"but not (?:to )?(?:the )?(?:police|social services|social care|carers)|still no\b|"
         r"said no to (?:the )?(?:nrm|police|referral|a referral)|"
         r"asked (?:me|us) not to (?:tell|contact|call|share|report|inform)|"
         r"asked that (?:her|his|their) [\w' ]{1,30}? (?:not|is not|are not) (?:be )?(?:told|shared)|"
         r"proceed\w* (?:[\w,]+ ){0,6}?in (?:her|his|their) best interests?|continues? in (?:her|his|their) best interests?|"
         r"best interests decision to proceed|(?:does not|doesn't) want (?:any |further |ongoing )?(?:involvement|"
         r"further contact|social care|further social care))\b"),
        # "GP informed with her consent": the consent named is the adult's, whoever else the sentence mentions.
        ("with_consent", 0.9,
         r"\b(?:with (?:her|his|their|[\w-]+'s|the adult's) (?:verbal |written |full )?(?:consent|agreement|permission|ok)|"
         r"with consent|per (?:her|his|their) wishes)\b"),
    ],
    S.CAPACITY: [
        ("mca", 0.9,
         r"\b(?:(?<!s44 )(?<!s\.44 )(?<!\bl )(?<!\br )(?<!left )(?<!right )mca(?! stroke| infarct| territory)|mental capacity|capacity assessment|capacitous|has capacity|have capacity|lacks? capacity|"
         r"lacking capacity|(?:no )?reason to doubt (?:her|his|their )?capacity|capacity (?:was |is )?(?:assessed|"
         r"considered|fluctuat\w+|presumed|queried|in question|to (?:make|decide|consent|understand))|"
         r"presum\w+ (?:to have )?capacity|capacity (?:re|regarding|for|around|in relation to)|"
         r"best interests? (?:decision|meeting|assessment)|able to (?:understand|retain|weigh|use and weigh)|"
         r"unable to (?:understand|retain|weigh|use and weigh)|understood and retained|retain (?:the )?information|"
         r"weigh(?:ed)? up|two[- ]stage test|capacity)\b"),
    ],
    S.ADVOCACY: [
        ("advocate", 0.9,
         r"\b(?:advocacy|advocate|imca|ima|care act advocate|independent advocate|relevant person'?s? "
         r"representative|rpr|(?:acted|acting|act) (?:as|for) (?:her|his|their)? ?representative|appropriate person|"
         r"representative|interpret(?:er|ing|s|ed)|translat(?:e|ed|ing|or)|language line|languageline|signer|makaton|"
         r"picture cards|communication (?:aids?|support|board|passport|tool)|talking mat|speech and language therap\w+|"
         # an LPA merely told of the concern is not representation (§4.6, §3.4)
         r"salt|lpa (?:for )?(?:health|h&w|welfare)(?![^.;\n]{0,20}\b(?:informed|told|rung|rang|updated)\b)|"
         r"lasting power of attorney|deputy(?! manager| head)|deputyship|intermediary)\b"),
        # Communication support used in the exchange, whatever the need (§4.6, §6): an interpreter or relay, aids,
        # easy-read and pictures, writing things down, extra time, a hearing loop.
        ("support", 0.85,
         r"\b(?:easy[- ]?read|large[- ]print|extra time|(?:gave|giving|given) (?:him|her|them) time|"
         r"one question at a time|simple (?:words|language)|(?:wrote|write|writing) (?:\w+ ){0,2}?(?:down|key (?:words|"
         r"points)|questions|notes)|key (?:words|points) (?:written|on)|written (?:questions|prompts?|key words|summary)|"
         r"questions (?:sent )?(?:in advance|in writing|beforehand)|notepad|note pad|whiteboard|"
         r"(?:portable|hearing|induction) loop|loop system|(?:text|video) relay|relay uk|signvideo|via relay|"
         r"google translate|translation app|screen reader|communicator)\b"),
        # ("uses a communication book" describes how the adult communicates: communication_need, not support given)
        ("aids", 0.85, r"\b(?<!uses )(?<!uses a )(?<!uses an )(?<!uses some )(?:" + AIDS + r")\b"),
        ("support_lb", 0.85,
         r"(?:(?<=with )|(?<=using )|(?<=used )|(?<=via )|(?<=with the )|(?<=with his )|(?<=with her )|(?<=with some )|"
         r"(?<=using the )|(?<=using his )|(?<=using her )|(?<=used the )|(?<=used his )|(?<=used her )|(?<=used some ))"
         r"(?:pictures|photos|symbols|objects of reference)\b|(?:(?<=on a )|(?<=on my )|(?<=on the )|(?<=on her )|"
         r"(?<=on his ))pad\b|(?<=spoke )slowly\b|" + AID_USED),
        # A representative acting or judged for the adult ("Julie consented on Dorothy's behalf", "as his attorney",
        # "Pat is appropriate to represent her", "IMCA's view: ...").
        ("represent_lb", 0.85,
         r"(?:(?<='s )|(?<=her )|(?<=his )|(?<=their ))behalf\b|(?:(?<='s )|(?<=as her )|(?<=as his ))attorney\b"),
        ("represent", 0.85,
         r"\b(?:(?:not (?:an )?)?appropriate (?:person )?to represent (?:her|him|them)|"
         r"represent(?:ed|s|ing) (?:her|him|them)|"
         r"speak(?:s|ing)? for (?:her|him|them|mum|dad)|(?:imca|advocate)(?:'s)? (?:view|report|feedback)|"
         r"attended (?:for|on behalf of) (?:her|him|them))\b"),
        ("aid_heading", 0.85, AID_HEADING),
    ],
    S.RISK_DISCUSSED: [
        ("risk", 0.85,
         r"\b(?:discuss(?:ed|ing)?|talked (?:frankly |openly )?(?:through|about)|went through|explored|explained|"
         r"considered|reviewed|agreed|(?:understands?|understood|aware of|accepts?|accepted)(?![^.;\n]{0,15}weigh))"
         r"\b[^.;\n]{0,50}?\b(?:risks?|dangers?|safety|safe|consequences|what (?:could|might|would) happen|"
         r"what to do if|scams?)\b"),
        ("plan", 0.9,
         r"\b(?:safety plan|risk (?:management )?plan|protection plan|risk assessment (?:completed|undertaken|done)|"
         r"(?:risks?|safety) (?:(?!not\b|never\b|to\b)\w+ )?(?:were |was )?(?:discussed|explained|talked through|explored|went through)|"
         r"discussed (?:the )?risks|(?:agreed|agree|set up) (?:a )?code ?word|what to do if|"
         r"(?:she|he|they) could (?:explain|describe|tell me)|explain(?:ed)? (?:it |this |them )?back|"
         r"repeated it back|advised (?:her|him|them)? ?(?:to|not to) (?:keep|call|ring|lock|not|stay|avoid|contact)|"
         r"told (?:her|him|them) not to|"
         r"(?:she|he|they) (?:understands?|understood|accepts?|accepted|is aware of|was aware of) the risks?)\b"),
    ],
    S.INFORMED_OF_ACTIONS: [
        ("explained", 0.8,
         r"(?:^|\b(?:i|we|sw) +)(?:explained|told (?:her|him|them|\w+) (?:what|that|i|we|about|the|how|why)|"
         r"(?:read|went) (?:back|through) (?:the )?(?:plan|actions)|gave (?:her|him|them) (?:my|the) "
         r"(?:card|number|details|leaflet))\b|"
         r"\bexplained (?:to (?:her|him|them|[a-z]+) )?(?:[\w']+ ){0,3}?(?:will|would|process|role|options|duty|"
         r"have to|need to|next)\b|"
         r"\btold (?:her|him|them|mrs\.? \w+|mr\.? \w+|ms\.? \w+|\w+ and \w+)(?: \(via \w+\))? (?:what|that|i|we|about|"
         r"the|how|why|where|next steps)\b|\btold by \w+ (?:of|that|about|today)\b|"
         r"\b(?:ip|pt|she|he|they|mrs\.? \w+|mr\.? \w+|ms\.? \w+) (?:is |was |are |were )?(?:aware|knows) (?:of|that|i|we|to|"
         r"(?:she|he|they) can|how)\b|"
         r"\bexplained (?:to (?:her|him|them|[a-z]+) )?(?:again |simply |honestly |a few times )?(?:what|who|how|why|"
         r"that (?:i|we|the|police|asc|social|nothing|no one)|the (?:process|plan|s\.?\s?42|enquiry|outcome|options|"
         r"next|safeguarding|role|referral|meeting)|i (?:will|would|need|was|am|'d|'ll)|we (?:will|would|need)|"
         r"next steps|my role|safeguarding|s\.?\s?42)|"
         r"\b(?:introduced myself|left (?:my|a|the) (?:card|number|details|contact)|(?:has|gave (?:her|him|them)) my "
         r"(?:number|card|details|email|direct line)|has (?:the |our )?(?:team's |team |duty )(?:number|contact)|"
         r"(?:has|given|gave (?:her|him|them)) (?:our|the duty|the team) number|"
         r"knows (?:to (?:ring|contact|call|text)|(?:she|he|they) can (?:ring|contact|call|text|come back))|"
         r"can (?:ring|contact|call|text) (?:me|us|the duty|the team|duty)|"
         r"reminded (?:her|him|them) (?:(?:she|he|they) can|to ring)|(?:my|the duty|duty) number (?:and 999 )?saved|"
         r"with (?:my|the duty|our|duty) (?:number|contact details)|who to (?:ring|contact|call)|"
         r"(?:happy|content) for (?:the )?(?:case|enquiry|s\.?\s?42|safeguarding|asc) to close|"
         r"agreed (?:to|with) (?:the )?(?:enquiry |case )?clos\w+|agreed (?:to close|(?:the )?(?:enquiry|case|asc) (?:can|could) close)|"
         r"told what happens next|told (?:her|him|them) (?:\w+ ){1,4}?(?:will|would) (?:ring|call|visit|contact)|"
         r"(?:knows|aware of) how to contact|(?:plan|it|this) read back|"
         r"to tell (?:her|him|them) (?:what|the|that|about|how|why)|(?:told|informed|updated) by (?:dc|pc|ds|police|sw|"
         r"the (?:officer|police|sw))|told (?:her|him|them|[a-z]+) (?:what (?:we|i|would|will|happens)|i (?:would|will)))\b|"
         r"\b(?:(?:is|was|are|were) (?:made )?aware (?:that|of (?:the|this|what)|i|we|dn|police)|knows (?:that|about|the|i|we)|"
         r"invited|(?:was|were) told|informed of|feedback (?:to|given)|given (?:a )?copy)\b"),
        ("told", 0.85,
         r"\b(?:(?:explained|informed|advised|told|updated|reassured|made aware|made (?:her|him|them) aware|letter sent|"
         r"wrote|feedback (?:given|provided)|shared the outcome|talked (?:her|him|them) through|went through)\s+"
         r"(?:to\s+)?(?:her|him|them|mrs\.? \w+|mr\.? \w+|ms\.? \w+|miss \w+|pt|the adult|adult|client|resident|"
         r"(?:the |what |how |why |that |s\.?\s?42|section 42|next steps|safeguarding|process|outcome|plan)))"
         r"[^.;\n]{0,60}?\b(?:process|s\.?\s?42|section 42|enquiry|safeguarding|plan|outcome|"
         r"next steps|what (?:will|would) happen|actions?|referral|police|meeting|investigation|findings|"
         r"decision|who|why|timescales?|role)\b"),
        ("invited", 0.9,
         r"\b(?:invited to|attended the|attended (?:the |a )?(?:strategy|meeting|review|case conference)|"
         r"(?:was|were) present (?:at|for) the (?:meeting|strategy|review)|involved in (?:the )?(?:meeting|"
         r"decision|planning|plan)|copy of (?:the )?(?:plan|minutes|outcome)|leaflet (?:given|provided|left))\b"),
        # Who to contact and how ("has my number and the duty number", "knows to ring", "she'll ring me") (§4.8, §6).
        ("contact", 0.8,
         r"\b(?:my (?:direct |work )?(?:number|mobile)|(?:ring|call|contact|text|email|phone) (?:me|us)|"
         r"knows (?:to|who to|how to|where to|what to|(?:she|he|they) can))\b"),
        ("contact_lb", 0.8,
         r"(?:(?<=has )|(?<=have )|(?<=given )|(?<=gave her )|(?<=gave him )|(?<=gave them )|(?<=a card with ))(?:my|our|"
         r"the duty|the team'?s?) (?:work |direct |mobile )?(?:number|mobile|card|details|contact details|email|phone)\b"),
        # Told of the closure or the outcome, or agreeing to the enquiry closing; the practitioner telling her what
        # happens next ("Told Frank I'd come back", "Explained that she can ring", "Explained the NRM").
        ("told_more", 0.8,
         r"\b(?:clos(?:ure|ing) letter|letter confirming|copy of (?:the )?(?:closure|outcome)|(?:informed|told|updated) "
         r"(?:by (?:phone|email|letter|text) )?(?:of|about) (?:the )?(?:closure|outcome|decision|caution|charge|arrest|police)|"
         r"explained (?:to [a-z]+ )?(?:in simple (?:words|terms) )?(?:that )?(?:she|he|they) (?:can|could|does not|doesn't|"
         r"is not|isn't|will|would)|explained (?:to [a-z]+ )?(?:that )?(?:i|we)(?:'ll|'d| will| would| plan| have| need)|"
         r"explained (?:through|via|with) (?:\w+ ){1,3}?(?:who|what|that|the)|"
         r"explained (?:the )?(?:nrm|marac|options|special measures|protections|closure order|voluntary))\b"),
        ("close_lb", 0.8,
         r"(?:(?<=agreed )|(?<=agrees )|(?<=agreed to )|(?<=agrees to )|(?<=agreed with )|(?<=agrees with )|"
         r"(?<=agreed to the )|(?<=agrees to the )|(?<=agreed with the )|(?<=agreed to the s42 )|(?<=agreed the s42 can )|"
         r"(?<=agreed the enquiry can ))clos\w+"),
        ("told_lb", 0.8,
         r"(?<!she )(?<!he )(?<!they )told (?:of|about) (?:this|the|closure|it)\b|"
         r"(?:(?<![a-z'] )told|(?<=i )told|(?<=we )told|(?<=sw )told) (?!me\b|us\b|you\b|the\b|police\b)(?:her|him|them|[a-z]+)"
         r"(?: \([^)]*\))?(?: in simple (?:words|terms)| with [\w ]+?)? (?:i'll|i'd|i will|i would|we will|we'll|that|what|"
         r"about|of|this|she|he|they)\b"),
    ],
    S.REFUSAL_EXPLORED: [
        ("explored", 0.9,
         r"\b(?:explored|discussed|talked about|asked about|understand|understood|reasons? for|why (?:she|he|they))"
         r"\b[^.;\n]{0,40}?\b(?:declin\w+|refus\w+|reluctan\w+|not wanting|does not want|doesn't want|reasons?|"
         r"said no|says no|turned down)\b|"
         # asking about the reasons or worries behind a "no"
         r"\b(?:(?<!she )(?<!he )(?<!they )(?<!and )asked|talked (?:about|through)|explored|discussed|went (?:back )?over)"
         r"(?: (?:her|him|them|with (?:her|him|them)))?"
         r"(?: again)? (?:why\b|what (?:(?:had |has )?(?:worr|scare|frighten|put|made)\w*|"
         r"would (?:make|help)|"
         r"had been unhelpful|was wrong|(?:she|he|they)(?:'s| is| was| are) (?:worried|scared|afraid)))|"
         r"\bwhat (?:puts|put) (?:her|him|them) off\b|\bwent back (?:over|to)\b|"
         r"\b(?:middle way|different approach|compromise)\b|"
         r"\b(?:offered|suggested|discussed|agreed)\b[^.;\n]{0,90}?\binstead\b|"
         r"\b(?:she|he|they)(?:'d|'ll| would| will| said (?:she|he|they)(?:'d| would))? (?:think about it|consider it|"
         r"try (?:it|them|this))\b|\bagreed to try\b"),
        ("followup", 0.85,
         r"\b(?:door (?:left )?open|offered again|re-?offered|will (?:re)?visit again|"
         r"agreed to (?:a |an )?(?:trial|shorter|smaller|different)|"
         r"agreed(?: that)? (?:i|we|sw)(?:'d|'ll| would| will| can| could| should)? (?:come back|call|ring|phone|"
         r"text|visit|return|meet|see|talk|raise|look|try|go)\b|"
         r"agreed (?:i|we|sw) can\b|agreed to (?:visit|come back|meet|talk) again|"
         r"(?:next visit|follow[- ]up|further visit) agreed|agreed to come back|"
         r"agreed (?:(?:for )?(?:me|us) to|i could) (?:come back|call|ring|phone|visit|return|meet|talk)|"
         r"talk (?:about it )?again)\b"),
    ],
    S.PARTNER_REFERRAL: [
        ("agencies", 0.8,
         r"\b(?:action fraud|trading standards|\bts\b (?:informed|referral|fitted|visit\w*|confirm\w*|arranging|"
         r"mail marshal|officer|scams|trusted trader)|frs (?:attended|fitted|visited|crew)|wyfrs|"
         r"safe (?:&|and) well (?:visit )?(?:done|completed|booked|referral)|"
         r"dbs referrals?|home improvement agency|police (?:investigat\w+|interview\w*|attended|attending|arrested|"
         r"charged|are (?:investigating|involved|dealing|treating|taking|pursuing|reviewing)|have (?:been|taken|made|"
         r"arrested|charged|interviewed|recorded|spoken|visited|seized|confirmed|closed|concluded|opened|obtained|"
         r"reviewed|logged|issued)|called|contacted|rang|101|via 101|log|ref|took|conveyed|moved|found|recorded|"
         r"gave|identified|visited|welfare check requested|ppu|victim care|herbert protocol|dc|pc|ds|nfa|"
         r"will not charge|took no further action)|"
         r"arrested(?<!him arrested)(?<!her arrested)(?<!them arrested)(?<!being arrested)(?<!be arrested)|"
         r"charged(?<!phone charged)(?<!kept charged)(?<!mobile charged)(?! for| £| to )|conditional caution|"
         r"interviewed (?:by police|under caution|voluntarily|with (?:an? )?(?:appropriate adult|aa|intermediary|"
         r"\w+ interpreter))|"
         r"visit with (?:the )?(?:police|pc|dc|pcso|trading standards|ts|dn|gp|ot|housing|salt|cpn|cns|idva|isva|cqc|"
         r"icb|\w+ nurse)|visited (?:\w+ )?with (?:the |her |his )?(?:pcso|pc|dc|dn|cpn|cns|housing|salt|ts|\w+ nurse)|"
         r"joint (?:visit|h/?v|meeting|case discussion|mash)|"
         r"attended (?:the )?marac|gp (?:asked|to review|saw|letter|visit|appointment|review|reviewed|has|started|"
         r"increased|registration|flagged|has (?:started|referred|reviewed|increased|prescribed))|seen by (?:the )?(?:gp|dn|ot|salt|paramedics|police)|registered with|"
         r"(?:idva|imca|dn|ot|gp|police) (?:referral|contacted|informed)|"
         # police process and first response (§4.10, §6)
         r"crime (?:recorded|report|reported|ref|no|number|logged|\d)|recorded as (?:a |an )?(?:crime|assault|"
         r"theft|fraud|hate|non-crime|ill-treatment)|logged as (?:a |possible )?(?:crime|fraud|theft|assault|hate)|"
         r"(?:robbery|hate crime|theft|assault) recorded|officers? (?:attended|attending|found)|"
         r"attended (?:\d|following|re |fire|flat|the (?:address|property|scene|flat|house))|"
         r"statement (?:taken|obtained|given|provided)|given a statement|"
         r"gave (?:a |an |her |his )?(?:video[- ]recorded |written |first |abe )?(?:statement|interview)|"
         r"abe (?:completed|done|statement|interview (?:\d|completed|done|with))|video[- ]recorded (?:interview|statement)|"
         r"vps taken|cps|released under investigation|rui|on bail|bailed|bail conditions (?:continue|lifted|not|in place)|"
         r"remanded|pleaded guilty|convicted|guilty plea|restraining order|"
         r"non-mol\w* (?:granted|in place|order granted)|(?:partial )?closure order (?:granted|obtained|executed|made)|"
         r"community resolution|words of advice|youth caution|accepted a caution|warrant (?:executed|at)|"
         r"suspects? (?:interviewed|identified)|search of (?:the )?suspect|detained (?:s\.?\s?136|under)|"
         r"circulated as wanted|wanted for|(?:via|rang|called|dialled|rung) 999|999 call|fraud (?:team|line|claim)|"
         r"paramedics (?:attended|called|on scene)|ambulance (?:crew|called|attended)|brought in by (?:ambulance|police)|"
         r"by (?:ambulance|amb)\b|conveyed (?:to|her|him)|crew (?:treated|attended)|nwas|rapid response|"
         r"fire service (?:visit|fitted|attended|referral)|fitted by (?:the )?fire|(?:smoke|heat) alarms? fitted|"
         # partner agencies acting on the case: banks, cqc, housing, opg, courts, dwp, children's services
         r"bank (?:have|has|refunded|stopped|froze|frozen|flagged|put|placed|added|recovered|cancelled|"
         r"confirm\w*|call done|alerts? (?:in place|added|set)|flag (?:and|in place|added))|refunded|"
         r"account (?:frozen|flagged)|flagged (?:the )?account|marker on (?:the )?account|cqc (?:inspect\w*|notification|notified|has|have|issued|review|inspector|satisfied|"
         r"relationship|informed|rated)|under cqc|warning notice|"
         r"housing (?:notice|changed|have|has|officer visit|application|register)|locks? changed|"
         r"changed (?:the )?locks|notice (?:served|of seeking possession)|tenancy enforcement|"
         r"acceptable behaviour contract|community protection (?:warning|notice)|"
         r"opg (?:safeguarding|findings|applied|suspended|referral|investigat\w*)|council legal|"
         r"applied to (?:the )?(?:court of protection|cop)|"
         r"fmpo|official solicitor|prosecuting|being prosecuted|"
         r"dwp (?:confirmed|fraud|removed|:)|children'?s (?:sw|services|social care|mash|edt|front door)|"
         r"csc (?:leading|duty|visiting|involved|:)|cin plan|"
         r"idva (?:supporting|continues|remains?|allocated|has|helped|support|in contact|went|contact|present|"
         r"weekly)|isva (?:support\w*|continues|present|referral accepted)|"
         r"marac (?:\d|listed|held|actions|discussed)|nrm (?:submitted|referral submitted)|first responder|"
         r"duty to notify|accepted into (?:the )?nrm)\b"),
         ("strategy", 0.85,
         r"\b(?:strategy (?:meeting|discussion)|org strategy|provider (?:concerns )?meeting|review meeting|"
         r"outcome meeting)\b[^.\n]{0,120}?\b(?:police|ds|dc|pc|cqc|housing|gp|icb|hospital|csc|trust|ward|dwp|idva|"
         r"consultant|cpn|nurse|inspector)\b"),
        ("referral", 0.85,
         r"\b(?:referr(?:al|ed)|reported|report made|notified|notification|informed|contacted|liaised|liaise|"
         r"alerted|passed to|shared with|sent to|emailed|joint (?:visit|work|working)|discussed with|"
         r"spoke(?:n)? (?:to|with)|tel(?:ephone)? call to|tc to|rang|called|copied to|escalated to)"
         r"\b[^.;\n]{0,50}?\b(?:police|101|999|gp|district nurses?|dn|hospital|ambulance|nhs|cmht|mental health|"
         r"housing|landlord|housing officer|cqc|trading standards|bank|fraud|dwp|idva|marac|mash|probation|"
         r"fire (?:service|and rescue)|lfb|community nurse|ot|occupational therap\w*|salvation army|"
         r"solicitor|legal|opg|office of the public guardian|care provider|commissioners?|contracts|pcso|dc|ds|pc|"
         r"substance misuse|drug and alcohol|domestic abuse service|refuge|victim support|health visitor|"
         r"children'?s services|social care|modern slavery|nrm|salt|memory clinic|psychiatr\w+|camhs|dbs|nmc|lado)\b"),
        ("passive", 0.85,
         r"\b(?:police|gp|district nurses?|dn|cqc|housing|trading standards|bank|idva|marac|cmht|"
         r"mental health team|fire service|ambulance|dwp|solicitor|csc|children'?s services|pharmacist|opg|probation|"
         r"victim support|falls team|memory clinic|admiral nurse|ot|frs|ts|nrm)\b(?:(?!\bnot\b|\bno\b)[^.;\n]){0,20}?\b(?:informed|notified|"
         r"contacted|aware|made aware|updated|alerted|called|attended|involved|referred to|emailed|saw|visited|logged|"
         r"nfa|asked to|requested|accepted|agreed)\b|"
         r"\b(?:gp|dn|ot|falls|police|physio|salt|dietitian|memory clinic|pharmacy|optician|audiology|hospital|"
         r"victim support|idva|nrm|housing|bank) (?:appt |appointment |review |check )?(?:referral )?"
         r"(?:requested|made|done|booked|sent|completed|accepted|arranged)\b|"
         r"\b(?:crime report(?:ed)?|victim support|joint working|shared (?:information )?with (?:the )?(?:police|gp|bank|housing))\b"),
        # A partner named in a meeting's attendance line ("Present: PC Lee, DN Ford"): the cue starts after the heading.
        ("attendees", 0.85,
         r"(?<=: )(?:(?<=present: )|(?<=attendees: )|(?<=in attendance: ))[^\n]{0,160}?\b(?:police|dc|pc|ds|cqc|gp|"
         r"housing|nurse|dn|idva|probation|pharmacist)\b"),
        ("crime_ref", 0.95,
         r"\b(?:crime (?:ref|reference|number|no)|cad (?:ref|no|number)?|incident (?:number|no|ref)|"
         r"police (?:attended|aware|informed|notified|involved|are investigating|investigating)|officers attended|"
         r"cqc notified|nrm referral|marac referral|referred to marac)\b"),
        # Round-4 decisions (§4.10, §6): a police NFA or words-of-advice outcome (the police dealt with it), DBS / NMC
        # referrals, Victim Support, an IDVA or ISVA, children's services' own involvement, paramedics attending.
        ("partner_acts", 0.85,
         r"\b(?:nfa(?= (?:criminal|as a criminal|for \w+ re|re (?:theft|assault|fraud))|[^.;\n]{0,30}\b(?:insufficient "
         r"evidence|evidential|prospect of conviction))|(?:dbs|nmc|hcpc)(?: barring)? referral|victim support|"
         r"(?:idva|isva)s?\b(?: \([^)]*\))?(?: \w+)? (?:continu\w*|involved|allocated|supporting|visiting|met|present|rang|"
         r"confirms?|closed|remains?|also|in contact|unable)|csc|children'?s social worker|paramedics?|biba)\b"),
        ("partner_lb", 0.85,
         r"(?:(?<=police )|(?<=police: )|(?<=cps )|(?<=cps: )|(?<=police - ))(?:nfa|no further action)\b|"
         r"(?:(?<=with )|(?<=from )|(?<=by )|(?<=per )|(?<=met )|(?<=sees )|(?<=saw )|(?<=with the )|(?<=with her )|"
         r"(?<=met the )|(?<=by the )|(?<=sees the ))(?:idva|isva)\b(?! referral| service)"),
        # "Attended 21:40 to 14 Cobden St": the time's colon makes a heading of "Attended 21", whose words are skipped;
        # the cue is the minutes, after an attendance verb (§4.10, §6: the first response is partner work).
        ("attended_at", 0.85,
         r"\d(?:(?<=attended \d\d:\d)|(?<=attending \d\d:\d)|(?<=called \d\d:\d)|(?<=contacted \d\d:\d))\d\b"),
    ],
    S.LESS_RESTRICTIVE: [
        ("lr", 0.9,
         r"\b(?:less restrictive|least restrictive|proportionate|proportionality|alternatives? to|other options|"
         r"options (?:were |was )?(?:considered|discussed|explored)|rather than (?:a |an )?(?:placement|care home|"
         r"residential|nursing|admission|moving)|instead of (?:a |an )?(?:placement|care home|residential|moving)|"
         r"minimum (?:necessary|intervention)|balance (?:her|his|their) (?:rights|autonomy|wishes))\b|"
         r"\b(?:more restrictive|least intrusive|less intrusive|less formal|middle way|options? (?:other than|short of)|"
         r"rather than (?:a |an |the |any )?(?:\w+ ){0,2}?(?:placement|care home|residential|nursing|admission|moving|move|"
         r"deputyship|redirection|eviction|injunction|lpa|anything|restrict\w*)|"
         r"(?:a |the )?(?:move|moving \w+|care home|residential(?: care)?|placement|extra care) (?:\w+ ){0,3}?(?:was |were |is )?"
         r"(?:considered|discussed) (?:and|but) (?:ruled out|rejected|not)|"
         r"(?:care home|residential care|placement|a move) not (?:considered )?(?:necessary|needed|proportionate)|"
         r"not (?:necessary|proportionate) (?:to|without)|restrictions? (?:are|is) to stop)\b"),
    ],
    S.OUTCOME_REVIEWED: [
        ("achieved", 0.95,
         r"\b(?:outcomes? (?:were |was |have been |has been |is |are )?(?:fully |partly |partially |not |largely "
         r"|mostly )?(?:met|achieved|acheived|reached)|(?:fully|partly|partially|largely|mostly|all) (?:met|achieved)|(?<=[:\u2013-] )(?:fully |partly |partially |mostly |largely |all |"
         r"not (?:yet )?)?(?:achieved|met)\b|(?:has|have) been (?:fully |partly |largely )?(?:achieved|met)|"
         r"outcomes? [^.;\n]{0,40}?\b(?:not (?:yet )?|partly |partially |mostly )(?:met|achieved)|"
         r"(?:that'?s|which (?:was|is)|that (?:was|is)) what (?:i|she|he|they) want(?:ed)?|feels? more in control|"
         r"back in charge|"
         r"(?:desired )?outcomes? (?:review(?:ed)?|achieved|met)|outcome (?:was |is )?reviewed|"
         r"feels? (?:safer|safe now|happier)|now feels? safe|"
         r"happy with (?:the )?outcome|satisfied with (?:the )?outcome|unhappy with (?:the )?outcome|"
         r"(?:her|his|their) view of the outcome|making safeguarding personal outcome)\b"),
    ],
    # --- triggers ---
    S.THIRD_PARTY_HARM: [
        ("removed", 0.85, REMOVED),
        ("removed_lb", 0.85, REMOVED_LB),
        ("conduct", 0.8, CONDUCT),
        ("conduct_lb", 0.8, CONDUCT_LB),
        ("conduct2", 0.8, r"\b(?:push(?:es|ing) (?:her|him|me|them)|grabs|shoves?|struck(?! off| by)|hits|twisted)\b"),
        # The police acting against the person who harmed her ("Liam interviewed under caution", "Jordan remanded").
        ("process", 0.8,
         r"\b(?:interview(?:ed)? under caution|interviewed (?:by police|voluntarily|under caution)|voluntary (?:interview|"
         r"attend\w*)|charged with|cautioned|arrested|remanded)\b"),
        ("harm_obj", 0.75,
         r"\b(?:grabbed|hit|hits|pushed|slapped|kicked|punched|shouts? at|shouted at|screams? at|threatened|"
         r"locks|locked|controls|checks|belittles|calls) (?:me|her|him|them)\b|"
         r"\b(?:has|had|keeps|kept|holds|held|took|taken|takes|using|uses|manages) (?:her|his|my|their) (?:bank |debit |online )?"
         r"(?:cards?|money|pension|phone|benefits|banking|passport|id|documents|keys?|front door key|pin)|"
         r"\b(?:rough|unsafe|inappropriate) (?:handling|transfer|moving and handling)|"
         r"\b(?:financial abuse|neglect|abuse|ill-?treatment|assault|acts? of omission|restraint|shouting) by\b|"
         r"\bby (?:the |her |his |a |an |night |day |care |agency |support |senior )?(?:staff|carers?|care workers?|"
         r"care assistants?|night staff|agency (?:staff|carers?)|the home|support workers?|hca|nurse)\b|"
         r"\b(?:alleged perpetrators?|suspect:|suspected perpetrator|perpetrator|cuckoo\w*|undue influence|"
         r"being exploited|exploiting (?:her|him|them)|coercive control|controlling (?:and coercive )?behaviou?r|"
         r"domestic (?:abuse|violence)|(?:was|were|been|being|is|are|gets?|got) (?:hit|pushed|slapped|grabbed|"
         r"assaulted|threatened|punched|kicked|spat at|shouted at|sworn at|called names|locked in)|"
         r"(?:shouting|shouted|swore|swearing|screaming|screamed|spat) at (?:her|him|them|mrs \w+|mr \w+)|"
         r"(?:locking|locked) (?:her|him|them|\w+) in)\b|"
         r"\b(?:he|she|they|who)(?: has| had| have)? (?:hit|hits|pushed|pushes|slapped|slaps|grabbed|grabs|kicked|kicks|"
         r"punched|punches|shoved|shoves|strangled|spat at|threatened|threatens|hurt|hurts) (?:her|him|me|them)\b|"
         r"\b(?:shoved|punched|slapped|kicked|strangled) (?:me|her|him)\b|"
         r"\b(?:won't|will not|doesn't|does not|wouldn't) let (?:her|him|me|them) (?:go|see|out|leave|have|speak|talk|use)\b|"
         r"\bstopped (?:her|him|me|them) (?:going|seeing|from|having|speaking|using)\b"),
        ("rel_harm", 0.85,
         r"\b" + REL + r"s?\b[^.;\n]{0,60}?\b(?:taking|took|takes|stole|steal\w*|hit|hits|hitting|punch\w*|slapp?\w*|"
         r"kick\w*|push\w*|shout\w*|threat\w*|abus\w*|assault\w*|financially|exploit\w*|control\w*|coerc\w*|"
         r"harass\w*|intimidat\w*|neglect\w*|rough|hurt\w*|harm\w*|bruis\w*|grabb\w*|withhold\w*|withheld|"
         r"using (?:her|his) (?:card|money|bank)|borrow\w*|demand\w*|pressur\w*|isolat\w*|locks?|locked|"
         r"misus\w*|inappropriate\w*|touch\w*|sexual\w*|rap\w*|forc\w*|bully\w*|belittl\w*|verbal\w*|"
         r"mistreat\w*|rough handling|left (?:her|him) (?:alone|unattended)|not fed|missed (?:calls|visits|meds))"),
        ("alleged_by", 0.85,
         r"\b(?:alleged (?:perpetrator|abuser|source of (?:harm|risk))|person alleged|pam|source of (?:harm|risk)|"
         r"by (?:her|his|their) (?:" + REL + r")|(?:her|his|their) (?:" + REL + r") (?:is|was) (?:alleged|suspected|"
         r"believed|thought|reported))\b"),
    ],
    S.CAPACITY_CONCERN: [
        ("cog", 0.9,
         r"\b(?:dementia|alzheimer'?s?|cognitive (?:impairment|decline|difficulties)|confus(?:ed|ion)|"
         r"memory (?:problems|loss|issues|difficulties)|forgetful|learning disabilit\w+|\bld\b|"
         r"acquired brain injury|brain injury|\babi\b|head injury|delirium|fluctuating capacity|capacity fluctuates|"
         r"(?:lacks?|lacking) capacity|doubts? (?:about|over|re|regarding) (?:her|his|their)? ?capacity|"
         r"capacity (?:is |was )?(?:in doubt|questionable|queried)|disorientat\w+|korsakoff|lewy body|vascular dementia|"
         r"mild cognitive|mci|cognitively impaired|poor recall|unable to retain)\b"),
    ],
    S.HELP_DECLINED: [
        ("declined", 0.85,
         r"\b(?:declined|declines|declining|refused|refuses|refusing|refusal|"
         r"(?:did not|does not|doesn't|didn't|do not|don't) (?:want|wish) (?:any |the |a |an |further |more |to (?:accept|"
         r"have|engage|see|be assessed|attend|make|give|provide|support|apply|go into|go to (?:a )?(?:hospital|refuge))|"
         r"help|support|carers?|care|services?|intervention|assessment|police|social (?:workers?|services|care)|sw\b|"
         r"referral|involvement|input|visits?|package)|(?:not|isn't|is not) consenting|(?:does|did)(?: not|n't) consent|"
         r"(?:said|says) no (?:to|for now)\b|(?:wrote|typed|signed) (?:'|\"|\u201c)?no\b|"
         r"still (?:said |says )?no\b|no chance|self[- ]discharg\w*|won't have|won't (?:accept|let|allow|make|give|agree)|"
         r"would not (?:accept|allow|let|engage|agree|give)|will not (?:give|make|agree)|"
         r"(?:would not|won't|will not) (?:make|give) (?:a |any )?statement|(?:would not|won't|will not) go to hospital|"
         r"not ready to (?:make|give|talk|report)|no police(?: please)?(?! [a-z])|not police\b(?<!am not police)|"
         r"but not (?:to )?(?:the )?(?:police|social services|social care|carers|a statement|any medication)|"
         r"not pressing charges|(?:did|does|would) not (?:support|pursue) (?:a |the )?prosecution|did not want to pursue|"
         r"(?:didn't|doesn't) support (?:a |the )?prosecution|not (?:to )?support (?:a |the )?prosecution|"
         r"(?:victim|she|he) (?:does|did) not support|"
         r"(?:did not|does not|doesn't|didn't|do not|don't) want (?:me (?:in|inside|to (?:contact|call|tell))|"
         r"anyone (?:in the flat|overnight|touching)|'the social'|the social|ongoing|respite|to (?:report|be referred|"
         r"talk to (?:the )?police|pursue|press))|looked at no\b|not engaging|"
         r"disengaged|did not engage|does not engage|won't engage|turned down|sent (?:them|the \w+|carers?) away|"
         r"would not open the door|not willing|unwilling|reluctant|cancelled (?:the |her |his )?(?:care|package|"
         r"visits?|calls?|support)|not interested in|no longer wants?)\b"),
    ],
    S.CRIME_ALLEGED: [
        ("more", 0.8,
         r"\b(?:abh|gbh|s44|s\.44|s 44|s\. 44|ill-?treat\w*|arrested|"
         r"charged(?<!phone charged)(?<!kept charged)(?<!mobile charged)(?! for| £| to )|caution|bail(?:ed)?|"
         r"financial(?:ly)? abus\w*|"
         r"rough handling|grip marks|takes? (?:her|his|my) money|has (?:her|his|my) (?:bank )?card|"
         r"(?:doesn't|does not) get (?:her|his) money|paid £|warrant|vouchers|sexual\w*|restraint|exploit\w*|"
         r"grabbed|pushed|strangl\w*|threaten\w*)\b"),
        # Criminal process about what was done to her, planned or in passing (§3.9, §6 round 4: "Police will interview
        # Liam under caution", "risk increases when his bail ends"): the allegation is current even when the step is
        # not, so the context component does not treat these cues as hypothetical (see context.FUTURE_OK).
        ("process", 0.8,
         r"\b(?:voluntary (?:interview|attend\w*)|suspect (?:to be |was |has been )?(?:interviewed|arrested|traced|charged|"
         r"made off)|charg(?:e|ing) decision|charged with|cautioned|arrest(?:ed|s)?|on remand|remanded|bail(?:ed)?|"
         r"bail conditions?|breach(?:ed)? (?:of )?(?:bail|the order|the non-mol\w*|restraining order)|restraining order|"
         r"non-mol\w* (?:granted|in place|order granted)|trial (?:date|listed|set|awaited|in)|"
         r"(?:magistrates'?|crown|youth) court|court (?:date|case|hearing|stage|listed)|special measures|abe|evidence[- ]led|"
         r"prosecut\w+|"
         r"take (?:a |his |her )?statement|circulated as wanted|seized|as evidence|sexual risk order|"
         r"da ppn|ppn \(?da|pleaded|convicted|compensation order)\b"),
        ("process_lb", 0.8,
         r"(?:(?<=police )|(?<=about )|(?<=about a )|(?<=about her )|(?<=about his ))statement\b|"
         r"(?<=police )(?:investigation|enquir\w+|interview)\b|interview(?:ed)? under caution\b|"
         r"interviewed (?:by police|voluntarily|under caution)\b|"
         r"(?:(?<=police will )|(?<=police to ))(?:interview|arrest|charge|caution|investigate)\b|"
         r"(?:(?<=to )|(?<=at )|(?<=before )|(?<=after )|(?<=until ))trial\b|(?:(?<=go )|(?<=goes )|(?<=going )|(?<=gone )|"
         r"(?<=went )|(?<=attend )|(?<=at )|(?<=to ))court\b(?! of)"),
        ("conduct", 0.8, CONDUCT),
        ("conduct_lb", 0.8, CONDUCT_LB),
        ("conduct2", 0.8,
         r"\b(?:claim(?:ing|ed) to be|purport\w* to be|safe account|courier|cold[- ]?call\w*|"
         r"(?:release|customs|processing|admin) fees?|lock(?:s|ed|ing)? (?:her|him|them|me|\w+) (?:in|out)|"
         r"lock(?:s|ed|ing)? (?:her|his) (?:bedroom |front |back |kitchen )?door|deadlocked|locked (?:in|out of))\b"),
        # Sums of money: a pattern of its own, as it starts after "£" (not at a word start).
        ("money_gone", 0.8,
         r"(?<=£)\d[\d,.]*k? (?:\w+ )?(?:has |have |had |was |were |is |are )?(?:been )?(?:transferred|withdrawn|taken|"
         r"missing|gone|stolen|borrowed)\b"),
        ("crime", 0.85,
         r"\b(?:theft|thefts|stole|stolen|steal\w*|fraud\w*|scam\w*|assault\w*|\bhit\b|punched|slapped|kicked|"
         r"sexual (?:abuse|assault|offence|activity|touching|exploitation)|rape|raped|indecent\w*|hate crime|"
         r"racist|racially|homophobic|disablist|wilful neglect|ill[- ]treatment|coercive control|coercive and "
         r"controlling|controlling behaviour|modern slavery|forced labour|trafficking|trafficked|cuckoo\w*|"
         r"domestic abuse|domestic violence|harassment|stalking|burglary|robbery|criminal|crime|offence|"
         r"extortion|blackmail|embezzl\w*|misappropriat\w*|taking (?:her|his|their) (?:money|pension|benefits)|"
         r"took (?:money|£|cash)|withdrew (?:money|£|cash)|strangl\w*|non-fatal strangulation|strangulation|"
         r"threats? to kill|spat at|hate incident|county lines?|drug (?:supply|dealing)|debt bondage|"
         r"withheld (?:documents|passport|id)|took (?:his|her|their) (?:id|passport|documents|(?:front door )?keys?)|"
         r"fraud by abuse of position|false (?:recording|mar entries|entries)|undue influence|"
         r"(?:locking|locked) (?:her|him|them|\w+) in|(?:money|cash|jewellery|ring|items?|rings|bracelet) "
         r"(?:\w+ )?(?:has |have |had |is |are |was |were )?(?:gone|missing)|(?:police|criminal) investigation|"
         r"give (?:a |her |his )?statement|gave (?:a |her |his )?statement|vri|abh|gbh|"
         # police criminal process about what was done to the adult (§3.9, §6)
         r"statement (?:taken|obtained|given|provided)|given a statement|"
         r"gave (?:a |an |her |his )?(?:video[- ]recorded |written |abe )(?:statement|interview)|"
         r"abe (?:completed|done|statement|interview (?:\d|completed|done|with))|video[- ]recorded (?:interview|statement)|"
         r"vps taken|cps|released under investigation|rui|remanded|pleaded guilty|convicted|guilty plea|"
         r"crime recorded|recorded as (?:a |an )?(?:crime|assault|theft|fraud|ill-treatment)|crime (?:ref|no|number)|"
         r"interviewed (?:voluntarily|under caution|with (?:an? )?(?:appropriate adult|aa|intermediary))|"
         r"suspects? (?:interviewed|identified)|search of (?:the )?suspect|police (?:investigat\w+|recorded)|"
         r"words of advice|community resolution|"
         # a partner's or family member's controlling pattern (§5.4, §6)
         r"takes? (?:all )?(?:her|his|my|their) (?:bank card|card|pension|phone|mobile|wages|benefits|pip|passport|esa|"
         r"money)|took (?:her|his|my) (?:phone|mobile|card|bank card|pension|wages)|"
         r"taken (?:her|his|my) (?:phone|mobile|card|bank card)|"
         r"keeps (?:her|his|my) (?:phone|passport|tablets|medication|bank card|card|money|pension)|"
         r"holds (?:her|his|my) (?:bank )?card|checks (?:her|his|my) (?:phone|bank|texts|receipts)|"
         r"checking (?:her |his )?(?:receipts|phone)|reads (?:her|his|my) (?:texts|phone|messages)|"
         r"listens (?:in )?(?:on|to) (?:her|his|my) (?:calls|phone)|"
         r"controls (?:all )?(?:her|his|my|the) (?:money|medication|finances|pip|benefits|phone)|"
         r"controls all (?:the )?money|won't let (?:her|him|me) (?:go|see|leave|visit|out)|"
         r"(?:not|isn't|is not|wasn't|was not) allowed (?:out|to go|to see)|stopped (?:her|him|me) (?:going|seeing)|"
         r"gives (?:her|him|me) £|sulked|sulks|puts (?:her|him|me) down|"
         r"(?:no one|no-one|nobody) (?:would|will) believe|took over the (?:bank|cards|finances|money)|"
         r"threw (?:a|the) \w+ at|shoved|lamped|twisted (?:my|her|his) (?:wrist|arm))\b"),
    ],
    S.OTHERS_AT_RISK: [
        ("others", 0.85,
         r"\b(?<!like a )(?:child(?:ren)?|grandchild(?:ren)?|baby|toddler|infant|teenagers?|under 18s?|minors?|young people|"
         r"other (?:residents|patients|tenants|service users|adults|people|clients|vulnerable adults)|"
         r"other people at risk|others (?:may be |are |could be )?at risk|risk to others|wider risk|"
         r"residents (?:may be |are )?at risk|whole home|other (?:people|adults) (?:he|she) supports)\b|"
         r"\b(?:other (?:tenants?|women|ladies|ladies' rooms|clients|workers|victims|men|residents|patients)|"
         r"another (?:tenant|resident|client|patient|service user|woman|victim)|(?:all|both) (?:\d+ |the )?(?:residents|tenants|"
         r"clients|patients)|\d+ (?:other |more |further )?(?:residents|women|clients|victims|tenants|patients)|"
         r"(?:separate|another|second) s\.?\s?42|risk to (?:her |him |them )?(?:and )?neighbours|"
         r"further (?:victims?|loss(?:es)?))\b"),
    ],
    S.POSITION_OF_TRUST: [
        ("removed", 0.85, REMOVED),
        ("removed_lb", 0.85, REMOVED_LB),
        # Omissions by the service caring for her and the staff member named in the process (§5.6, §6).
        ("staff_omission", 0.8,
         r"\b(?:same (?:carer|worker|care worker|support worker|hca|nurse|rn|pa|staff member|volunteer)|"
         r"(?:neglect|omission|abuse|ill-?treatment)[^.;\n]{0,25}?\bby (?:the )?(?:[a-z]+ )?(?:home|hospital|agency|provider|"
         r"ward|trust)|(?:repositioning|turning|fluid|food|turn|call) (?:charts?|logs?|records?)[^.;\n]{0,40}?\b(?:blank|gaps?|"
         r"missing|no entries))\b"),
        ("staff_lb", 0.8,
         r"(?:(?<=carer )|(?<=carers )|(?<=staff )|(?<=hca )|(?<=nurse )|(?<=rn )|(?<=pa )|(?<=worker )|(?<=workers ))"
         r"(?:denie[sd]|admit(?:s|ted)|interviewed|arrested)\b|" + MISSED_CALLS),
        ("pot", 0.9,
         r"\b(?:position of trust|pipot|lado|(?:paid |care |support |agency |night |day )?(?:carers?|care workers?|"
         r"support workers?|staff(?: member)?|nurses?|hca|health care assistant|volunteers?|manager|care assistant|"
         r"key worker|home manager|domiciliary|dom care|agency)\b[^.;\n]{0,50}?\b(?:alleged|allegedly|shout\w*|"
         r"hit|slapp\w*|rough\w*|push\w*|took|taking|stole|steal\w*|abus\w*|neglect\w*|missed|left (?:her|him)|"
         r"inappropriate\w*|threat\w*|swore|sworn|mistreat\w*|assault\w*|grabb\w*|forc\w*|bruis\w*|suspended|"
         r"dismissed|theft|borrowed|mock\w*|restrain\w*|ignored|not (?:turning up|attending)|failed))"),
        ("pot_by", 0.8,
         r"\b(?:(?:abuse|neglect|handling|transfer|restraint|omission|shouting|assault|theft|lift(?:ing)?) by (?:the |an? |her |his )?"
         r"(?:night |day |agency |care |support |senior |male |female )?(?:staff|carers?|care workers?|care assistants?|"
         r"hca|nurses?|support workers?|the home|provider|agency)|"
         r"(?:carers?|care staff|staff|care workers?|care assistants?|hca|nurses?|support workers?)\b[^.;\n]{0,40}?\b"
         r"(?:seen (?:pulling|pushing|hitting|dragging|taking)|crushing|drag lift|covert\w*|false|did not (?:observe|give|"
         r"turn up|follow)|signed|touched|wearing|lifting|locked|locking|withh[eo]ld\w*|put to bed|shouted)|"
         r"whistle-?blow\w*|(?:provider|internal|trust|home'?s?) investigation|fraud by abuse of position|"
         r"abuse of (?:position|trust))\b"),
    ],
    S.COMMUNICATION_NEED: [
        ("comm", 0.9,
         r"\b(?:interpret(?:er|s|ing|ed)|translat(?:e|es|ed|ing|ion)|limited english|little english|no english|"
         r"english (?:is not|isn't) (?:her|his|their) first language|first language is|speaks (?:only )?" + LANGS + r"|"
         # "Deaf club", "Deaf-aware IDVA": a service's name, not the adult's need
         r"deaf(?![- ](?:club|centre|idva|aware|community|access|advocacy|connect|liaison|church|people|women|"
         r"friendly|awareness|plus|advocate|service))|hard of hearing|"
         r"hearing (?:impairment|impaired|loss|aids?)|bsl|sign language|non-?verbal|nonverbal|no verbal|"
         r"speech (?:impairment|difficulties|is limited)|aphasi\w+|dysphasi\w+|unable to speak(?! (?:to|with))|communicates (?:by|"
         r"through|using|with)|makaton|pecs|limited (?:verbal )?communication|deafblind|dysarthri\w+|"
         r"no (?:verbal )?speech|(?:very )?limited (?:verbal )?(?:speech|language)|"
         r"uses? (?:a )?(?:communication (?:board|aid|book)|eye[- ]gaze|talker|text relay)|"
         r"typed (?:his|her|their|'|\"|\u201c|on|yes|no|answers|that|some)|signed (?:'|\"|\u201c|yes|no|that)|pointed to (?:'|\"|\u201c)|communication (?:book|board|chart)|"
         r"aac|talking mats?|text relay|relay (?:service|uk)|signvideo|video relay|"
         r"speech (?:is )?(?:now )?(?:very )?limited|(?:single|few) words|word-finding|no meaningful speech|"
         r"language barrier|google translate|translation app|intermediary|"
         r"no (?:\w+ )?interpreter (?:was )?available)\b"),
        # The adult communicating through an aid or another language, in every sentence that records it (§5.7, §6).
        ("aid", 0.85,
         r"\b(?:thumbs?[- ](?:up|down)|spelled|spelt|blinked|mimed|lip[- ]?read\w*|typed(?! up\b| (?:the|a|my|our|up) )|"
         r"wrote (?:'|\"|\u201c)|signed (?:to|she|he|they)|pointed (?:to|at) (?:the |his |her |a )?(?:pictures?|photos?|"
         r"symbols?|cards?|board|words?)|in " + LANGS + r"|"
         r"no longer speaks|communicat\w* in words|communication (?:barrier|needs)|via relay|communicator|" + AIDS + r")\b"),
        ("aid_lb", 0.85, r"(?:(?<=she )|(?<=he )|(?<=they ))wrote\b|" + AID_USED),
        ("aid_heading", 0.85, AID_HEADING),
    ],
}

# Heading sections: a normalised heading (regex on the lower-cased heading text) names the label of its content.
HEADINGS: list[tuple[re.Pattern, str]] = [
    # Long "headings" that are sentences carrying the practice themselves ("Outcomes reviewed with Chloe:",
    # "Risks talked through with her:", "Joseph's wishes:"): their content is the evidence.
    (re.compile(r"^(?:(?:desired |msp )?outcomes? review(?:ed)?(?: with [\w' ()/-]+)?(?: \d[\d/]*)?|"
                r"(?:reviewed|review) with [\w' ()/-]+)$"), S.OUTCOME_REVIEWED),
    (re.compile(r"^(?:[\w ]*\b(?:risks?|safety)\b[\w ]* (?:discussed|agreed|talked through|explained|went through)\b[\w ,'()/-]*|"
                r"(?:safety|risk) plan (?:agreed|discussed|made|completed)[\w ,'()/-]*|discussed (?:\w+ )?(?:risks?|safety))$"),
     S.RISK_DISCUSSED),
    (re.compile(r"^(?:[\w-]+'s|her|his|their) (?:wishes|wish)(?: (?:about|re|for) [\w ]+)?$"), S.DESIRED_OUTCOME),
    (re.compile(r"^(?:[\w-]+'s|her|his|their) (?:views?|account|words)(?: [\w ()/-]+)?$"), S.ADULT_VIEWS),
    # ("Capacity concerns:" raises a doubt, it does not record a consideration)
    (re.compile(r"^(?:mca|mental capacity|capacity)\b(?![\w ,'()/&-]*\b(?:concerns?|doubts?|quer\w+|issues?)\b)"
                r"[\w ,'()/&-]*$"), S.CAPACITY),
    (re.compile(r"^(?:with (?:her|his|their|[\w-]+'s) (?:consent|agreement)|consent\b[\w ,'()/&-]*)$"), S.CONSENT),
    (re.compile(r"^(?:(?:the )?adult'?s? views?|views?(?: of (?:the )?(?:adult|person|client|pt))?|"
                r"(?:her|his|their) views?|voice of the (?:adult|person|child)|wishes and feelings|"
                r"adult'?s? (?:account|wishes|voice)|(?:her|his|their) (?:account|wishes)|what (?:she|he|they) said)$"),
     S.ADULT_VIEWS),
    (re.compile(r"^(?:(?:adult'?s? |her |his |their )?desired outcomes?|d\.?o\.?|outcomes? (?:wanted|sought|desired)|"
                r"(?:personal |msp )?outcomes? (?:she|he|they|adult) wants?|what [\w' -]{1,20}? (?:wants?|would like)(?: to happen)?|"
                r"\w+'s (?:desired )?outcomes?(?: at start| sought| wanted)?|desired outcomes?(?: at start| sought| wanted)?|"
                r"outcomes?(?: at start| sought| wanted)|"
                r"wishes|outcome(?:s)? sought)$"), S.DESIRED_OUTCOME),
    (re.compile(r"^(?:consent|consent to (?:share|enquiry|referral|s42)|consent given\??|consent obtained\??)$"), S.CONSENT),
    (re.compile(r"^(?:capacity|mca|mental capacity|capacity (?:re|for) \w+)$"), S.CAPACITY),
    (re.compile(r"^(?:advocacy|advocate|imca|ima|representation|representative)(?:'s)?(?: (?:view|views|report|feedback))?$"),
     S.ADVOCACY),
    (re.compile(r"^(?:outcomes? (?:achieved|met|review(?:ed)?)|were outcomes (?:met|achieved)\??|"
                r"outcome of (?:the )?enquiry for the adult|msp outcomes?)$"), S.OUTCOME_REVIEWED),
    (re.compile(r"^(?:risks? discussed|risk discussion|safety plan|risk plan)$"), S.RISK_DISCUSSED),
    # "Explained what happens next: ..." / "Told Sean and Bernie next steps: ..." (a heading that carries the telling)
    (re.compile(r"^(?:i |we |sw )?(?:explained|told|informed|updated|advised|went through what)\b[\w ,'()/&-]*$"), S.INFORMED_OF_ACTIONS),
    # "Options considered: care home; home with 4 calls a day ..." / "Less restrictive options explored with him: ..."
    (re.compile(r"^(?:(?:less|least) restrictive[\w ,'()/-]*|(?:the )?options?(?: (?:considered|discussed|explored|weighed|"
                r"talked through|looked at|reviewed))?(?: (?:with|by) [\w' ]{1,25})?|proportionate(?: response| option)?|"
                r"proportionality|alternatives?(?: (?:considered|discussed|explored))?)$"), S.LESS_RESTRICTIVE),
]

# Headings whose content is someone else's view / a plan (used by the context component).
OTHER_HEADING_RE = re.compile(r"\b(?:" + REL + r"|family|professional|professionals|manager|gp|police|referrer|"
                              r"provider|home|staff|ward|team)'?s?\b.*\b(?:views?|wishes|account|concerns?|outcomes?)|"
                              r"\b(?:views?|wishes|account) of (?:the )?(?:" + REL + r"|family|referrer|professionals?|"
                              r"manager|staff|gp|police)\b", re.IGNORECASE)
PLAN_HEADING_RE = re.compile(r"^(?:plan|plans|next steps?|to do|todo|actions? (?:required|needed|to take|outstanding)|"
                             r"recommendations?|further actions?|outstanding|agreed actions?|follow[- ]up|"
                             r"actions? for (?:sw|worker|me)|future plan)$", re.IGNORECASE)
# Content that says a heading was not filled in.
NULL_CONTENT_RE = re.compile(r"^\W*(?:not (?:obtained|known|recorded|gathered|sought|asked|clear|discussed|"
                             r"explored|completed|done|possible|applicable|established|ascertained|given|assessed)|"
                             r"n/?a|none|nil|no|unknown|tbc|to follow|to be (?:confirmed|completed|obtained|"
                             r"established|sought|gathered)|pending|awaited|-+|\?+|\.+|blank|see above|"
                             r"none (?:recorded|obtained|given|known))\W*$", re.IGNORECASE)

CLOSING_TYPE_RE = re.compile(r"\b(?:clos(?:e|ed|ing|ure)|conclu(?:de|ded|sion)|end of (?:s\.?42|enquiry)|discharge summary)\b",
                             re.IGNORECASE)
CLOSING_TEXT_RE = re.compile(
    r"\b(?:case (?:now |to be |can be |will be |is being )?closed|clos(?:e|ing) (?:the |this )?(?:case|enquiry|s\.?\s?42|referral|safeguarding)|"
    r"(?:enquiry|s\.?\s?42|safeguarding) (?:is |now |has been |was )?(?:closed|concluded|completed and closed)|"
    r"closure summary|closing summary|nfa,? (?:and )?(?:close|closing|closed)|for closure|safe to close|ok to close|"
    r"agreed to close|recommend(?:ed)? closure|case closure)\b",
    re.IGNORECASE)




def closing_text(text: str) -> bool:
    """Whether the text says the enquiry or case is closed or closing.  Every phrase of ``CLOSING_TEXT_RE`` contains
    "clos" or "conclu", so most notes are settled by a substring test, without the case-insensitive regex scan."""
    low = text.lower()
    if "clos" not in low and "conclu" not in low:
        return False
    return CLOSING_TEXT_RE.search(text) is not None


def compile_patterns() -> list[Pattern]:
    """All rule patterns, compiled once (one folded regex per label and tier)."""
    out: list[Pattern] = []
    for label, items in RAW.items():
        for name, score, src in items:
            out.append(Pattern(label, _c(src), score, name))
    return out


def heading_label(heading: str) -> str | None:
    for rx, label in HEADINGS:
        if rx.match(heading):
            return label
    return None


assert set(RAW) == set(S.ALL_LABELS), "every spec label needs rule patterns"


# --- fast matching ---------------------------------------------------------------------------------------------------
# Python's ``re`` tries a big alternation at every character of a note.  Almost every pattern can only start with one of
# a few literal prefixes (worked out from the compiled pattern itself), so we look at word starts only and try just the
# patterns whose prefix is there: the same matches, an order of magnitude less work.

from re import _constants as _C  # noqa: E402
from re import _parser as _P  # noqa: E402

_K = 5  # prefix length used for dispatch
_CUT = "\0"


def _prefixes(items: list, k: int = _K) -> set[str] | None:
    """Possible literal prefixes (up to ``k`` chars) of a parsed regex sequence; None if not bounded."""
    if not items:
        return {""}
    op, av = items[0]
    rest = list(items[1:])

    # A prefix ending in _CUT was cut short (what follows it is not literal): it must not be extended.
    def then(heads: set[str] | None) -> set[str] | None:
        if heads is None:
            return None
        out: set[str] = set()
        for h in heads:
            if h.endswith(_CUT) or len(h) >= k:
                out.add(h if h.endswith(_CUT) else h[:k])
                continue
            tails = _prefixes(rest, k - len(h))
            if tails is None:
                if not h:
                    return None
                out.add(h + _CUT)  # a shorter but non-empty prefix is still a valid filter
            else:
                out |= {t if t.endswith(_CUT) and not h else (h + t) if t.endswith(_CUT) else (h + t)[:k]
                        for t in tails}
            if len(out) > 5000:
                return None
        return out

    if op is _C.LITERAL:
        return then({chr(av)})
    if op is _C.ASSERT and av[0] == 1:  # a look-ahead: the match starts with what it looks for
        rest_pre = _prefixes(rest, k)
        if rest_pre is not None:
            return rest_pre
        ahead = _prefixes(list(av[1]), k)
        return None if ahead is None or "" in ahead else {h if h.endswith(_CUT) else h + _CUT for h in ahead}
    if op is _C.AT or op is _C.ASSERT or op is _C.ASSERT_NOT:
        # Zero-width (\b, look-behind, look-ahead): what the pattern consumes starts with what follows. Skipping the
        # assertion only widens the filter; the regex itself still checks it.
        return _prefixes(rest, k)
    if op is _C.SUBPATTERN:
        return then(_prefixes(list(av[3]), k))
    if op is _C.BRANCH:
        heads: set[str] = set()
        for b in av[1]:
            s = _prefixes(list(b), k)
            if s is None:
                return None
            heads |= s
        return then(heads)
    if op is _C.IN:
        if all(o is _C.LITERAL or o is _C.RANGE for o, _ in av):
            chars = {chr(v) for o, v in av if o is _C.LITERAL}
            for o, v in av:
                if o is _C.RANGE:
                    chars |= {chr(c) for c in range(v[0], v[1] + 1)}
            return then(chars) if len(chars) <= 64 else None
        if av == [(_C.CATEGORY, _C.CATEGORY_DIGIT)]:  # \d: ASCII digits (the only digits _STARTS stops at)
            return then(set("0123456789"))
        return None
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
        lo, hi, sub = av
        if hi == 0:
            return _prefixes(rest, k)
        if hi > 1:
            once = _prefixes(list(sub), k)
            if once is None or "" in once:
                return None  # a repeat of something that may match nothing: no bounded prefix
        # One repetition, then the remaining ones (if more are allowed), then the rest: "a+b" starts "ab" or "aab".
        more = rest if hi == 1 else [(op, (max(lo - 1, 0), hi if hi == _C.MAXREPEAT else hi - 1, sub))] + rest
        with_sub = _prefixes(list(sub) + more, k)
        if lo >= 1:
            return with_sub
        without = _prefixes(rest, k)
        if with_sub is None or without is None:
            return None
        return with_sub | without
    return None



def _gate(items: list) -> tuple[str, ...] | None:
    """Strings one of which every match of a parsed pattern contains (None if unknown): taken from its leading
    look-behinds and its first consuming item, whichever has the longest shortest string."""

    def lookbehind(op, av) -> bool:
        return op is _C.ASSERT and av[0] == -1  # (?<=...)

    best: tuple[str, ...] | None = None
    for op, av in items:
        consuming = False
        if lookbehind(op, av):
            pre = _prefixes(list(av[1]))
        elif op is _C.BRANCH and all(len(b) == 1 and lookbehind(*b[0]) for b in av[1]):
            pre = set()
            for b in av[1]:
                sub = _prefixes(list(b[0][1][1]))
                pre = None if sub is None or pre is None else pre | sub
        elif op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue
        else:
            consuming = True  # the first consuming item ends the search
            pre = _prefixes([(op, av)], 1) if op in (_C.LITERAL, _C.IN) else None
        if pre is not None and any(x.endswith(_CUT) for x in pre):
            pre = None
        if pre and "" not in pre:
            cand = tuple(sorted(pre))
            if best is None or min(map(len, cand)) > min(map(len, best)):
                best = cand
        if consuming:
            break
    return best


class Dispatcher:
    """Runs the rule patterns over a lower-cased note, trying each only where its literal prefix occurs."""

    # Where a pattern may start: the start of a run of [a-z0-9], or one of  " \u201c / :  (that is,
    # ``(?<![a-z0-9])[a-z0-9]|["\u201c/:]``). One match per word, starting with a character class, is much faster
    # than trying the look-behind at every character.
    _STARTS = re.compile(r"[a-z0-9\"\u201c/:](?:(?<=[a-z0-9])[a-z0-9]*)?")

    def __init__(self, patterns: list[Pattern]):
        self.patterns = patterns
        self.by_prefix: dict[str, list[int]] = {}
        self.always: list[int] = []
        for i, p in enumerate(patterns):
            pre = _prefixes(list(_P.parse(p.regex.pattern)))
            if pre is not None:
                pre = {x.rstrip(_CUT) for x in pre}
            if pre is None or "" in pre or all(len(x) <= 1 for x in pre):
                # no literal start, or only single characters (tried at nearly every word): one scan is cheaper
                self.always.append(i)
                continue
            for s in pre:
                self.by_prefix.setdefault(s, []).append(i)
        self.lengths = sorted({len(s) for s in self.by_prefix})
        self.gates = {i: _gate(list(_P.parse(patterns[i].regex.pattern))) for i in self.always}
        self._memo: dict[str, tuple[int, ...]] = {}

    def _candidates(self, key: str) -> tuple[int, ...]:
        """Patterns whose literal prefix starts ``key`` (the next few characters at a word start), in order."""
        found: set[int] = set()
        for n in self.lengths:
            found.update(self.by_prefix.get(key[:n], ()))
        return tuple(sorted(found))

    def finditer(self, text: str):
        """Yield (pattern, match) like ``pattern.regex.finditer(text)`` for every pattern (non-overlapping per
        pattern, leftmost first)."""
        found: list[tuple[int, int, re.Match]] = []
        next_ok = [0] * len(self.patterns)
        for i in self.always:
            gate = self.gates[i]
            if gate is not None and not any(g in text for g in gate):
                continue  # a string every match needs is not in the note
            for m in self.patterns[i].regex.finditer(text):
                found.append((i, m.start(), m))
        memo, patterns = self._memo, self.patterns
        for sm in self._STARTS.finditer(text):
            pos = sm.start()
            key = text[pos:pos + _K]
            cands = memo.get(key)
            if cands is None:
                if len(memo) > 500_000:  # bounded memory on huge, varied exports
                    memo.clear()
                cands = memo[key] = self._candidates(key)
            for i in cands:
                if pos < next_ok[i]:
                    continue
                m = patterns[i].regex.match(text, pos)
                if m is not None and m.end() > m.start():
                    found.append((i, pos, m))
                    next_ok[i] = m.end()
        for i, _, m in found:
            yield self.patterns[i], m
