"""Rules for PHI in real nursing notes (issue 13), kept apart from phi.py: case-free cue patterns for names, pagers,
month/year dates and care sites, and the clinical vocabulary that keeps the statistical NER off clinical words.

Measured on the PhysioNet deid corpus (MIMIC nursing notes) minus its first 15 patients (benchmarks/bench_phi_deid.py).
"""
from __future__ import annotations

import functools
import logging

# Nursing shorthand, clinical words and plain English the small spaCy model took for a PERSON or a place in MIMIC
# nursing notes, plus words that follow a name cue without being a name ("dr aware", "son called", "per protocol").
NURSING_WORDS = frozenset("""
a about above after afeb afebrile again alert all am an and any anxious applied approx are around as at aware away
bag bed been being below bilat bit bld bloody bolus both bp brief bs but by call called came can cardiology care
carevue cath cc changed check checked clear clot cm coarse con't cont contact continue continues cough could cvp cx
d/c daily dark day days dc'd dnr draining dressing drip drips dsg dtr due during each edema ekg else et ett even
extrem family febrile fent fentanyl fever fine flowsheet fluid foley for from full further gave given gtt had has
have he her here him his ho hold home hr hrs i in increased info informed int into is it its lab labs lasix last
later left lg lines lopressor ls lungs made maint max md mds meds micu min mod monitor more morning most much
multiple n/v nc neo needs neuro new next nitro no none not note noted notified now npn ns o2 of off oob ok on
one ongoing or order ordered orders other out output over own pa pacer page paged pain patent per pm po pressors
propofol protocol ps pt pt's pulses r/o rate re received resp rest right rn round rounds rt same saw see seen
sent several she should sicu since sl small so soft some son spoke stable status stool sxn'd tan team tele than
that the their them then there these they thick this though tmax to today told tolerating tonight tpn tube twice
tx u/o unit up update updated updates urine us very via visit visited visiting wean weaning well went were when
which while will with without would yes yest yesterday you
ambu apnea art bipap bipaps bowel cpap csru ct cxr ccu dopamine ectopy ew ez floor icu insulin levo levophed
mrsa neosynephrine ngt ogt or pacu pca picc propofal rehab swan vanco vancomycin vent osh er cx lab culture cult
cdiff spec floor ed mciu ra rle lle bb myoglobin cath lac holding area triple lumen line aline sat sats flow report
judgement nsg house staff sheet sheets numbers recommendations skin scale sliding xray pulm pulmonary catheter
in-law neice neurologist bedside consent telephone phoned said stated states suggested request want needed
able refuses discuss etiology involved lives girlfriend grandaughter health
husband wife daughter daughters son sons sister brother mother father friend friends niece nephew proxy social
""".split())
NAMEWORD = r"(?:[A-Za-z](?:[a-z'\-]*[a-z]|[A-Z'\-]*[A-Z])?(?:'[a-z]+)?)"
_NAMES = rf"{NAMEWORD}(?:[ \t]+{NAMEWORD})?"
_RELATIVES = (r"(?i:wife|husband|daughters?|dtrs?|sons?|mother|father|mom|dad|sisters?|brothers?|spouse|partner|"
              r"nieces?|nephews?|grand[ \t]?daughters?|grandaughters?|grand[ \t]?sons?|girlfriend|boyfriend|fiance|"
              r"friend|aunts?|uncle|cousin|contact[ \t]+person|proxy|hcp|health[ \t]+care[ \t]+proxy)")
_MONTH_ANY_CASE = (r"(?i:january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)")
_TO_SITE = (r"(?i:transferred|transfered|transfer|transferring|tx'?d|sent|admitted|admit|readmitted|discharged|"
            r"d/c'?d|flighted|flown|arrived|lives|returned|came|rehab|transplant)")

# (presidio entity, our label, rank, score, regex): added to phi.CUSTOM_PATTERNS.
NOTE_PATTERNS = [
    ("CUE_NAME", "NAME", 3, 0.8,  # titles in any case: "dr smith", "mrs. jones", "DR. L. RUUSKA"
     rf"(?<=\b(?i:dr|drs|mr|mrs|ms|doctor)\.?[ \t]+(?:[A-Za-z]\.?[ \t]*)?){_NAMES}"),
    ("CUE_NAME", "NAME", 3, 0.8,  # relatives and proxies in any case: "son bill", "DAUGHTER-KRISSY", "wife, Janet"
     rf"(?<=\b{_RELATIVES}[ \t]*(?:[:,(\-]+|is|named)?[ \t]*(?:is[ \t]+)?){_NAMES}"),
    ("CUE_NAME", "NAME", 3, 0.75,  # care team: "NP JEN AWARE", "per carol wolfe", "nurse leslie kiezulas"
     rf"(?<=\b(?i:np|nurse|resident|attending|fellow|intern)[ \t]+(?:[A-Za-z]\.?[ \t]*)?){_NAMES}"),
    ("CUE_NAME", "NAME", 2, 0.7,  # initial + surname: "K. ABRAMS PA", "W. MAROTTA AWARE"
     r"\b[B-NQR-Z]\.[ \t]?[A-Z][A-Za-z'\-]{2,}\b"),  # not S. O. A. P. (SOAP headings)
    ("CUE_NAME", "NAME", 2, 0.7,  # NAME AWARE / NOTIFIED
     rf"\b{NAMEWORD}(?:[ \t]+{NAMEWORD})?(?=[ \t]+(?i:aware|made[ \t]+aware|notified|paged)\b)"),
    ("PAGER", "PHONE", 3, 0.85,
     r"(?<=\b(?i:pager|beeper|pg|page)[ \t]*(?i:number|no\.?|num)?[ \t]*[#:]?[ \t]*#?[ \t]*)\d{4,6}\b"),
    ("SPACED_PHONE", "PHONE", 2, 0.6, r"(?<!\d)\(?\d{3}\)?[ \-]{1,2}\d{3}[ \-]{1,2}\d{3,5}(?!\d)"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "3/95", "12/82": a second number above 31 is a year
     r"(?<![\d/.\w])(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d|\d{4})(?![\d/])"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "'88", "99'", "in '08"
     r"(?<![\w'])'\d{2}\b|\b\d{2}'(?![\w'])"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "MI 1990", "since 2006"; not clock times ("1900-0700", "at 2000") nor volumes
     r"(?<![\d:\-/.>])(?<!(?i:at|@|by|until|till|til|around|approx|from|@ )[ \t]?)(?:19[2-9]\d|20[0-3]\d)(?:'?s)?"
     r"(?![\d:\-/.]|[ \t]*(?:-|>|to\b|(?i:ml|cc|mg|kcal|cal|units?|u\b|hrs?|h\b|am\b|pm\b|pts?\b)))"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # month names in lower case: "may 16, 2015", "march of 2022", "nov, 96"
     rf"\b{_MONTH_ANY_CASE}\.?,?[ \t]+(?:of[ \t]+)?\d{{1,4}}(?:st|nd|rd|th)?'?(?:,?[ \t]+\d{{2,4}})?(?![\d.:/]|[ \t]*(?i:mg|ml|cc|units?|mcg)\b)"),
    ("CARE_SITE", "HOSPITAL", 2, 0.6,  # "TRANSFERRED TO QUARTERMAIN 4", "transplant at Washington Adventist"
     rf"(?<=\b{_TO_SITE}[ \t]+(?i:to|from|at|in|for)[ \t]+(?:the[ \t]+)?)"
     r"[A-Z][A-Za-z'\-]+(?:[ \t]+[A-Z][A-Za-z'\-]+)?(?:[ \t]+\d{1,2}\b)?"),
]


_NOT_A_NAME_SUFFIX = ("ed", "ing", "ly", "tion", "ment", "ness", "able", "ible", "ous", "ive", "'s")


def not_a_name(word: str) -> bool:
    """A lower-case word after a cue that reads as a verb, adverb or noun rather than a first name or surname."""
    return word.islower() and (word.endswith(_NOT_A_NAME_SUFFIX) or "-" in word)


@functools.lru_cache(maxsize=1)
def clinical_vocabulary() -> frozenset[str]:
    """Lower-case words that are never PHI on their own: nursing words, the shipped abbreviations and drug names."""
    from pathlib import Path

    from spacy.lang.en.stop_words import STOP_WORDS

    words = set(NURSING_WORDS) | {w.lower() for w in STOP_WORDS}
    tsv = Path(__file__).resolve().parents[2] / "ontologies" / "data" / "abbreviations.tsv"
    try:
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                words.add(line.split("\t")[0].strip().lower())
    except OSError:
        pass
    try:
        from ontologies.loaders.drugs import variant_names
        words.update(name for name in variant_names() if " " not in name and len(name) > 3)
    except Exception as exc:  # the rules still work, with more false names
        logging.getLogger(__name__).warning("drug names unavailable for the PHI whitelist (%s)", type(exc).__name__)
    return frozenset(words)
