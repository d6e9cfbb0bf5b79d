"""Token rules for names and care sites in nursing notes (issue 13), run beside Presidio's patterns.

Nursing notes write names in any case ("dr smith", "DAUGHTER KATIE", "marisol okafor, rn"), so case cannot tell a name
from a word; the word classes of phi_lexicon can. A name is a run of name-like tokens next to a cue: a title, a
relative, a role or a credential; or a first name from the Census list with the surname after it. The cue sets how
much the run may hold (`_accept`): after "Dr." an English word that is also a surname ("White") is taken, after
"per" only a listed name is. Care sites (phi_sites.py) use the same tokens.
"""
from __future__ import annotations

import bisect
import re

from .phi_lexicon import (AMB, ENG, NAME, NOT_NAME_WORDS, STOP, UNK, is_first_name, is_rare_english,
                          looks_misspelled, surname_rank, tokens, upper_ratio, word_class)

TITLES = frozenset("dr drs dr's drs' doctor mr mrs mrs' miss".split())
WEAK_TITLES = frozenset("ms".split())  # "MS" is also mental status and morphine
RELATIVES = frozenset("""
wife husband son sons daughter daughters dtr dtrs daugher daugther sister sisters brother brothers mother father mom
dad spouse partner niece nephew grandson granddaughter grandaughter girlfriend boyfriend fiance fiancee friend aunt
uncle cousin proxy hcp caregiver rabbi priest chaplain pastor reverend rev other
""".split())
ROLES = frozenset("""
attending resident fellow intern nurse np rn md ho pa rrt chaplain sw manager worker therapist pharmacist
coordinator per paged page notified
""".split())
_ROLE_PAIRS = frozenset("""
spoke spoken speak talked talk discussed met consulted updated seen examined evaluated eval'd placed done called
""".split())  # "spoke with X", "seen by X"
CREDENTIALS = frozenset("rn md np rrt bsn lpn crna licsw lcsw msw pharmd phd cnm slp aprn licws rd".split())
_AFTER_ROLES = CREDENTIALS | RELATIVES | frozenset("resident attending fellow intern nurse pa".split())
_NAME_GAP = re.compile(r"[ \t]{1,3}|\.[ \t]{0,2}|[ \t]?-[ \t]?")  # between the parts of one name
_CUE_GAP = re.compile(r"[ \t]*(?:[,:(\"'\-]+|/)?[ \t]*(?:(?:is|named|was)[ \t]+)?")  # cue to name
_TITLE_GAP = re.compile(r"\.?[ \t]*")
_ADJECTIVE_ENDINGS = ("al", "ic", "ive", "ous", "ary", "ion", "ing", "ed", "ly")
_GLUED_AFTER = re.compile(r"\d|@|[.\w]*@|\.(?i:com|org|net|edu|gov)\b")
_GLUED_BEFORE = re.compile(r"[@/]$|(?:https?://|www\.)[\w.\-]*$|@[\w.\-]*$")
_NAME_INITIALS = "BEHJKMNQXYZ"  # not the letters nursing notes use alone: A/V (pacing), C/W (with), U (units), ...
_ACTION_AFTER = re.compile(r"[ \t]*(?i:aware|ordered|notified|paged|called|in\b|at\b|here|said|states|wants|"
                           r"recommends|recommended|spoke|made|informed|updated|,[ \t]*(?:md|np|pa|rn)\b)")
_SPEECH_AFTER = re.compile(r"[ \t]+(?i:states|stated|says|said|called|visited|visits|reports|reported|verbalizes|"
                           r"verbalized|wishes|wants|asked|agrees|agreed|understands|requests|requested)\b")
_CONTACT_AFTER = re.compile(r"[ \t]*(?i:cell|cell[ \t]*phone|phone|tel|mobile|home[ \t]*phone|work[ \t]*phone)"
                            r"[ \t]*(?:#|:|number|no\.?)?[ \t]*[:#]?[ \t]*[\d(]")  # a phone number follows
_COORD = re.compile(r"[ \t]*(?:,|&|/)[ \t]*|[ \t]+")
NOT_PHI_PLACES = frozenset("""
alabama alaska arizona arkansas california calif colorado connecticut delaware florida georgia hawaii idaho illinois
indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana
nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming
carolina dakota hampshire jersey mexico york island usa america canada europe asia africa australia england
ireland scotland italy france germany spain portugal greece russia china japan india israel poland brazil haiti
jamaica cuba puerto rico vietnam korea philippines iran iraq egypt bermuda
""".split())


class NoteTokens:
    """The word tokens of a note with their classes, and whether the note is written in capitals."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokens(text)
        self.starts = [m.start() for m in self.toks]
        self.words = [m.group() for m in self.toks]
        self.lower = [w.lower().replace("’", "'") for w in self.words]
        self.cls = [word_class(w) for w in self.words]
        self.upper = upper_ratio(text) > 0.6

    def gap(self, i: int) -> str:
        """Text between token i and token i+1."""
        return self.text[self.toks[i].end():self.toks[i + 1].start()] if i + 1 < len(self.toks) else "\n"

    def titled(self, i: int) -> bool:
        """Written Title-case where case means something: not in a note in capitals, not after a full stop."""
        word = self.words[i]
        if self.upper or len(word) < 2 or not (word[0].isupper() and word[1].islower()):
            return False
        before = self.text[max(0, self.toks[i].start() - 3):self.toks[i].start()].rstrip(" \t\"'(")
        if before.endswith(".") and i > 0 and (self.lower[i - 1] in TITLES | WEAK_TITLES | {"st"}
                                               or self.initial(i - 1)):
            return True  # "Dr. Art White", "J. Smith": the full stop of an abbreviation
        return bool(before) and before[-1:] not in ".!?:\n-="

    def initial(self, i: int) -> bool:
        """A single letter used as an initial: "J. Smith", or "B Muse" before a name-like word."""
        if len(self.words[i]) != 1:
            return False
        gap = self.gap(i)
        return gap.startswith(".") or (self.words[i] not in "AI" and self.words[i].isupper() and gap in (" ", "  ")
                                       and i + 1 < len(self.toks)
                                       and len(self.words[i + 1]) > 2 and (self.cls[i + 1] in (NAME, UNK) or (
                                           self.cls[i + 1] == AMB and surname_rank(self.lower[i + 1]))))

    def glued(self, i: int) -> bool:
        """Part of a formula, an address or a unit ("Sa02", "jane.doe@", "www.x.org"): not a name on its own."""
        start, end = self.toks[i].start(), self.toks[i].end()
        after, before = self.text[end:end + 40], self.text[max(0, start - 40):start]
        return bool(_GLUED_AFTER.match(after) or _GLUED_BEFORE.search(before))


def _accept(doc: NoteTokens, i: int, strength: str) -> bool:
    """May token i be part of a name after a cue of this strength (title, relative, credential, weak)?"""
    cls, word = doc.cls[i], doc.lower[i]
    if len(word) < 2 or word in NOT_PHI_PLACES or doc.glued(i):
        return False
    if cls == STOP:  # "Dr Will Cole", "Son, Ed": a first name that is also a word, written as a name
        return strength in ("title", "relative") and doc.titled(i) and is_first_name(word) \
            and word not in NOT_NAME_WORDS
    if cls == ENG:
        return strength == "title" and is_rare_english(word)  # "Dr. Fettle"
    if cls == NAME:
        return strength not in ("weak", "patient") or len(word) > 3 or doc.titled(i)
    if cls == UNK:  # a rare surname, or a misspelt or shortened word ("recieved", "overnite")
        if strength == "title":
            return len(word) >= 3
        if strength == "credential":
            return len(word) >= 3 and not (len(word) >= 7 and looks_misspelled(word))
        if strength == "patient" or len(word) < 4 or word.endswith(_ADJECTIVE_ENDINGS) or (
                len(word) >= 7 and looks_misspelled(word)):
            return False
        return strength == "relative" or doc.titled(i)
    if strength == "title":  # AMB: an English word that is also a name
        return True
    if strength in ("credential", "relative", "patient"):
        return is_first_name(word, common=True) or doc.titled(i)
    return doc.titled(i)


def _run(doc: NoteTokens, j: int, strength: str, backward: bool = False, most: int = 3) -> tuple[int, int] | None:
    """Token indexes (first, last) of the name starting (or, backward, ending) at token j, initials included."""
    picked, full, k, step = [], 0, j, -1 if backward else 1
    while 0 <= k < len(doc.toks) and full < most:
        # after an initial or a first name the next word is read as a surname: "per B. OKAFOR", "ROSE MILLER"
        surname_next = not backward and picked and (doc.initial(picked[-1]) or (
            is_first_name(doc.lower[picked[-1]]) and doc.cls[k] == AMB and surname_rank(doc.lower[k])))
        if doc.initial(k):
            picked.append(k)
        elif _accept(doc, k, "credential" if surname_next else strength):
            picked.append(k)
            full += 1
        else:
            break
        nxt = k + step
        if not (0 <= nxt < len(doc.toks)) or not _NAME_GAP.fullmatch(doc.gap(min(k, nxt))):
            break
        k = nxt
    while picked and not backward and doc.initial(picked[-1]):
        picked.pop()  # a trailing initial belongs to the next sentence ("... S. BREATH")
    if not any(not doc.initial(k) for k in picked):
        return None
    return min(picked), max(picked)


def _cue_strength(doc: NoteTokens, i: int) -> str | None:
    word = doc.lower[i]
    if word in TITLES:
        return "title"
    if word in WEAK_TITLES:
        return "title" if doc.words[i] == "Ms" or (doc.upper and doc.gap(i).startswith(".")) else "weak"
    if word in RELATIVES:
        return None if word == "other" and (i == 0 or doc.lower[i - 1] != "significant") else "relative"
    if word in ("social", "family") and doc.gap(i).strip()[:1] in (":", "-"):
        return "relative"  # "social: bill called"
    if word in ("patient", "pt"):
        return "patient"  # "Patient ROSE MILLER", not "pt recieved"
    if word in ROLES or (word in ("with", "w", "by", "to") and i > 0 and doc.lower[i - 1] in _ROLE_PAIRS):
        return "weak"
    return None


def _surname(doc: NoteTokens, j: int, strong: bool) -> bool:
    """Can token j be a surname after a first name (strong: the first name is no English word)?"""
    cls, word = doc.cls[j], doc.lower[j]
    if cls == UNK:
        return bool(surname_rank(word.replace("'", ""))) or (
            len(word) > 3 and not looks_misspelled(word) and not word.endswith(_ADJECTIVE_ENDINGS + ("ate", "es")))
    return bool(surname_rank(word.replace("'", ""))) and (cls == NAME or (strong and cls == AMB))


def _surname_before(doc: NoteTokens, j: int) -> tuple[int, int] | None:
    """A surname that is also a word, before a credential, made a name by what precedes it: an initial or a first
    name ("EARL N. COOK, RRT"), or a name joined by a hyphen ("Okafor-Mason MD")."""
    if j < 1 or doc.cls[j] != AMB or not surname_rank(doc.lower[j]):
        return None
    k = j - 1
    if doc.gap(k).strip() == "-" and doc.cls[k] in (NAME, UNK, AMB):
        return k, j
    while k >= 0 and doc.initial(k) and _NAME_GAP.fullmatch(doc.gap(k)):
        k -= 1
    if k >= 0 and is_first_name(doc.lower[k]) and doc.cls[k] != STOP \
            and _NAME_GAP.fullmatch(doc.gap(k)):
        return k, j
    return (k + 1, j) if k < j - 1 else None


def _lone_initial_after_title(doc: NoteTokens, i: int) -> bool:
    """A title and a single capital letter that no name follows: the letter is the person's initial. "MS" (also
    morphine, mental status) only with the initial's full stop."""
    j = i + 1
    if len(doc.words[j]) != 1 or not doc.words[j].isupper() or doc.lower[i] not in TITLES | WEAK_TITLES:
        return False
    return doc.lower[i] not in WEAK_TITLES or doc.gap(j).startswith(".")


def find_names(doc: NoteTokens) -> list[dict]:
    found: list[tuple[int, int, str]] = []
    n = len(doc.toks)
    for i in range(n):
        word = doc.lower[i]
        strength = _cue_strength(doc, i)
        gap_ok = _TITLE_GAP if word in TITLES or word in WEAK_TITLES else _CUE_GAP
        if strength and i + 1 < n and gap_ok.fullmatch(doc.gap(i)):
            run = _run(doc, i + 1, strength)
            if run:
                found.append((*run, strength))
            elif _lone_initial_after_title(doc, i):
                found.append((i + 1, i + 1, "title"))  # "mr I remained", "WITH MS S. CARE": the patient's initial
        if _CONTACT_AFTER.match(doc.text, doc.toks[i].end()) and doc.cls[i] in (NAME, UNK):
            run = _run(doc, i, "relative", backward=True, most=2)
            if run:  # "<First> <Last> cell# 555-...": a contact with a number
                found.append((*run, "relative"))
        if doc.initial(i) and re.fullmatch(r"\.[ \t]{1,2}", doc.gap(i)) and i + 1 < n and doc.cls[i + 1] == NAME \
                and doc.text[doc.toks[i].start() - 1:doc.toks[i].start()] in ("", " ", "\t", "(", "\n") \
                and surname_rank(doc.lower[i + 1].replace("'", "")) and not doc.glued(i + 1):
            found.append((i, i + 1, "initial"))  # "d. renna", "j. o'brien": an initial and a surname no word shares
        if word in CREDENTIALS and i > 0 and re.fullmatch(r"[ \t]*,?[ \t]*", doc.gap(i - 1)):
            run = _run(doc, i - 1, "credential", backward=True) or _surname_before(doc, i - 1)
            if run:  # "marisol okafor, rn", "EARL N. COOK, RRT", "Okafor-Mason MD"
                found.append((*run, "credential"))
        if word in _AFTER_ROLES and i > 0 and re.fullmatch(r"[ \t]*\([ \t]*", doc.gap(i - 1)):
            run = _run(doc, i - 1, "relative", backward=True)  # "Tomas Quiroga (son)", "X Y (resident)"
            if run:
                found.append((*run, "relative"))
        if doc.cls[i] in (NAME, AMB) and is_first_name(word) and i + 1 < n and (
                re.fullmatch(r"[ \t]{1,3}", doc.gap(i)) or doc.initial(i + 1)):
            j = i + 1 + (doc.initial(i + 1) and i + 2 < n)  # a first name and a surname: "martin delgado"
            emphasised = not doc.upper and (doc.words[i].isupper() and doc.words[j].isupper() and len(word) > 2
                                             or doc.words[i].istitle() and doc.titled(j))  # "JOHN SMITH", "Rose Miller"
            strong = doc.cls[i] == NAME or emphasised
            if (strong or doc.cls[j] == NAME) and _surname(doc, j, strong) and not doc.glued(j) and not doc.glued(i):
                found.append((i, j, "lexicon"))
                continue
        if i + 2 < n and _surname(doc, i, True) and re.fullmatch(r"[ \t]*,[ \t]*", doc.gap(i)) \
                and doc.cls[i + 1] == NAME and is_first_name(doc.lower[i + 1]) and not doc.glued(i + 1):
            found.append((i, i + 1, "lexicon"))  # "LOPEZ, ANTONIO"
            continue
        if doc.initial(i) and doc.words[i] in _NAME_INITIALS and i + 1 < n and not doc.glued(i + 1) \
                and doc.text[doc.toks[i].start() - 1:doc.toks[i].start()] in ("", " ", "\t", "\n", "(") and (
                    doc.cls[i + 1] in (NAME, UNK) and _accept(doc, i + 1, "credential") or doc.cls[i + 1] == AMB
                    and surname_rank(doc.lower[i + 1])) and _ACTION_AFTER.match(doc.text, doc.toks[i + 1].end()):
            found.append((i, i + 1, "initial"))  # "J SMITH ORDERED", "K. Okafor in to see pt"
        if _SPEECH_AFTER.match(doc.text, doc.toks[i].end()) and not doc.glued(i) and len(word) > 2 and (
                doc.cls[i] == NAME or (doc.titled(i) or doc.upper) and (
                    doc.cls[i] == UNK and not looks_misspelled(word) or is_first_name(word, common=True)
                    and doc.cls[i] == AMB)):
            found.append((i, i, "lexicon"))  # "<Name> states", "<NAME> VERBALIZES"
        if doc.cls[i] == NAME and len(word) > 3 and not doc.glued(i) and word not in NOT_PHI_PLACES and (
                is_first_name(word, common=True) or (surname_rank(word) and doc.titled(i))):
            found.append((i, i, "lexicon"))  # a name no English word shares: "marisol", "Okafor"
    spans = []
    for first, last, strength in found:  # "Drs Okafor and Quist", "daughters jenna and marisol"
        spans.append((first, last, strength))
        while last + 2 < n and _COORD.fullmatch(doc.gap(last)) and doc.lower[last + 1] in ("and", "or", "&") \
                and _COORD.fullmatch(doc.gap(last + 1)):
            j = last + 2
            while j < n - 1 and doc.lower[j] in TITLES | WEAK_TITLES:
                j += 1
            run = _run(doc, j, "relative" if strength in ("lexicon", "weak") else strength)
            if not run:
                break
            spans.append((*run, strength))
            first, last = run
    return [{"start": doc.toks[a].start(), "end": doc.toks[b].end(), "label": "NAME",
             "rank": 2 if s in ("lexicon", "weak", "patient", "initial") else 3,
             "score": 0.75 if s in ("lexicon", "weak") else 0.85, "source": f"name_{s}"} for a, b, s in spans]


def name_span(doc: NoteTokens, start: int, end: int, strength: str) -> tuple[int, int] | None:
    """A NAME candidate from a pattern or the NER, trimmed to the tokens a cue of this strength accepts ("son
    reports", "S. REMAINS", "Dr. Okafor ordered" -> "Okafor"); None when nothing name-like is left."""
    inside = [i for i in range(bisect.bisect_left(doc.starts, start), len(doc.toks)) if doc.toks[i].end() <= end]
    if strength == "ner":  # the small model on nursing shorthand: a listed name, or two capitalised unknown words
        names = [i for i in inside if doc.cls[i] in (NAME, AMB, UNK) and not doc.glued(i)]
        listed = [i for i in names if doc.cls[i] == NAME and len(doc.words[i]) > 2
                  or doc.cls[i] == AMB and doc.titled(i) and is_first_name(doc.lower[i])]
        if not listed and not (len(names) >= 2 and all(doc.titled(i) for i in names)):
            return None
        keep = [i for i in inside if doc.cls[i] != STOP and (doc.cls[i] != ENG or doc.titled(i))]
    else:
        keep = [i for i in inside if not doc.initial(i) and (_accept(doc, i, strength) or (
            i > 0 and doc.initial(i - 1) and doc.cls[i] == AMB and surname_rank(doc.lower[i])))]  # "E. MILLER"
    if not keep:
        return None
    first, last = keep[0], keep[-1]
    if first > inside[0] and doc.initial(first - 1):
        first -= 1  # "J. Smith"
    return doc.toks[first].start(), doc.toks[last].end()
