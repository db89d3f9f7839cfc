"""Numbers of a French sentence and of its English, compared across the two languages'
formats: `1 234,5` is `1,234.5`, `12 %` is `12%`, `3 mai 2024` is `May 3, 2024`, `14h30`
is `2:30 pm` or `14:30`, `1er` is `1st`, `XXe siècle` is `20th century`.

Each number found becomes a `Quantity`: the set of keys it may stand for (an ambiguous
`1.500` in French is 1500 or 1.5) and the text it was read from. Two quantities match
when they share a key. Small numbers written as words (`deux`, `two`, `second`) are not
quantities: they only excuse a number the other side writes in digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre")
MONTHS_EN = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
_EN_MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_WORDS_EN = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
    "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "hundredth": 100, "once": 1, "twice": 2, "single": 1, "double": 2,
    "half": 0.5, "dozen": 12, "dozens": 12, "quarter": 0.25, "noon": 12, "midnight": 0, "both": 2, "pair": 2, "couple": 2,
    "hundreds": 100, "thousands": 1000, "millions": 10**6, "billions": 10**9, "decade": 10, "decades": 10, "century": 100,
}
_WORDS_FR = {
    "zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20, "trente": 30,
    "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100, "cents": 100, "mille": 1000, "million": 10**6,
    "millions": 10**6, "milliard": 10**9, "milliards": 10**9, "premier": 1, "première": 1, "premiers": 1, "premières": 1,
    "deuxième": 2, "second": 2, "seconde": 2, "troisième": 3, "quatrième": 4, "cinquième": 5, "sixième": 6, "septième": 7,
    "huitième": 8, "neuvième": 9, "dixième": 10, "douzième": 12, "vingtième": 20, "centième": 100, "demi": 0.5, "demie": 0.5,
    "moitié": 0.5, "quart": 0.25, "douzaine": 12, "douzaines": 12, "dizaine": 10, "dizaines": 10, "centaine": 100,
    "centaines": 100, "millier": 1000, "milliers": 1000, "midi": 12, "minuit": 0, "deux-tiers": 2, "double": 2, "simple": 1,
    "décennie": 10, "décennies": 10, "siècle": 100, "soixante-dix": 70, "quatre-vingt": 80, "quatre-vingts": 80,
    "quatre-vingt-dix": 90, "septante": 70, "huitante": 80, "octante": 80, "nonante": 90, "tiers": 3, "mi": 0.5, "huitaine": 8, "quinzaine": 15, "vingtaine": 20, "trentaine": 30, "quarantaine": 40,
    "cinquantaine": 50, "soixantaine": 60, "dix-sept": 17, "dix-huit": 18, "dix-neuf": 19,
}
# A scale word after a number multiplies it: "1,5 milliard" and "1.5 billion" are both
# the number 1.5 and the same scale, so the scale is kept apart as its own key.
# A century or a rank in Roman numerals ("XIXe siècle", "Ve République", "Ier"): only
# I, V and X, so that "Le", "Ce" or "De" are never read as numbers.
_ROMAN = re.compile(r"(?<!\w)((?:X{0,3})(?:IX|IV|V?I{0,3}))(?:er|e|ème|è)(?!\w)")
_ROMAN_VALUES = {"X": 10, "V": 5, "I": 1}

_SPACE = "[ \u00a0\u2000-\u200a\u202f]"
# French: digits grouped by three with spaces or dots, a decimal comma.
_NUMBER_FR = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:{_SPACE}\d{{3}})+|\d{{1,3}}(?:\.\d{{3}})+(?![\d,])|\d+)(?:,(\d+))?(?:\.(\d+))?")
# English: digits grouped by three with commas (or spaces, as a model copies French), a decimal point.
_NUMBER_EN = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d{{1,3}}(?:{_SPACE}\d{{3}})+|\d+)(?:[.,](\d+))?")
_TIME_FR = re.compile(rf"(?<![\w.:])([01]?\d|2[0-3])(?:{_SPACE}?(?:h|H|heures?){_SPACE}?([0-5]\d)?(?!\w)|:([0-5]\d)(?![\d:]))")
_TIME_EN = re.compile(rf"(?<![\w.:])(\d{{1,2}})(?:[:.]([0-5]\d))?{_SPACE}?([ap])\.?{_SPACE}?m\b\.?|(?<![\w.:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", re.IGNORECASE)
_ORDINAL_FR = re.compile(r"(?<![\w.,])(\d+)(?:er|re|ère|e|ème|ème|eme|è|nd|nde)s?(?!\w)")
_ORDINAL_EN = re.compile(r"(?<![\w.,])(\d+)(?:st|nd|rd|th)(?!\w)", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True)
class Quantity:
    """A number as written (`text`) and the keys it may stand for."""

    text: str
    keys: frozenset[str]


def _key(value: float | Decimal) -> str:
    """The key of a plain number: "n" and its shortest decimal form (1.50 → n1.5)."""
    return "n" + format(Decimal(str(value)).normalize(), "f")


def _value(whole: str, fraction: str | None = None) -> str:
    digits = re.sub(r"[^\d]", "", whole)
    return format(Decimal(f"{digits}.{fraction}" if fraction else digits).normalize(), "f")


def _roman(numeral: str) -> int:
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """text with the spans turned into spaces, so later patterns do not read them again."""
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _time_keys(hour: int, minute: int, clock12: bool = False) -> set[str]:
    """A time's keys on the 24-hour clock; a time written without am or pm on the
    English side may be either half of the day. On the hour, it is also the number of
    hours ("14 heures" may be 14 hours)."""
    hours = {hour % 24, (hour + 12) % 24} if clock12 else {hour}
    return {f"t{h}:{minute:02d}" for h in hours} | ({f"n{hour}"} if minute == 0 else set())


def _month_keys(text: str, names: tuple[str, ...], near_number: bool, case: bool = False) -> list[Quantity]:
    """Months named in a date: next to a number (`3 mai`, `mai 2024`, `May 3`), so that
    "Mars" the planet or "may" the verb are not months."""
    out = []
    pattern = "|".join(names)
    for m in re.finditer(rf"(?<!\w)(\d{{1,4}}(?:er|st|nd|rd|th)?[ \u00a0\u202f]+)?({pattern})\.?(?!\w)([ \u00a0\u202f,]+\d{{1,4}}(?:er|st|nd|rd|th)?(?!\w))?", text, 0 if case else re.IGNORECASE):
        if near_number and not (m.group(1) or m.group(3)):
            continue
        month = [n.casefold() for n in names].index(m.group(2).casefold()) + 1
        out.append(Quantity(m.group(2), frozenset({f"m{month}"})))
    return out


def _ordinals(pattern: re.Pattern[str], text: str, spans: list[tuple[int, int]]) -> list[Quantity]:
    """The ordinals (1er, 1st) of text outside `spans`, to which their own are added."""
    found = []
    for m in pattern.finditer(_blank(text, spans)):
        found.append(Quantity(m.group(0), frozenset({f"n{int(m.group(1))}"})))
        spans.append(m.span())
    return found


def french(text: str) -> list[Quantity]:
    """The quantities of a French sentence, in order of kind then position."""
    found: list[Quantity] = []
    spans = []
    for m in _TIME_FR.finditer(text):
        hour, minute = int(m.group(1)), int(m.group(2) or m.group(3) or 0)
        found.append(Quantity(m.group(0), frozenset(_time_keys(hour, minute))))
        spans.append(m.span())
    for m in _ROMAN.finditer(text):
        if m.group(1):
            found.append(Quantity(m.group(0), frozenset({_key(_roman(m.group(1)))})))
            spans.append(m.span())
    found += _ordinals(_ORDINAL_FR, text, spans)
    rest = _blank(text, spans)
    for m in _NUMBER_FR.finditer(rest):
        whole, decimal, dotted = m.groups()
        keys = {f"n{_value(whole, decimal)}"}
        if decimal is not None and len(decimal) == 3 and whole.isdigit():  # "1,000" written the English way
            keys.add(f"n{_value(whole + decimal)}")
        if whole.isdigit() and len(whole) == 2 and re.search(r"années\W*$", rest[: m.start()]):  # "les années 90": the 1990s
            keys |= {f"n19{whole}", f"n20{whole}"}
        if "." in whole and decimal is None:  # "1.500": 1500 in French, but maybe 1.5
            keys.add(f"n{_value(whole.replace('.', ',', 1).split(',')[0], whole.split('.', 1)[1])}")
        if dotted is not None:  # "1.5" written the English way in a French text
            keys = {f"n{_value(whole, dotted)}"}
        found.append(Quantity(m.group(0), frozenset(keys)))
    found += _month_keys(text, MONTHS_FR, near_number=True)
    return found


def english(text: str) -> list[Quantity]:
    """The quantities of an English sentence."""
    found: list[Quantity] = []
    spans = []
    for m in _TIME_EN.finditer(text):
        if m.group(1) is not None:
            hour, minute = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0), int(m.group(2) or 0)
            keys = _time_keys(hour, minute)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
            keys = _time_keys(hour, minute, clock12=hour <= 12)
        found.append(Quantity(m.group(0), frozenset(keys)))
        spans.append(m.span())
    found += _ordinals(_ORDINAL_EN, text, spans)
    rest = _blank(text, spans)
    for m in _NUMBER_EN.finditer(rest):
        found.append(Quantity(m.group(0), frozenset({f"n{_value(m.group(1), m.group(2))}"})))
    abbreviations = tuple(a for a in _EN_MONTH_ABBREVIATIONS if a != "may")
    found += _month_keys(text, tuple(name.capitalize() for name in MONTHS_EN), near_number=True, case=True)
    found += [Quantity(q.text, frozenset({f"m{_EN_MONTH_ABBREVIATIONS.index(q.text.casefold()) + 1}"})) for q in _abbreviated(text, abbreviations)]
    return found


def _abbreviated(text: str, names: tuple[str, ...]) -> list[Quantity]:
    return [Quantity(m.group(1), frozenset()) for m in re.finditer(rf"(?<!\w)({'|'.join(names)})\.?(?=[ \u00a0\u202f]+\d)", text, re.IGNORECASE)]


def spelled(text: str, words: dict[str, float]) -> set[str]:
    """The keys of the numbers text writes as words (`deux`, `twenty-one`, `second`)."""
    keys = set()
    for m in _WORD.finditer(text):
        word = m.group(0).casefold()
        parts = [p for p in word.split("-") if p in words]
        keys |= {_key(words[p]) for p in (word, *parts) if p in words}
        if len(parts) > 1:
            keys.add(_key(_compound([words[p] for p in parts])))
    return keys


def _compound(values: list[float]) -> float:
    """The number hyphenated number words make: twenty-one, quatre-vingt-dix, deux-cents."""
    total = current = 0.0
    for value in values:
        if value in (100, 1000):
            current = max(current, 1) * value
            if value == 1000:
                total, current = total + current, 0
        elif value == 20 and current == 4:
            current = 80
        else:
            current += value
    return total + current


def spelled_french(text: str) -> set[str]:
    return spelled(text, _WORDS_FR)


def spelled_english(text: str) -> set[str]:
    return spelled(text, _WORDS_EN)


def unmatched(source: list[Quantity], target: list[Quantity]) -> tuple[list[Quantity], list[Quantity]]:
    """The quantities of each side that no quantity of the other shares a key with
    (each quantity matched at most once, first come first served)."""
    left = list(target)
    missing = []
    for quantity in source:
        match = next((i for i, other in enumerate(left) if quantity.keys & other.keys), None)
        if match is None:
            missing.append(quantity)
        else:
            del left[match]
    return missing, left


def differences(source: str, mt: str) -> tuple[list[str], list[str]]:
    """The numbers of the French missing from the English, and those the English adds,
    each as written; a number one side spells out in words excuses it on the other."""
    missing, added = unmatched(french(source), english(mt))
    in_words_en, in_words_fr = spelled_english(mt), spelled_french(source)
    return [q.text for q in missing if not q.keys & in_words_en], [q.text for q in added if q.keys and not q.keys & in_words_fr]
