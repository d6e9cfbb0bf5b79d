"""Rules for PHI in real nursing notes (issue 13), kept apart from phi.py: case-free cue patterns for names, pagers,
month/year dates, and the clinical vocabulary that keeps the statistical NER off clinical words.

Measured on the PhysioNet deid corpus (MIMIC nursing notes) minus its first 15 patients (benchmarks/bench_phi_deid.py).
"""
from __future__ import annotations

import functools
import logging
import re

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
_NOT_A_YEAR_AFTER = r"[ \t]*(?:>|to\b|(?i:ml|cc|mg|mcg|gm?\b|kg|lbs?|kcal|cal|units?|u\b|hrs?|h\b|am\b|pm\b|x\b|%))"

# (presidio entity, our label, rank, score, regex): added to phi.CUSTOM_PATTERNS.
NOTE_PATTERNS = [
    ("TITLE_NAME", "NAME", 3, 0.8,  # titles in any case: "dr smith", "mrs. jones", "DR. L. OKAFOR"
     rf"(?<=\b(?i:dr|drs|mr|mrs|ms|doctor)\.?[ \t]+(?:[A-Za-z]\.?[ \t]*)?){_NAMES}"),
    ("RELATIVE_NAME", "NAME", 3, 0.8,  # relatives and proxies in any case: "son bill", "DAUGHTER-MARISOL", "wife, Janet"
     rf"(?<=\b{_RELATIVES}[ \t]*(?:[:,(\-]+|is|named)?[ \t]*(?:is[ \t]+)?){_NAMES}"),
    ("RELATIVE_NAME", "NAME", 3, 0.75,  # care team: "NP DANA AWARE", "nurse leslie okafor"
     rf"(?<=\b(?i:np|nurse|resident|attending|fellow|intern)[ \t]+(?:[A-Za-z]\.?[ \t]*)?){_NAMES}"),
    ("INITIAL_NAME", "NAME", 2, 0.7,  # initial + surname: "K. OKAFOR PA", "W. DELGADO AWARE"
     r"(?<![\w'’&+/.])(?<![&+/][ \t])[B-HJKMNQT-Z]\.[ \t]?[A-Z][A-Za-z'\-]{2,}\b"),  # not SOAP headings, L./R.
    # (left/right), I. (D+I.), nor "90'S. BREATH"
    ("WEAK_NAME", "NAME", 2, 0.7,  # NAME AWARE / NOTIFIED
     rf"\b{NAMEWORD}(?:[ \t]+{NAMEWORD})?(?=[ \t]+(?i:aware|made[ \t]+aware|notified|paged)\b)"),
    ("PAGER", "PHONE", 3, 0.85,
     r"(?<=\b(?i:pager|beeper|pg|page)[ \t]*(?i:number|no\.?|num)?[ \t]*[#:]?[ \t]*#?[ \t]*)\d{4,6}\b"),
    ("SPACED_PHONE", "PHONE", 2, 0.6, r"(?<!\d)\(?\d{3}\)?[ \-]{1,2}\d{3}[ \-]{1,2}\d{3,5}(?!\d)"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "3/95", "12/82": a second number above 31 is a year
     r"(?<![\d/.])(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d|\d{4})(?![\d/])"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "'88", "CA'88", "99'", "in '08"
     r"(?<![\d'])'\d{2}\b|(?<![\d\-])(?<!(?i:ambulated|up|rr|hr) )\b\d{2}'(?![\w'])"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "MI 1990", "1970's": 1960-1999 cannot be a clock time; not volumes or doses
     r"(?<![\d:\-/.>$#])19[6-9]\d(?:'?s)?(?!\d|[:/]|\.\d|" + _NOT_A_YEAR_AFTER + ")"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "since 2006", "CVA 2008", "it is 2020": 1900-1959 and 2000-2059 are also times
     r"(?<=\b(?i:in|since|is|its|it's|year|yr|born|dx'?d?|diagnosed|summer|winter|spring|fall|cva|mi|cabg|ca|"
     r"stent|surgery|resection|repair|saying|says|said|thinks)[ \t,]{1,2})(?:19[0-5]\d|20[0-5]\d)(?:'?s)?"
     r"(?!\d|[:/]|\.\d|[ \t]*-|" + _NOT_A_YEAR_AFTER + ")"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # two-digit years in a history: "CABG 81, Redo CABG 84", "CVA in 94 and 00"
     r"(?<=\b(?i:cabg|mi|cva|tia|ptca|pci|stent|stents|avr|mvr|ca|cancer|surgery|resection|repair|fx|dvt|"
     r"transplant|lumpectomy|mastectomy|dx'?d|diagnosed)(?:[ \t]*x[ \t]?\d)?[ \t]+(?:in[ \t]+)?"
     r"(?:(?:[3-9]\d|0\d)[ \t]*(?:,|&|(?i:and))[ \t]*)?)(?:[3-9]\d|0\d)"
     r"(?![\d%.:/']|[ \t]*(?i:mg|ml|cc|min|hrs?|units?|bpm|x\b|y|yo|years?|%|s\b))"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # month-day after a date word: "returned to OR on 7-8", "BC from 3-5"
     r"(?<=\b(?i:on|since|from|dated)[ \t]+)(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?![\d\-/.]|[ \t]*(?i:days?|"
     r"weeks?|wks?|months?|mos?|years?|yrs?|hours?|hrs?|times|x\b|mg|mcg|ml|cc|l\b|liters?|units?|%|min|am\b|pm\b|"
     r"beats|bpm|mm|cm|shifts?|p\b|a\b))"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # month names in lower case: "may 16, 2015", "march of 2022", "nov, 96"
     rf"\b{_MONTH_ANY_CASE}\.?,?[ \t]+(?:(?i:of)[ \t]+)?\d{{1,4}}(?:st|nd|rd|th)?'?(?:,?[ \t]+\d{{2,4}})?"
     r"(?![\d:/]|\.\d|[ \t]*(?i:mg|ml|cc|units?|mcg)\b)"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # day and month in any case: "2 nov, 96", "20th of oct"
     r"\b(?:[12]?\d|3[01])(?:st|nd|rd|th)?[ \t]+(?:(?i:of)[ \t]+)?(?i:jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec|"
     r"january|february|april|june|july|august|september|october|november|december)\b\.?(?:,?[ \t]+'?\d{2,4}\b)?"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # a full date glued to its cue word: "labs on10/14/82"
     r"(?<=\b(?i:on|since|from|dated))(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:\d{4}|\d{2})(?![\d/])"),
    ("AGE_OVER_89", "AGE_OVER_89", 3, 0.8,  # a history opening a line with the age: "98 s/p fall", "92 w/ CHF"
     r"(?<=^[ \t]*)(?:9\d|1[01]\d)(?=[ \t]+(?i:s/p|h/o|w/|with)\b)"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # "it's the 11th."
     r"(?<=\b(?i:the)[ \t]+)(?:[12]?\d|3[01])(?:st|nd|rd|th)(?=[ \t]*(?:[.,;!?\"')]|(?i:of)\b))"),
    ("MONTH_YEAR", "DATE", 2, 0.6,  # a month alone after "in", "since": "in sept.", "since December"
     r"(?<=\b(?i:in|since|until|during|early|late|mid|of|last|next)[ \t]+)(?i:january|february|april|june|july|august|"
     r"september|october|november|december|jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?(?![ \t]*\d)"),
]


# Numbers in nursing notes that look like month/day: pain scores ("cp 5/10"), vent settings ("PS 10/5", "16/5/40%"),
# fractions ("1 1/2 hrs", "crackles 1/3 up", "D5 1/2NS"), CO/CI/SVR ("5/2.5/800"), culture bottles ("2/4 bottles").
_NOT_A_DATE_BEFORE = re.compile(
    r"(?i)(?:\b(?:pain|cp|c/o|rat(?:ed|ing|es)|scale|discomfort|angina|ache|headache|ha|ps|psv|peep|cpap|bi-?pap|"
    r"ips|epap|ipap|simv|imv|prvc|cmv|vent|ventilation|mask|settings?|flow-?by|wean(?:ed|ing)?\s+to|trial|svr|ci|"
    r"perrla?|pupils?|crackles|rales|bottles?|grade|murmur|strength|mae|moves|approx|about|"
    r"extubated\s+from|changed\s+(?:over\s+)?to|vented|vt|tv|rr|fio2|x)|[#~*]|and\s+a|"
    r"(?<!\b[rl][ \t])(?<!\b[rl]t[ \t])\bac)[\s:=,&(]*$|%[ \t,&]+$")  # AC: assist-control, but "R AC": antecubital
_MIXED_NUMBER = re.compile(r"(?<![/\d.])\d{1,2}(?:[ \t]|-)$")  # "1 1/2 hrs", "3-4/10"
_NOT_A_DATE_AFTER = re.compile(
    r"(?i)^(?:[ \t]*%|/\d|\.\d|[ \t]*(?:up|bilat\w*|of|hours?|hrs?|hr|dose|doses|rate|strength|ns|"
    r"nss|d5|cm|mm|bottles?|bld|bl|u|units?|liters?|l|gallons?|way|tabs?|amp|psv|cpap|ips|peep|ps|ipap|epap|bipap|"
    r"cpain|pain|cp|incisional|angina|sem|murmur|sets?|times?)\b|[a-z])")
_FRACTIONS = frozenset("1/2 1/3 2/3 1/4 3/4 1/5 1/8 2/2 3/3 4/4 5/5".split())
_DATE_CUE_BEFORE = re.compile(r"(?i)\b(?:on|since|from|until|till|thru|through|dated|of|by|admitted|adm|d/c'?d|"
                              r"due|starting|started|placed|done|drawn|sent|last|next|seen|date|dos|post|pre|after|"
                              r"before)[\s:]*$")


def not_a_date(text: str, start: int, end: int) -> bool:
    """A month/day or month/day/year candidate that the words around it make a score, setting, dose or fraction."""
    value = text[start:end]
    if not re.fullmatch(r"\d{1,2}/\d{1,2}(?:/\d{1,4})?", value):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    before, after = text[max(line_start, start - 30):start], text[end:end + 12]
    if _NOT_A_DATE_AFTER.match(after) or _NOT_A_DATE_BEFORE.search(before):
        return True
    if (value in _FRACTIONS or value.endswith("/10")) and _MIXED_NUMBER.search(before):
        return True
    return value in _FRACTIONS and not _DATE_CUE_BEFORE.search(before)


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
