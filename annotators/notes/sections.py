"""Section detection for clinical notes: headings at the start of a line, in Title or UPPER case, followed by a
colon or standing alone on their line.

A section runs from its heading to the next heading (or the end of the note); text before the first heading belongs
to no section. Assertion uses sections for defaults (Family History -> family, Past Medical History -> historical).
"""
from __future__ import annotations

import re
from typing import NamedTuple


class Section(NamedTuple):
    start: int
    end: int
    name: str


class Heading(NamedTuple):
    start: int
    end: int  # after the heading's colon: where the section body begins
    name: str


# canonical name -> heading variants (matched case-insensitively, whitespace-tolerant). Longer variants are tried
# first, so "Past Medical History" wins over "History".
SECTION_HEADINGS: dict[str, tuple[str, ...]] = {
    "chief_complaint": ("chief complaint", "cc", "reason for visit", "reason for consultation", "reason for referral"),
    "history_of_present_illness": ("history of present illness", "history of the present illness", "hpi",
                                   "present illness", "interval history"),
    "past_medical_history": ("past medical history", "pmh", "pmhx", "medical history", "past history",
                             "past medical/surgical history"),
    "past_surgical_history": ("past surgical history", "psh", "pshx", "surgical history", "prior surgeries"),
    "medications": ("medications", "medication", "meds", "current medications", "home medications",
                    "outpatient medications", "discharge medications", "medications on admission",
                    "admission medications", "current meds", "home meds"),
    "allergies": ("allergies", "allergy", "drug allergies", "allergies/adverse reactions"),
    "family_history": ("family history", "fh", "fhx", "family hx"),
    "social_history": ("social history", "sh", "shx", "social hx"),
    "review_of_systems": ("review of systems", "ros"),
    "physical_exam": ("physical exam", "physical examination", "exam", "examination", "pe", "physical"),
    "vitals": ("vital signs", "vitals"),
    "labs": ("labs", "laboratory", "laboratory data", "lab results", "laboratory results", "pertinent results",
             "labs/studies"),
    "imaging": ("imaging", "radiology", "studies", "imaging studies", "diagnostic studies"),
    "assessment_and_plan": ("assessment and plan", "assessment & plan", "assessment/plan", "a/p", "a&p",
                            "impression and plan", "impression/plan", "plan and assessment"),
    "assessment": ("assessment", "impression", "clinical impression", "diagnosis", "diagnoses"),
    "plan": ("plan", "recommendations", "recommendation", "disposition"),
    "hospital_course": ("hospital course", "brief hospital course", "course in hospital", "ed course"),
    "discharge_diagnoses": ("discharge diagnosis", "discharge diagnoses", "final diagnosis", "final diagnoses"),
    "discharge_instructions": ("discharge instructions", "patient instructions", "instructions"),
    "procedures": ("procedures", "procedure", "operations", "operative procedure"),
    "findings": ("findings",),
    "follow_up": ("follow up", "follow-up", "followup"),
    # SOAP notes: single letters only count with a colon (checked below).
    "subjective": ("subjective", "s"),
    "objective": ("objective", "o"),
}
_SOAP_LETTERS = {"s": "subjective", "o": "objective", "a": "assessment", "p": "plan"}

_VARIANT_TO_NAME = {v: name for name, variants in SECTION_HEADINGS.items() for v in variants}
_VARIANT_TO_NAME.update(_SOAP_LETTERS)


def _variant_regex(variant: str) -> str:
    return r"\s+".join(re.escape(part) for part in variant.split())


_ALTERNATIVES = "|".join(_variant_regex(v) for v in sorted(_VARIANT_TO_NAME, key=len, reverse=True))
# A heading: at a line start, optionally numbered or bulleted, then the variant, then ":" (same line) or the end of
# the line. Matched case-insensitively; the case rule (Title or UPPER) is checked afterwards.
_HEADING = re.compile(
    rf"^[ \t]*(?:[#*\-\u2022]+[ \t]*|\d{{1,2}}[.)][ \t]*)?(?P<variant>{_ALTERNATIVES})(?![A-Za-z0-9])[ \t]*"
    rf"(?P<colon>:|-(?=[ \t])|$)?",
    re.IGNORECASE | re.MULTILINE,
)


def _looks_like_heading(variant_text: str, has_colon: bool) -> bool:
    """Prose lines that merely start with a heading word ("Plan to discharge...") are not headings: a heading has
    a colon, or stands alone on its line in Title or UPPER case."""
    words = variant_text.split()
    if len(variant_text.replace(" ", "")) <= 2 and not has_colon:
        return False  # "S", "PE", "CC" need their colon
    if has_colon:
        return variant_text[0].isupper() or variant_text.isupper()
    return variant_text.isupper() or all(w[0].isupper() or not w[0].isalpha() for w in words if len(w) > 3)


def detect_headings(text: str) -> list[Heading]:
    """Section headings in order, with the canonical section name each one opens."""
    headings = []
    for match in _HEADING.finditer(text):
        variant_text = " ".join(match.group("variant").split())
        colon = match.group("colon")
        if colon is None:  # text follows on the same line: only an UPPER-case heading ("PHYSICAL EXAM General: ...")
            if not (variant_text.isupper() and len(variant_text) >= 4):
                continue
        elif not _looks_like_heading(variant_text, bool(colon)):
            continue
        if len(variant_text) == 1 and not colon:
            continue
        headings.append(Heading(match.start("variant"), match.end(), _VARIANT_TO_NAME[variant_text.lower()]))
    return headings


def detect_sections(text: str) -> list[Section]:
    """(start, end, name) of each section in order, non-overlapping, from the first heading to the end."""
    headings = detect_headings(text)
    sections = []
    for i, heading in enumerate(headings):
        end = headings[i + 1].start if i + 1 < len(headings) else len(text)
        # Trailing blank lines belong to no section; this keeps section ends stable under reformatting.
        while end > heading.end and text[end - 1] in " \t\r\n":
            end -= 1
        sections.append(Section(heading.start, max(end, heading.end), heading.name))
    return sections


def section_at(sections: list[Section], offset: int) -> str | None:
    """Name of the section containing `offset`, or None outside any section."""
    for section in sections:
        if section.start <= offset < section.end:
            return section.name
    return None
