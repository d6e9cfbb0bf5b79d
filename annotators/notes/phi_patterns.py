"""Presidio pattern recognizers for PHI in clinical notes (used by phi.py): record numbers, ages over 89, care sites,
street addresses, dates, phones and names after titles; the nursing-note patterns of phi_rules are appended."""
from __future__ import annotations

from .phi_rules import NOTE_PATTERNS

# Abbreviations and clinical words the small spaCy model tags as ORG/PERSON/GPE.
CLINICAL_DENY = frozenset(w.lower() for w in """
CHF BID TID QID QD QHS QAM QPM PRN PO IV IM SC SQ SL PR NPO GERD COPD HTN HLD DM DM2 T2DM CAD CKD ESRD AFIB AF MI
NSTEMI STEMI CVA TIA DVT PE UTI URI SOB DOE CP ROS HPI PMH PSH FH SH EKG ECG CBC BMP CMP LFT LFTS INR PT PTT TSH
A1C HBA1C MRI CT CXR US ED ER ICU CCU PACU OR NICU EMS BP HR RR SPO2 O2 WBC RBC HGB HCT PLT BUN CR NA CL CO2 GFR
EGFR BMI NSAID NSAIDS ACE ARB SSRI PPI HCTZ ASA ABX TB HIV HCV HBV COVID RA OA SLE MS ALS OSA BPH GI GU ENT CNS
PERRLA PERRL EOMI NAD RRR CTAB WNL NKDA DNR DNI SNF PCP HEENT ABD EXT NEURO PSYCH CV RESP MSK LLE RLE BLE LUQ RUQ
LLQ RLQ S/P HX DX TX RX SX FX MG MCG ML MRN DOB SSN PATIENT PT PLAN ASSESSMENT IMPRESSION HISTORY EXAM PHYSICAL
MEDICATIONS ALLERGIES LABS IMAGING DISCHARGE ADMISSION DIAGNOSIS DIAGNOSES PROCEDURE PROCEDURES NOTE CHIEF
COMPLAINT PRESENT ILLNESS PAST MEDICAL SURGICAL FAMILY SOCIAL REVIEW SYSTEMS VITALS VITAL SIGNS CONSULT FOLLOW UP
FOLLOWUP RETURN COURSE HOSPITAL SUBJECTIVE OBJECTIVE AND OF THE NO DENIES NEGATIVE POSITIVE STABLE NORMAL ID TEAM
PAGER DISPO DISPOSITION SPECIMEN ADDENDUM CONSULT REASON IMPRESSION FINDINGS TECHNIQUE INDICATION COMPARISON
""".split())
# Words that border a name without being part of it: titles, roles, relatives, credentials.
NAME_EDGE_WORDS = CLINICAL_DENY | frozenset("""
dr mr mrs ms miss mx prof doctor md do rn np pa pa-c phd mbbs pharmd lcsw attending resident fellow intern nurse
provider physician surgeon referring signed by seen daughter son wife husband mother father sister brother spouse
partner niece nephew grandson granddaughter friend contact guardian name pt patient dictated cc
""".split())

_NAME_WORD = r"(?:O'[A-Z][a-z]+|Mc[A-Z][a-z]+|[A-Z][a-z]+(?:[\-'][A-Z]?[a-z]+)?|[A-Z]{2,}(?:[\-'][A-Z]+)?)"
_NAME = rf"{_NAME_WORD}(?:,?[ ](?:[A-Z]\.?[ ])?{_NAME_WORD}){{0,2}}"
_CAP_WORD = r"(?:[A-Z][A-Za-z'’.\-]*)"


def _title_or_upper(words: str) -> str:
    """Alternatives in Title and UPPER case only, so lowercase prose ("seen in clinic") is left alone."""
    variants = [w for word in words.split("|") for w in (word, word.upper())]
    return "(?:" + "|".join(variants) + ")"


_HOSPITAL_WORDS = _title_or_upper(
    "Hospital|Medical Center|Medical Centre|Health Center|Health System|Healthcare|Clinic|Infirmary|Hospice|"
    "Nursing Home|Rehabilitation Center|Rehab Center|Cancer Center|Surgical Center|Surgery Center|Urgent Care|"
    "Medical Group|Assisted Living|Home Health|Care Center|Hospital Center|Senior Living|Retirement Community")
_STREET_TYPES = _title_or_upper(
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Circle|Cir|"
    "Highway|Hwy|Parkway|Pkwy|Square|Trail")
_MONTHS = _title_or_upper(
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_NUMBER_WORD = r"(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_ID_KEYWORDS = (r"(?i:MRN|MR\s?#|medical\s+record|record|acct|account|accession|encounter|visit|FIN|CSN|"
                r"patient\s+id|pt\s+id|member\s+id|policy|insurance\s+id|subscriber\s+id|health\s+plan|NPI|DEA|"
                r"license|licence|chart|case|specimen|serial|device|medicaid|medicare|passport|ID)")
_NOT_A_DATE_BEFORE = (r"(?i:pain|scale|strength|grade|murmur|score|GCS|rated|ratio|BP|motor|power|PS|PEEP|CPAP|"
                      r"BIPAP|IPAP|EPAP|PSV|IMV|SIMV|vent|settings|MAE|grips?)"
                      r"\s*(?:is|of|at|:)?\s*")
_NOT_A_DATE_AFTER = (r"\s*(?i:strength|NS\b|way|amp|cc\b|ml\b|PEEP|PS\b|CPAP|murmur|systolic|diastolic|holosystolic|tabs?\b|tablets?|pills?|caps?\b|"
                     r"capsules?|pain|scale|motor|power|puffs?)")

# (presidio entity, our label, rank, score, regex). Rank settles overlaps: keyword-anchored patterns beat plain
# patterns, which beat the statistical NER.
CUSTOM_PATTERNS = [
    ("MEDICAL_RECORD_NUMBER", "ID", 3, 0.95,
     rf"(?<=\b{_ID_KEYWORDS}\s*(?i:number|num|no\.?)?\s*[:#=]?\s*(?:is\s+)?)"
     r"(?:\d(?:[ \-]\d){3,}|(?=[A-Z0-9\-]*\d)[A-Z0-9]+(?:[\-./][A-Z0-9]+){1,5}|"
     r"(?:[A-Z]{1,3}[\- ]?)?\d+(?:[ \-./]\d{2,}){0,5})(?![A-Za-z0-9])"),
    ("RECORD_NUMBER", "ID", 2, 0.5, r"\b[A-Z]{1,4}\d{0,3}-\d{4,}(?:-\d+)*\b"),
    ("SSN", "SSN", 3, 0.95,
     r"(?<=\b(?i:SSN|SS#|social\s+security(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*)\d{3}[\- ]?\d{2}[\- ]?\d{4}(?!\d)"),
    ("SSN", "SSN", 2, 0.5, r"(?<![\d\-])\d{3}-\d{2}-\d{4}(?![\d\-])"),
    ("RECORD_NUMBER", "ID", 2, 0.4, r"(?<![\d.\-/])(?:\d{2,4}(?:[ \-]\d{2,4}){2,4}|\d{7,})(?![\d.\-/])"),
    ("AGE_OVER_89", "AGE_OVER_89", 3, 0.9,
     r"(?<![\d.])(?:9\d|1[01]\d)(?=\s*-?\s*(?i:y/?o\b|yo[mf]?\b|y\.o\.|yrs?\b(?!\s+ago)|years?\b(?!\s+ago)|"
     r"year-old|yr-old))"),
    ("AGE_OVER_89", "AGE_OVER_89", 3, 0.9, r"(?<=\b(?i:age|aged)\s*:?\s*)(?:9\d|1[01]\d)(?!\d)"),
    ("AGE_OVER_89", "AGE_OVER_89", 3, 0.8,
     r"(?<=\b(?i:patient|pt|he|she|who)\s+(?i:is|was|turned|turns)\s+)(?:9\d|1[01]\d)"
     r"(?![\d.%/]|\s*(?i:mg|kg|bpm|%))"),
    ("AGE_OVER_89", "AGE_OVER_89", 3, 0.8, r"(?<=(?:^|[,(:])[ \t]*)(?:9\d|1[01]\d)(?=[ \t]?(?:[MF]|yo[mfMF])\b)"),
    ("HOSPITAL", "HOSPITAL", 2, 0.7,
     rf"\b(?:{_CAP_WORD}[ \t]+(?:(?:of|the|and|for|&)[ \t]+)?){{1,5}}{_HOSPITAL_WORDS}\b"),
    ("HOSPITAL", "HOSPITAL", 2, 0.7,
     rf"\b(?:Hospital|HOSPITAL|Clinic|CLINIC)[ \t]+(?:of|for)[ \t]+(?:the[ \t]+)?"
     rf"{_CAP_WORD}(?:[ \t]+{_CAP_WORD}){{0,3}}"),
    ("STREET_ADDRESS", "LOCATION", 2, 0.8,
     rf"\b\d{{1,6}}[ \t]+(?:[NSEW]\.?[ \t]+)?(?:{_CAP_WORD}[ \t]+){{1,4}}{_STREET_TYPES}\b\.?"
     r"(?:,?[ \t]*(?i:apt|apartment|suite|ste|unit|#)\.?[ \t]*#?[A-Za-z0-9\-]+)?"
     rf"(?:,[ \t]*{_CAP_WORD}(?:[ \t]+{_CAP_WORD}){{0,2}})?(?:,?[ \t]+[A-Z]{{2}}\b)?"
     r"(?:[ \t]+\d{5}(?:-\d{4})?)?"),
    ("STREET_ADDRESS", "LOCATION", 2, 0.8, r"\b(?i:p\.?\s?o\.?\s+box)\s+\d+"),
    ("STREET_ADDRESS", "LOCATION", 2, 0.8,
     rf"\b{_CAP_WORD}(?:[ \t]+{_CAP_WORD}){{0,2}},[ \t]*[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b"),
    ("STREET_ADDRESS", "LOCATION", 3, 0.8, r"(?<=\b(?i:zip(?:\s+code)?)\s*:?\s*)\d{5}(?:-\d{4})?\b"),
    ("CLINICAL_DATE", "DATE", 2, 0.6,
     rf"(?<![\d/\w])(?<![\d/]\.)(?<!{_NOT_A_DATE_BEFORE})(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{{4}}|\d{{2}}))?"
     rf"(?![\d/])(?!{_NOT_A_DATE_AFTER})"),
    ("CLINICAL_DATE", "DATE", 2, 0.6, r"\b(?:0?[1-9]|1[0-2])[\-.](?:0?[1-9]|[12]\d|3[01])[\-.](?:\d{4}|\d{2})\b"),
    ("CLINICAL_DATE", "DATE", 2, 0.6, r"\b\d{4}[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:0?[1-9]|[12]\d|3[01])\b"),
    ("CLINICAL_DATE", "DATE", 2, 0.7, rf"\b{_MONTHS}\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ \t]+\d{{4}})?(?!\d)"),
    ("CLINICAL_DATE", "DATE", 2, 0.7,
     rf"\b\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTHS}\b\.?(?:,?[ \t]+\d{{4}})?"),
    ("CLINICAL_DATE", "DATE", 2, 0.7, rf"\b{_MONTHS}\.?,?[ \t]+\d{{4}}\b"),
    ("SPACED_PHONE", "PHONE", 2, 0.6,
     r"(?<![\w])(?:\+?1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-]?)\d{3}[ .\-]?\d{4}"
     r"(?:[ \t]*(?i:x|ext\.?)[ \t]*\d{1,5})?(?!\d)"),
    ("SPACED_PHONE", "PHONE", 3, 0.8,
     r"(?<=\b(?i:pager|beeper|ext\.?|extension|phone|tel|cell|fax)\b[^\n\d]{0,30}?[#:]?\s*)"
     r"(?:\d{3}[ .\-]?\d{4}|\d-\d{4})\b"),
    ("SPACED_PHONE", "PHONE", 2, 0.6, rf"\b(?:{_NUMBER_WORD}[ \t,\-]+){{6,}}{_NUMBER_WORD}\b"),
    ("TITLE_NAME", "NAME", 3, 0.85, rf"(?<=\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Doctor|DR|MR|MRS|MS)\.?[ \t]+){_NAME}"),
    ("TITLE_NAME", "NAME", 3, 0.85,
     r"(?<=\b(?i:patient(?:\s+name)?|pt(?:\s+name)?|name|attending|resident|fellow|intern|pcp|primary\s+care|"
     r"provider|physician|surgeon|nurse|rn|np|referring|signed\s+by|dictated\s+by|cc|emergency\s+contact|contact|"
     rf"guardian|next\s+of\s+kin|nok)[ \t]*:[ \t]*){_NAME}"),
    ("RELATIVE_NAME", "NAME", 3, 0.8,
     r"(?<=\b(?i:seen\s+by|discussed\s+with|signed\s+by|wife|husband|daughter|son|mother|father|sister|brother|"
     rf"spouse|partner|niece|nephew|grandson|granddaughter)[ \t]*[,(]?[ \t]*){_NAME_WORD}(?:[ \t]+{_NAME_WORD})?"),
    ("CREDENTIAL_NAME", "NAME", 3, 0.85,
     rf"{_NAME_WORD}(?:[ \t]+[A-Z]\.?)?[ \t]+{_NAME_WORD}"
     r"(?=,?[ \t]+(?:MD|M\.D\.|DO|RN|NP|PA-C|PhD|MBBS|PharmD|LCSW)\b)"),
    *NOTE_PATTERNS,
]
