"""Ambiguous clinical abbreviations (ED, RA, PCP, CA, CP) read by their context rather than by the table's first
expansion.

The term matcher links "ED" through the search, which always ranks the same expansion first: "presented to the ED"
became erectile dysfunction and "98% on RA" rheumatoid arthritis. Here every sense of an ambiguous abbreviation is
scored from what surrounds each occurrence:

- the document's own definition ("emergency department (ED)", "RA (right atrium)"): strongest, it decides;
- numbers and units right next to it ("CA 9.1 mg/dL" is calcium, "CA 19-9" a tumour marker, "96% on RA" room air);
- cue words within WINDOW tokens either side (written for this project from clinical usage, not learnt);
- the section the occurrence is in (a Labs section reads "CA" as calcium);
- a prior from the order of the shared abbreviation table (ontologies/data/abbreviations.tsv), which is also the
  whole answer when nothing else speaks.

Score of a sense = (prior + evidence) / (1 + all evidence): the prior (summing to 1 over the senses) smooths the cue
counts, so the scores sum to 1 and a single cue moves, but never settles, a close call. Every sense stays a
candidate with its score, so the concept picker shows the alternatives. A sense that names no entity (the emergency
department is a place, room air a setting, the primary care physician a person) emits no span at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from annotators.notes.abbrev_definitions import long_form_before

WINDOW = 8  # tokens either side: a clause or so, as in word-sense disambiguation of clinical abbreviations
DEFINITION_WEIGHT = 50.0  # the note's own definition outweighs any number of cues
PATTERN_WEIGHT = 4.0  # a number or unit next to the abbreviation is nearly decisive
SECTION_WEIGHT = 1.0
SOURCE = "abbreviation-sense"
# Pseudo-terminology for senses no bound terminology links (places, people, settings), so they can still be listed
# as candidates with their scores.
SENSE_TERMINOLOGY = "abbreviation"


@dataclass(frozen=True)
class Sense:
    name: str
    role: str | None  # "problem", or an entity label ("TEST", "MEDICATION", "ANATOMY"); None: not an entity
    aliases: tuple[str, ...] = ()  # other spellings of the expansion (for definitions and table order)
    cues: tuple[str, ...] = ()  # regexes, matched case-insensitively as whole words in the window
    sections: tuple[str, ...] = ()  # canonical section names (annotators/notes/sections.py)
    before: str | None = None  # regex that must end right before the abbreviation
    after: str | None = None  # regex that must start right after it
    extend: str | None = None  # regex after the abbreviation that belongs to the span ("CA 19-9")

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_NUMBER = r"[:=]?\s*(?:is|was|of|level)?\s*[:=]?\s*\d+(?:\.\d+)?"
_MARKER = r"\s*[-‐ ]?\s*(?:19-9|19\.9|125|15-3|27[.-]29|72-4|50|242)(?![\d.])"

SENSES: dict[str, tuple[Sense, ...]] = {
    "ED": (
        Sense("erectile dysfunction", "problem", ("erectile dysfunction",),
              (r"sildenafil", r"tadalafil", r"vardenafil", r"viagra", r"cialis", r"pde-?5", r"libido", r"erections?",
               r"sexual", r"impotence", r"testosterone", r"urolog\w*", r"prostatectomy", r"hypogonadism",
               r"intercourse", r"penile"),
              ("review_of_systems", "past_medical_history", "medications")),
        Sense("emergency department", None, ("emergency room", "emergency dept"),
              (r"presented to", r"presents to", r"came to", r"brought to", r"arrived", r"in the", r"to the",
               r"from the", r"visits?", r"triage", r"discharged from", r"ems", r"ambulance", r"admitted",
               r"course", r"physician", r"attending", r"evaluation", r"seen in", r"return",
               r"went to", r"transferred"),
              ("hospital_course", "chief_complaint", "discharge_instructions", "history_of_present_illness"),
              before=r"\b(?:the|our|to|in|from|outside)\s+$"),
    ),
    "RA": (
        Sense("rheumatoid arthritis", "problem", (),
              (r"joints?", r"methotrexate", r"mtx", r"arthritis", r"synovitis", r"rheumatolog\w*",
               r"hydroxychloroquine", r"plaquenil", r"sulfasalazine", r"leflunomide", r"etanercept", r"adalimumab",
               r"humira", r"enbrel", r"rituximab", r"prednisone", r"rf", r"anti-ccp", r"ccp", r"flares?", r"swelling",
               r"stiffness", r"deformit\w*", r"hands?", r"dmards?", r"seropositive"),
              ("past_medical_history", "assessment", "assessment_and_plan", "medications")),
        Sense("right atrium", "ANATOMY", ("right atrial",),
              (r"dilated", r"enlarged", r"enlargement", r"echo\w*", r"tte", r"tee", r"la", r"lv", r"rv",
               r"atri\w*", r"ventric\w*", r"tricuspid", r"pressure", r"catheter", r"thrombus", r"ivc", r"chamber",
               r"size", r"svc", r"pacer", r"lead", r"cardiac", r"mass", r"myxoma"),
              ("imaging", "findings", "procedures"),
              after=r"\s*(?:pressure|size|enlargement|dilat\w*|lead|thrombus)\b"),
        Sense("room air", None, (),
              (r"%", r"sats?", r"saturating", r"saturation", r"spo2", r"o2", r"oxygen", r"pulse ox\w*", r"hypox\w*",
               r"nasal cannula", r"nc", r"breathing", r"ambulat\w*", r"weaned", r"abg", r"vitals?", r"rr",
               r"hr", r"bp"),
              ("vitals", "physical_exam", "objective"),
              before=r"(?:%|\bon|\bsat\w*)\s*(?:on\s+)?$"),
    ),
    "PCP": (
        Sense("primary care physician", None, ("primary care provider", "primary care doctor"),
              (r"follow[- ]?up", r"f/u", r"his", r"her", r"their", r"dr\.?", r"per", r"referred", r"by", r"with",
               r"clinic", r"appointment", r"office", r"call", r"see", r"outpatient", r"notified", r"sent",
               r"letter", r"primary", r"told", r"visit"),
              ("follow_up", "plan", "discharge_instructions", "social_history"),
              before=r"\b(?:his|her|their|your|the patient's|patient's|pt's)\s+$"),
        Sense("pneumocystis pneumonia", "problem",
              ("pneumocystis jirovecii pneumonia", "pneumocystis carinii pneumonia", "pneumocystis jiroveci pneumonia"),
              (r"prophylaxis", r"bactrim", r"tmp-?smx", r"trimethoprim", r"atovaquone", r"dapsone", r"pentamidine",
               r"cd4", r"hiv", r"aids", r"pneumonia", r"jirovec\w*", r"ground[- ]glass", r"bal", r"bronchoscopy",
               r"ldh", r"immunocompromised", r"transplant", r"steroids", r"hypoxemia", r"infiltrates"),
              ("assessment", "assessment_and_plan", "past_medical_history", "medications")),
        Sense("phencyclidine", "MEDICATION", ("angel dust",),
              (r"tox\w*", r"uds", r"urine drug", r"drug screen", r"positive", r"cocaine", r"thc", r"marijuana",
               r"cannabis", r"amphetamines?", r"opiates?", r"benzodiazepines?", r"smok\w*", r"intoxicat\w*",
               r"agitat\w*", r"psychosis", r"substance", r"illicit", r"abuse", r"overdose"),
              ("social_history",)),
    ),
    "CA": (
        Sense("cancer", "problem", ("carcinoma",),
              (r"metasta\w*", r"tumou?rs?", r"malignan\w*", r"oncolog\w*", r"chemo\w*", r"radiation", r"biopsy",
               r"breast", r"prostate", r"colon", r"lung", r"ovarian", r"pancreatic", r"stage", r"resection",
               r"mastectomy", r"lumpectomy", r"hx of", r"history of", r"diagnosed", r"squamous", r"adeno\w*",
               r"of the", r"remission", r"recurren\w*"),
              ("past_medical_history", "assessment", "assessment_and_plan", "family_history")),
        Sense("calcium", "TEST", (),
              (r"mg/dl", r"mmol/l", r"meq/l", r"k", r"na", r"mg", r"phos\w*", r"albumin", r"pth", r"vitamin d",
               r"hypercalc\w*", r"hypocalc\w*", r"ionized", r"corrected", r"bmp", r"cmp", r"electrolytes?",
               r"cr", r"bun", r"glucose", r"labs?"),
              ("labs",),
              after=rf"(?!{_MARKER}){_NUMBER}"),  # "CA 125" is the marker, not a calcium of 125
        Sense("carbohydrate antigen", "TEST", ("cancer antigen", "tumor marker", "tumour marker"),
              (r"tumou?r markers?", r"cea", r"afp", r"u/ml", r"units/ml", r"elevated", r"trend\w*", r"marker"),
              ("labs",),
              after=_MARKER, extend=_MARKER),
    ),
    "CP": (
        Sense("chest pain", "problem", (),
              (r"substernal", r"pressure", r"radiat\w*", r"exertion\w*", r"pleuritic", r"troponins?", r"ekg", r"ecg",
               r"nitro\w*", r"angina", r"sob", r"dyspnea", r"diaphore\w*", r"acs", r"stemi", r"mi", r"/10",
               r"onset", r"left arm", r"jaw", r"rule out", r"r/o", r"atypical", r"cardiac", r"palpitations",
               r"denies", r"complains", r"c/o", r"episodes?", r"resolved", r"worse"),
              ("chief_complaint", "history_of_present_illness", "review_of_systems")),
        Sense("cerebral palsy", "problem", (),
              (r"spastic\w*", r"quadripleg\w*", r"dipleg\w*", r"hemipleg\w*", r"gmfcs", r"wheelchair", r"birth",
               r"preterm", r"premature\w*", r"prematurity", r"developmental", r"delay", r"seizures?",
               r"contractures?", r"baclofen", r"botox", r"botulinum", r"nonverbal", r"g-tube", r"gait",
               r"child", r"congenital", r"hypoxic", r"tone"),
              ("past_medical_history",)),
    ),
}
# Mixed case that still means the abbreviation: "Ca 9.1" is how labs are written; lower case ("ca", "ed") stays a
# word ("ca." circa, "ed." edition), as in the term matcher.
_SPELLINGS = {"Ca": "CA"}
_OCCURRENCE = re.compile(r"(?<![\w-])(" + "|".join(sorted([*SENSES, *_SPELLINGS], key=len, reverse=True))
                         + r")(?![A-Za-z0-9])")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[./'-][A-Za-z0-9]+)*|%|/10")


def _compile(pattern: str) -> re.Pattern:
    """Whole words where the cue begins or ends with a letter or digit ("la" is not in "lateral"); "%" and "/10"
    follow a number directly."""
    head = r"(?<![\w])" if pattern[:1].isalnum() else ""
    tail = r"(?![\w])" if pattern[-1:].isalnum() or pattern[-1:] in "?*" else ""
    return re.compile(head + pattern + tail, re.IGNORECASE)


_CUES = {abbr: [[_compile(c) for c in sense.cues] for sense in senses] for abbr, senses in SENSES.items()}


def priors(abbr: str, table: dict[str, list[str]] | None = None) -> list[float]:
    """Prior of each sense from the table's order: the first expansion listed is the usual one. Senses the table
    does not list come after, in this module's order (written most usual first: "PCP" is not in the table, and in
    notes it is the primary care physician far more often than the pneumonia). Weights halve with each rank and sum
    to 1."""
    from ontologies.abbreviations import default_abbreviations

    listed = (default_abbreviations() if table is None else table).get(abbr.lower(), [])
    senses = SENSES[abbr]

    def rank(i: int) -> tuple[int, int]:
        spots = [listed.index(s) for s in senses[i].spellings if s in listed]
        return (min(spots) if spots else len(listed) + i, i)

    order = sorted(range(len(senses)), key=rank)
    weights = [0.0] * len(senses)
    for position, i in enumerate(order):
        weights[i] = 0.5 ** position
    total = sum(weights)
    return [w / total for w in weights]


def definitions(text: str, abbr: str) -> tuple[list[int], int | None]:
    """The note's own definitions of `abbr`: indices of senses it defines ("chest pain (CP)", "CP (chest pain)"),
    and the offset of the first definition as something none of the senses is ("cyclophosphamide (CP)"), or None."""
    defined: list[int] = []
    foreign = None
    for i, sense in enumerate(SENSES[abbr]):
        for spelling in sense.spellings:
            words = r"[\s-]+".join(map(re.escape, spelling.split()))
            if re.search(rf"\b{words}\s*\(\s*{abbr}\s*\)|(?<![\w-]){abbr}\s*\(\s*{words}\s*\)", text, re.IGNORECASE):
                defined.append(i)
                break
    if not defined:
        for m in re.finditer(rf"\(\s*{abbr}\s*\)", text):
            if long_form_before(text[max(0, m.start() - 120):m.start()].rstrip(), abbr):
                foreign = m.start()
                break
    return defined, foreign


def score_occurrence(text: str, start: int, end: int, abbr: str, section: str | None = None,
                     defined: list[int] | None = None, table: dict | None = None) -> list[float]:
    """Score of each sense of `abbr` (in SENSES order) for the occurrence at text[start:end]; they sum to 1."""
    senses = SENSES[abbr]
    evidence = [0.0] * len(senses)
    # Only the text near the occurrence is tokenised: a long note with many abbreviations stays linear.
    base = max(0, start - 40 * WINDOW)
    before = list(_TOKEN.finditer(text, base, start))[-WINDOW:]
    after = list(_TOKEN.finditer(text, end, min(len(text), end + 40 * WINDOW)))[:WINDOW]
    lo = before[0].start() if before else start
    hi = after[-1].end() if after else end
    left, right = text[lo:start], text[end:hi]
    for i, sense in enumerate(senses):
        for cue in _CUES[abbr][i]:
            evidence[i] += len(cue.findall(left)) + len(cue.findall(right))
        if section and section in sense.sections:
            evidence[i] += SECTION_WEIGHT
        if sense.before and re.search(sense.before, text[max(0, start - 40):start], re.IGNORECASE):
            evidence[i] += PATTERN_WEIGHT
        if sense.after and re.match(sense.after, text[end:end + 40], re.IGNORECASE):
            evidence[i] += PATTERN_WEIGHT
        if defined and i in defined:
            evidence[i] += DEFINITION_WEIGHT
    prior = priors(abbr, table)
    total = 1.0 + sum(evidence)
    return [(p + e) / total for p, e in zip(prior, evidence)]


def _candidate(abbr: str, sense: Sense, score: float, concept: dict | None) -> dict:
    if concept:
        return {"terminology": concept["terminology"], "code": concept["code"], "name": concept.get("name", ""),
                "score": score}
    what = "" if sense.role else " (not an entity)"
    return {"terminology": SENSE_TERMINOLOGY, "code": f"{abbr}={sense.name}", "name": sense.name + what,
            "score": score}


def _floor(score: float) -> float:
    """Rounded down, so rounding never makes the scores of one span sum past 1."""
    return int(score * 10000) / 10000


def disambiguate(text: str, entities: list[dict], labels: set[str], problem: str | None, sections=None,
                 link: Callable[[str, str], dict | None] | None = None, table: dict | None = None) -> list[dict]:
    """Entities with every occurrence of an ambiguous abbreviation read by its context.

    The term matcher's spans of these abbreviations (table senses: no concept of their own) are replaced; spans the
    note's own definitions made ("cyclophosphamide (CP)" then "CP") and any other overlapping span are kept as they
    are. `labels` are the project's entity labels, `problem` its problem label, `link(phrase, label)` a concept for a
    sense's name under that label (or None)."""
    from annotators.notes.sections import detect_sections, section_at

    def table_sense(span: dict) -> bool:
        source = span.get("attributes", {}).get("source")
        if source == "pattern":  # "CA-125" also reads as a research compound code ("MK-801"): the marker wins
            m = _OCCURRENCE.match(span["text"])
            abbr = m and _SPELLINGS.get(m.group(1), m.group(1))
            return bool(m) and any(sense.extend and re.fullmatch(sense.extend, span["text"][m.end():])
                                   for sense in SENSES[abbr])
        return span.get("concept") is None and source == "terminology" and \
            _SPELLINGS.get(span["text"], span["text"]) in SENSES

    kept = [s for s in entities if not table_sense(s)]
    taken = [(s["start"], s["end"]) for s in kept]
    sections = detect_sections(text) if sections is None else sections
    out: list[dict] = []
    facts: dict[str, tuple[list[int], int | None]] = {}
    for m in _OCCURRENCE.finditer(text):
        abbr = _SPELLINGS.get(m.group(1), m.group(1))
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        if abbr not in facts:
            facts[abbr] = definitions(text, abbr)
        defined, foreign = facts[abbr]
        if foreign is not None and m.start() > foreign:
            continue  # defined in this note as something else: the definition's own span (if any) stands
        scores = score_occurrence(text, m.start(), m.end(), abbr, section_at(sections, m.start()), defined, table)
        senses = SENSES[abbr]
        order = sorted(range(len(senses)), key=lambda i: -scores[i])
        best = senses[order[0]]
        label = problem if best.role == "problem" else best.role
        if label is None or label not in labels:
            continue  # a place, a person, a setting, or a label this project does not annotate: no span
        concepts = {}
        for i in order:
            sense_label = problem if senses[i].role == "problem" else senses[i].role
            concepts[i] = link(senses[i].name, sense_label) if link and sense_label in labels else None
        end = m.end()
        if best.extend:
            tail = re.match(best.extend, text[end:end + 20])
            end += tail.end() if tail else 0
        out.append({"id": f"s{len(out) + 1}", "start": m.start(), "end": end, "label": label, "layer": "entity",
                    "text": text[m.start():end], "concept": concepts[order[0]] and {
                        k: concepts[order[0]][k] for k in ("terminology", "code", "name")},
                    "candidates": [_candidate(abbr, senses[i], _floor(scores[i]), concepts[i]) for i in order],
                    "score": _floor(scores[order[0]]),
                    "attributes": {"source": SOURCE, "sense": best.name}})
        taken.append((m.start(), end))
    return kept + out


def store_linker(store, bound: dict[str, list[str]]) -> Callable[[str, str], dict | None] | None:
    """`link` for `disambiguate` from an ontology store: the top search hit for a sense's name ("right atrium",
    "calcium") in the terminologies bound to the label, cached (a few senses, asked for in every note)."""
    if store is None:
        return None
    cache: dict[tuple[str, str], dict | None] = {}

    def link(phrase: str, label: str) -> dict | None:
        if (phrase, label) not in cache:
            available = set(store.names())
            terminologies = [t for t in bound.get(label, []) if t in available]
            found = []
            if terminologies:
                try:
                    found = store.candidates(phrase, terminologies, k=1)
                except (ValueError, KeyError):
                    found = []
            cache[(phrase, label)] = {k: found[0][k] for k in ("terminology", "code", "name")} if found else None
        return cache[(phrase, label)]

    return link


def best_sense(text: str, start: int, end: int, table: dict | None = None) -> tuple[str, list[tuple[str, float]]]:
    """The chosen sense's name and every (sense, score), best first, for the abbreviation at text[start:end]: the
    scorer alone, as the tests and the benchmark use it."""
    from annotators.notes.sections import detect_sections, section_at

    abbr = _SPELLINGS.get(text[start:end], text[start:end])
    defined, _ = definitions(text, abbr)
    scores = score_occurrence(text, start, end, abbr, section_at(detect_sections(text), start), defined, table)
    ranked = sorted(zip((s.name for s in SENSES[abbr]), scores), key=lambda p: -p[1])
    return ranked[0][0], [(name, _floor(score)) for name, score in ranked]
