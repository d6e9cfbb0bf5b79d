"""Care-site acronyms, towns, regions and employers in nursing notes (issue 13, phi_sites and phi_places). Every
example is invented; the towns are real US places from the shipped gazetteer, the sites and people are not."""
from __future__ import annotations

import pytest

from annotators.notes.phi import get_default_detector
from annotators.notes.phi_lexicon import clinical_abbreviations
from annotators.notes.phi_places import us_places


@pytest.fixture(scope="module")
def detect():
    detector = get_default_detector().setup()
    return lambda text: detector.detect(text)


def _places(spans):
    return [s["text"] for s in spans if s["label"] in ("HOSPITAL", "LOCATION")]


@pytest.mark.parametrize("text, site", [
    ("Pt was seen at QMH last week for chest pain.", "QMH"),  # an unknown acronym after "at"
    ("She knows she is in TVH and the year.", "TVH"),
    ("found down at home -> RCH EW, intubated there", "RCH"),  # before "EW"
    ("HE WOULD NEED TO LEAVE WGH TO HAVE SURGERY", "WGH"),  # in capitals: after "leave"
    ("FOLLOWED BY THE RENAL TEAM AT WGH, THEN SENT HOME", "WGH"),  # in capitals: "at <X>" ending a clause
    ("had a fall while at kh. now here for rehab", "kh"),  # lower case: "at <x>" ending a clause
    ("plan: c/o to ferncliffe when a bed opens", "ferncliffe"),  # called out of the unit to a ward
    ("Pt arrived from RI Hospital by ambulance.", "RI Hospital"),  # a state's code names the site
])
def test_site_acronyms_and_wards(detect, text, site):
    assert site in _places(detect(text)), (text, detect(text))


@pytest.mark.parametrize("text", [
    "Rhythm in SR at 80s; on AC at MN, then NRB. Crackles in RLL.",  # the abbreviation veto
    "pt in raf, hx from mva, aline in rra.",  # lower-case shorthand after "in"/"from"
    "CHECK K+ AT 1400. WEAN NEO AT TOL. PT IN NSR.",  # capitals: clinical words after "at"
    "s/p 2nd cath today, groin site clean.",  # glued to a number
    "PT worked with pt today. Pt working with incentive spirometer.",  # "works with" is no employer
    "IVC greenfield filter placed. Chart is in Green binder.",  # an eponym and a colour, not towns
])
def test_clinical_shorthand_is_not_a_site(detect, text):
    assert not _places(detect(text)), (text, detect(text))


@pytest.mark.parametrize("text, place", [
    ("Daughter drove down from new haven this morning.", "new haven"),  # two-word town, any case
    ("SOCIAL: has a small shop in Pasadena. Lives with wife.", "Pasadena"),  # a town no word list knows
    ("Son lives in Austin, calls daily.", "Austin"),  # a town that is also a name, after a place cue
    ("Moved here last year from Vista.", "Vista"),  # a town that is also a word: cue, Title case, clause end
    ("Was fishing on the Gulf Coast last week.", "Gulf Coast"),  # a region before a feature word
    ("He works for acme health as a driver.", "acme health"),  # an employer ending in an organisation word
    ("She is employed at Brightwater Foods.", "Brightwater Foods"),  # an employer with a name-like word
])
def test_towns_regions_and_employers(detect, text, place):
    assert place in _places(detect(text)), (text, detect(text))


def test_a_town_that_is_a_common_name_needs_a_place_cue(detect):
    spans = detect("Austin called the unit and will visit tomorrow.")
    assert not [s for s in spans if s["label"] == "LOCATION"], spans


def test_states_are_not_taken_and_lists_load():
    singles, longer = us_places()
    assert "pasadena" in singles and ("new", "haven") in longer["new"]
    assert "maryland" not in singles and "washington" not in singles  # states are not PHI under Safe Harbor
    assert {"sr", "nrb", "lll", "mn"} <= clinical_abbreviations()
