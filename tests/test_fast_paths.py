"""The speed-ups keep the exact matches of the plain versions they replace (differential, property-based)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_nlp import context as C
from msp_nlp import rules as R
from msp_nlp import segment as G

WORDS = R._split_alternatives(R.REL_ALTS) + ["family", "manager", "home manager", "gp", "dr", "i", "in", "sw",
                                             "she", "he", "they", "mrs\\.? [a-z'-]+", "not", "no", "nil"]
_ALPHABET = "abdefghilmnorstuwy -.'"
_text = st.text(alphabet=_ALPHABET, max_size=60)


def _spans(rx: re.Pattern, s: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(s)]


def test_alternation_groups_by_first_character():
    assert R.alternation("son|daughter|sister|dad") == "(?:s(?:on|ister)|d(?:aughter|ad))"
    assert R._split_alternatives(r"a|b(?:c|d)|[|]|x") == ["a", "b(?:c|d)", "[|]", "x"]


@pytest.mark.parametrize("bad", ["(?:a|b)|c", "[ab]c|d", "a?b|c", r"\bx|y", ""])
def test_alternation_refuses_alternatives_without_a_literal_first_character(bad):
    with pytest.raises(ValueError):
        R.alternation(bad)


@settings(max_examples=400, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12), s=_text)
def test_alternation_matches_like_the_plain_alternation(words, s):
    src = "|".join(words)
    plain = re.compile(r"\b(?:" + src + r")s?\b")
    grouped = re.compile(r"\b" + R.alternation(src) + r"s?\b")
    assert _spans(grouped, s) == _spans(plain, s)



@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab9 .:/\"\u201c\u201d'\n-(\u00e9", max_size=80))
def test_dispatcher_word_starts_match_their_readable_form(s):
    readable = re.compile(r"(?<![a-z0-9])[a-z0-9]|[\"\u201c/:]")
    assert [m.start() for m in R.Dispatcher._STARTS.finditer(s)] == [m.start() for m in readable.finditer(s)]


def test_gates_name_a_string_every_match_needs():
    d = R.Dispatcher(R.compile_patterns())
    gates = {d.patterns[i].name: d.gates[i] for i in d.always}
    assert gates["money_gone"] == ("\u00a3",) and set(gates["quote"]) == {'"', "\u201c"}
    assert {"prese", "atten", "in at"} == set(gates["attendees"])
    assert R._gate(list(R._P.parse(r"\bfoo"))) == ("f",) and R._gate(list(R._P.parse(r".x"))) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS[:40] + ["but", "and she", "as", "then", ",", " - ", "(", "x"]), max_size=15))
def test_context_regexes_match_like_their_plain_forms(parts):
    s = " ".join(parts)
    plain_other = re.compile(r"\b(?:" + R.REL + r"|family|manager|home manager|gp|doctor|dr|consultant|police|"
                             r"officers?|pc|referrer|provider|the home|ward|staff|professionals?|housing officer|"
                             r"landlord|ot|dn|neighbours?)s?\b")
    plain_term = re.compile(r"[,;:()]|\s-\s|\b(?:but|however|although|though|whereas|except|because|as|since|so|"
                            r"which|who|whilst|while|then|and (?:she|he|they|i|we|sw|mrs|mr|ms)|after|before|when|"
                            r"until)\b")
    assert _spans(C._OTHER_REF, s) == _spans(plain_other, s)
    assert _spans(C._TERMINATOR, s) == _spans(plain_term, s)


# The readable form of segment._END_RE.
_PLAIN_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]?[A-Za-z0-9\u2022*-])|(?<=[!?])\s+|"
                        r"\s*;\s+(?=[A-Z])|\s+-\s+(?=[A-Z])")


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="aB1.!?;- \t\"'\u201d\u2019\u201c\u2018()\u2022*", max_size=30))
def test_sentence_end_regex_matches_like_its_readable_form(s):
    assert _spans(G._END_RE, s) == _spans(_PLAIN_END, s)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["case", "closed", "closure", "summary", "to", "close", "the", "enquiry", "s42",
                                 "NFA", "and", "concluded", "Case", "CLOSED", "safe", "ok", "for", "x", "."]),
                max_size=10))
def test_closing_text_prefilter_agrees_with_the_regex(words):
    s = " ".join(words)
    assert R.closing_text(s) == bool(R.CLOSING_TEXT_RE.search(s))


def test_abbreviations_do_not_end_sentences():
    text = "Seen with Mrs. Khan at 10 a.m. today. She said e.g. the S.42 letter came. Then left."
    sents = [text[s.start:s.end] for s in G.segment(text)]
    assert sents == ["Seen with Mrs. Khan at 10 a.m. today.", "She said e.g. the S.42 letter came.", "Then left."]
