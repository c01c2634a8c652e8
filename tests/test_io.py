"""Tests for msp_nlp.io: reading case-note exports."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
from pathlib import Path

import pytest

try:
    import msp_nlp.io  # noqa: F401
except ImportError:  # running the file without the project root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msp_nlp.io import (
    OPTION_FOR_FIELD,
    ColumnMapping,
    InputError,
    Record,
    RowError,
    normalise_date,
    read_records,
    strip_html,
)
from msp_nlp.spec import CASE_ID, DATE, NOTE_ID, TEXT

CANARY = "ZQXCANARY-Mrs-Smith-said-her-son-takes-her-pension"


def read_all(paths, mapping=None, **kw):
    return [item for chunk in read_records(paths, mapping, **kw) for item in chunk]


def records(items):
    return [i for i in items if isinstance(i, Record)]


def errors(items):
    return [i for i in items if isinstance(i, RowError)]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------------------


def test_csv_basic_values_and_rows(tmp_path):
    p = write(
        tmp_path / "notes.csv",
        "note_id,text,case_id,date,note_type,adult_name,author,team\n"
        '1, Visited Mrs A. ,C1,2024-03-01,Initial contact,Mrs A;Joan,SW1,East\n'
        '2,"Line one\nLine two, with comma",,,,,,\n',
    )
    items = read_all(p)
    assert [type(i) for i in items] == [Record, Record]
    a, b = items
    assert (a.source, a.row, a.note_id, a.text) == (str(p), 1, "1", "Visited Mrs A.")
    assert (a.case_id, a.date, a.note_type, a.adult_name, a.author, a.team) == (
        "C1", "2024-03-01", "Initial contact", "Mrs A;Joan", "SW1", "East")
    assert a.warnings == [] and a.html_stripped is False
    assert b.row == 2 and b.text == "Line one\nLine two, with comma"
    assert b.case_id is None and b.date is None and b.team is None


def test_text_not_stripped_internally(tmp_path):
    p = write(tmp_path / "n.csv", 'note_id,text\n1,"  a   b\n\n\n  c  "\n')
    (r,) = read_all(p)
    assert r.text == "a   b\n\n\n  c"


def test_tsv(tmp_path):
    p = write(tmp_path / "n.tsv", "note_id\ttext\tdate\n7\tShe said, \"no\"; ok\t01/02/2024\n")
    (r,) = read_all(p)
    assert (r.note_id, r.text, r.date) == ("7", 'She said, "no"; ok', "2024-02-01")


@pytest.mark.parametrize("delim", [";", "|", "\t", ","])
def test_txt_sniffs_delimiter(tmp_path, delim):
    p = write(tmp_path / "n.txt", f"note_id{delim}text\n1{delim}hello there\n")
    (r,) = read_all(p)
    assert (r.note_id, r.text) == ("1", "hello there")


def test_csv_with_semicolons_is_sniffed(tmp_path):
    p = write(tmp_path / "n.csv", "note_id;text;date\n1;hello, there;2024-01-05\n")
    (r,) = read_all(p)
    assert (r.text, r.date) == ("hello, there", "2024-01-05")


def test_utf8_bom(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbfnote_id,text\n1,caf\xc3\xa9 visit\n")
    (r,) = read_all(p)
    assert (r.note_id, r.text) == ("1", "café visit")


def test_windows_1252(tmp_path):
    p = write(tmp_path / "win.csv", "note_id,text\n1,“I lost £200” she said – it’s her son\n", "cp1252")
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")
    (r,) = read_all(p)
    assert r.text == "“I lost £200” she said – it’s her son"


def test_windows_1252_undefined_byte_is_replaced(tmp_path):
    p = tmp_path / "win.csv"
    p.write_bytes(b"note_id,text\n1,odd \x81 byte \xa35\n")
    (r,) = read_all(p)
    assert r.text == "odd \ufffd byte £5"


def test_explicit_encoding(tmp_path):
    p = write(tmp_path / "latin.csv", "note_id,text\n1,£5 given\n", "latin-1")
    (r,) = read_all(p, encoding="latin-1")
    assert r.text == "£5 given"
    with pytest.raises(InputError, match="not valid utf-8"):
        read_records(p, encoding="utf-8")


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Notes"
    ws.append(["Note ID", "Case Note", "Date", "Case ID"])
    ws.append([123.0, "Spoke to Mrs A alone.", dt.datetime(2024, 3, 1, 10, 30), 55])
    ws.append([124, "  Visit.  ", dt.datetime(2024, 3, 2), None])
    ws.append([None, None, None, None])  # empty row: not a data row
    ws.append([125, "Third.", "02/03/2024 14:05", "C9"])
    other = wb.create_sheet("Other")
    other.append(["note_id", "text"])
    other.append(["x1", "from other sheet"])
    p = tmp_path / "export.xlsx"
    wb.save(p)

    items = read_all(p, ColumnMapping(text="Case Note"))
    assert [type(i) for i in items] == [Record, Record, Record]
    a, b, c = items
    assert (a.row, a.note_id, a.text, a.date, a.case_id) == (1, "123", "Spoke to Mrs A alone.", "2024-03-01T10:30:00", "55")
    assert (b.row, b.note_id, b.text, b.date, b.case_id) == (2, "124", "Visit.", "2024-03-02", None)
    assert (c.row, c.note_id, c.date) == (4, "125", "2024-03-02T14:05:00")

    (o,) = read_all(f"{p}#Other")
    assert (o.note_id, o.text, o.source) == ("x1", "from other sheet", f"{p}#Other")
    with pytest.raises(InputError, match="no sheet 'Nope'.*'Notes', 'Other'"):
        read_records(f"{p}#Nope")


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({
        "note_id": pa.array([1, 2, 3], pa.int64()),
        "text": ["First note.", "Second note.", None],
        "date": pa.array([dt.date(2024, 1, 2), None, dt.date(2024, 1, 4)], pa.date32()),
        "case_id": pa.array([10.0, float("nan"), 12.0]),
        "when": pa.array([dt.datetime(2024, 1, 2, 9, 15), None, None], pa.timestamp("ms")),
    })
    p = tmp_path / "notes.parquet"
    pq.write_table(table, p, row_group_size=2)
    items = read_all(p, chunk_size=2)
    assert [i.row for i in items] == [1, 2, 3]
    a, b, c = items
    assert (a.note_id, a.text, a.date, a.case_id) == ("1", "First note.", "2024-01-02", "10")
    assert (b.date, b.case_id) == (None, None)
    assert isinstance(c, RowError) and c.field == TEXT and c.note_id == "3"

    (a2, b2, _) = read_all(p, ColumnMapping(date="when"))
    assert a2.date == "2024-01-02T09:15:00" and b2.date is None


def test_jsonl(tmp_path):
    p = write(
        tmp_path / "notes.jsonl",
        json.dumps({"note_id": 1, "text": "One.", "case_id": "C1"}) + "\n"
        "\n"
        + json.dumps({"note_id": "2", "text": "Two.", "date": "2024-05-06 08:00"}) + "\n",
    )
    items = read_all(p)
    assert [(i.row, i.note_id, i.text) for i in items] == [(1, "1", "One."), (3, "2", "Two.")]
    assert items[0].case_id == "C1" and items[1].date == "2024-05-06T08:00:00"


def test_jsonl_bad_lines(tmp_path):
    p = write(
        tmp_path / "notes.ndjson",
        json.dumps({"note_id": "a", "text": "ok"}) + "\n"
        '{"note_id": "b", "text": "' + CANARY + '"\n'  # unterminated
        "[1, 2]\n"
        "   \n"
        + json.dumps({"note_id": "c", "text": "fine"}) + "\n",
    )
    items = read_all(p)
    assert [type(i) for i in items] == [Record, RowError, RowError, Record]
    bad, arr = items[1], items[2]
    assert bad.row == 2 and "line 2" in bad.reason and "JSON" in bad.reason
    assert arr.row == 3 and "not a JSON object" in arr.reason
    assert CANARY not in bad.reason
    assert items[3].row == 5


def test_gzip_csv_and_jsonl(tmp_path):
    p1 = tmp_path / "a.csv.gz"
    with gzip.open(p1, "wt", encoding="utf-8", newline="") as f:
        f.write("note_id,text\n1,gz csv note\n")
    p2 = tmp_path / "b.JSONL.GZ"
    with gzip.open(p2, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"note_id": 2, "text": "gz jsonl note"}) + "\n")
    items = read_all([p1, p2])
    assert [(i.source, i.note_id, i.text) for i in items] == [
        (str(p1), "1", "gz csv note"), (str(p2), "2", "gz jsonl note")]


def test_gzip_cp1252(tmp_path):
    p = tmp_path / "w.csv.gz"
    with gzip.open(p, "wb") as f:
        f.write("note_id,text\n1,£10 taken\n".encode("cp1252"))
    (r,) = read_all(p)
    assert r.text == "£10 taken"


def test_unknown_extension_and_missing_file(tmp_path):
    p = write(tmp_path / "notes.docx", "x")
    with pytest.raises(InputError) as e:
        read_records(p)
    assert ".csv" in str(e.value) and ".xlsx" in str(e.value) and ".jsonl" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        read_records(tmp_path / "missing.csv")


def test_all_files_checked_before_reading(tmp_path):
    good = write(tmp_path / "good.csv", "note_id,text\n1,a\n")
    with pytest.raises(InputError, match="missing.csv"):
        read_records([good, tmp_path / "missing.csv"])


def test_empty_file(tmp_path):
    p = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="empty"):
        read_records(p)
    p2 = write(tmp_path / "header.csv", "note_id,text\n")
    assert read_all(p2) == []


# --------------------------------------------------------------------------------------------------
# column mapping
# --------------------------------------------------------------------------------------------------


def test_resolve_defaults_case_insensitive():
    cols = ["Note ID", "TEXT", "Case ID", "Date", "Note Type", "Adult Name", "Author", "Team", "Other"]
    got = ColumnMapping().resolve(cols, "x.csv")
    assert got == {
        "note_id": "Note ID", "text": "TEXT", "case_id": "Case ID", "date": "Date", "note_type": "Note Type",
        "adult_name": "Adult Name", "author": "Author", "team": "Team",
    }


def test_resolve_optional_fields_absent():
    assert ColumnMapping().resolve(["note_id", "text"], "x.csv") == {NOTE_ID: "note_id", TEXT: "text"}


def test_resolve_explicit_exact_and_case_insensitive():
    cols = ["Episode ID", "Case Note", "Recorded"]
    m = ColumnMapping(note_id="episode id", text="  Case Note ", date="Recorded", case_id="EPISODE  ID")
    got = m.resolve(cols, "x.csv")
    assert got == {NOTE_ID: "Episode ID", TEXT: "Case Note", DATE: "Recorded", CASE_ID: "Episode ID"}


def test_resolve_unknown_explicit_column_lists_columns():
    with pytest.raises(InputError) as e:
        ColumnMapping(text="Case Note").resolve(["ID", "Notes", "Date"], "input.csv")
    msg = str(e.value)
    assert msg.startswith("input.csv: no column 'Case Note' for text")
    assert "'ID', 'Notes', 'Date'" in msg and "--text-col" in msg and "\n" not in msg


def test_resolve_missing_required_columns():
    with pytest.raises(InputError) as e:
        ColumnMapping(note_id="ID").resolve(["ID", "Notes"], "input.csv")
    assert "text" in str(e.value) and "--text-col" in str(e.value) and "'Notes'" in str(e.value)
    with pytest.raises(InputError) as e:
        ColumnMapping(text="Notes").resolve(["ID", "Notes"], "input.csv")
    assert "note_id" in str(e.value) and "--id-col" in str(e.value)


def test_mapping_in_read_records(tmp_path):
    p = write(tmp_path / "export.csv", "Episode ID,Case Note,When\nE1,Visited.,05/06/2024 09:30\n")
    m = ColumnMapping(note_id="Episode ID", text="case note", date="WHEN")
    (r,) = read_all(p, m)
    assert (r.note_id, r.text, r.date) == ("E1", "Visited.", "2024-06-05T09:30:00")
    with pytest.raises(InputError) as e:
        read_records(p)
    assert str(e.value).startswith(str(p)) and "'Episode ID', 'Case Note', 'When'" in str(e.value)
    with pytest.raises(InputError, match="no column 'Notes' for text"):
        read_records(p, ColumnMapping(note_id="Episode ID", text="Notes"))


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------


def test_strip_html_tags_br_entities():
    text, stripped = strip_html("<p>Visited&nbsp;Mrs&nbsp;A &amp; her son.</p><p>She said it&#39;s fine.<br>Ok</p>")
    assert stripped is True
    assert text == "Visited Mrs A & her son.\nShe said it's fine.\nOk"


def test_strip_html_lists_and_divs():
    html_text = '<div class="x">Plan:</div><ul>\n  <li>GP informed</li>\n  <li><b>Police</b> ref 123</li>\n</ul>'
    text, stripped = strip_html(html_text)
    assert stripped
    assert text == "Plan:\n- GP informed\n- Police ref 123"


def test_strip_html_collapses_blank_lines_and_drops_style():
    text, stripped = strip_html("<style>p {color: red}</style><p>a</p>\n\n\n\n<br><br><br><p>b</p><!-- c -->")
    assert stripped and text == "a\n\nb"


def test_strip_html_word_export():
    text, stripped = strip_html('<p class=MsoNormal><span style="font-size:11.0pt">Seen alone<o:p></o:p></span></p>')
    assert stripped and text == "Seen alone"


@pytest.mark.parametrize("plain", [
    "score < 3 and risk > 2",
    "a<b and c>d",
    "Mrs A & Mr B <-> agreed",
    "She said <3 to the carer",
    "Plain text\n\n\nwith blank lines",
])
def test_strip_html_leaves_plain_text(plain):
    assert strip_html(plain) == (plain, False)


def test_html_note_in_csv(tmp_path):
    p = write(tmp_path / "n.csv", 'note_id,text\n1,"<p>Spoke to her&nbsp;alone.</p>"\n2,score < 3\n3,<p>&nbsp;</p>\n')
    a, b, c = read_all(p)
    assert a.text == "Spoke to her alone." and a.html_stripped
    assert b.text == "score < 3" and not b.html_stripped
    assert isinstance(c, RowError) and c.field == TEXT


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


def test_empty_and_whitespace_notes_and_ids(tmp_path):
    p = write(tmp_path / "n.csv", 'note_id,text\n1,\n2,"   \n\t "\n,has text\n  ,also text\n5,ok\n')
    items = read_all(p)
    assert [i.row for i in items] == [1, 2, 3, 4, 5]
    e1, e2, e3, e4, ok = items
    for e in (e1, e2):
        assert isinstance(e, RowError) and e.field == TEXT and e.reason == "text is empty: nothing to check"
    assert (e1.note_id, e2.note_id) == ("1", "2")
    for e in (e3, e4):
        assert isinstance(e, RowError) and e.field == NOTE_ID and e.note_id is None
    assert isinstance(ok, Record)


def test_duplicate_ids_in_one_file(tmp_path):
    p = write(tmp_path / "n.csv", "note_id,text\nA,one\nB,two\nA,three\n")
    items = read_all(p)
    assert [type(i) for i in items] == [Record, Record, RowError]
    dup = items[2]
    assert (dup.row, dup.note_id, dup.field) == (3, "A", NOTE_ID)
    assert str(p) in dup.reason and "row 1" in dup.reason


def test_duplicate_ids_across_files(tmp_path):
    p1 = write(tmp_path / "one.csv", "note_id,text\nA,one\nB,two\n")
    p2 = write(tmp_path / "two.jsonl", json.dumps({"note_id": "B", "text": "again"}) + "\n")
    items = read_all([p1, p2])
    assert [type(i) for i in items] == [Record, Record, RowError]
    assert items[2].source == str(p2) and str(p1) in items[2].reason and "row 2" in items[2].reason


def test_dates(tmp_path):
    p = write(
        tmp_path / "n.csv",
        "note_id,text,date\n"
        "1,a,01/03/2024\n"
        "2,b,1/3/2024 9:05\n"
        "3,c,2024-03-01T10:00:00Z\n"
        "4,d,31/02/2024\n"
        "5,e,next Tuesday\n"
        "6,f,2024-03-01 23:59:59\n",
    )
    items = read_all(p)
    assert all(isinstance(i, Record) for i in items)
    assert [i.date for i in items] == [
        "2024-03-01", "2024-03-01T09:05:00", "2024-03-01T10:00:00", None, None, "2024-03-01T23:59:59"]
    assert [len(i.warnings) for i in items] == [0, 0, 0, 1, 1, 0]
    assert "'31/02/2024'" in items[3].warnings[0] and "day is out of range" in items[3].warnings[0]
    assert "'next Tuesday'" in items[4].warnings[0] and "still checked" not in items[4].text


@pytest.mark.parametrize("value,expected", [
    ("2024-03-01", "2024-03-01"),
    ("20240301", "2024-03-01"),
    ("2024-03-01T10:00", "2024-03-01T10:00:00"),
    ("2024-03-01 10:00:00+01:00", "2024-03-01T10:00:00"),
    ("05/11/2023", "2023-11-05"),
    ("05/11/2023 17:45", "2023-11-05T17:45:00"),
])
def test_normalise_date_ok(value, expected):
    assert normalise_date(value) == (expected, None)


@pytest.mark.parametrize("value", ["2024-13-01", "13/13/2024", "yesterday", "2024-03-01T25:00", "12/25/2024"])
def test_normalise_date_bad(value):
    iso, problem = normalise_date(value)
    assert iso is None and problem


# --------------------------------------------------------------------------------------------------
# malformed CSV
# --------------------------------------------------------------------------------------------------


def test_row_with_extra_fields(tmp_path):
    p = write(tmp_path / "n.csv", "note_id,text,date,team\n1,a,,\n2,b, with, extra,x\n3,c,,\n")
    items = read_all(p)
    assert [type(i) for i in items] == [Record, RowError, Record]
    e = items[1]
    assert e.row == 2 and e.reason.startswith("row has 5 fields, header has 4: check quoting/delimiters")
    assert items[2].row == 3 and items[2].note_id == "3"


def test_unbalanced_quote_at_end_of_file(tmp_path):
    p = write(tmp_path / "n.csv", 'note_id,text\n1,fine\n2,"never closed ' + CANARY + '\n3,swallowed\n')
    items = read_all(p)
    assert [type(i) for i in items] == [Record, RowError]
    e = items[1]
    assert e.row == 2 and "never closed" in e.reason and "line 3" in e.reason
    assert CANARY not in e.reason


def test_unbalanced_quote_then_next_file_still_read(tmp_path):
    p1 = write(tmp_path / "a.csv", 'note_id,text\n1,"open\n')
    p2 = write(tmp_path / "b.csv", "note_id,text\n2,fine\n")
    items = read_all([p1, p2])
    assert [type(i) for i in items] == [RowError, Record]
    assert items[1].source == str(p2)


def test_quoted_multiline_and_escaped_quotes(tmp_path):
    p = write(tmp_path / "n.csv", 'note_id,text\r\n1,"She said ""no"".\r\nThen left."\r\n2,x\r\n')
    a, b = read_all(p)
    assert a.text == 'She said "no".\r\nThen left.' and b.note_id == "2" and b.row == 2


def test_nul_byte_does_not_crash(tmp_path):
    p = tmp_path / "n.csv"
    p.write_bytes(b"note_id,text\n1,a\x00b\n2,ok\n")
    items = read_all(p)
    assert len(items) == 2 and isinstance(items[1], Record)


def test_blank_lines_are_not_rows(tmp_path):
    p = write(tmp_path / "n.csv", "note_id,text\n1,a\n\n,\n2,b\n")
    assert [(i.row, i.note_id) for i in read_all(p)] == [(1, "1"), (4, "2")]


# --------------------------------------------------------------------------------------------------
# streaming
# --------------------------------------------------------------------------------------------------


def test_chunking_in_order_every_row_once(tmp_path):
    lines = ["note_id,text"] + [f"n{i},note {i}" for i in range(1, 11)]
    lines[5] = "n5,"  # an error row still counts
    p = write(tmp_path / "n.csv", "\n".join(lines) + "\n")
    chunks = list(read_records(p, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    flat = [i for c in chunks for i in c]
    assert [i.row for i in flat] == list(range(1, 11))
    assert [i.note_id for i in flat] == [f"n{i}" for i in range(1, 11)]
    assert isinstance(flat[4], RowError)


def test_chunks_span_files(tmp_path):
    p1 = write(tmp_path / "a.csv", "note_id,text\n1,a\n2,b\n")
    p2 = write(tmp_path / "b.csv", "note_id,text\n3,c\n4,d\n5,e\n")
    chunks = list(read_records([p1, p2], chunk_size=2))
    assert all(1 <= len(c) <= 2 for c in chunks)
    assert [i.note_id for c in chunks for i in c] == ["1", "2", "3", "4", "5"]


def test_bad_chunk_size(tmp_path):
    p = write(tmp_path / "a.csv", "note_id,text\n1,a\n")
    with pytest.raises(ValueError):
        read_records(p, chunk_size=0)


# --------------------------------------------------------------------------------------------------
# privacy: no note text in any message
# --------------------------------------------------------------------------------------------------


def test_no_note_text_in_messages(tmp_path):
    c = CANARY
    p1 = write(
        tmp_path / "a.csv",
        "note_id,text,date\n"
        f"1,{c} one,not-a-date\n"
        f"1,{c} dup,\n"
        f",{c} no id,\n"
        f'2,"{c} extra",x,y\n'
        f"3,<p>{c} html</p>,{c}\n"
        f"4,{c},{c[:20]}\n"
        f'5,"{c} open\n',
    )
    p2 = write(
        tmp_path / "b.jsonl",
        json.dumps({"note_id": "1", "text": c}) + "\n" + '{"note_id": "9", "text": "' + c + '\n' + f'"{c}"\n',
    )
    items = read_all([p1, p2])
    messages = [e.reason for e in errors(items)] + [w for r in records(items) for w in r.warnings]
    assert len(errors(items)) >= 6 and any(r.warnings for r in records(items))
    for m in messages:
        assert c not in m and c[:20] not in m
    for e in errors(items):
        assert e.note_id is None or c not in e.note_id
    for mapping in (ColumnMapping(text="Nope"), ColumnMapping(note_id="Nope")):
        with pytest.raises(InputError) as exc:
            read_records(p1, mapping)
        assert c not in str(exc.value) and c[:20] not in str(exc.value)


def test_strip_html_unclosed_style_keeps_text():
    text, stripped = strip_html("<p>Seen at home.</p><style>")
    assert stripped and text == "Seen at home."


def test_utf16_tab_text_export(tmp_path):
    p = tmp_path / "unicode.txt"
    p.write_bytes('note_id\ttext\n1\t"two\nlines £"\n'.encode("utf-16"))
    (r,) = read_all(p)
    assert (r.note_id, r.text) == ("1", "two\nlines £")


def test_not_really_xlsx_or_parquet(tmp_path):
    for name in ("fake.xlsx", "fake.parquet"):
        p = write(tmp_path / name, "note_id,text\n1,a\n")
        with pytest.raises(InputError, match=name):
            read_records(p)


def test_option_names_cover_every_field():
    from msp_nlp.spec import INPUT_FIELDS

    assert set(OPTION_FOR_FIELD) == set(INPUT_FIELDS)
    assert OPTION_FOR_FIELD[TEXT] == "--text-col" and OPTION_FOR_FIELD[NOTE_ID] == "--id-col"
