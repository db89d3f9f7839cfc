"""The checks, one function each, in the order their flags are shown."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import groupby

from ..messages import counted
from ..wordalign import uncovered as uncovered_words
from . import Context, Sentence, check
from . import numbers as numbers_of

# A sentence's English is flagged when its length in characters is outside these
# multiples of the French (fr→en output runs at ~0.9×); only checked from MIN_LENGTH_CHARS.
LENGTH_RATIO = (0.5, 2.0)
MIN_LENGTH_CHARS = 20
# An n-gram of up to MAX_NGRAM words repeated back to back this many times, more than in
# the source: opus-mt's known failure of looping on a phrase.
REPEATS = 3
MAX_NGRAM = 4
_WORD = re.compile(r"\w+")
# One to four letters said six or more times in a row ("icicicicicic"): looping inside a word.
_LETTER_LOOP = re.compile(r"([^\W\d_]{1,4}?)\1{5,}")
# The same word twice in a row ("the the"), but not the doubles English grammar allows.
_DOUBLED = re.compile(r"\b([^\W\d_]+)\s+\1\b", re.IGNORECASE)
_GRAMMATICAL_DOUBLES = frozenset("that had bye knock no very".split())
# Words that are French and not English: an English sentence with more of them than of
# English function words was left in French.
_FRENCH_WORDS = frozenset(
    """le la les des du une et est sont dans pour avec pas sur qui que ce cette ces nous vous ils elles leur leurs mais
    ou où très été être avoir fait aux au par plus son sa ses mon ma mes notre votre je tu il elle on ne se lui
    comme tout tous toute toutes aussi déjà entre sans sous chez après avant selon depuis était avait ont peut""".split()
)
_ENGLISH_WORDS = frozenset(
    """the of and to in is are was were be been that this these those with for on by from at as it its they them
    their he she his her we our you your not but or which who what when there has have had will would can could
    should may might than then also into about after before between an a""".split()
)
# Inline code, placeholders and tags the model may see (protect rules take out the rest).
_CODE_LIKE = re.compile(
    r"`[^`\n]+`"  # inline code
    r"|(?<![\w%])%(?:\d+\$)?(?:\([\w.]+\))?[-+#0]*\d*(?:\.\d+)?[sdifeEgGxXoc](?![A-Za-z])"  # printf: %s, %(name)s, %1$s, %.2f
    r"|\{\d*\}|\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}\s]*)?\}"  # {0}, {}, {name}, {name:>8}
    r"|\$\{[\w.]+\}|\$[A-Z_][A-Z0-9_]+\b"  # ${var}, $VAR
    r"|</?[A-Za-z][\w:-]*(?:\s[^<>\n]*)?/?>"  # <tag>, </tag>, <br/>
)
_FINAL = re.compile(r"([.!?…:;])[\"'»”’)\]\s]*$")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"), ("«", "»"), ("“", "”"))


@check("empty", "the translation is empty", ("Bonjour à tous.", ""))
def empty(sentence: Sentence, context: Context) -> str | None:
    return None if sentence.mt.strip() else "the translation is empty"


def _letters(text: str) -> str:
    return " ".join(_WORD.findall(unicodedata.normalize("NFC", text).casefold()))


def _looks_french(text: str) -> bool:
    words = [w.casefold() for w in _WORD.findall(text)]
    french = sum(w in _FRENCH_WORDS for w in words)
    return len(words) >= 4 and french >= 2 and french > 2 * sum(w in _ENGLISH_WORDS for w in words)


@check("untranslated", "the English is the French source, or reads as French", ("Le conseil municipal a voté le budget.", "Le conseil municipal a voté le budget."), machine_only=True)
def untranslated(sentence: Sentence, context: Context) -> str | None:
    source, mt = sentence.source, sentence.mt
    if _letters(source) == _letters(mt) and sum(any(c.isalpha() for c in w) for w in source.split()) >= 3:
        return "the English is the French source, untranslated"
    if _looks_french(mt) and not _looks_french_name(source, mt):
        return "the English reads as French"
    return None


def _looks_french_name(source: str, mt: str) -> bool:
    """Whether the French words of the English are a title or name the source quotes
    (a French film title kept in an English sentence): all of them inside quotes."""
    quoted = " ".join(re.findall(r"[«\"“]([^»\"”]+)[»\"”]", mt))
    return bool(quoted) and _looks_french(quoted) and not _looks_french(re.sub(r"[«\"“][^»\"”]+[»\"”]", " ", mt))


@check("numbers", "a number, amount, date or time of the French is missing from the English, or the English adds one", ("En 2011, 41 % des élèves.", "In 2012, 41% of pupils."))
def numbers(sentence: Sentence, context: Context) -> str | None:
    missing, added = numbers_of.differences(sentence.source, sentence.mt)
    parts = []
    if missing:
        parts.append(f"{', '.join(missing)} of the French {'is' if len(missing) == 1 else 'are'} not in the English")
    if added:
        parts.append(f"the English adds {', '.join(added)}")
    return "; ".join(parts) or None


def protected_spans(text: str, context: Context) -> list[tuple[int, int]]:
    """Where a text holds URLs, e-mails, template tags (the protect rules in force),
    inline code, placeholders and tags: sorted, disjoint [start, end) spans."""
    from ..protect import Protector

    spans = (context.protector or Protector()).spans(text)
    gaps = zip([0, *(b for _, b in spans)], [*(a for a, _ in spans), len(text)])
    code = [m.span() for start, end in gaps for m in _CODE_LIKE.finditer(text, start, end)]
    return sorted(spans + code)


def protected_items(text: str, context: Context) -> Counter[str]:
    """What `protected_spans` finds, counted by text."""
    return Counter(text[a:b] for a, b in protected_spans(text, context))


@check("protected", "a URL, e-mail, inline code, placeholder or tag of the French is not in the English exactly once", ("Écrivez à contact@exemple.fr.", "Write to us."))
def protected(sentence: Sentence, context: Context) -> str | None:
    wanted = protected_items(sentence.source, context)
    if not wanted:
        return None
    got = Counter({item: sentence.mt.count(item) for item in wanted})
    wrong = [item for item, n in wanted.items() if got[item] != n]
    if not wrong:
        return None
    item = wrong[0]
    return f"{item} is {'missing from' if got[item] < wanted[item] else 'repeated in'} the English" + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")


@check("term", "a glossary term of the French is not rendered as the glossary says", ("Le conseil municipal a voté.", "The municipal board voted."))
def term(sentence: Sentence, context: Context) -> str | None:
    if context.glossary is None:
        return None
    missed = context.glossary.missed(sentence.source, sentence.mt, protected_spans(sentence.source, context))
    if not missed:
        return None
    return "; ".join(f"{hit.text} should be {' or '.join(hit.entry.targets)}" for hit in missed)


def _final(text: str) -> str:
    m = _FINAL.search(text.rstrip())
    mark = m.group(1) if m else ""
    return {"…": ".", ";": "."}.get(mark, mark)


def _balanced(text: str) -> bool:
    if any(text.count(a) != text.count(b) for a, b in _PAIRS):
        return False
    return text.count('"') % 2 == 0


@check("punctuation", "the sentence ends differently, or a question or exclamation mark, bracket or quote does not match the French", ("Qui a gagné ?", "Who won."))
def punctuation(sentence: Sentence, context: Context) -> str | None:
    source, mt = sentence.source, sentence.mt
    for mark, name in (("?", "question mark"), ("!", "exclamation mark")):
        if source.count(mark) != mt.count(mark):
            return f"the French has {counted(source.count(mark), name)}, the English {mt.count(mark)}"
    ends = _final(source), _final(mt)
    if ends[0] != ends[1] and "" not in ends and ":" not in ends:
        return f"the French ends in {ends[0]!r}, the English in {ends[1]!r}"
    if _balanced(source) and not _balanced(mt):
        return "the English leaves a bracket or quote unmatched"
    return None


def _repeat_run(text: str) -> int:
    """The most times any n-gram of up to MAX_NGRAM words occurs back to back in text."""
    words = [w.casefold() for w in _WORD.findall(text)]
    best = 1
    for n in range(1, MAX_NGRAM + 1):
        for start in range(n):
            chunks = [tuple(words[i : i + n]) for i in range(start, len(words) - n + 1, n)]
            best = max([best, *(len(list(run)) for _, run in groupby(chunks))])
    return best


def _doubled(text: str) -> str | None:
    return next((m.group(0) for m in _DOUBLED.finditer(text) if m.group(1).casefold() not in _GRAMMATICAL_DOUBLES), None)


@check("repeated", f"a word is doubled, a phrase repeats {REPEATS} or more times in a row, or letters loop inside a word", ("Le chat dort.", "The the cat sleeps."))
def repeated(sentence: Sentence, context: Context) -> str | None:
    source, mt = sentence.source, sentence.mt
    if _repeat_run(mt) >= max(REPEATS, _repeat_run(source) + 1) or (_LETTER_LOOP.search(mt) and not _LETTER_LOOP.search(source)):
        return "a phrase or letters repeat in a row: the model may be looping"
    doubled = _doubled(mt)
    if doubled and not _doubled(source):
        return f"“{doubled}”: a word is doubled"
    return None


@check("consistency", "the same French got another English elsewhere in the run, or the same English came from other French", ("Merci.", "Thanks. (and “Thank you.” elsewhere)"))
def consistency(sentence: Sentence, context: Context) -> str | None:
    return None if context.consistency is None else context.consistency.reason(sentence.source, sentence.mt)


@check("length", f"the English is under {LENGTH_RATIO[0]}× or over {LENGTH_RATIO[1]}× the length of the French", ("Le gouvernement a annoncé de nouvelles mesures.", "New."), machine_only=True)
def length(sentence: Sentence, context: Context) -> str | None:
    source, mt = sentence.source, sentence.mt
    if max(len(source), len(mt)) >= MIN_LENGTH_CHARS and not LENGTH_RATIO[0] <= len(mt) / len(source) <= LENGTH_RATIO[1]:
        return f"the English is {len(mt) / len(source):.1f}× the length of the French"
    return None


@check("uncovered", "a content word of the French is linked to no English word: the translation may have left it out", ("Le chat noir dort.", "The cat sleeps."), machine_only=True)
def uncovered(sentence: Sentence, context: Context) -> str | None:
    if sentence.links is None:
        return None
    missing = uncovered_words(sentence.source, sentence.links)
    if not missing:
        return None
    words = sentence.source.split()
    return f"no English word comes from {', '.join(words[i] for i in missing[:5])}"


@check("markup", "the word links could not say where an inline tag (a link, emphasis) of this sentence goes: check its place", ("Voir la <a>page</a>.", "See the page."))
def markup(sentence: Sentence, context: Context) -> str | None:
    return "the word links could not say where an inline tag of this sentence goes: check its place" if sentence.markup else None
