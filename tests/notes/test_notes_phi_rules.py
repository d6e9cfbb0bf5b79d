"""PHI rules for real nursing notes (issue 13), one test per way real notes broke the detector. Every example is
invented: the shapes come from MIMIC nursing notes, the names and places do not."""
from __future__ import annotations

import pytest

from annotators.notes.phi import get_default_detector
from annotators.notes.phi_lexicon import AMB, ENG, NAME, STOP, UNK, looks_misspelled, word_class
from annotators.notes.phi_rules import not_a_date


@pytest.fixture(scope="module")
def detect():
    detector = get_default_detector().setup()
    return lambda text: detector.detect(text)


def _texts(spans, label=None):
    return [s["text"] for s in spans if label is None or s["label"] == label]


def _found(spans, expected: str) -> bool:
    return any(expected in s["text"] or s["text"] in expected for s in spans)


def test_word_classes():
    assert word_class("Przybylski") in (NAME, UNK)
    assert word_class("suzanne") == NAME  # a Census first name no English word shares
    assert word_class("white") == AMB and word_class("Bill") == AMB  # names that are also words
    assert word_class("REMAINS") == ENG and word_class("changes") == ENG
    assert word_class("lasix") == STOP and word_class("MAE") == STOP and word_class("drng") == STOP
    assert word_class("CVICU") == STOP  # care units, not places
    assert looks_misspelled("recieved") and looks_misspelled("commonde") and not looks_misspelled("Kowalczyk")


@pytest.mark.parametrize("text, name", [
    ("dr kowalczyk aware of k 3.2", "kowalczyk"),  # titles in any case
    ("DR HALVERSEN NOTIFIED OF BP", "HALVERSEN"),
    ("Dr. Fettle in to see pt", "Fettle"),  # a rare English word after a title is a surname
    ("Orders signed by Dr. Art Ellery.", "Art Ellery"),  # a first name that is also a word, written as a name
    ("social: daughters jenna and marisol visited", "marisol"),  # relatives, coordination
    ("SON TO SPEAK WITH KATRINA OSTROWSKI IN AM", "KATRINA OSTROWSKI"),  # first name + surname, no cue
    ("rosalind okafor, rn", "rosalind okafor"),  # signature with a credential after
    ("TOBIAS R. HALVERSEN, RRT", "TOBIAS R. HALVERSEN"),
    ("Resp- 1720- Brandt-Moller MD performed thoracentesis", "Brandt-Moller"),
    ("KUB DONE; ILEUS AS PER K. WINSLOW. NGT TO LCWS", "WINSLOW"),  # initial + surname
    ("UOP DROPPED, J OSTRANDER ORDERED LASIX", "OSTRANDER"),
    ("Tomas Quiroga (son) cell 555-201-3344", "Tomas Quiroga"),
    ("NSICU team called and Drs Abernathy and Quist in to see pt", "Quist"),
    ("FERREIRA, LUCAS presented on 2/14", "FERREIRA, LUCAS"),
    ("the pt.per dr.holbrook -see progress notes", "holbrook"),  # no space after the title's full stop
    ("At this time, Dorin wishes to make pt DNR.", "Dorin"),  # a capitalised unknown word that speaks
    ("JUST FINISHED NURSING SCHOOL; JOHN STATES HIS SISTER IS HERE", "JOHN"),
])
def test_names_in_nursing_notes(detect, text, name):
    assert _found(detect(text), name), (text, _texts(detect(text)))


@pytest.mark.parametrize("text", [
    "S. REMAINS INTUBATED, SEDATED. O. SEE CAREVUE",  # SOAP headings, not initials
    "HR 70-80'S. SBP 120'S. BREATH SOUNDS CLEAR",
    "MEDICATED WITH MS WITHOUT EFFECT. MONITOR MS CHANGES.",  # MS: morphine, mental status
    "son reports pt slept well. wife aware of plan. daughter will stay overnight.",
    "MAE, PERL. GU: FOLEY PATENT. LE EDEMA.",
    "pt recieved 2 amps bicarb. weaned to PSV 10. Sa02 95%.",
    "rising BUN & Crea. U/O MARG. SERO SANG DRNG.",
    "Swan dc'd, Quinton catheter placed. on 1st step mattress.",
])
def test_nursing_words_are_not_names(detect, text):
    assert not [s for s in detect(text) if s["label"] in ("NAME", "HOSPITAL", "LOCATION")], _texts(detect(text))


@pytest.mark.parametrize("text, site", [
    ("plan: transfer to wexmoor 3 in am", "wexmoor 3"),  # ward and number
    ("PT INTUBATED ON HALLORAN 6; CODE CALLED", "HALLORAN 6"),
    ("PLAN: HALLORAN 2 WHEN BED AVAIL.", "HALLORAN 2"),
    ("he was transferred to KHB for emergent cath", "KHB"),  # an unknown acronym after a transfer
    ("presented to holy redeemer hosp from ashford rehab 7/6", "holy redeemer hosp"),
    ("arrived from ashford rehab with sob", "ashford rehab"),
    ("FAMILY REPORTS THAT AT LINWOOD MEMORIAL, HER SKIN BECAME RED", "LINWOOD MEMORIAL"),
    ("social: lives alone in pikesdale, daughter visits", "pikesdale"),
    ("Nephew, Aldo Brunetti of Pikesdale visited today.", "Pikesdale"),
    ("insulin drip per U Vermont scale", "U Vermont"),
    ("TO GO TO ST. BRENDAN ON TUESDAY", "ST. BRENDAN"),
    ("SCREENED BY ASHFORD REHAB AND KELBROOK. MAY GO SOON", "KELBROOK"),  # coordinated sites
    ("HO TO BRING IN A CONSULT FROM THE KHB. HO SPOKE WITH", "KHB"),
    ("DAUGHTER TO ARRIVE 9/9 @ APPROX 1900 FROM LISBON.", "LISBON"),  # travel from a town
])
def test_care_sites_and_places(detect, text, site):
    assert _found(detect(text), site), (text, _texts(detect(text)))


def test_a_site_found_once_is_found_again_in_the_note(detect):
    text = "Pt was transferred to KHB for cath. At KHB, pt was intubated. Cultures from KHB pending."
    assert _texts(detect(text)).count("KHB") == 3


@pytest.mark.parametrize("text", [
    "HR returned to NSR. pt to IR this pm for picc. placed in Trendelenberg.",
    "Son called from Texas. Sister in California.",  # states are not PHI under Safe Harbor
    "NEURO: AWAKENS AND ORIENTED TO SELF AND HOSPITAL. DURING HIS STAY AT THE NURSING HOME",
    "Pt transferred from CVICU at 6pm.",
    "Known BRCA1 and LRP5 variants; Prader-Willi excluded.",  # gene and syndrome names
])
def test_clinical_places_are_not_sites(detect, text):
    assert not [s for s in detect(text) if s["label"] in ("HOSPITAL", "LOCATION")], _texts(detect(text))


@pytest.mark.parametrize("text, value", [
    ("pt c/o CP 5/10, ekg done", "5/10"), ("On bipap 10/5 with ABG", "10/5"), ("settings 16/5/40%", "16/5/40"),
    ("tolerated well x 1 1/2 hrs", "1/2"), ("crackles 1/3 up bilat", "1/3"), ("co/ci/svr 5/2.5/800", "5/2"),
    ("BC + staph 2/4 bottles", "2/4"), ("d5 1/2 with 20kcl", "1/2"), ("Arrived to CCU ~ 1930, intubated", "1930"),
    ("neo added ~ 2000 and titrated", "2000"), ("PT MAY NEED FURTHER DIURESIS", "MAY"),
    ("report from 7-3 shift", "7-3"),
])
def test_scores_settings_fractions_and_times_are_not_dates(detect, text, value):
    assert not [s for s in detect(text) if s["label"] == "DATE" and value in s["text"]], _texts(detect(text))


@pytest.mark.parametrize("text, value", [
    ("seen on 3/4 for follow up", "3/4"), ("extubated 9/12-9/14", "9/14"), ("s/p MI 1990, echo 3/95", "1990"),
    ("chest ache since 2006", "2006"), ("PMH: CABG 81, Redo CABG 84", "84"), ("PMHX CVA in 94", "94"),
    ("admitted from home in sept. and", "sept"), ("returned to OR on 7-8 for coiling", "7-8"),
    ("IN THIS CASE MARCH OF 1993.)", "1993"), ("progress note 1->2 nov, 96", "2 nov, 96"),
    ("oriented: it's the 11th.", "11th"), ("prostate CA'88, GERD", "88"), ("birthday is may 16, 2015.", "2015"), ("s/p pelvic fx4/97", "4/97"),
])
def test_dates_in_nursing_notes(detect, text, value):
    assert [s for s in detect(text) if s["label"] == "DATE" and value in s["text"]], (text, _texts(detect(text)))


def test_not_a_date_reads_the_words_around():
    text = "placed on 5/5 today; PS 5/5 40%"
    first, second = text.index("5/5"), text.rindex("5/5")
    assert not not_a_date(text, first, first + 3)  # "on" makes it a date
    assert not_a_date(text, second, second + 3)


def test_emails_and_vitals_are_not_names_or_ids(detect):
    spans = detect("Email jane.doe@example.org. Vital Signs: 148/60 77 28 99% on RA. ID=95.8-97.2 warming blanket.")
    assert {s["label"] for s in spans} <= {"EMAIL", "URL"}, _texts(spans)
