"""Word knowledge for PHI in nursing notes (issue 13): which words can be a person's name, which are plain English,
which are clinical. Shipped, sourced lists (annotators/notes/data/phi/SOURCE.md): the US Census 1990 first names and
surnames, SCOWL's English words and the words of ICD-10-CM and HPO terms; plus the clinical vocabulary of phi_rules
(nursing words, the shipped abbreviations, drug names). Nothing here comes from a PHI corpus.

A token's class drives every name rule:
  STOP  never part of a name (function words, clinical words, titles, relatives, months)
  ENG   an English word that is not a name ("remains", "changes")
  AMB   an English word that is also a name ("white", "bill", "manning")
  NAME  a name that is not an English word ("kowalski", "marisol")
  UNK   none of these: a surname the Census lacks, or a misspelling ("recieved")
"""
from __future__ import annotations

import functools
import gzip
import re
from pathlib import Path

from .phi_patterns import CLINICAL_DENY
from .phi_rules import clinical_vocabulary

DATA = Path(__file__).resolve().parent / "data" / "phi"
STOP, ENG, AMB, NAME, UNK = "STOP", "ENG", "AMB", "NAME", "UNK"

# Words around names that are not names: titles, credentials, roles, relatives, calendar words, nursing shorthand
# the English list lacks. Lower case.
NOT_NAME_WORDS = frozenset("""
dr drs doctor mr mrs ms miss mx prof md rn np pa rrt bsn lpn cna crna licsw lcsw msw pharmd phd mba ho pt pts
attending resident fellow intern nurse nursing provider physician surgeon team staff service services family
wife husband daughter daughters dtr dtrs son sons sister sisters brother brothers mother father mom dad spouse
partner niece nieces nephew nephews grandson grandsons granddaughter granddaughters grandaughter grandchildren
children child friend friends aunt aunts uncle uncles cousin cousins girlfriend boyfriend fiance fiancee proxy
hcp inlaw in-law inlaws parents parent sibling siblings
january february march april may june july august september october november december jan feb mar apr jun jul
aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
fri sat sun today tonight tomorrow yesterday noc eve am pm
micu sicu ccu csru nsicu vicu cvicu picu nicu icu ew ed er or pacu osh ot pt rt
aline spont sxn sxnd lytes abg abgs amio meq neb nebs dsg dsgs
vent vents ett ngt ogt tf tfs ivf ivp gtt gtts prbc prbcs ffp cvp svr co ci pad pads picc tlc cx cxs bcx ucx
mae maes perl perla perrl gu los le lue rue lle rle bue ble vea rom ng lis hoh sao pao paco svo spo fio kub na ota
brady tod ted teds csm cdb wob nbp abp snp tng dsd piv rij lij mso mech ve riss psv simv imv sbp dbp fick lente
hickman quinton shiley swan ganz bair hugger kling hoyer ramus lima svg rca lad lcx pda om iabp rvad lvad tee
nsr ir lp tsicu contin eval evals derm nsurg csurg fluro overnoc carina coude jesus god lord christ pnd lrg
english spanish russian italian chinese cantonese mandarin french german greek portuguese polish haitian creole
vietnamese korean japanese arabic hebrew hindi yiddish catholic jewish christian muslim baptist protestant
""".split())

_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")


@functools.lru_cache(maxsize=1)
def lexicons() -> tuple[dict[str, int], dict[str, int], frozenset[str], frozenset[str], frozenset[str]]:
    """(first name -> rank, surname -> rank, English words, medical words, rare English words), read once (~0.3 s)."""
    def lines(name: str) -> list[str]:
        with gzip.open(DATA / name, "rt", encoding="ascii") as handle:
            return handle.read().split()

    first = {name: rank for rank, name in enumerate(lines("first_names.txt.gz"), 1)}
    surnames = {name: rank for rank, name in enumerate(lines("surnames.txt.gz"), 1)}
    rare = frozenset(lines("english_rare.txt.gz"))
    return first, surnames, frozenset(lines("english.txt.gz")) | rare, frozenset(lines("medical.txt.gz")), rare


@functools.lru_cache(maxsize=1)
def clinical_abbreviations() -> frozenset[str]:
    """Common clinical abbreviations, lower case (data/phi/clinical_abbreviations.txt, written for this project):
    an ALL-CAPS word among them ("SR", "NRB", "LLL") is shorthand, never a care site's acronym."""
    text = (DATA / "clinical_abbreviations.txt").read_text(encoding="ascii")
    return frozenset(w.lower() for line in text.splitlines() if not line.startswith("#") for w in line.split())


@functools.lru_cache(maxsize=65536)
def word_class(word: str) -> str:
    """The class of one word (any case; possessive "'s" ignored; a hyphenated word is a name when a part is)."""
    lower = word.lower().replace("’", "'")
    if lower.endswith("'s"):
        lower = lower[:-2]
    if not lower or lower in NOT_NAME_WORDS or lower in CLINICAL_DENY or lower in clinical_vocabulary():
        return STOP
    if "-" in lower:
        parts = [word_class(part) for part in lower.split("-") if part]
        if any(p in (NAME, UNK) for p in parts) and all(p != STOP for p in parts):
            return NAME if NAME in parts else UNK
        return AMB if AMB in parts and STOP not in parts else ENG
    first, surnames, english, medical, _rare = lexicons()
    if "'" in lower:  # O'Connell, D'Angelo: the Census writes them without the apostrophe
        lower = lower.replace("'", "")
    named = lower in first or lower in surnames
    if lower in english or (lower.endswith("s") and lower[:-1] in english and not named):
        return AMB if named else ENG
    if lower in medical:  # eponyms ("Parkinson") stay possible names; other medical words are not
        return AMB if named else STOP
    if named:
        return NAME
    if (not word.isupper() and len(lower) > 2 and not re.search(r"[aeiouy]", lower)) or (
            word.isupper() and lower.endswith(("icu", "cu")) and len(lower) <= 6):
        return STOP  # "drng", "sxn": shorthand without vowels; "CVICU", "MSICU": care units
    return UNK if lower.isalpha() or "'" in lower else ENG


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=16384)
def looks_misspelled(word: str) -> bool:
    """One edit (a letter dropped, added, changed or two swapped) from an English, medical or clinical word:
    "recieved", "commonde", "trendelenberg". Only for the place rules: surnames are often one edit from a word."""
    lower = word.lower()
    if len(lower) < 5:
        return False
    _first, _surnames, english, medical, _rare = lexicons()
    vocab = clinical_vocabulary()

    def known(w: str) -> bool:
        return w in english or w in medical or w in vocab

    splits = [(lower[:i], lower[i:]) for i in range(len(lower) + 1)]
    for left, right in splits:
        if right and known(left + right[1:]):
            return True
        if len(right) > 1 and known(left + right[1] + right[0] + right[2:]):
            return True
        for ch in _LETTERS:
            if (right and ch != right[0] and known(left + ch + right[1:])) or known(left + ch + right):
                return True
    return False


def is_rare_english(word: str) -> bool:
    """An English word outside SCOWL's common sizes ("fettle"): after a title it is more likely a surname."""
    return word.lower() in lexicons()[4]


COMMON_FIRST_NAMES = 1500  # of 5,163: "bill", "bob", "marisol" are within; "long", "golden", "marg" are not


def is_first_name(word: str, common: bool = False) -> bool:
    rank = lexicons()[0].get(word.lower(), 0)
    return bool(rank) and (not common or rank <= COMMON_FIRST_NAMES)


def surname_rank(word: str) -> int:
    """Census rank of a surname (1 = Smith), 0 when it is not one."""
    return lexicons()[1].get(word.lower(), 0)


def tokens(text: str) -> list[re.Match]:
    return list(_TOKEN.finditer(text))


def upper_ratio(text: str) -> float:
    """Share of upper-case letters: above ~0.6 the note is written in capitals and case says nothing about names."""
    letters = [ch for ch in text if ch.isalpha()]
    return sum(ch.isupper() for ch in letters) / max(1, len(letters))
