"""Towns, regions and employers in nursing notes (issue 13), on the tokens of phi_scan; phi_sites calls it.

Three shapes, each with its own evidence:
  - a US place from the GeoNames gazetteer (data/phi/us_places.txt.gz, places of 15,000 people or more): a name of
    two or more words ("new haven", "Middle River") or a word that no English or name list knows ("Towson") is taken
    where it stands; a place that is also a word or a common name ("Vista", "Austin") only after a place cue
    ("lives in", "from", "near") or before a state's name;
  - a region: Title-case words before a geographic feature word ("the Eastern Shore", "Cedar Valley");
  - an employer: the words after "works for", "employed at" that name a care site or an organisation ("works for
    vista health").
States and countries are not PHI under Safe Harbor and are never taken alone.
"""
from __future__ import annotations

import functools
import gzip
import re

from .phi_lexicon import AMB, DATA, ENG, NAME, STOP, UNK, is_first_name, surname_rank, tokens
from .phi_scan import NOT_PHI_PLACES, NoteTokens

US_STATE_NAMES = frozenset("""
alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois indiana
iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana nebraska
nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming
""".split())  # one-word state names; the two-word ones end in a word of NOT_PHI_PLACES ("carolina", "jersey")
US_STATE_CODES = frozenset("""
AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC
SD TN TX UT VT VA WA WV WI WY DC
""".split())  # USPS codes: "MD Hospital" is a site's name, not a credential
PLACE_CUES = frozenset("in from to at near of outside around visiting toward towards into".split())
_WORD_PLACE_CUES = frozenset("in from near outside visiting".split())  # for a town that is also a word: "from Vista"
_EPONYM_AFTER = re.compile(r"[ \t]*(?i:filters?|catheters?|lines?|tubes?|signs?|syndrome|disease|test|scale|mask|"
                           r"drains?|stockings?|pumps?|bags?|valves?|procedure|operation|repair|shunt)\b")
COMMON_NAME_RANK = 2000  # a surname this common that is also a town ("Jackson", "Warren") needs a place cue
GEO_FEATURES = frozenset("""
shore coast bay river harbor harbour island beach valley heights hills springs falls lake county township creek
mountain mountains woods glen ridge
""".split())
_EMPLOYER_CUE = re.compile(r"(?i)\b(?:works?|worked|working|employed|employee|job|retired|volunteers?)[ \t]+"
                           r"(?:for|at|by|from)[ \t]+$")  # not "with": "PT worked with pt", "working with the IS"
_EMPLOYER_HEADS = frozenset("""
health hospital hosp clinic center centre medical healthcare company corp corporation inc bank university college
school systems group associates
""".split())
_WORD_GAP = re.compile(r"[ \t]{1,2}|[ \t]?-[ \t]?|\.[ \t]{0,2}")


@functools.lru_cache(maxsize=1)
def us_places() -> tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]:
    """(one-word place names, first word -> the longer names starting with it), lower case, read once."""
    with gzip.open(DATA / "us_places.txt.gz", "rt", encoding="ascii") as handle:
        names = handle.read().splitlines()
    singles, longer = set(), {}
    for name in names:
        words = tuple(m.group() for m in tokens(name))
        if not words or all(w in NOT_PHI_PLACES for w in words):
            continue  # "washington", "new york": a state's name as well
        if len(words) == 1:
            singles.add(words[0])
        else:
            longer.setdefault(words[0], []).append(words)
    return frozenset(singles), {k: tuple(sorted(v, key=len, reverse=True)) for k, v in longer.items()}


def _span(doc: NoteTokens, first: int, last: int, source: str) -> dict:
    return {"start": doc.toks[first].start(), "end": doc.toks[last].end(), "label": "LOCATION", "score": 0.65,
            "rank": 2, "source": f"place_{source}"}


def _joined(doc: NoteTokens, first: int, last: int) -> bool:
    return all(_WORD_GAP.fullmatch(doc.gap(k)) for k in range(first, last))


def _cued(doc: NoteTokens, i: int, last: int) -> bool:
    """A place cue before ("from <X>") or a state's name after ("<X>, Maryland")."""
    before = i > 0 and doc.lower[i - 1] in PLACE_CUES and re.fullmatch(r"[ \t]{1,2}", doc.gap(i - 1))
    after = last + 1 < len(doc.toks) and re.fullmatch(r",?[ \t]{1,2}", doc.gap(last)) and (
        doc.lower[last + 1].removesuffix("'s") in US_STATE_NAMES)
    return bool(before or after)


def _gazetteer(doc: NoteTokens, i: int) -> dict | None:
    singles, longer = us_places()
    word = doc.lower[i]
    for words in longer.get(word, ()):
        last = i + len(words) - 1
        if last < len(doc.toks) and tuple(doc.lower[i:last + 1]) == words and _joined(doc, i, last) \
                and not doc.glued(last) and (doc.cls[last] != STOP or _cued(doc, i, last)):
            return _span(doc, i, last, "gazetteer")
    if word not in singles or doc.glued(i) or len(word) < 4 or _EPONYM_AFTER.match(doc.text, doc.toks[i].end()):
        return None  # "greenfield filter": a device, not the town
    cls = doc.cls[i]
    person = is_first_name(word, common=True) or 0 < surname_rank(word) <= COMMON_NAME_RANK
    if cls == UNK or (cls == NAME and not person):
        return _span(doc, i, i, "gazetteer")  # "Towson", "baltimore"
    if cls == NAME and _cued(doc, i, i):
        return _span(doc, i, i, "gazetteer")  # "lives in Austin"
    if cls in (AMB, ENG) and doc.titled(i) and i > 0 and doc.lower[i - 1] in _WORD_PLACE_CUES \
            and re.match(r"[ \t]*(?:[,.;:)]|\n|$)", doc.text[doc.toks[i].end():]):
        return _span(doc, i, i, "gazetteer")  # "moved here from Vista." but not "in Green chart"
    return None


def _region(doc: NoteTokens, i: int) -> dict | None:
    """"the Eastern Shore", "Cedar Valley": Title-case words before a geographic feature word, in a note whose case
    means something."""
    if not doc.titled(i) or i == 0:
        return None
    k = i - 1
    while k >= 0 and i - k <= 3 and doc.titled(k) and doc.cls[k] != STOP and _WORD_GAP.fullmatch(doc.gap(k)) \
            and doc.lower[k] not in NOT_PHI_PLACES and doc.lower[k] not in US_STATE_NAMES:
        k -= 1
    return _span(doc, k + 1, i, "region") if k < i - 1 else None


def _employer(doc: NoteTokens, i: int) -> dict | None:
    """"works for vista health", "employed at Cedar Foods": up to three words after the cue, ending in a word that
    names an organisation or holding a name-like word."""
    if not _EMPLOYER_CUE.search(doc.text, max(0, doc.toks[i].start() - 40), doc.toks[i].start()):
        return None
    from spacy.lang.en.stop_words import STOP_WORDS

    last = i
    while last < len(doc.toks) and last - i < 3 and doc.lower[last] not in STOP_WORDS and not doc.glued(last) \
            and (last == i or _WORD_GAP.fullmatch(doc.gap(last - 1))):
        if doc.lower[last] in _EMPLOYER_HEADS and last > i:
            return _span(doc, i, last, "employer")
        last += 1
    if last > i and any(doc.cls[k] in (NAME, UNK) or doc.titled(k) for k in range(i, last)):
        return _span(doc, i, last - 1, "employer")
    return None


def find_places(doc: NoteTokens) -> list[dict]:
    spans = []
    for i in range(len(doc.toks)):
        word = doc.lower[i]
        spans.append(_gazetteer(doc, i))
        if word in GEO_FEATURES:
            spans.append(_region(doc, i))
        if i > 0 and doc.lower[i - 1] in ("for", "at", "by", "from"):
            spans.append(_employer(doc, i))
    return [s for s in spans if s]
