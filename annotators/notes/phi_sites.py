"""Care sites and places in nursing notes (issue 13), on the tokens of phi_scan.

Shapes, in any case: place-like words before a facility word ("<X> Memorial", "<x y> hospital", "<X> rehab",
"<X> Med Ctr"); a ward with its number after a move ("transfer to <Ward> 2", "from <Ward> 3"); an unknown acronym
after a transfer verb ("sent to <XYZ>", "transferred to <XYZ> cath lab") or where a site stands ("at <XYZ>", "in
<XYZ>", "<XYZ> EW"; common clinical abbreviations are vetoed); a town after "lives in", "from" after a relative, or
"of" after a person's name; "St. <Name>". Towns from the gazetteer, regions and employers are phi_places'. States
and countries are not PHI (Safe Harbor) and are left.
"""
from __future__ import annotations

import bisect
import re

from .phi_lexicon import AMB, ENG, NAME, STOP, UNK, clinical_abbreviations, is_first_name, looks_misspelled
from .phi_places import US_STATE_CODES
from .phi_scan import NOT_PHI_PLACES, RELATIVES, NoteTokens

SITE_HEADS = frozenset("""
hospital hosp hospitals memorial regional rehab rehabilitation va campus clinic infirmary hospice medical med house
building health center centre ctr manor village
""".split())
_STRONG_HEADS = frozenset("hospital hosp memorial regional rehab rehabilitation va infirmary hospice".split())
_MOVE = frozenset("""
transfer transferred transfered tranfered transferring tx tx'd txd sent admitted admit adm readmitted presented
arrived arrival came brought taken went going return returned returning discharged flown flight medflight
medflighted flighted enroute retired works worked followed managed d/c dc'd consult consulted screened
""".split())
_TRANSFER = _MOVE - frozenset("return returned returning went going".split())  # "returned to NSR" is a rhythm
_PREP = frozenset("to from at in on".split())
_TRAVEL = frozenset("fly flying flew arrive arriving arrived coming drive driving drove visiting called calling"
                    .split())
_RESIDE = frozenset("lives live living resides reside lived home moved visiting vacation vacationing".split())
GENERIC_PLACE = frozenset("""
outside local other another acute inpatient outpatient previous prior prev nearby community same private state city
county this that the his her their a an our psych psychiatric cardiac pulmonary physical nursing skilled long term
subacute childrens veterans area homeless shelter assisted current basic
""".split())
_WARD_NUMBER = re.compile(r"[ \t]{0,2}\d{1,2}(?!\d|\.\d|[:/%])"
                          r"(?![ \t]*(?i:mg|ml|cc|l\b|hrs?|units?|mcg|%|x\b|yrs?|years?|days?|min|mins|weeks?|wks?|"
                          r"months?))")
_SPACES = re.compile(r"[ \t]{1,2}")
ACRONYM_LETTERS = (2, 5)  # an acronym read as a care site has 2 to 5 letters ("GH", "KHB", "NEBMC")
_ACRONYM_PLACE_PREPS = frozenset("at in from".split())
_LEAVE = frozenset("leave leaving".split())
_CALL_OUT = re.compile(r"(?i)\b(?:c/o|call(?:ed)?[ \t]*out)[ \t]*$")  # "c/o to <ward>": called out of the ICU
_CLAUSE_END = re.compile(r"[ \t]*(?:[,.;:)]|\n|$)")
_SITE_AFTER = re.compile(r"[ \t]+(?i:ed|er|ew|cath|tcu|campus|hospital|attorneys?)\b")  # "at <XYZ> EW"


_STREET_TYPES = frozenset("""
street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace circle cir highway hwy
parkway pkwy square trail
""".split())
_VERB_ENDINGS = ("ed", "ing", "ly", "ic", "ive", "ous", "al", "ion", "ions", "ment", "es")


def _ward_word(doc: NoteTokens, i: int) -> bool:
    """A long unknown word that can be a ward or building name: not a misspelt word, not a verb or adjective."""
    word = doc.lower[i]
    return doc.cls[i] in (UNK, NAME) and len(word) >= 7 and not word.endswith(_VERB_ENDINGS) \
        and not looks_misspelled(word) and word not in NOT_PHI_PLACES


def _place_like(doc: NoteTokens, i: int, strong: bool) -> bool:
    cls, word = doc.cls[i], doc.lower[i]
    if word in GENERIC_PLACE or cls == STOP or len(word) < 2 or doc.glued(i):
        return False
    return cls in (NAME, UNK, AMB) or (strong and cls == ENG)


def _span(doc: NoteTokens, first: int, last: int, source: str, label: str, end: int | None = None) -> dict:
    return {"start": doc.toks[first].start(), "end": end or doc.toks[last].end(), "label": label, "score": 0.7,
            "rank": 2, "source": f"site_{source}"}


def _facility(doc: NoteTokens, i: int) -> dict | None:
    """"holy redeemer hosp", "LINWOOD MEMORIAL", "Greater Ashford Med Ctr": the place words before a facility word."""
    n, word = len(doc.toks), doc.lower[i]
    after = doc.lower[i + 1] if i + 1 < n else ""
    if word in ("med", "medical") and after not in ("ctr", "center", "centre", "campus"):
        return None
    strong = word in _STRONG_HEADS or word in ("med", "medical")
    k = i - 1
    while k >= 0 and i - k <= 3 and _SPACES.fullmatch(doc.gap(k)) and (
            _place_like(doc, k, strong) or strong and doc.words[k] in US_STATE_CODES and not doc.upper):
        k -= 1  # "MD Hospital": a state's code names the site
    if k == i - 1:
        return None
    seen = [doc.cls[j] for j in range(k + 1, i)]
    cue = k >= 0 and (doc.lower[k] in _PREP or doc.lower[k] == "the" or doc.lower[k] in _MOVE)
    if NAME in seen or UNK in seen or (cue and strong) or (strong and doc.words[k + 1] in US_STATE_CODES):
        end = i + (word in ("med", "medical"))
        if end + 2 < n and doc.lower[end + 1] in ("and", "or") and doc.cls[end + 2] in (NAME, UNK) \
                and _place_like(doc, end + 2, False):
            end += 2  # "<X> REHAB AND <Y>"
        return _span(doc, k + 1, end, "facility", "HOSPITAL")
    return None


def _after_preposition(doc: NoteTokens, i: int) -> dict | None:
    """"to <Ward> 2", "sent to <XYZ>"."""
    n, word = len(doc.toks), doc.lower[i]
    j = i + 1 + (i + 2 < n and doc.lower[i + 1] == "the")
    if j >= n or "\n" in doc.text[doc.toks[i].end():doc.toks[j].start()]:
        return None
    if doc.cls[j] not in (NAME, UNK) or doc.lower[j] in NOT_PHI_PLACES:
        return None
    prev = doc.lower[max(0, i - 4):i]
    tail = doc.text[doc.toks[j].end():doc.toks[j].end() + 8]
    ward = _WARD_NUMBER.match(tail)
    long_word = _ward_word(doc, j)
    if ward and len(doc.words[j]) >= 5 and not looks_misspelled(doc.words[j]) and (
            ward.group()[:1] in " \t" or long_word) and (word != "in" or long_word):
        return _span(doc, j, j, "ward", "HOSPITAL", doc.toks[j].end() + len(ward.group()))
    moved = any(w in _TRANSFER for w in prev) or _CALL_OUT.search(doc.text, 0, doc.toks[i].start())
    if long_word and word == "to" and moved:
        return _span(doc, j, j, "ward", "HOSPITAL")  # "transfer to <Ward>"
    acronym = doc.words[j].isupper() and 2 <= len(doc.words[j]) <= 5 or (
        not doc.upper and doc.words[j].islower() and 2 <= len(doc.words[j]) <= 3)
    if acronym and doc.cls[j] == UNK and doc.lower[j] not in clinical_abbreviations() \
            and not re.match(r"[\d/]", tail) and word in ("to", "at", "from") and moved:
        return _span(doc, j, j, "acronym", "HOSPITAL")
    return None


def _site_acronym(doc: NoteTokens, j: int) -> dict | None:
    """"was at GH", "leave GH", "GH EW", "at gh.": a word that no word list knows and that is written as an acronym
    (ALL-CAPS in a note in mixed case; 2-3 lower-case letters in a note in lower case) is most often a care site
    after "at"/"in"/"from"/"leave" or before "ED"/"EW"/"attorneys". The common clinical abbreviations
    (data/phi/clinical_abbreviations.txt) are vetoed: "in SR", "at MN", "from AC". Where case says nothing (a note
    in capitals, a lower-case word) only "at <X>" ending a clause ("AT GH, BUT", "at gh.") is taken: "in raf,",
    "from mva," are shorthand.""" 
    word, lower = doc.words[j], doc.lower[j]
    if doc.cls[j] != UNK or lower in clinical_abbreviations() or doc.glued(j) \
            or doc.text[doc.toks[j].start() - 1:doc.toks[j].start()].isdigit():  # "2nd cath"
        return None
    if not (ACRONYM_LETTERS[0] <= len(word) <= ACRONYM_LETTERS[1] and word.isupper()
            or not doc.upper and word.islower() and len(word) <= 3):
        return None
    end = doc.toks[j].end()
    if _SITE_AFTER.match(doc.text, end):
        return _span(doc, j, j, "acronym", "HOSPITAL")
    before = doc.lower[j - 1] if j > 0 and _SPACES.fullmatch(doc.gap(j - 1)) else ""
    ends_clause = _CLAUSE_END.match(doc.text, end)
    if before in _LEAVE or (before in _ACRONYM_PLACE_PREPS and (
            word.isupper() and not doc.upper or before == "at" and ends_clause)):
        return _span(doc, j, j, "acronym", "HOSPITAL")
    return None


def _residence(doc: NoteTokens, i: int) -> dict | None:
    """"lives alone in <town>", "daughter from <town>"."""
    n = len(doc.toks)
    prev = doc.lower[max(0, i - 5):i]
    if not (any(w in _RESIDE for w in prev[-3 if doc.lower[i] == "at" else -5:])
            or (doc.lower[i] == "from" and prev and (prev[-1] in RELATIVES or any(w in _TRAVEL for w in prev[-4:])))):
        return None
    k = i + 1
    while k < n and k - i <= 2 and doc.cls[k] != STOP and doc.lower[k] not in GENERIC_PLACE \
            and doc.lower[k] not in NOT_PHI_PLACES and not doc.glued(k):
        if k > i + 1 and not _SPACES.fullmatch(doc.gap(k - 1)):
            break
        k += 1
    if k > i + 1 and any(doc.cls[j] in (NAME, UNK) or doc.titled(j) for j in range(i + 1, k)):
        return _span(doc, i + 1, k - 1, "residence", "LOCATION")  # "lives in <town>", "in Cedar Rapids"
    return None


def find_sites(doc: NoteTokens, names: list[dict] = ()) -> list[dict]:
    spans = []
    n = len(doc.toks)
    for i in range(n):
        word = doc.lower[i]
        if _ward_word(doc, i) and (i == 0 or doc.lower[i - 1] in ("plan", "p", "transfer") or re.search(
                r"[:\n,][ \t]*$", doc.text[max(0, doc.toks[i].start() - 4):doc.toks[i].start()])):
            ward = _WARD_NUMBER.match(doc.text, doc.toks[i].end())  # "PLAN: <Ward> 2", ", <ward> 2"
            if ward and ward.group()[:1] in " \t":
                spans.append(_span(doc, i, i, "ward", "HOSPITAL", ward.end()))
        if doc.cls[i] == UNK and len(word) <= ACRONYM_LETTERS[1]:
            spans.append(_site_acronym(doc, i))
        if word in SITE_HEADS and i > 0:
            spans.append(_facility(doc, i))
        if word in _PREP and i + 1 < n:
            spans.append(_after_preposition(doc, i))
        if word in ("in", "from", "at") and i + 1 < n:
            spans.append(_residence(doc, i))
        if word in ("u", "uof", "univ", "university") and i + 1 < n:  # "U Maryland", "U OF MD MED CENTER"
            k = i + 1 + (doc.lower[i + 1] == "of" and i + 2 < n)
            if doc.lower[k] in NOT_PHI_PLACES | {"md"} and all(_SPACES.fullmatch(doc.gap(m)) for m in range(i, k)):
                spans.append(_span(doc, i, k, "university", "HOSPITAL"))
        if word in ("st", "saint") and i + 1 < n and re.fullmatch(r"\.?[ \t]{1,2}", doc.gap(i)) and i > 0 \
                and doc.lower[i - 1] in _PREP and doc.cls[i + 1] != STOP \
                and (doc.cls[i + 1] == NAME or is_first_name(doc.lower[i + 1])) \
                and not doc.text[doc.toks[i].start() - 1].isdigit():
            spans.append(_span(doc, i, i + 1, "saint", "HOSPITAL"))  # "to St. Mary's"
    ends = {s["end"] + 1 for s in names if doc.text.startswith(" of ", s["end"])}
    for i in range(n - 1):  # "daughter Ines of <town>"
        if doc.lower[i] == "of" and doc.toks[i].start() in ends and doc.cls[i + 1] in (NAME, UNK, AMB) \
                and doc.lower[i + 1] not in NOT_PHI_PLACES and (doc.titled(i + 1) or doc.upper):
            spans.append(_span(doc, i + 1, i + 1, "residence", "LOCATION"))
    return [s for s in spans if s]


def site_span(doc: NoteTokens, start: int, end: int, source: str) -> bool:
    """Keep a care site or street address from a pattern only when it holds a place-like word: the cue patterns
    also match "RETURNED TO THE 50'S", "SENT TO CT SCAN", "3 EPISODES ST" (ST segment, not Street)."""
    inside = [i for i in range(len(doc.toks)) if start <= doc.toks[i].start() and doc.toks[i].end() <= end]
    if "street" in source:  # "3 EPISODES ST IN" (ST segment), "2 GMS GIVEN IVP PER DR": not addresses
        words = inside[:next((k for k, i in enumerate(inside) if doc.lower[i] in _STREET_TYPES), len(inside))]
        value = doc.text[start:doc.toks[words[-1]].end()] if words else ""
        return bool(words) and "." not in value and not any(doc.cls[i] == STOP for i in words) and not (
            doc.upper and len(words) < len(inside) and doc.lower[inside[len(words)]] in ("st", "dr", "ct", "pl"))
    if "hospital" in source:  # "<X> Hospital": the word before the facility word must be a place's name
        heads = [k for k, i in enumerate(inside) if doc.lower[i] in SITE_HEADS]
        before = inside[max(0, heads[0] - 3):heads[0]] if heads else inside
        return any(doc.lower[i] not in GENERIC_PLACE and doc.lower[i] not in NOT_PHI_PLACES and (
            doc.cls[i] in (NAME, UNK) or doc.titled(i)) for i in before)
    return any(doc.cls[i] in (NAME, UNK, AMB) and doc.lower[i] not in GENERIC_PLACE and not doc.glued(i)
               and doc.lower[i] not in NOT_PHI_PLACES for i in inside)


def scan(text: str, doc: NoteTokens | None = None) -> list[dict]:
    """Name and site candidates of `text` (phi.py's candidate format)."""
    from .phi_places import find_places
    from .phi_scan import find_names

    doc = doc or NoteTokens(text)
    names = find_names(doc)
    return names + find_sites(doc, names) + find_places(doc)


def repeat_mentions(text: str, found: list[dict]) -> list[dict]:
    """Other mentions, in the same note, of a name or site found once through its context: a note that says
    "transferred to <Site>" names <Site> bare later on; "<Ward> 2 or <Ward> 3". Only words that are no
    English or clinical word are repeated (a false name that is a word would spread)."""
    doc = None
    words: dict[str, str] = {}
    for cand in found:
        if cand["label"] in ("NAME", "HOSPITAL", "LOCATION") and cand.get("rank", 2) >= 2:
            doc = doc or NoteTokens(text)
            for i in range(bisect.bisect_left(doc.starts, cand["start"]), len(doc.toks)):
                if doc.toks[i].end() > cand["end"]:
                    break
                if doc.cls[i] in (NAME, UNK) and (len(doc.words[i]) > 2 or doc.words[i].isupper()):
                    words.setdefault(doc.lower[i], cand["label"])
    if not words:
        return []
    return [{"start": doc.toks[i].start(), "end": doc.toks[i].end(), "label": words[doc.lower[i]], "score": 0.6,
             "rank": 1, "source": "repeat"} for i in range(len(doc.toks)) if doc.lower[i] in words]
