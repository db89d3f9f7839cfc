from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.corrections import (
    CorrectionsError,
    Pair,
    Reading,
    Refusal,
    read_any,
    read_corrections,
    read_tmx,
    write_tmx,
)
from pipeline.memory import HumanEntry, TranslationMemory

# --- TMX as CAT tools write it --------------------------------------------------------

OMEGAT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tmx SYSTEM "tmx11.dtd">
<tmx version="1.1">
  <header creationtool="OmegaT" o-tmf="OmegaT TMX" adminlang="EN-US" datatype="plaintext" creationtoolversion="6.0.0" segtype="sentence" srclang="FR-FR"/>
  <body>
    <tu>
      <tuv lang="FR-FR">
        <seg>Le <bpt i="1" x="1">&lt;b&gt;</bpt>chat<ept i="1">&lt;/b&gt;</ept> dort.</seg>
      </tuv>
      <tuv lang="EN-GB" changeid="ann" changedate="20240501T120000Z">
        <seg>The <bpt i="1">&lt;b&gt;</bpt>cat<ept i="1">&lt;/b&gt;</ept> sleeps.</seg>
      </tuv>
    </tu>
    <tu>
      <tuv lang="FR-FR"><seg>Seul en français.</seg></tuv>
    </tu>
  </body>
</tmx>
"""

TRADOS = """<?xml version="1.0" encoding="utf-16"?>
<tmx version="1.4">
  <header creationtool="SDL Language Platform" creationtoolversion="8.0" o-tmf="SDL TM8 Format" datatype="xml" segtype="sentence" adminlang="en-US" srclang="fr-FR" creationdate="20240105T101010Z" creationid="ann">
    <prop type="x-Recognizers">RecognizeAll</prop>
  </header>
  <body>
    <tu tuid="7" creationdate="20240105T101010Z" creationid="ann" usagecount="2">
      <prop type="x-Context">123, 456</prop>
      <tuv xml:lang="fr-FR"><seg>Voir <ph x="1" type="link">&lt;a href="n"&gt;<sub>lien</sub></ph>la <hi type="b">note</hi><it pos="end">&lt;/a&gt;</it>, page <ut>{p}</ut>3\u00a0!</seg></tuv>
      <tuv xml:lang="en-US"><seg>See the <hi type="b">note<ph>&lt;br/&gt;</ph></hi>, page 3!</seg></tuv>
      <tuv xml:lang="de-DE"><seg>Siehe die Notiz, Seite 3!</seg></tuv>
    </tu>
    <tu tuid="8" srclang="en-US">
      <tuv xml:lang="en-US"><seg>Reverse.</seg></tuv>
      <tuv xml:lang="fr-FR"><seg>À l'envers.</seg></tuv>
    </tu>
    <tu tuid="9">
      <tuv xml:lang="en-US"><seg>No French.</seg></tuv>
      <tuv xml:lang="de-DE"><seg>Kein Französisch.</seg></tuv>
    </tu>
  </body>
</tmx>
"""

MEMOQ = """<?xml version="1.0" encoding="utf-8"?>
<tmx version="1.4">
<header creationtool="memoQ" creationtoolversion="9.12" segtype="sentence" o-tmf="memoQTM" adminlang="en-us" srclang="*all*" datatype="unknown"/>
<body>
<tu creationdate="20240202T080000Z">
<tuv xml:lang="en-gb"><seg>  Spaces kept, &amp; &lt;escapes&gt;.  </seg></tuv>
<tuv xml:lang="fr-ca"><seg>Des  espaces, &amp; des &lt;échappements&gt;.</seg></tuv>
<tuv xml:lang="fr-fr"><seg>Ignored: the first French counts.</seg></tuv>
<tuv xml:lang="es"><seg>Espacios.</seg></tuv>
</tu>
<tu>
<tuv xml:lang="fr"><seg><ph>{1}</ph> </seg></tuv>
<tuv xml:lang="en"><seg>Only code on the French side.</seg></tuv>
</tu>
<tu>
<tuv xml:lang="fr"><seg>Rien en anglais.</seg></tuv>
<tuv xml:lang="en"><seg/></tuv>
</tu>
</body>
</tmx>
"""

ENGLISH_SOURCE = """<tmx version="1.4"><header srclang="en-US"/><body>
<tu><tuv xml:lang="en-US"><seg>Hello.</seg></tuv><tuv xml:lang="fr-FR"><seg>Bonjour.</seg></tuv></tu>
</body></tmx>"""


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (
            OMEGAT.encode(),
            "project_save.tmx",
            Reading(
                (Pair("Le chat dort.", "The cat sleeps.", "project_save.tmx line 6"),),
                (Refusal("project_save.tmx line 14", "no fr/en pair (its languages: FR-FR)"),),
            ),
        ),
        (
            TRADOS.encode("utf-16"),
            "trados.tmx",
            Reading(
                (Pair("Voir la note, page 3\u00a0!", "See the note, page 3!", "trados.tmx line 7 (tu 7)"),),
                (
                    Refusal("trados.tmx line 13 (tu 8)", "not fr→en: its source language is en-US"),
                    Refusal("trados.tmx line 17 (tu 9)", "no fr/en pair (its languages: en-US, de-DE)"),
                ),
            ),
        ),
        (
            MEMOQ.encode(),
            "memoq.tmx",
            Reading(
                (Pair("Des  espaces, & des <échappements>.", "  Spaces kept, & <escapes>.  ", "memoq.tmx line 5"),),
                (Refusal("memoq.tmx line 11", "the French is empty"), Refusal("memoq.tmx line 15", "the English is empty")),
            ),
        ),
        (ENGLISH_SOURCE.encode(), "en-fr.tmx", Reading((), (Refusal("en-fr.tmx line 2", "not fr→en: its source language is en-US"),))),
        (b'<tmx version="1.4"><header srclang="fr"/><body/></tmx>', "empty.tmx", Reading((), ())),
    ],
    ids=["omegat", "trados-utf16", "memoq", "en-fr", "empty"],
)
def test_tmx_as_cat_tools_write_it(data: bytes, name: str, expected: Reading) -> None:
    assert read_tmx(data, name) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<?xml version="1.0"?>\n<tmx>\n<body>\n<tu><tuv xml:lang="fr"><seg>Un.</tuv></tu>\n</body>\n</tmx>\n',
            "a.tmx is not well-formed XML at line 4, column 34 (mismatched tag): correct it there, or export it again from its CAT tool",
        ),
        (b"<tmx>\n<body>\n", "a.tmx is not well-formed XML at line 3, column 1 (no element found): correct it there, or export it again from its CAT tool"),
        (b"<tmx>\n<seg>a &nbsp; b</seg></tmx>", "a.tmx is not well-formed XML at line 2, column 8 (undefined entity): correct it there, or export it again from its CAT tool"),
        (b"", "a.tmx is not well-formed XML at line 1, column 1 (no element found): correct it there, or export it again from its CAT tool"),
        (
            b'<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n<tmx><seg>a&nbsp;b</seg></tmx>',
            "a.tmx uses the undefined entity &nbsp; at line 2: write the character itself or its number (&#160; for a no-break space) instead",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE tmx [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<tmx>&b;</tmx>',
            "a.tmx declares the XML entity 'a' at line 3, which TMX never needs and whose expansion could exhaust memory: export it again from its CAT tool",
        ),
        (
            b'<!DOCTYPE tmx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n<tmx>&secret;</tmx>',
            "a.tmx declares the XML entity 'secret' at line 1, which TMX never needs and whose expansion could exhaust memory: export it again from its CAT tool",
        ),
        (b"<html><body/></html>", "a.tmx is not a TMX file (its root element is <html>, not <tmx>): give a TMX file exported from a CAT tool"),
    ],
    ids=["mismatched", "truncated", "html-entity", "empty", "entity-of-external-dtd", "billion-laughs", "external-entity", "not-tmx"],
)
def test_unreadable_tmx_is_one_sentence_with_its_line(data: bytes, message: str) -> None:
    with pytest.raises(CorrectionsError) as error:
        read_tmx(data, "a.tmx")
    assert str(error.value) == message


# --- the review page's corrections files -----------------------------------------------

UNITS = [
    {"ids": ["s1"], "src": "Le chat dort.", "mt": "The cat is sleeping.", "edit": "The cat sleeps."},
    {"ids": ["s4"], "src": "Deux.", "mt": "Two.", "edit": " "},
    {"ids": ["s9"], "src": "", "mt": "", "edit": "Something."},
    {"ids": ["s10"], "src": "Le <script>.", "mt": "The <script>.", "edit": "The <script> tag."},
    {"ids": ["s11", "s12"], "src": "Deux. Phrases.", "mt": "Two. Sentences.", "edit": "Two sentences."},
]


def corrections(**changes: object) -> dict:
    return {"mtpipe": "corrections", "version": 1, "article": "b.txt", "model": "Helsinki-NLP/opus-mt-fr-en", "revision": "abc123", "units": UNITS} | changes


def with_unit(**changes: object) -> dict:
    return corrections(units=[UNITS[0], UNITS[0] | changes])


def test_corrections_file_gives_its_edits() -> None:
    data = json.dumps(corrections(), ensure_ascii=False).encode()
    assert read_corrections(data, "b.corrections.json") == Reading(
        (
            Pair("Le chat dort.", "The cat sleeps.", "b.corrections.json unit 1 (s1)"),
            Pair("Le <script>.", "The <script> tag.", "b.corrections.json unit 4 (s10)"),
        ),
        (
            Refusal("b.corrections.json unit 2 (s4)", "the English is empty"),
            Refusal("b.corrections.json unit 3 (s9)", "the French is empty"),
            Refusal(
                "b.corrections.json unit 5 (s11 s12)",
                "it holds 2 sentences, and human translations are used sentence by sentence: edit its sentences in a page made without --ref",
            ),
        ),
    )


@pytest.mark.parametrize(
    "unit, refusal",
    [
        (UNITS[0] | {"edit": "The cat\ud800."}, "the English holds U+D800, which is not text"),
        (UNITS[0] | {"src": "\udfffLe chat."}, "the French holds U+DFFF, which is not text"),
        (UNITS[0] | {"edit": "The\x00cat."}, "the English holds U+0000, which is not text"),
        (UNITS[0] | {"edit": "The\x1bcat."}, "the English holds U+001B, which is not text"),
    ],
    ids=["lone-surrogate", "surrogate-in-french", "nul", "escape"],
)
def test_units_holding_what_is_not_text_are_refused(unit: dict, refusal: str) -> None:
    """One line each; the other units of the file are read."""
    data = json.dumps(corrections(units=[unit, UNITS[0]])).encode()
    reading = read_corrections(data, "b.json")
    assert reading.refusals == (Refusal("b.json unit 1 (s1)", refusal),) and len(reading.pairs) == 1


@pytest.mark.parametrize(
    "document",
    [corrections(revision=None), corrections(units=[])],
    ids=["no-revision", "no-units"],
)
def test_corrections_file_variants_are_read(document: dict) -> None:
    read = read_corrections(b"\xef\xbb\xbf" + json.dumps(document).encode(), "b.json")
    assert len(read.pairs) == len([u for u in document["units"] if u["src"] and u["edit"].strip() and len(u["ids"]) == 1])


AGAIN = ": export the corrections again from the review page"
NOT_CORRECTIONS = (
    'b.json is not an mtpipe corrections file (it lacks "mtpipe": "corrections"): give the file from "Export corrections" of a review page, or a TMX file'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"mtpipe": "corrections",\n "version": 1,,}', f"b.json is not JSON (Expecting property name enclosed in double quotes at line 2, column 15){AGAIN}"),
        (b"\xff\xfe{}", f"b.json is not UTF-8 text (byte 1){AGAIN}"),
        (b"[]", NOT_CORRECTIONS),
        (json.dumps({"articles": [], "settings": {}}).encode(), NOT_CORRECTIONS),
        (json.dumps(corrections(mtpipe="summary")).encode(), NOT_CORRECTIONS),
        (json.dumps(corrections(version=2)).encode(), "b.json is a corrections file of version 2, newer than this mtpipe reads (1): upgrade mtpipe to import it"),
        (json.dumps(corrections(version=0)).encode(), f"b.json is not a valid corrections file (its version is 0, not 1){AGAIN}"),
        (json.dumps(corrections(version="1")).encode(), f"b.json is not a valid corrections file (the file's 'version' is string, not number){AGAIN}"),
        (json.dumps(corrections(version=True)).encode(), f"b.json is not a valid corrections file (the file's 'version' is boolean, not number){AGAIN}"),
        (json.dumps({k: v for k, v in corrections().items() if k != "model"}).encode(), f"b.json is not a valid corrections file (the file has no 'model'){AGAIN}"),
        (json.dumps(corrections(date="today")).encode(), f"b.json is not a valid corrections file (the file has unknown keys 'date'){AGAIN}"),
        (json.dumps(corrections(revision=3)).encode(), f"b.json is not a valid corrections file (the file's 'revision' is number, not string or null){AGAIN}"),
        (json.dumps(corrections(units={})).encode(), f"b.json is not a valid corrections file (the file's 'units' is object, not array){AGAIN}"),
        (json.dumps(corrections(units=[UNITS[0], "s2"])).encode(), f"b.json is not a valid corrections file (unit 2 is string, not an object){AGAIN}"),
        (json.dumps(with_unit(edit=None)).encode(), f"b.json is not a valid corrections file (unit 2's 'edit' is null, not string){AGAIN}"),
        (json.dumps(with_unit(ids=[])).encode(), f"b.json is not a valid corrections file (unit 2's 'ids' is not a list of one or more strings){AGAIN}"),
        (json.dumps(with_unit(ids=[4])).encode(), f"b.json is not a valid corrections file (unit 2's 'ids' is not a list of one or more strings){AGAIN}"),
        (json.dumps(with_unit(hter=0.2)).encode(), f"b.json is not a valid corrections file (unit 2 has unknown keys 'hter'){AGAIN}"),
        (json.dumps(corrections(units=[{"ids": ["s1"], "edit": "x"}])).encode(), f"b.json is not a valid corrections file (unit 1 has no 'src', 'mt'){AGAIN}"),
        (b"[" * 100_000 + b"]" * 100_000, f"b.json is not a corrections file (it nests too deep){AGAIN}"),
        (b'{"mtpipe": "corrections", "version": ' + b"9" * 5000 + b"}", f"b.json is not a corrections file (it holds a number too long to read){AGAIN}"),
    ],
)
def test_invalid_corrections_file_is_one_sentence_saying_what_to_do(data: bytes, message: str) -> None:
    with pytest.raises(CorrectionsError) as error:
        read_corrections(data, "b.json")
    assert str(error.value) == message


# --- any file -------------------------------------------------------------------------

TINY_TMX = '<tmx version="1.4"><header srclang="fr"/><body><tu><tuv xml:lang="fr"><seg>Oui.</seg></tuv><tuv xml:lang="en"><seg>Yes.</seg></tuv></tu></body></tmx>'
TINY_CORRECTIONS = json.dumps(corrections(units=UNITS[:1]))


@pytest.mark.parametrize(
    ("name", "content", "pair"),
    [
        ("memory.TMX", TINY_TMX, Pair("Oui.", "Yes.", "memory.TMX line 1")),
        ("export.xml", "\ufeff\n  " + TINY_TMX, Pair("Oui.", "Yes.", "export.xml line 2")),
        ("b.corrections.json", TINY_CORRECTIONS, Pair("Le chat dort.", "The cat sleeps.", "b.corrections.json unit 1 (s1)")),
        ("b.corrections", TINY_CORRECTIONS, Pair("Le chat dort.", "The cat sleeps.", "b.corrections unit 1 (s1)")),
    ],
)
def test_any_file_is_read_by_its_suffix_else_its_content(tmp_path: Path, name: str, content: str, pair: Pair) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_any(path) == Reading((pair,), ())


def test_json_that_looks_like_tmx_is_still_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(TINY_TMX)
    with pytest.raises(CorrectionsError, match=r"^b\.json is not JSON \("):
        read_any(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "Bonjour = Hello", "{path} is neither a TMX file nor a corrections file: give .tmx files from a CAT tool or .json files from a review page's Export corrections"),
        ("missing.tmx", None, "{path} cannot be read: it does not exist"),
        ("fifo.tmx", "fifo", "{path} cannot be read: it is a named pipe (FIFO), not a regular file; only regular files are read"),
        ("folder.tmx", "folder", "{path} cannot be read: it is a folder, not a regular file; only regular files are read"),
    ],
)
def test_unknown_or_missing_file_is_an_error(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content == "fifo":
        os.mkfifo(path)  # read as it is, it would block forever
    elif content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(CorrectionsError) as error:
        read_any(path)
    assert str(error.value) == message.format(path=path)


# --- export, and back -------------------------------------------------------------------

ADDED = "2024-05-01T12:34:56Z"

TRICKY = [
    ("Le chat & le chien.", "The cat & the dog."),
    ("<b>gras</b>", "<b>bold</b>"),
    ("fin ]]> de CDATA", "end ]]> of CDATA"),
    ("« guillemets » et 'apostrophes' \"doubles\"", "“quotes” and 'apostrophes' \"doubles\""),
    ("Émoji 🐈‍⬛ et 🇫🇷", "Emoji 🐈‍⬛ and 🇫🇷"),
    ("Quoi\u00a0?\u202f!", "What?\u00a0!"),
    ("  espaces autour  ", "  spaces around  "),
    ("ligne\nsuivante\r\nfin\r", "line\nnext\r\nend\r"),
    ("tab\there", "tab\there"),
    ("&amp; &lt; &#160;", "&amp; &lt; &#160;"),
    ("Ve\u0301lo", "Bike"),  # decomposed: kept so
]


def entries(pairs: list[tuple[str, str]]) -> list[HumanEntry]:
    return [HumanEntry(source, target, f"b.corrections.json unit {i} (s{i}) & <more>", ADDED) for i, (source, target) in enumerate(pairs, 1)]


def test_written_tmx_has_the_header_origin_and_date() -> None:
    root = ET.fromstring(write_tmx(entries(TRICKY[:1])))
    header = root.find("header")
    assert (root.get("version"), header.get("creationtool"), header.get("srclang"), header.get("datatype"), header.get("segtype")) == ("1.4", "mtpipe", "fr", "plaintext", "sentence")
    (tu,) = root.iter("tu")
    assert tu.get("creationdate") == "20240501T123456Z"
    assert [(p.get("type"), p.text) for p in tu.iter("prop")] == [("x-mtpipe-origin", "b.corrections.json unit 1 (s1) & <more>")]
    assert [(tuv.get("{http://www.w3.org/XML/1998/namespace}lang"), tuv.find("seg").text) for tuv in tu.iter("tuv")] == [("fr", TRICKY[0][0]), ("en", TRICKY[0][1])]


def test_tricky_texts_round_trip_exactly() -> None:
    read = read_tmx(write_tmx(entries(TRICKY)).encode(), "export.tmx")
    assert [(p.source, p.target) for p in read.pairs] == TRICKY and read.refusals == ()


# Any text XML can hold: no control characters but tab, LF and CR; at least one
# character that is not whitespace (a blank side is refused, by design).
XML_TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff", include_characters="\t\n\r"), min_size=1
).filter(str.strip)


@given(st.lists(st.tuples(XML_TEXT, XML_TEXT), max_size=5))
def test_any_pairs_round_trip_exactly(pairs: list[tuple[str, str]]) -> None:
    read = read_tmx(write_tmx(entries(pairs)).encode(), "export.tmx")
    assert [(p.source, p.target) for p in read.pairs] == pairs and read.refusals == ()


def test_memory_export_then_import_gives_back_every_human_entry(tmp_path: Path) -> None:
    first = TranslationMemory(tmp_path / "a.sqlite3")
    first.add_human([Pair(source, target, "a.tmx") for source, target in TRICKY], added=ADDED)
    exported = tmp_path / "export.tmx"
    exported.write_text(write_tmx(first.human_entries()), encoding="utf-8")
    second = TranslationMemory(tmp_path / "b.sqlite3")
    assert len(second.add_human(read_any(exported).pairs).added) == len(TRICKY)
    assert [(e.source, e.target) for e in second.human_entries()] == [(e.source, e.target) for e in first.human_entries()] == TRICKY


# --- through the command line: import, runs that use human translations, export -------

from conftest import SEED, TINY_MODEL  # noqa: E402

from pipeline.cli import main  # noqa: E402

CAT_TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4">
  <header creationtool="memoQ" creationtoolversion="10" segtype="sentence" o-tmf="memoQ" adminlang="en-US" srclang="fr-FR" datatype="plaintext"/>
  <body>
    <tu>
      <tuv xml:lang="fr-FR"><seg>Le <bpt i="1">&lt;b&gt;</bpt>président<ept i="1">&lt;/b&gt;</ept> a parlé.</seg></tuv>
      <tuv xml:lang="de-DE"><seg>Der Präsident hat gesprochen.</seg></tuv>
      <tuv xml:lang="en-GB"><seg>The president spoke.</seg></tuv>
    </tu>
    <tu>
      <tuv xml:lang="fr-FR"><seg>Il pleut à Paris<ph x="1">&lt;br/&gt;</ph>.</seg></tuv>
      <tuv xml:lang="en-US"><seg>It is raining in Paris.</seg></tuv>
    </tu>
  </body>
</tmx>
"""


def cli(*args: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_edits_imported_are_served_and_only_their_article_is_written_again(tmp_path: Path, capsys) -> None:
    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "tm.sqlite3"
    src.mkdir()
    (src / "seed.txt").write_bytes(SEED.read_bytes())
    (src / "other.txt").write_text("Le temps est beau aujourd'hui.\n\nLes enfants jouent dans le parc.\n", encoding="utf-8")
    run = ["run", src, "-o", out, "--model", TINY_MODEL, "--cache", cache, "--quiet"]
    assert cli(*run, capsys=capsys)[0] == 0
    first = records(out / "seed.align.jsonl")
    edited = {first[1]["id"]: "The Ukrainian army says it took back 3,000 square kilometres.", first[4]["id"]: "Russian prisoners captured during the battle."}
    units = [{"ids": [r["id"]], "src": r["src"], "mt": r["mt"], "edit": edited[r["id"]]} for r in first if r["id"] in edited]
    corrections = tmp_path / "seed.corrections.json"
    corrections.write_text(json.dumps({"mtpipe": "corrections", "version": 1, "article": "seed.txt", "model": "tiny", "revision": None, "units": units}), encoding="utf-8")
    other_before = {p.name: p.read_bytes() for p in out.glob("other.*")}

    code, err = cli("memory", "import", corrections, "--cache", cache, capsys=capsys)
    assert code == 0 and f"{corrections}: 2 added, 0 replaced, 0 unchanged, 0 refused" in err
    assert cli(*run, capsys=capsys)[0] == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    status = {a["input"]: a for a in summary["articles"]}
    assert status["seed.txt"]["status"] == "ok" and status["other.txt"]["status"] == "skipped"
    assert {p.name: p.read_bytes() for p in out.glob("other.*")} == other_before
    again = records(out / "seed.align.jsonl")
    assert [r["src"] for r in again] == [r["src"] for r in first]  # every sentence, in order
    for before, after in zip(first, again):
        if before["id"] in edited:
            assert after["mt"] == edited[before["id"]] and after["human"] is True and after["machine"] == before["mt"] and after["hter"] > 0
        else:
            assert after["mt"] == before["mt"] and "human" not in after
    english = (out / "seed.en.txt").read_text(encoding="utf-8")
    assert all(text in english for text in edited.values())
    assert status["seed.txt"]["human"] == 2 and status["seed.txt"]["hter"] > 0
    assert cli(*run, capsys=capsys)[0] == 0  # and a third run has nothing to do
    assert {a["status"] for a in json.loads((out / "summary.json").read_text(encoding="utf-8"))["articles"]} == {"skipped"}


def test_a_cat_tool_tmx_serves_its_sentences_without_loading_the_model(tmp_path: Path, capsys) -> None:
    cache, tmx = tmp_path / "tm.sqlite3", tmp_path / "client.tmx"
    tmx.write_text(CAT_TMX, encoding="utf-8")
    code, err = cli("memory", "import", tmx, "--cache", cache, capsys=capsys)
    assert code == 0 and f"{tmx}: 2 added" in err
    src = tmp_path / "in"
    src.mkdir()
    (src / "news.txt").write_text("Le président a parlé.\n\nIl pleut à Paris.\n", encoding="utf-8")
    assert cli("run", src, "-o", tmp_path / "out", "--model", TINY_MODEL, "--cache", cache, "--quiet", capsys=capsys)[0] == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["model_loaded"] is False
    assert [(r["mt"], r.get("human")) for r in records(tmp_path / "out" / "news.align.jsonl")] == [("The president spoke.", True), ("It is raining in Paris.", True)]
    assert (tmp_path / "out" / "news.en.txt").read_text(encoding="utf-8") == "The president spoke.\n\nIt is raining in Paris.\n"


def test_a_malformed_tmx_changes_nothing_and_names_its_line(tmp_path: Path, capsys) -> None:
    cache, good, bad = tmp_path / "tm.sqlite3", tmp_path / "good.tmx", tmp_path / "bad.tmx"
    good.write_text(CAT_TMX, encoding="utf-8")
    bad.write_text(CAT_TMX.replace("</tu>\n  </body>", "</tuv>\n  </body>"), encoding="utf-8")
    code, err = cli("memory", "import", bad, good, "--cache", cache, capsys=capsys)
    [failure] = [line for line in err.splitlines() if line.startswith("mtpipe: failed:")]
    assert code == 1 and "bad.tmx" in failure and "line 13" in failure and failure.endswith("nothing of it was imported")
    assert f"{good}: 2 added" in err  # the other file is imported all the same
    memory = TranslationMemory(cache)
    assert memory.counts() == {"machine": 0, "human": 2, "glossary": 0}
    memory.close()


def test_export_then_import_gives_back_every_human_entry(tmp_path: Path, capsys) -> None:
    first, second, tmx = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "human.tmx"
    memory = TranslationMemory(first)
    pairs = [Pair(" Espaces  en trop ", "Extra  spaces ", "x"), Pair("« Citation » & <balise>", "“Quote” & <tag>", "x"), Pair("Été 🌞", "Summer 🌞", "x")]
    memory.add_human(pairs)
    memory.put({"k": ("Une phrase.", "A sentence.", -0.5, 1, None)})
    memory.close()
    assert cli("memory", "export", tmx, "--cache", first, capsys=capsys)[0] == 0
    assert cli("memory", "export", tmx, "--cache", first, capsys=capsys)[0] == 2  # never overwritten unasked
    assert cli("memory", "import", tmx, "--cache", second, capsys=capsys)[0] == 0
    memory = TranslationMemory(second)
    assert [(e.source, e.target) for e in memory.human_entries()] == [(p.source, p.target) for p in pairs]
    memory.close()
    assert cli("memory", "export", tmx, "--cache", first, "--machine", "--force", capsys=capsys)[0] == 0
    exported = read_tmx(tmx.read_bytes(), "human.tmx")  # the machine translations come back marked as such
    assert ("Une phrase.", "A sentence.") in [(p.source, p.target) for p in exported.machine]
    assert ("Une phrase.", "A sentence.") not in [(p.source, p.target) for p in exported.pairs]
    main(["memory", "stats", "--cache", str(first)])
    assert capsys.readouterr().out == f"{first}: 3 human translations, 1 machine translation\n"


MARKED = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="fr" creationtool="x" creationtoolversion="1" segtype="sentence" o-tmf="x" adminlang="en" datatype="plaintext"/><body>
<tu tuid="1"><prop type="x-mtpipe-translation">machine</prop><tuv xml:lang="fr"><seg>Un.</seg></tuv><tuv xml:lang="en"><seg>One.</seg></tuv></tu>
<tu tuid="2"><prop type="x-mtpipe-translation">human</prop><tuv xml:lang="fr"><seg>Deux.</seg></tuv><tuv xml:lang="en"><seg>Two.</seg></tuv></tu>
<tu tuid="3" creationid="MTPipe"><tuv xml:lang="fr"><seg>Trois.</seg></tuv><tuv xml:lang="en"><seg>Three.</seg></tuv></tu>
<tu tuid="4"><tuv xml:lang="fr"><seg>Quatre.</seg></tuv><tuv xml:lang="en" changeid="mtpipe"><seg>Four.</seg></tuv></tu>
<tu tuid="5"><prop type="x-mtpipe-origin">machine translation</prop><tuv xml:lang="fr"><seg>Cinq.</seg></tuv><tuv xml:lang="en"><seg>Five.</seg></tuv></tu>
<tu tuid="6" creationid="translator"><prop type="x-note">machine</prop><tuv xml:lang="fr"><seg>Six.</seg></tuv><tuv xml:lang="en"><seg>Six.</seg></tuv></tu>
</body></tmx>
"""


def test_units_marked_as_machine_translation_are_kept_apart() -> None:
    reading = read_tmx(MARKED.encode(), "m.tmx")
    assert [p.source for p in reading.pairs] == ["Deux.", "Six."]
    assert [p.source for p in reading.machine] == ["Un.", "Trois.", "Quatre.", "Cinq."]
    assert reading.machine[0].origin == "m.tmx line 3 (tu 1): machine translation (its x-mtpipe-translation is machine)"
    assert "its creationid is MTPipe" in reading.machine[1].origin and "its changeid is mtpipe" in reading.machine[2].origin


def test_a_runs_own_tmx_adds_no_human_translation_unless_as_human(tmp_path: Path, capsys) -> None:
    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "tm.sqlite3"
    src.mkdir()
    (src / "a.txt").write_text("Le chat dort.\n\nIl pleut.\n", encoding="utf-8")
    assert cli("run", src, "-o", out, "--backend", "echo", "--model", TINY_MODEL, "--no-cache", "--quiet", capsys=capsys)[0] == 0
    code, err = cli("memory", "import", out / "a.tmx", "--cache", cache, capsys=capsys)
    assert code == 0 and f"{out / 'a.tmx'}: 0 added" in err and "2 left out: the file marks them as machine translation" in err and "--as-human" in err
    memory = TranslationMemory(cache)
    assert memory.counts()["human"] == 0
    memory.close()
    code, err = cli("memory", "import", out / "a.tmx", "--as-human", "--cache", cache, capsys=capsys)
    assert code == 0 and f"{out / 'a.tmx'}: 2 added" in err and "left out" not in err
