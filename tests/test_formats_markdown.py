"""Markdown format: blocks read as plain text with their markup, English written in
place, everything else byte for byte (fake translations, no model)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape

import pytest
from helpers import grows_linearly

from pipeline.formats import FORMATS
from pipeline.formats.markdown import Markdown
from pipeline.ingest import Document, IngestError
from pipeline.segment import segment
from pipeline.translate import Translation
from pipeline.wordalign import from_pharaoh

MARKDOWN = Markdown()


def same_words(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in range(len(text.split())))


def upper(text: str) -> Translation:
    """Each sentence's English: its text upper-cased, word for word."""
    return Translation(text.upper(), -0.1, links=same_words(text))


def identity(text: str) -> Translation:
    """Each sentence's English: its text, whitespace runs as single spaces."""
    return Translation(" ".join(text.split()), -0.1, links=same_words(text))


def read(source: str | bytes) -> Document:
    return MARKDOWN.read(source.encode() if isinstance(source, str) else source, "article.md")


def translate(doc: Document, english: Callable[[str], Translation]) -> bytes:
    segments = segment(doc)
    return MARKDOWN.write(doc, segments, [english(s.text) for s in segments]).data


@dataclass(frozen=True)
class Case:
    source: str
    blocks: tuple[str, ...]  # each block's plain text, as the model sees it
    kept: tuple[str, ...]  # source that must come out byte-identical
    upper: str  # the article with the upper-case translation


CASES = {
    "atx headings": Case("# Le *grand* titre ##\n\n## Un sous-titre\n", ("Le grand titre", "Un sous-titre"), ("# ", " ##\n\n## "), "# LE *GRAND* TITRE ##\n\n## UN SOUS-TITRE\n"),
    "setext headings": Case("Un titre\n========\n\nUn sous-titre\n---\n", ("Un titre", "Un sous-titre"), ("\n========\n\n", "\n---\n"), "UN TITRE\n========\n\nUN SOUS-TITRE\n---\n"),
    "strong": Case("Du **gras**, du __gras__ et du ***très gras***.\n", ("Du gras, du gras et du très gras.",), (), "DU **GRAS**, DU __GRAS__ ET DU ***TRÈS GRAS***.\n"),
    "emphasis": Case(
        "De *l'italique* et de _l'italique_ (*voir*) ici.\n", ("De l'italique et de l'italique (voir) ici.",), (), "DE *L'ITALIQUE* ET DE _L'ITALIQUE_ (*VOIR*) ICI.\n"
    ),
    "strikethrough": Case("Un mot ~~barré~~ ici.\n", ("Un mot barré ici.",), (), "UN MOT ~~BARRÉ~~ ICI.\n"),
    "link with title": Case(
        'Voir [le site](https://exemple.fr/page "Le titre") demain.\n',
        ("Voir le site demain.", "Le titre"),
        ('](https://exemple.fr/page "',),
        'VOIR [LE SITE](https://exemple.fr/page "LE TITRE") DEMAIN.\n',
    ),
    "reference links": Case(
        'Voir [la page][réf] et [le guide][] ou [la carte].\n\n[réf]: https://exemple.fr/a "Titre"\n[le guide]: https://exemple.fr/b\n[la carte]: <https://exemple.fr/c>\n',
        ("Voir la page et le guide ou la carte.",),
        ("][réf]", '[réf]: https://exemple.fr/a "Titre"\n[le guide]: https://exemple.fr/b\n[la carte]: <https://exemple.fr/c>\n'),
        'VOIR [LA PAGE][réf] ET [LE GUIDE][] OU [LA CARTE].\n\n[réf]: https://exemple.fr/a "Titre"\n[le guide]: https://exemple.fr/b\n[la carte]: <https://exemple.fr/c>\n',
    ),
    "autolinks": Case(
        "Écrivez à <jean@exemple.fr> ou voir <https://exemple.fr/a_b> maintenant.\n",
        ("Écrivez à ou voir maintenant.",),
        (" <jean@exemple.fr>", " <https://exemple.fr/a_b>"),
        "ÉCRIVEZ À <jean@exemple.fr> OU VOIR <https://exemple.fr/a_b> MAINTENANT.\n",
    ),
    "hard breaks": Case(
        "Première ligne  \ndeuxième ligne\\\ntroisième ligne.\n",
        ("Première ligne deuxième ligne troisième ligne.",),
        ("  \n", "\\\n"),
        "PREMIÈRE LIGNE  \nDEUXIÈME LIGNE\\\nTROISIÈME LIGNE.\n",
    ),
    "ordered list": Case("1) premier point\n2) second point\n", ("premier point", "second point"), ("1) ", "\n2) "), "1) PREMIER POINT\n2) SECOND POINT\n"),
    "nested list": Case(
        "- les fruits\n  - la pomme\n  - la poire\n- les légumes\n",
        ("les fruits", "la pomme", "la poire", "les légumes"),
        ("- ", "\n  - ", "\n- "),
        "- LES FRUITS\n  - LA POMME\n  - LA POIRE\n- LES LÉGUMES\n",
    ),
    "block quote": Case(
        "> Une citation\n> sur deux lignes.\n>\n> Un second paragraphe\nparesseux.\n",
        ("Une citation sur deux lignes.", "Un second paragraphe paresseux."),
        ("> ", "\n> ", "\n>\n> "),
        "> UNE CITATION\n> SUR DEUX LIGNES.\n>\n> UN SECOND PARAGRAPHE\nPARESSEUX.\n",
    ),
    "table": Case(
        "| Nom | Couleur |\n|:----|-------:|\n| le chat | noir |\n| la souris \\| le rat | `gris` |\n",
        ("Nom", "Couleur", "le chat", "noir", "la souris | le rat"),
        ("|:----|-------:|", "| `gris` |"),
        "| NOM | COULEUR |\n|:----|-------:|\n| LE CHAT | NOIR |\n| LA SOURIS \\| LE RAT | `gris` |\n",
    ),
    "inline html": Case("La note <sup>un</sup> et <br> la suite.\n", ("La note un et la suite.",), ("<sup>", "</sup>", " <br>"), "LA NOTE <sup>UN</sup> ET <br> LA SUITE.\n"),
    "front matter": Case(
        "---\ntitre: Mon article\nauteur: Jean\n---\n\nLe texte commence ici.\n",
        ("Le texte commence ici.",),
        ("---\ntitre: Mon article\nauteur: Jean\n---\n",),
        "---\ntitre: Mon article\nauteur: Jean\n---\n\nLE TEXTE COMMENCE ICI.\n",
    ),
    # Dialects of documentation sites: recognised by their syntax, copied, their titles translated.
    "heading attributes": Case(
        "## Les props {#props}\n\n# Le titre { #llm-test .cls }\n",
        ("Les props", "Le titre"),
        ("{#props}", "{ #llm-test .cls }"),
        "## LES PROPS {#props}\n\n# LE TITRE { #llm-test .cls }\n",
    ),
    "containers": Case(
        ":::tip\nUn conseil.\n:::\n\n::: warning Attention\nDanger ici.\n:::\n",
        ("Un conseil.", "Attention", "Danger ici."),
        (":::tip\n", "\n:::\n", "::: warning "),
        ":::tip\nUN CONSEIL.\n:::\n\n::: warning ATTENTION\nDANGER ICI.\n:::\n",
    ),
    "nested containers": Case(
        "::::info\nDehors.\n:::tip[Le titre]\nDedans.\n:::\n::::\n",
        ("Dehors.", "Le titre", "Dedans."),
        ("::::info\n", ":::tip[", "]\n", "\n:::\n::::\n"),
        "::::info\nDEHORS.\n:::tip[LE TITRE]\nDEDANS.\n:::\n::::\n",
    ),
    "admonitions": Case(
        '!!! note "Le titre"\n    Le corps.\n\n??? tip\n    Replié.\n',
        ("Le titre", "Le corps.", "Replié."),
        ('!!! note "', "??? tip\n    "),
        '!!! note "LE TITRE"\n    LE CORPS.\n\n??? tip\n    REPLIÉ.\n',
    ),
    "content tabs": Case(
        '=== "Rendu"\n    Le texte.\n\n=== "Code"\n    ```md\n    Le *texte*.\n    ```\n',
        ("Rendu", "Le texte.", "Code"),
        ("    ```md\n    Le *texte*.\n    ```\n",),
        '=== "RENDU"\n    LE TEXTE.\n\n=== "CODE"\n    ```md\n    Le *texte*.\n    ```\n',
    ),
    "footnotes": Case(
        "Une note[^1] ici.\n\n[^1]: Le texte de la note.\n",
        ("Une note ici.", "Le texte de la note."),
        ("[^1]",),
        "UNE NOTE[^1] ICI.\n\n[^1]: LE TEXTE DE LA NOTE.\n",
    ),
    "math": Case(
        "La formule $x^2$ et $$\\sum_k k$$ ici, pour 5 $.\n\n$$\nx = 1\n$$\n",
        ("La formule et ici, pour 5 $.",),
        ("$x^2$", "$$\\sum_k k$$", "$$\nx = 1\n$$\n"),
        "LA FORMULE $x^2$ ET $$\\sum_k k$$ ICI, POUR 5 $.\n\n$$\nx = 1\n$$\n",
    ),
    "template tags and macros": Case(
        '{{Compat}}\n\nVoir {{JSxRef("Array.at")}} et {{< figure src="a.png" >}} puis {% include x.html %}.\n',
        ("Voir et puis.",),
        ("{{Compat}}", '{{JSxRef("Array.at")}}', '{{< figure src="a.png" >}}', "{% include x.html %}"),
        '{{Compat}}\n\nVOIR {{JSxRef("Array.at")}} ET {{< figure src="a.png" >}} PUIS {% include x.html %}.\n',
    ),
    "emoji shortcodes": Case(":warning: Attention au chat.\n", ("Attention au chat.",), (":warning: ",), ":warning: ATTENTION AU CHAT.\n"),
    "vue components": Case(
        '<script setup>\nimport { ref } from "vue"\n</script>\n\n# Le protocole <Badge type="warning" text="Expérimental" />\n\n<VueSchoolLink href="x" title="Cours"/>\n',
        ("Le protocole",),
        ('<script setup>\nimport { ref } from "vue"\n</script>\n', ' <Badge type="warning" text="Expérimental" />', '<VueSchoolLink href="x" title="Cours"/>\n'),
        '<script setup>\nimport { ref } from "vue"\n</script>\n\n# LE PROTOCOLE <Badge type="warning" text="Expérimental" />\n\n<VueSchoolLink href="x" title="Cours"/>\n',
    ),
    "yaml front matter title": Case(
        "---\ntitle: Le chat\nslug: le-chat # court\n---\n\nTexte.\n",
        ("Le chat", "Texte."),
        ("---\ntitle: ", "\nslug: le-chat # court\n---\n"),
        "---\ntitle: LE CHAT\nslug: le-chat # court\n---\n\nTEXTE.\n",
    ),
    "toml front matter title": Case(
        '+++\ntitle = "Le logo"\ndraft = true\n+++\n\nTexte.\n',
        ("Le logo", "Texte."),
        ('+++\ntitle = "', '"\ndraft = true\n+++\n'),
        '+++\ntitle = "LE LOGO"\ndraft = true\n+++\n\nTEXTE.\n',
    ),
    "escapes": Case("Un \\*astérisque\\* et un \\_tiret\\_ bas.\n", ("Un *astérisque* et un _tiret_ bas.",), (), "UN \\*ASTÉRISQUE\\* ET UN \\_TIRET\\_ BAS.\n"),
    "escaped block syntax": Case("1984\\. Une année.\n\n\\# Pas un titre\n", ("1984. Une année.", "# Pas un titre"), (), "1984\\. UNE ANNÉE.\n\n\\# PAS UN TITRE\n"),
    "entities": Case("L&#39;&eacute;t&eacute; arrive.\n", ("L'été arrive.",), (), "L&#39;ÉTÉ ARRIVE.\n"),
    "fenced code": Case(
        'Du code :\n\n```python\n# Problèmes de sommeil.\nprint("bonjour")\n```\n',
        ("Du code :",),
        ('```python\n# Problèmes de sommeil.\nprint("bonjour")\n```\n',),
        'DU CODE :\n\n```python\n# Problèmes de sommeil.\nprint("bonjour")\n```\n',
    ),
    "indented code": Case(
        "Un exemple :\n\n    x = « bonjour »\n    # commentaire\n\nFin de l'exemple.\n",
        ("Un exemple :", "Fin de l'exemple."),
        ("\n\n    x = « bonjour »\n    # commentaire\n\n",),
        "UN EXEMPLE :\n\n    x = « bonjour »\n    # commentaire\n\nFIN DE L'EXEMPLE.\n",
    ),
    "thematic breaks": Case(
        "Avant la ligne.\n\n***\n\nAprès la ligne.\n\n---\n\nLa fin.\n",
        ("Avant la ligne.", "Après la ligne.", "La fin."),
        ("\n\n***\n\n", "\n\n---\n\n"),
        "AVANT LA LIGNE.\n\n***\n\nAPRÈS LA LIGNE.\n\n---\n\nLA FIN.\n",
    ),
    "crlf": Case("# Le titre\r\n\r\nLe chat dort.\r\nIl rêve.\r\n", ("Le titre", "Le chat dort. Il rêve."), ("\r\n\r\n", ".\r\n"), "# LE TITRE\r\n\r\nLE CHAT DORT.\r\nIL RÊVE.\r\n"),
    "wrapped paragraph": Case(
        "Le chat noir dort sur\nle canapé. Il rêve.\n", ("Le chat noir dort sur le canapé. Il rêve.",), (), "LE CHAT NOIR DORT SUR\nLE CANAPÉ. IL RÊVE.\n"
    ),
    "url and e-mail": Case(
        "Voir https://exemple.fr/a?b=1 ou écrire à jean.dupont@exemple.fr demain.\n",
        ("Voir ou écrire à demain.",),
        (" https://exemple.fr/a?b=1", " jean.dupont@exemple.fr"),
        "VOIR https://exemple.fr/a?b=1 OU ÉCRIRE À jean.dupont@exemple.fr DEMAIN.\n",
    ),
    "html block": Case(
        '<div class="note">\nUn bloc HTML en français.\n</div>\n\nUn paragraphe.\n',
        ("Un paragraphe.",),
        ('<div class="note">\nUn bloc HTML en français.\n</div>\n',),
        '<div class="note">\nUn bloc HTML en français.\n</div>\n\nUN PARAGRAPHE.\n',
    ),
    "code span": Case("La fonction `print()` écrit du texte.\n", ("La fonction écrit du texte.",), (" `print()`",), "LA FONCTION `print()` ÉCRIT DU TEXTE.\n"),
    "code glued to a word": Case("Des `Promise`s ici.\n", ("Des ici.",), (" `Promise`s",), "DES `Promise`s ICI.\n"),
    "code ending an emphasis": Case("Une note *très `x`.* Fin.\n", ("Une note très. Fin.",), (" `x`",), "UNE NOTE *TRÈS `x`.* FIN.\n"),
    "link around code only": Case(
        "Voir [`print()`](https://docs.python.org) ici.\n", ("Voir ici.",), (" [`print()`](https://docs.python.org)",), "VOIR [`print()`](https://docs.python.org) ICI.\n"
    ),
    "image": Case(
        'Une image ![un chat](chat.png "Le chat") ici.\n', ("Une image ici.", "un chat", "Le chat"), (' ![', '](chat.png "'), 'UNE IMAGE ![UN CHAT](chat.png "LE CHAT") ICI.\n'
    ),
    "image at a link's start": Case("Voir [![logo](l.png) le site](x) ici.\n", ("Voir le site ici.", "logo"), ("](l.png) ",), "VOIR [![LOGO](l.png) LE SITE](x) ICI.\n"),
    "inline html image at an element's start": Case(
        "Voir <span><img src=i> le site</span> ici.\n", ("Voir le site ici.",), ("<span><img src=i> ",), "VOIR <span><img src=i> LE SITE</span> ICI.\n"
    ),
    "inline html image after an element": Case(
        "Voir <span>le site</span><img src=i> ici.\n", ("Voir le site ici.",), ("</span><img src=i> ",), "VOIR <span>LE SITE</span><img src=i> ICI.\n"
    ),
    "inline html image at an element's end": Case(
        "Voir <span>le site<img src=i></span> ici.\n", ("Voir le site ici.",), ("<img src=i></span>",), "VOIR <span>LE SITE<img src=i></span> ICI.\n"
    ),
    "url with an ampersand": Case(
        "Voir https://exemple.fr/?a=1&b=2, puis.\n", ("Voir, puis.",), (" https://exemple.fr/?a=1&b=2",), "VOIR https://exemple.fr/?a=1&b=2, PUIS.\n"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_blocks_are_the_text_the_model_sees(case: Case) -> None:
    """Each block is one line, numbered in order, its markup and markers taken out."""
    doc = read(case.source)
    assert [line.text for line in doc.lines] == list(case.blocks)
    assert [line.number for line in doc.lines] == list(range(1, len(doc.lines) + 1))
    assert all(line.newline == "" for line in doc.lines)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_identity_translation_rebuilds_the_source(case: Case) -> None:
    assert translate(read(case.source), identity) == case.source.encode()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_upper_case_translation(case: Case) -> None:
    assert translate(read(case.source), upper).decode() == case.upper


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_protected_source_is_kept(case: Case) -> None:
    """Code, front matter, destinations, definitions, URLs, HTML blocks: byte-identical."""
    out = translate(read(case.source), upper).decode()
    for kept in case.kept:
        assert kept in case.source
        assert out.count(kept) == case.source.count(kept), kept


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_marker_is_kept(case: Case) -> None:
    """Every piece of inline markup comes out as often as it went in."""
    doc = read(case.source)
    out = translate(doc, upper).decode()
    for raw in {raw for line in doc.lines for m in line.markup for raw in (m.open, m.close) if raw}:
        english = raw
        for line in doc.lines:  # the alt texts and titles inside it translated
            english = english.replace(line.text, line.text.upper()) if line.text in raw and line.text != raw else english
        assert out.count(english) == case.source.count(raw), raw


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_block_is_translated(case: Case) -> None:
    """Outside kept source and markup, no French (lower-case) word is left."""
    doc = read(case.source)
    rest = translate(doc, upper).decode()
    for verbatim in (*case.kept, *(raw for line in doc.lines for m in line.markup for raw in (m.open, m.close) if raw)):
        rest = rest.replace(verbatim, "")
    assert not re.search(r"[a-zà-ÿ]{2,}", rest)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_sentences_know_their_source_span(case: Case) -> None:
    """Each sentence's source span starts at its first character and ends after its
    last; without its markup, entities and backslash escapes read, it is the sentence,
    whitespace aside."""
    doc = read(case.source)
    for seg in segment(doc):
        line = doc.lines[seg.line - 1]
        a, b = line.source_span(seg.start, seg.end)
        span = case.source[a:b]
        for raw in sorted({raw for m in line.markup for raw in (m.open, m.close) if raw}, key=len, reverse=True):
            span = span.replace(raw, "")
        read_as = re.sub(r"\\([!-/:-@[-`{-~])", r"\1", unescape(span))
        assert (read_as[0], read_as[-1]) == (seg.text[0], seg.text[-1]), (case.source[a:b], seg.text)
        assert "".join(read_as.split()) == "".join(seg.text.split()), (case.source[a:b], seg.text)


HAND_MADE = {
    "reordered emphasis": ("le chat **noir**\n", "the black cat", "0-0 1-2 2-1", "the **black** cat\n"),
    "reordered link": ("le [chat](https://x.fr) noir\n", "the black cat", "0-0 1-2 2-1", "the black [cat](https://x.fr)\n"),
    "collapsed reference made full": ("Voir [le guide][].\n\n[le guide]: https://x.fr\n", "See the guide.", "0-0 1-1 2-2", "See [the guide][le guide].\n\n[le guide]: https://x.fr\n"),
    "shortcut reference made full": ("Voir [le guide].\n\n[le guide]: https://x.fr\n", "See the guide.", "0-0 1-1 2-2", "See [the guide][le guide].\n\n[le guide]: https://x.fr\n"),
    "void keeps its punctuation": ("Voir `x`.\n", "See.", "0-0", "See `x`.\n"),
    "lines rewrapped": ("un\ndeux\ntrois\n", "one two three", "0-0 1-0 2-2", "one\ntwo\nthree\n"),
    "break with no english after it": ("un\ndeux\n", "two one", "0-1 1-0", "two\none\n"),
    "break before list syntax": ("Le coureur\nest arrivé premier.\n", "He came - first.", "0-0 1-0 2-1 3-1 4-3", "He came\n\\- first.\n"),
    "block start as heading": ("Numéro un des ventes.\n", "# 1 in sales.", "0-0 1-1 2-2 3-3", "\\# 1 in sales.\n"),
    "list item start as ordered list": ("- Numéro un des ventes.\n", "1. in sales.", "0-0 1-0 2-1 3-2", "- 1\\. in sales.\n"),
    "escaped character in english": ("Un \\*mot\\* ici.\n", "A *word* here.", "0-0 1-1 2-2", "A \\*word\\* here.\n"),
    "pipe in a table cell": ("| le chat |\n|---|\n", "the | cat", "0-0 1-2", "| the \\| cat |\n|---|\n"),
    "quote lines keep their markers": ("> le chat\n> noir dort\n", "the black cat sleeps", "0-0 1-2 2-1 3-3", "> the black\n> cat sleeps\n"),
    "no-break spaces kept": ("Il a 10 000 *mots* ?\n", "He has 10\u00a0000 words\u202f?", "0-0 1-1 2-2 3-3 4-4 5-5", "He has 10\u00a0000 *words*\u202f?\n"),
    "superscript in a word": ("Le 1<sup>er</sup> mai.\n", "The 1st of May.", "0-0 1-1 2-3", "The 1<sup>st</sup> of May.\n"),
    "code span before a comma": ("Voir `x`, puis `y`.\n", "See, then.", "0-0 1-1", "See `x`, then `y`.\n"),
}


@pytest.mark.parametrize("source, english, links, expected", HAND_MADE.values(), ids=HAND_MADE.keys())
def test_hand_made_translation(source: str, english: str, links: str, expected: str) -> None:
    doc = read(source)
    [segment_] = segment(doc)
    written = MARKDOWN.write(doc, [segment_], [Translation(english, -0.1, links=from_pharaoh(links))])
    assert written.data.decode() == expected
    assert written.unsure == frozenset()


def test_reference_image_alt_names_its_label_once_translated() -> None:
    """`![texte]` and `![texte][]` take their alt text as the label: translated, the
    image names its label (`![TEXT][texte]`); unchanged, it stays as it was."""
    source = "Voir ![le chat] et ![la souris][].\n\n[le chat]: a.png\n[la souris]: b.png\n"
    assert [line.text for line in read(source).lines] == ["Voir et.", "le chat", "la souris"]
    assert translate(read(source), identity).decode() == source
    assert translate(read(source), upper).decode() == source.upper().split("\n")[0] + source[source.index("\n") :]  # labels match case-insensitively
    english = {"Voir et.": "See and.", "le chat": "the cat", "la souris": "the mouse"}
    expected = "See ![the cat][le chat] and ![the mouse][la souris].\n\n[le chat]: a.png\n[la souris]: b.png\n"
    assert translate(read(source), lambda text: Translation(english[text], -0.1, links=same_words(text))).decode() == expected


def test_markup_placed_without_links_is_flagged() -> None:
    doc = read("le `x` chat\n")
    [segment_] = segment(doc)
    written = MARKDOWN.write(doc, [segment_], [Translation("the cat", -0.1)])
    assert written.data == b"the `x` cat\n"
    assert written.unsure == {segment_.id}


def test_registered_for_markdown_suffixes() -> None:
    assert isinstance(FORMATS[".md"], Markdown) and isinstance(FORMATS[".markdown"], Markdown)


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"```\ncode seulement\n```\n", b"<div>\nrien\n</div>\n", b"| 2011 | 41 |\n|---|---|\n| 2022-09 | 12,5 % |\n"])
def test_nothing_to_translate_is_copied(data: bytes) -> None:
    """A page without text to translate has no sentence, and comes out as it was."""
    doc = read(data)
    assert not segment(doc)
    assert MARKDOWN.write(doc, [], []).data == data


def test_written_back_in_its_own_encoding() -> None:
    """A legacy encoding round-trips byte for byte; what it lacks becomes a character reference."""
    data = "Le café coûte 2 €.\n".encode("cp1252")
    doc = read(data)
    assert translate(doc, identity) == data
    assert translate(doc, lambda text: Translation("Coffee → 2 €.", -0.1, links=same_words(text))) == "Coffee &#8594; 2 €.\n".encode("cp1252")


def _nested(kind: str, depth: int) -> str:
    """Lists, quotes or both nested `depth` levels deep, a sentence at each level."""
    if kind == "lists":
        return "".join("  " * i + f"- Le niveau {i} du chat.\n" for i in range(depth))
    if kind == "quotes":
        return "".join(">" * i + f" La citation {i}.\n\n" for i in range(1, depth + 1))
    prefix, out = "", ""
    for i in range(depth):
        prefix += "> " if i % 2 else "- "
        out += f"{prefix}Le niveau {i}.\n\n"
    return out


@pytest.mark.parametrize("kind", ["lists", "quotes", "both"])
def test_deep_nesting_is_translated_block_by_block(kind: str) -> None:
    """30 levels deep (markdown-it alone stops reading at 20): every block translated."""
    source = _nested(kind, 30)
    doc = read(source)
    assert len(segment(doc)) == 30
    assert translate(doc, upper).decode() == source.upper()


def test_nesting_too_deep_to_read_is_refused() -> None:
    with pytest.raises(IngestError, match="more than 256 levels deep"):
        read(_nested("lists", 200))


HOSTILE = [
    "</script><script>alert(1)", "<img src=x onerror=alert(2)>", "[x](javascript:alert(1))", "<javascript:alert(1)>", "![x](javascript:y)",
    "&lt;script&gt;", "\\\\[x](javascript:alert(1))", "\\\\<img src=x>", "\\\\&lt;script&gt;",
]  # fmt: skip


@pytest.mark.parametrize("english", HOSTILE)
@pytest.mark.parametrize("source", ["Le chat dort.\n", "# Le [chat](a.html) dort\n", "| Le chat |\n|---|\n| dort |\n", "- Le *chat* dort.\n"])
def test_hostile_english_is_text(source: str, english: str) -> None:
    """Whatever a model or a corrections file says, the English is text: no raw HTML,
    no link, no image, no entity comes out of it, for markdown-it or any other renderer
    (a `javascript:` link is text to markdown-it, a link to others)."""
    doc = read(source)
    segments = segment(doc)
    out = MARKDOWN.write(doc, segments, [Translation(english, None, human=True) for _ in segments]).data.decode()
    unescaped = r"(?<!\\)(?:\\\\)*"  # after an even number of backslashes
    assert not re.search(rf"{unescaped}<(?:/?script|img|javascript)|{unescaped}\[x|{unescaped}&lt;", out), out


# Articles whose time grew with the square of their size: every line break summed the
# English so far, and each closed element searched the open ones from the start.
LONG_ARTICLES: dict[str, Callable[[int], str]] = {
    "one paragraph of many lines": lambda n: "Le chat dort.\n" * n,
    "emphasis nested deep": lambda n: "*" * n + "Le chat dort." + "*" * n + "\n",
    "many links": lambda n: "Le chat [a](b) " * n + "\n",
    "many images": lambda n: "Le ![chat](x) " * n + "\n",
    "many empty links": lambda n: "Le chat " + "[](x)" * n + "\n",
    "many hard breaks": lambda n: "Le chat  \n" * n,
    "a long table": lambda n: "| a |\n|---|\n" + "| Le chat |\n" * n,
    "many unclosed delimiters": lambda n: "*a ~~b " * n + "\n",
}


@pytest.mark.parametrize("article", LONG_ARTICLES.values(), ids=LONG_ARTICLES.keys())
def test_long_articles_are_read_and_written_in_linear_time(article: Callable[[int], str]) -> None:
    assert grows_linearly(lambda n: translate(read(article(n)), upper), 500)


@pytest.mark.parametrize("article", LONG_ARTICLES.values(), ids=LONG_ARTICLES.keys())
def test_long_articles_keep_every_word(article: Callable[[int], str]) -> None:
    source = article(200)
    assert translate(read(source), upper).decode().count("CHAT") == source.count("chat")
