"""Names, dates and ages that nursing notes write in their own way (issue 13): a title's lone initial, a contact before
a phone number, lower-case initials, dates glued to words, an age opening a history line. Every example is invented."""
from __future__ import annotations

import pytest

from annotators.notes.phi import get_default_detector
from annotators.notes.phi_rules import not_a_date


@pytest.fixture(scope="module")
def detect():
    detector = get_default_detector().setup()
    return lambda text: [(s["label"], s["text"], s["attributes"]["source"]) for s in detector.detect(text)]


@pytest.mark.parametrize("text, name", [
    ("pt seen by mr T today, calm", "T"),  # a title and the patient's initial
    ("SPOKE WITH MS R. ABOUT PLAN", "R"),  # "MS" only with the initial's full stop
    ("very supportive. tavin okoro cell# 555-201-3344", "tavin okoro"),  # a contact with a number
    ("verified by nsg (k. kowalczyk and m. delgado) at bedside", "k. kowalczyk"),  # lower-case initial + surname
    ("verified by nsg (k. kowalczyk and m. delgado) at bedside", "m. delgado"),
])
def test_names_from_initials_and_contacts(detect, text, name):
    assert ("NAME", name) in [(label, value) for label, value, _ in detect(text)], detect(text)


@pytest.mark.parametrize("text", [
    "good u/o. \n\nEndo: stable overnight",  # "o." ends a word, "Endo" is a heading
    "BUN 8 Creat P. \n \nENDO: covered per scale",
    "MEDICATED WITH MS 2MG IV. MS IMPROVED.",  # morphine and mental status
])
def test_headings_and_shorthand_are_not_initials(detect, text):
    assert not [v for label, v, _ in detect(text) if label == "NAME"], detect(text)


@pytest.mark.parametrize("text, label, value", [
    ("transferred to the ward.8/31. stable", "DATE", "8/31"),  # a full stop after a word, no space
    ("labs on10/14/02 reviewed", "DATE", "10/14/02"),  # a full date glued to its cue
    ("IV in R AC 11/17, flushes well", "DATE", "11/17"),  # "R AC": antecubital, not assist-control
    ("PMH: CVA in 91 and 03, HTN", "DATE", "03"),  # two-digit years joined by "and"
    ("HPI:\n93 s/p fall at home", "AGE_OVER_89", "93"),  # an age opening a history line
])
def test_dates_and_ages(detect, text, label, value):
    assert (label, value) in [(lab, v) for lab, v, _ in detect(text)], detect(text)


def test_assist_control_settings_are_not_dates(detect):
    text = "on AC 12/5 overnight, HR 94 and 90"
    assert not [v for label, v, _ in detect(text) if label in ("DATE", "AGE_OVER_89")], detect(text)
    assert not_a_date(text, text.index("12/5"), text.index("12/5") + 4)
