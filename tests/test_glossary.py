"""Glossaries (pipeline/glossary): the file readers, matching terms in French by lemma,
whether a translation renders them, and loading several files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.glossary import Entry, Glossary, lemma
from pipeline.glossary.readers import GlossaryError, load, read, sniff

COUNCIL = Entry("conseil municipal", ("city council",))
COUNCIL_NOTE = Entry("conseil municipal", ("city council",), "local")
TOWN_HALL = Entry("mairie", ("town hall",))

TBX_BASIC = """<?xml version="1.0" encoding="UTF-8"?>
<martif type="TBX-Basic" xml:lang="en-US"><martifHeader/><text><body>
<termEntry id="c1"><descrip type="definition">local body</descrip>
<langSet xml:lang="fr"><tig><term>conseil municipal</term></tig></langSet>
<langSet xml:lang="en-US"><tig><term>city council</term></tig><tig><term>town council</term></tig></langSet>
</termEntry>
<termEntry id="c2">
<langSet xml:lang="fr-FR"><ntig><termGrp><term>mairie</term></termGrp></ntig></langSet>
<langSet xml:lang="en"><tig><term>town hall</term></tig></langSet>
<langSet xml:lang="de"><tig><term>Rathaus</term></tig></langSet>
</termEntry>
</body></text></martif>
"""
TBX_3 = """<?xml version="1.0" encoding="UTF-8"?>
<?xml-model href="TBXcoreStructV03.rng" type="application/xml"?>
<tbx xmlns="urn:iso:std:iso:30042:ed-2" type="TBX-Basic" style="dca" xml:lang="en">
<tbxHeader/><text><body>
<conceptEntry id="c1">
<langSec xml:lang="fr"><termSec><term>conseil municipal</term></termSec><termSec><term>mairie</term></termSec></langSec>
<langSec xml:lang="en"><termSec><term>city council</term></termSec></langSec>
</conceptEntry>
</body></text></tbx>
"""
MULTITERM = """<?xml version="1.0" encoding="UTF-8"?>
<mtf><conceptGrp><concept>1</concept>
<languageGrp><language type="French" lang="FR"/><termGrp><term>conseil municipal</term></termGrp></languageGrp>
<languageGrp><language type="English" lang="EN-GB"/><termGrp><term>city council</term></termGrp><termGrp><term>town council</term></termGrp></languageGrp>
</conceptGrp>
<conceptGrp><concept>2</concept>
<languageGrp><language type="French" lang="FR"/><termGrp><term>mairie</term></termGrp></languageGrp>
<languageGrp><language type="English" lang="EN"/><termGrp><term>town hall</term></termGrp></languageGrp>
</conceptGrp></mtf>
"""


def short(value: object) -> str | None:
    """A test id: a file's text cut to its first characters."""
    return value[:24] if isinstance(value, str) else None


@pytest.mark.parametrize(
    "name, text, reader, expected",
    [
        ("g.tsv", "conseil municipal\tcity council\n", "tsv", [COUNCIL]),
        ("g.tsv", "conseil municipal\tcity council\tlocal\nmairie\ttown hall\n", "tsv", [COUNCIL_NOTE, TOWN_HALL]),
        ("g.tsv", "fr\ten\tnote\nconseil municipal\tcity council\tlocal\n", "tsv", [COUNCIL_NOTE]),
        ("g.tsv", "note\ten\tfr\nlocal\tcity council\tconseil municipal\n", "tsv", [COUNCIL_NOTE]),
        ("g.tsv", "French\tEnglish\nmairie\ttown hall\n", "tsv", [TOWN_HALL]),
        ("g.tsv", "\ufefffr\ten\nmairie\ttown hall\n", "tsv", [TOWN_HALL]),
        ("g.txt", "conseil  municipal \t city council \n", "tsv", [COUNCIL]),
        # variants, comments and blank lines
        ("g.tsv", "# municipal terms\n\nconseil municipal\tcity council | town council\n", "tsv", [Entry("conseil municipal", ("city council", "town council"))]),
        ("g.tsv", "conseil municipal\tcity council|city council\n", "tsv", [COUNCIL]),
        # CSV, with commas or semicolons
        ("g.csv", "fr,en\nconseil municipal,city council\nmairie,town hall\n", "csv", [COUNCIL, TOWN_HALL]),
        ("g.csv", "conseil municipal,city council\n", "csv", [COUNCIL]),
        ("g.csv", "fr;en;note\nconseil municipal;city council;local\nmairie;town hall;\n", "csv", [COUNCIL_NOTE, TOWN_HALL]),
        ("g.csv", "conseil municipal;city council\nmairie;town hall\n", "csv", [COUNCIL, TOWN_HALL]),
        ("g.csv", 'French,English\n"conseil, municipal",city council\n', "csv", [Entry("conseil, municipal", ("city council",))]),
        # TBX-Basic and TBX 2, TBX 3 (a default namespace), MultiTerm
        ("g.tbx", TBX_BASIC, "tbx", [Entry("conseil municipal", ("city council", "town council"), "local body"), TOWN_HALL]),
        ("g.tbx", TBX_3, "tbx", [COUNCIL, Entry("mairie", ("city council",))]),
        ("g.xml", MULTITERM, "multiterm", [Entry("conseil municipal", ("city council", "town council")), TOWN_HALL]),
        ("g.tbx", "\ufeff" + TBX_BASIC, "tbx", [Entry("conseil municipal", ("city council", "town council"), "local body"), TOWN_HALL]),
    ],
    ids=short,
)
def test_readers(name: str, text: str, reader: str, expected: list[Entry]) -> None:
    assert sniff(text, name) == reader
    assert read(text, name) == expected


def test_glossary_error_is_a_usage_error() -> None:
    assert issubclass(GlossaryError, UsageError)


def test_tsv_line_without_english_names_the_line() -> None:
    with pytest.raises(GlossaryError, match=r"g\.tsv, line 3: it has no English term"):
        read("conseil municipal\tcity council\n# a comment\nmairie\n", "g.tsv")


def test_tsv_line_without_english_after_a_header_names_its_line() -> None:
    with pytest.raises(GlossaryError, match=r"g\.tsv, line 3:"):
        read("fr\ten\nconseil municipal\tcity council\nmairie\n", "g.tsv")


def test_tsv_line_with_an_empty_english_cell_is_an_error() -> None:
    with pytest.raises(GlossaryError, match="line 2"):
        read("conseil municipal\tcity council\nmairie\t\n", "g.tsv")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "fr\ten\n"])
def test_no_entry_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GlossaryError, match="holds no glossary entry"):
        load([path])


def test_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    path.write_bytes("conseil municipal\tcity council\nmairie\ttown hall é\n".encode("latin-1"))
    with pytest.raises(GlossaryError, match="not UTF-8"):
        load([path])


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="cannot be read"):
        load([tmp_path / "nowhere.tsv"])


@pytest.mark.parametrize("name, text", [("g.tbx", "<martif><text><body><termEntry>"), ("g.tbx", TBX_BASIC.replace("</tig>", "", 1)), ("g.xml", MULTITERM.replace("</mtf>", ""))], ids=short)
def test_malformed_xml_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GlossaryError, match="not well-formed XML"):
        load([path])


XXE_BODY = (
    '<martif><text><body><termEntry><langSet xml:lang="fr"><tig><term>mairie</term></tig></langSet>'
    '<langSet xml:lang="en"><tig><term>town hall &e;</term></tig></langSet></termEntry></body></text></martif>'
)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>',
        '<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
        '<!DOCTYPE x SYSTEM "file://{secret}">',
    ],
)
def test_external_entities_are_not_read(tmp_path: Path, doctype: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOPSECRET", encoding="utf-8")
    path = tmp_path / "g.tbx"
    path.write_text('<?xml version="1.0"?>\n' + doctype.format(secret=secret) + "\n" + XXE_BODY, encoding="utf-8")
    try:
        glossary = load([path])
    except GlossaryError:
        return
    text = repr(glossary.entries)
    assert "root:" not in text and "TOPSECRET" not in text
    assert [e.source for e in glossary.entries] == ["mairie"]


def test_load_first_file_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first.tsv", tmp_path / "second.csv"
    first.write_text("conseil municipal\tcity council\n", encoding="utf-8")
    second.write_text("conseil municipal,town council\nmairie,town hall\n", encoding="utf-8")
    assert load([first, second]).entries == (COUNCIL, TOWN_HALL)
    assert load([second, first]).entries == (Entry("conseil municipal", ("town council",)), TOWN_HALL)


def test_load_reads_every_format(tmp_path: Path) -> None:
    files = {"a.tsv": "mairie\ttown hall\n", "b.tbx": TBX_3, "c.xml": MULTITERM}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    glossary = load(tmp_path / name for name in files)
    assert [(e.source, e.targets) for e in glossary.entries] == [("mairie", ("town hall",)), ("conseil municipal", ("city council",))]


# Matching


def hits(entries: list[Entry], text: str, protected: list[tuple[int, int]] | None = None) -> list[tuple[str, str]]:
    """(entry's French, text matched) of each hit, left to right."""
    return [(h.entry.source, h.text) for h in Glossary(entries).find(text, protected or ())]


CONSEIL = Entry("conseil", ("council",))
ONU = Entry("ONU", ("UN",))


@pytest.mark.parametrize(
    "entries, text, protected, expected",
    [
        ([COUNCIL], "Les conseils municipaux ont voté.", None, [("conseil municipal", "conseils municipaux")]),
        ([Entry("élection présidentielle", ("presidential election",))], "Les élections présidentielles ont eu lieu.", None, [("élection présidentielle", "élections présidentielles")]),
        ([COUNCIL], "Le Conseil Municipal a voté.", None, [("conseil municipal", "Conseil Municipal")]),
        # the longest match wins, whatever the entries' order; matches do not overlap
        ([CONSEIL, COUNCIL], "Le conseil municipal a voté.", None, [("conseil municipal", "conseil municipal")]),
        ([COUNCIL, CONSEIL], "Le conseil municipal a voté. Le conseil aussi.", None, [("conseil municipal", "conseil municipal"), ("conseil", "conseil")]),
        # an entry with a capital after its first letter matches only as written
        ([ONU], "L'ONU a voté.", None, [("ONU", "ONU")]),
        ([ONU], "L'onu a voté, et l'Onu aussi.", None, []),
        # accents count
        ([Entry("a", ("has",))], "Il est allé à Paris.", None, []),
        ([Entry("a", ("has",))], "Il a vu à Paris.", None, [("a", "a")]),
        ([Entry("à", ("at",))], "Il a vu à Paris.", None, [("à", "à")]),
        # words of a term follow one another: not across punctuation
        ([COUNCIL], "Le conseil. Municipal, il a voté.", None, []),
        ([COUNCIL], "Le conseil, municipal.", None, []),
        ([COUNCIL], "Le conseil-municipal.", None, [("conseil municipal", "conseil-municipal")]),
        # not inside a protected span, nor overlapping one
        ([COUNCIL], "Voir conseil municipal.", [(5, 22)], []),
        ([COUNCIL], "Le conseil municipal.", [(3, 10)], []),
        ([COUNCIL], "Voir conseil municipal et le conseil municipal.", [(5, 22)], [("conseil municipal", "conseil municipal")]),
        ([COUNCIL], "Rien à voir.", None, []),
    ],
)
def test_find(entries: list[Entry], text: str, protected: list[tuple[int, int]] | None, expected: list[tuple[str, str]]) -> None:
    assert hits(entries, text, protected) == expected


def test_find_spans_are_where_the_term_is() -> None:
    text = "Voir conseil municipal et le conseil municipal."
    [hit] = Glossary([COUNCIL]).find(text, [(5, 22)])
    assert (hit.start, hit.end) == (29, 46)
    assert text[hit.start : hit.end] == hit.text


VARIANTS = Entry("conseil municipal", ("city council", "town council"))


@pytest.mark.parametrize(
    "entries, source, mt, missed",
    [
        ([COUNCIL], "Les conseils municipaux ont voté.", "The city councils voted.", []),
        ([COUNCIL], "Le conseil municipal a voté.", "The City Council voted.", []),
        ([VARIANTS], "Le conseil municipal a voté.", "The town council voted.", []),
        ([VARIANTS], "Le conseil municipal a voté.", "The municipal board voted.", ["conseil municipal"]),
        ([COUNCIL], "Le conseil municipal a voté.", "The city, council voted.", ["conseil municipal"]),
        ([COUNCIL, TOWN_HALL], "Le conseil municipal siège à la mairie.", "The city council sits at the hall.", ["mairie"]),
        ([COUNCIL], "Le maire a voté.", "The mayor voted.", []),
    ],
)
def test_missed(entries: list[Entry], source: str, mt: str, missed: list[str]) -> None:
    assert [hit.text for hit in Glossary(entries).missed(source, mt)] == missed


def test_missed_leaves_protected_terms_alone() -> None:
    source = "Voir conseil municipal."
    assert Glossary([COUNCIL]).missed(source, "See conseil municipal.", [(5, 22)]) == []


def test_rendered_and_locate() -> None:
    glossary = Glossary([VARIANTS])
    assert glossary.rendered(VARIANTS, "The city councils voted.")
    assert glossary.locate(VARIANTS, "The town council voted.") == (4, 16)
    assert glossary.locate(VARIANTS, "The municipal board voted.") is None


def test_lemma() -> None:
    assert lemma("conseils", "fr") == "conseil"
    assert lemma("présidentielles", "fr") == lemma("présidentielle", "fr")
    assert lemma("councils", "en") == "council"


def test_glossary_drops_duplicates_and_entries_without_words() -> None:
    glossary = Glossary([COUNCIL, COUNCIL, Entry("---", ("dash",)), TOWN_HALL])
    assert glossary.entries == (COUNCIL, TOWN_HALL)
    assert len(glossary) == 2


def test_digest_ignores_order() -> None:
    assert Glossary([COUNCIL, TOWN_HALL]).digest == Glossary([TOWN_HALL, COUNCIL]).digest
    assert Glossary([COUNCIL]).digest != Glossary([VARIANTS]).digest


def test_a_text_with_no_delimiter_is_a_glossary_error_not_a_csv_one() -> None:
    with pytest.raises(GlossaryError, match=r"a\.txt, line 1: it has no English term"):
        read("Les conseils municipaux ont voté.\n", "a.txt")
