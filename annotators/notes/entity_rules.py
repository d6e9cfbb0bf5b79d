"""Span rules applied after terminology matching: where a problem or drug mention begins and ends.

- "heparin-induced thrombocytopenia": the drug is a medication mention and the problem is what it induced;
- "D-penicillamine", "L-dopa": the stereo prefix belongs to the drug name;
- "NMDA receptor": the drug name is the part before the target;
- "liver injury", "cardiac toxicity", "hemorrhagic cystitis", "diabetic nephropathy": an organ or a disease
  adjective written right before a problem is part of the problem.
"""
from __future__ import annotations

import re

from annotators.notes import lexicon
from annotators.notes.sections import section_at

_INDUCED = re.compile(r"^(?P<agent>\S.*?)[ \t]*-[ \t]*(?:induced|associated|related)[ \t]+(?P<rest>\S.*)$",
                      re.IGNORECASE)
# Organs and systems written as adjectives or nouns before a problem ("renal toxicity", "liver injury").
ORGAN_WORDS = frozenset({
    "cardiac", "heart", "renal", "kidney", "hepatic", "liver", "myocardial", "pulmonary", "lung", "cerebral", "brain",
    "endometrial", "ovarian", "gastric", "ocular", "retinal", "neurologic", "neurological", "hematologic",
    "hematological", "haematological", "cardiovascular", "vascular", "coronary", "spinal", "pancreatic",
    "colorectal", "urothelial", "mitochondrial", "auditory", "orbital", "intestinal", "bladder", "breast", "skin",
    "bone", "muscle", "thyroid", "prostate", "cervical", "uterine", "testicular", "gastrointestinal", "hepatocellular",
    "cortical", "neuronal", "tubular", "glomerular", "biliary", "esophageal", "oesophageal", "colonic", "rectal",
    "artery", "arterial", "axonal", "nerve", "cord", "intracranial",
})
# Pathology adjectives that narrow the problem after them ("hemorrhagic cystitis", "cholestatic hepatitis").
PATHOLOGY_WORDS = frozenset({"hemorrhagic", "haemorrhagic", "cholestatic", "necrotizing", "necrotising",
                             "granulomatous", "ischemic", "ischaemic", "diabetic", "thrombotic", "hypertensive",
                             "septic", "autonomic", "neuropathic", "peripheral", "sensory", "postoperative",
                             "perioperative", "fulminant", "malignant", "daytime", "locomotor", "crescentic",
                             "interstitial", "toxic", "tardive", "muscular", "fibrous"})

# "renal impairment", "cardiac dysfunction": an organ word and a head that means "not working" name a problem even
# where no vocabulary phrase does.
_ORGAN_HEAD = re.compile(r"(?<![\w-])(" + "|".join(sorted(ORGAN_WORDS)) + r")[ \t]+(?:dysfunction|impairment|"
                         r"disease|damage|insufficiency|failure|injury|toxicity|deficits?)(?![\w-])", re.IGNORECASE)
# "injury" and "damage" alone say little; the word before them says what was injured ("endothelial injury",
# "axonal damage", "podocyte injury"): an adjective of that kind, or a cell or tissue word, joins them.
_DAMAGE_WORDS = frozenset({"injury", "injuries", "damage", "lesion", "lesions"})
_INJURED_KIND = re.compile(r"[a-z]{3,}(?:al|ic|ar)|cell|tissue|nerve|podocyte|neuronal|axon")
_NOT_A_KIND = frozenset({"several", "total", "initial", "potential", "real", "focal", "general", "typical",
                         "additional", "critical", "clinical", "specific", "dramatic", "minimal", "partial", "basic",
                         "usual", "actual", "original", "similar", "particular", "regular", "overall", "special",
                         "fatal", "serial", "bilateral", "unilateral", "classic", "medical", "surgical"})
# An organ's function said to be worse names a problem: "impaired renal function", "reduction in renal function".
_FUNCTION_DECLINE = re.compile(
    r"(?<![\w-])(?:(?:decreased|impaired|reduced|declining|deteriorating|worsening|worsened|abnormal|poor)[ \t]+|"
    r"(?:reduction|reductions|decrease|decline|declines|deterioration|loss|worsening|impairment)[ \t]+(?:of|in)[ \t]+"
    r"(?:the[ \t]+)?)(?:" + "|".join(sorted(ORGAN_WORDS)) + r")[ \t]+functions?(?![\w-])", re.IGNORECASE)
# A problem followed by one of these is the name of a syndrome: "capillary leak syndrome".
_SYNDROME_TAIL = re.compile(r"[ \t]+(?:syndrome|disease|disorder)(?![\w-])", re.IGNORECASE)
_ADJECTIVE = re.compile(r"^[A-Za-z]+(?:ic|ive|ian|al|ous)$")


def _clear_concept(span: dict) -> None:
    span["concept"] = None
    span["candidates"] = []
    span["attributes"] = {**span.get("attributes", {}), "source": "rule"}


def split_induced(text: str, entities: list[dict], matcher, problem: str | None) -> list[dict]:
    """A problem span "X-induced Y" becomes the problem Y and, where X names a medication, a medication span X."""
    out = []
    for span in entities:
        m = _INDUCED.match(span["text"]) if span["label"] == problem else None
        if not m:
            out.append(span)
            continue
        start = span["start"]
        rest = {**span, "start": start + m.start("rest"), "end": span["end"], "text": m.group("rest")}
        _clear_concept(rest)
        out.append(rest)
        for drug in matcher.match(m.group("agent"), id_prefix=f"{span['id']}i"):
            if drug["label"] == "MEDICATION":
                out.append({**drug, "start": start + drug["start"], "end": start + drug["end"]})
    return sorted(out, key=lambda s: s["start"])


def _names_a_protein(span: dict) -> bool:
    """An enzyme ("ATPase", "NO synthase") or, for an abbreviation, a concept that is a protein ("MRP2")."""
    if lexicon.ENZYME_DRUGS.search(span["text"]):
        return False
    if lexicon.ENZYME_NAME.search(span["text"]):
        return True
    concept = span.get("concept") or {}
    return (span.get("attributes") or {}).get("source") == "abbreviation" and bool(
        lexicon.PROTEIN_CONCEPT.search(concept.get("name") or "")) and not lexicon.ENZYME_DRUGS.search(
        concept.get("name") or "")


def adjust_medications(text: str, entities: list[dict]) -> list[dict]:
    """Stereo prefixes join the drug ("D-penicillamine"); "X receptor" keeps X only; enzymes and, through an
    abbreviation, other proteins are no medication (_names_a_protein)."""
    out = []
    for span in entities:
        if span["label"] != "MEDICATION":
            out.append(span)
            continue
        if lexicon.NOT_MEDICATION.match(span["text"]) or _names_a_protein(span):
            continue
        receptor = lexicon.RECEPTOR_WORDS.search(span["text"])
        if receptor:
            if receptor.start() == 0:
                continue
            span = {**span, "end": span["start"] + receptor.start(), "text": span["text"][:receptor.start()]}
            _clear_concept(span)
        prefix = lexicon.STEREO_PREFIX.search(text, max(0, span["start"] - 12), span["start"])
        if prefix and not any(o is not span and o["start"] < span["start"] and o["end"] > prefix.start()
                              for o in entities):
            span = {**span, "start": prefix.start(), "text": text[prefix.start():span["end"]]}
        out.append(span)
    return out


def drug_classes_in_use(text: str, entities: list[dict], sections) -> list[dict]:
    """A drug class named by what it does ("antibiotics", "calcium channel blockers") is a medication where the note
    gives it to this patient: under a medications or allergies heading, after words of giving, taking, stopping or
    not tolerating, or before a dose, route or frequency. In a general statement ("neuroleptics may cause...",
    "analgesic activity") it names no medication."""
    out = []
    for span in entities:
        if span["label"] == "MEDICATION" and lexicon.FUNCTIONAL_DRUG_CLASS.search(span["text"]) and not (
                section_at(sections, span["start"]) in ("medications", "allergies")
                or lexicon.DRUG_IN_USE_BEFORE.search(text, max(0, span["start"] - 60), span["start"])
                or lexicon.DRUG_IN_USE_AFTER.match(text, span["end"])):
            continue
        out.append(span)
    return out


def extend_problems(text: str, entities: list[dict], problem: str | None) -> list[dict]:
    """A problem takes in the organ or pathology word right before it (merging an ANATOMY span or a one-word
    adjectival PROBLEM span there), repeatedly: "acute renal toxicity" -> "renal toxicity"; "injury" or "damage"
    also takes the word that says what was injured ("endothelial injury")."""
    if problem is None:
        return entities
    spans = sorted(entities, key=lambda s: s["start"])
    for m in (*_ORGAN_HEAD.finditer(text), *_FUNCTION_DECLINE.finditer(text)):
        inside = [s for s in spans if s["start"] < m.end() and m.start() < s["end"]]
        if all(m.start() <= s["start"] and s["end"] <= m.end() and s["label"] in (problem, "ANATOMY") for s in inside):
            spans = [s for s in spans if s not in inside]
            spans.append({"id": f"o{m.start()}", "start": m.start(), "end": m.end(), "label": problem,
                          "layer": "entity", "text": m.group(), "concept": None, "candidates": [],
                          "attributes": {"source": "rule"}})
    for i, span in enumerate(spans):
        tail = _SYNDROME_TAIL.match(text, span["end"]) if span["label"] == problem else None
        if tail and not any(o["start"] < tail.end() and o["end"] > span["end"] for o in spans):
            spans[i] = {**span, "end": tail.end(), "text": text[span["start"]:tail.end()]}
            _clear_concept(spans[i])
    spans.sort(key=lambda s: s["start"])
    changed = True
    while changed:
        changed = False
        for i, span in enumerate(spans):
            if span["label"] != problem:
                continue
            before = re.search(r"(?<![\w-])([A-Za-z]+)[ \t]+$", text[max(0, span["start"] - 30):span["start"]])
            if not before:
                continue
            word = before.group(1).lower()
            joins = word in ORGAN_WORDS or word in PATHOLOGY_WORDS or (
                span["text"].lower() in _DAMAGE_WORDS and word not in _NOT_A_KIND and _INJURED_KIND.fullmatch(word))
            if not joins or _ADJECTIVE.search(span["text"]):
                continue  # "cortical epileptic": an adjective is no problem head to extend
            start = span["start"] - (len(before.group(0)))
            neighbour = spans[i - 1] if i and spans[i - 1]["end"] > start else None
            if neighbour is not None and not (neighbour["start"] == start and neighbour["end"] == start + len(word)
                                              and neighbour["label"] in (problem, "ANATOMY")):
                continue
            merged = {**span, "start": start, "text": text[start:span["end"]]}
            _clear_concept(merged)
            spans[i] = merged
            if neighbour is not None:
                del spans[i - 1]
            changed = True
            break
    return spans


# "neuroleptic malignant syndrome", "apical ballooning syndrome", "Wernicke-Korsakoff syndrome": the words before
# "syndrome" name one even where no vocabulary lists it; a determiner, pronoun, verb or general adjective ends the
# name ("this rare syndrome" is no name).
_NAME_WORD = r"[A-Za-z]+(?:[ \t]*-[ \t]*[A-Za-z]+|[ \t]*['\u2019][ \t]*s)?"  # "milk - alkali", "Steinert ' s"
# \Z: searched in a window that ends at one "syndrome"
_SYNDROME_NAME = re.compile(r"(?<![A-Za-z])((?:[A-Za-z]" + _NAME_WORD + r"[ \t]+){1,3})(syndromes?)\Z")
_NOT_IN_A_NAME = frozenset("""a an the this that these those his her their its our your my any no some other such same
    new rare severe mild known clinical whole entire full is was were be been being are has have had which who whose
    of with in and or to for by as at on from after before into than patients patient case cases typical classic
    classical possible probable suspected similar complete incomplete different distinct specific major minor
    common uncommon overall called termed named so also not""".split())


def named_syndromes(text: str, entities: list[dict], problem: str | None) -> list[dict]:
    """Problem spans for syndrome names no vocabulary phrase covers (see _SYNDROME_NAME)."""
    if problem is None:
        return []
    taken = [(s["start"], s["end"]) for s in entities]
    out = []
    low, at = text.lower(), 0
    # The pattern is tried only before each "syndrome" (a few per note), not at every word of the note.
    while (at := low.find("syndrome", at)) >= 0:
        end = at + 9 if low.startswith("s", at + 8) else at + 8
        at = end
        if re.match(r"[\w-]", text[end:end + 1]):
            continue  # "syndromic", "syndrome-like"
        m = _SYNDROME_NAME.search(text, max(0, end - 130), end)
        if m is None:
            continue
        words = list(re.finditer(_NAME_WORD, m.group(1)))
        kept = []
        for word in reversed(words):
            if word.group().split("-")[0].strip().lower() in _NOT_IN_A_NAME:
                break
            kept.append(word)
        if not kept:
            continue
        start = m.start(1) + kept[-1].start()
        if any(a < m.end() and start < b for a, b in taken):
            continue  # a vocabulary phrase names it (or a part of it, which extend_problems joins)
        out.append({"id": f"y{len(out) + 1}", "start": start, "end": m.end(), "label": problem, "layer": "entity",
                    "text": text[start:m.end()], "concept": None, "candidates": [], "score": 0.4,
                    "attributes": {"source": "rule"}})
    return out


def compound_codes(text: str, entities: list[dict]) -> list[dict]:
    """Medication spans for research compound codes ("MK-801", "FK506") that no other span covers."""
    taken = [(s["start"], s["end"]) for s in entities]
    out = []
    for m in lexicon.COMPOUND_CODE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        out.append({"id": f"c{len(out) + 1}", "start": m.start(), "end": m.end(), "label": "MEDICATION",
                    "layer": "entity", "text": m.group(), "concept": None, "candidates": [], "score": 0.3,
                    "attributes": {"source": "pattern"}})
    return out
