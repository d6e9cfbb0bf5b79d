"""The clinical-notes pre-annotation pipeline: PHI, terminology matching (+ a trained NER), sections, assertion,
ontology linking, medication attribute relations. Models load in `setup`, never at import time."""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import re
import threading
import time
from typing import Sequence

from annotators.base import ItemView, Prediction
from annotators.notes import abbrev_senses, entity_rules, lexicon, schema, vocabularies
from annotators.notes.abbrev_definitions import defined_abbreviations
from annotators.notes.assertion import assign_assertions
from annotators.notes.sections import SECTION_HEADINGS, detect_headings, detect_sections

log = logging.getLogger("clinlabel.notes")
_MATCHERS: dict[tuple, object] = {}  # phrase sets are large (≈100k); build once per worker process
_MATCHER_LOCK = threading.Lock()
MAX_PHRASE_WORDS = 6


def _phrases(config: dict, store) -> dict[str, list]:
    """Label → phrases (with their concept) from the bound terminologies, plus the built-in seeds and abbreviations."""
    from ontologies import load_abbreviations, normalize

    phrases: dict[str, list] = {}
    adjectives: list = []
    problem = vocabularies.problem_label(config)
    for label, terminologies in vocabularies.loaded(config, store).items():
        entries: list = list(lexicon.SEED_PHRASES.get(label, []))
        if label == problem:
            adjectives += [(lexicon.adjective_form(w), None) for w in entries if lexicon.adjective_form(w)]
        for name in terminologies:
            index = store.index(name)
            usable = vocabularies.usable_concepts(name, index)
            for i, code in enumerate(index.codes):
                if not usable[i]:
                    continue
                concept = {"terminology": name, "code": code, "name": index.concept_name(i)}
                substance = name == "icd10cm" and lexicon.SUBSTANCE_CODES.match(code)
                for title in vocabularies.titles(name, index, i):
                    if substance and not lexicon.SUBSTANCE_PROBLEM_WORDS.search(title):
                        use = lexicon.SUBSTANCE_USE_TITLE.match(title)
                        if not use:
                            continue  # "cocaine" (T40.5), "caffeine" (F15): drugs, not problems
                        title = use[1] + " disorder"  # "cocaine use" names the drug; "cocaine use disorder" a problem
                    # Findings are written in the plural ("polyps"); drug names hardly ever are.
                    for phrase in (title, *lexicon.phrase_variants(title, plural=label == problem)):
                        if 3 <= len(phrase) and len(phrase.split()) <= MAX_PHRASE_WORDS:
                            entries.append((phrase, concept))
                    head = lexicon.adjective_head(title) if label == problem else None
                    if head and lexicon.adjective_form(head):
                        adjectives.append((lexicon.adjective_form(head), concept))
        entries += [p for p in (config.get("extra_phrases") or {}).get(label, [])]
        phrases[label] = entries
    if problem:
        # "htn", "chf": clinicians write abbreviations; link them through the search, which expands them too. The
        # table also holds tests, procedures, drugs and shorthand ("CT", "EGD", "ASA", "hx"): an abbreviation that,
        # or whose expansion, another label names is that label's, and shorthand names no finding.
        other = {normalize(p if isinstance(p, str) else p[0]) for label, entries in phrases.items()
                 if label != problem for p in entries}
        table = {abbr: expansions for abbr, expansions in load_abbreviations().items()
                 if len(abbr) >= 2 and abbr.isalpha() and abbr not in lexicon.SHORTHAND
                 and not other.intersection([abbr, *expansions])}
        # The problem abbreviations' expansions are problems too ("coronary artery disease" for CAD), and so are the
        # adjectives of one-word findings that no other label claims ("analgesic", "narcotic" are drugs).
        phrases[problem] += list(table) + [e for expansions in table.values() for e in expansions
                                             if len(e) > 3 and not lexicon.NOT_FINDING_EXPANSION.search(e)]
        phrases[problem] += [(adj, concept) if concept else adj for adj, concept in adjectives
                             if adj not in other and adj not in lexicon.NOT_ADJECTIVE_PROBLEM]
    return phrases


def _matcher(config: dict, store):
    from annotators.notes.term_matcher import TermMatcher, cached_matcher

    key = _matcher_key(config, store)
    with _MATCHER_LOCK:
        if key not in _MATCHERS:
            _MATCHERS.clear()
            if store is None:
                _MATCHERS[key] = TermMatcher(_phrases(config, store))
            else:
                _MATCHERS[key] = cached_matcher(_matcher_dir(store), key + _code_fingerprint(),
                                                lambda: _phrases(config, store))
        return _MATCHERS[key]


def _matcher_key(config: dict, store) -> str:
    return repr((sorted(vocabularies.label_terminologies(config).items()), config.get("extra_phrases"),
                 vocabularies.store_state(store)))


def _matcher_dir(store) -> str:
    return os.path.join(store.cache_dir, ".matchers")


def prepare_default_matcher(store) -> float:
    """Compile the default labels' term matcher into the store's cache unless it is there, so that a worker
    starting later loads it in seconds instead of compiling it; returns the seconds it took."""
    from annotators.notes.term_matcher import is_cached

    started = time.perf_counter()
    config = schema.default_label_config()
    if not is_cached(_matcher_dir(store), _matcher_key(config, store) + _code_fingerprint()):
        _matcher(config, store)
    return time.perf_counter() - started


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """The code and data the phrases are made from (a saved matcher is reused only with the same), and spaCy's
    version (its tokenizer makes the hashes)."""
    import spacy

    import ontologies

    digest = hashlib.sha256(spacy.__version__.encode())
    for package in (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(ontologies.__file__))):
        for folder, dirs, files in sorted(os.walk(package)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith((".py", ".tsv", ".txt", ".json")):
                    with open(os.path.join(folder, name), "rb") as handle:
                        digest.update(name.encode() + b"\0" + handle.read())
    return digest.hexdigest()


def _attribute_spans(text: str, entity_spans: list[dict]) -> tuple[list[dict], list[dict]]:
    """DOSAGE/ROUTE/FREQUENCY spans after a medication in the same sentence, with their relations."""
    meds = sorted((s for s in entity_spans if s["label"] == "MEDICATION"), key=lambda s: s["start"])
    spans, relations = [], []
    taken = [(s["start"], s["end"]) for s in entity_spans]
    for label, pattern in lexicon.ATTRIBUTE_PATTERNS.items():
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            head = None
            for med in meds:
                if med["end"] <= m.start() and not lexicon.SENTENCE_END.search(text, med["end"], m.start()):
                    head = med
            if head is None:
                continue  # a number or "daily" with no medication before it in the sentence is not an attribute
            span = {"id": f"a{len(spans) + 1}", "start": m.start(), "end": m.end(), "label": label,
                    "layer": "entity", "text": m.group(0), "attributes": {"source": "pattern"}}
            spans.append(span)
            taken.append((m.start(), m.end()))
            relations.append({"id": f"r{len(relations) + 1}", "type": lexicon.ATTRIBUTE_RELATIONS[label],
                              "head": head["id"], "tail": span["id"]})
    return spans, relations


_HEADING_WORDS = frozenset(" ".join(v.split()) for variants in SECTION_HEADINGS.values() for v in variants)


def _morphological_problems(text: str, entities: list[dict], config: dict) -> list[dict]:
    """Problems by their form ("nephrotoxicity", "cholangitis", "hyperkalaemia") where no phrase matched them."""
    label = vocabularies.problem_label(config)
    if label is None:
        return []
    taken = [(s["start"], s["end"]) for s in entities]
    out = []
    for match in lexicon.MORPHOLOGICAL_PROBLEM.finditer(text):
        if match.group().lower() in lexicon.NOT_MORPHOLOGICAL_PROBLEM:
            continue
        if any(a < match.end() and match.start() < b for a, b in taken):
            continue
        out.append({"id": f"m{len(out) + 1}", "start": match.start(), "end": match.end(), "label": label,
                    "layer": "entity", "text": match.group(), "score": 0.4})
    return out


def _is_word_not_abbreviation(span: dict) -> bool:
    """Two-letter abbreviations count in capitals only: lower-case "et" (al.), "ca" (circa), "ms", "pe", "ed" are
    words, units and Latin far more often than essential tremor, cancer or multiple sclerosis."""
    return len(span["text"]) <= 2 and span["text"].islower()


# Problem abbreviations matched without regard to case that are something else as written: a unit with its
# lower-case prefix ("8.5 mM" is millimolar, not multiple myeloma), the plural of a shorter abbreviation ("BZDs /
# RDs": related drugs, not RDS), a gene or peptide numbered after a hyphen ("ET-1": endothelin, not essential
# tremor), or an imaging modality ("MR imaging": magnetic resonance, not mitral regurgitation).
_UNIT_OR_PLURAL = re.compile(r"^(?:[a-zμ][A-Z]|[A-Z]{2,}s)$")
# A genotype ("TR(-) rats", "alpha2ABC-/-") is no finding either.
_NUMBERED_OR_MODALITY = re.compile(r"[ \t]*-[ \t]*\d|[ \t]+(?:imaging|images?|study|studies|scans?|angiograph\w*|"
                                   r"spectroscop\w*|sequences?)\b|[ \t]*\([ \t]*[-+][ \t]*\)|"
                                   r"[ \t]*[-+][ \t]*/[ \t]*[-+]", re.IGNORECASE)
# "moles / glomerulus", "mole fraction": the unit, not a naevus
_MOLE_UNIT = re.compile(r"[ \t]*(?:/|fractions?\b|percent\b|%)", re.IGNORECASE)


def _not_a_problem(text: str, span: dict, problem: str | None) -> bool:
    if span["label"] != problem:
        return False
    written = span["text"]
    if written.lower() in lexicon.NOT_PROBLEM_PHRASES or _UNIT_OR_PLURAL.match(written) or \
            lexicon.QUANTITY_NOT_FINDING.match(written.lower()):
        return True
    if written.lower() in ("mole", "moles") and _MOLE_UNIT.match(text, span["end"]):
        return True
    return len(written) <= 5 and written.isupper() and bool(_NUMBERED_OR_MODALITY.match(text, span["end"]))


def _is_heading(text: str, span: dict, headings) -> bool:
    """A section heading ("Family History:", "Allergies:") names a section, not a finding. A finding before a colon
    is still a finding: problem-oriented plans read "1. Hypertension: continue lisinopril"."""
    if any(h.start <= span["start"] and span["end"] <= h.end for h in headings):
        return True
    return text[span["end"]:span["end"] + 1] == ":" and " ".join(span["text"].lower().split()) in _HEADING_WORDS


def _unit(score) -> float:
    """Search scores are ranking scores (they can pass 1 with boosts); payload scores are confidences in [0, 1]."""
    return round(max(0.0, min(1.0, float(score))), 4)


class ClinicalPipeline:
    name = "clinical-pipeline"
    wants_gpu = False

    def __init__(self) -> None:
        self.version = "1"
        self.config: dict = {}
        self.store = None
        self.phi = None
        self.ner = None
        self.phi_ner = None  # the project's PHI NER (phi_ner.py): adds spans to the rules' answer, never removes one
        self.matcher = None
        self._sense_linker = None

    def setup(self, device: str, label_config: dict, params: dict | None = None, resources: dict | None = None):
        from annotators.notes import phi
        from annotators.notes.phi import get_default_detector

        if label_config.get("phi_labels") and phi._default_detector is None:
            log.info("loading the PHI models in this process (cold: the worker did not warm up before forking)")
        self.config = label_config
        self.store = (resources or {}).get("ontologies")
        self.phi = get_default_detector() if label_config.get("phi_labels") else None
        self.matcher = _matcher(label_config, self.store)
        self._sense_linker = abbrev_senses.store_linker(self.store, vocabularies.label_terminologies(label_config))
        if self.phi is not None:
            from annotators.notes.phi_ner import load_phi_ner

            self.phi_ner = load_phi_ner(params)
        blob = (params or {}).get("ner_model")
        if blob:
            from annotators.notes.ner import load_ner

            self.ner = load_ner(base64.b64decode(blob))
            if device == "cuda":
                log.info("spaCy NER runs on the CPU: no CUDA build of thinc is installed")

    def _link(self, spans: list[dict], long_forms: dict[str, str] | None = None) -> None:
        """Search candidates for each entity span; a defined abbreviation is looked up by its long form."""
        if self.store is None:
            return
        bound = vocabularies.loaded(self.config, self.store)
        for span in spans:
            terminologies = bound.get(span["label"], [])
            if not terminologies or span.get("layer") != "entity":
                continue
            if span.get("attributes", {}).get("source") == abbrev_senses.SOURCE:
                continue  # linked sense by sense: a search for "ED" would rank one sense first again
            try:
                found = self.store.candidates((long_forms or {}).get(span["id"], span["text"]), terminologies, k=5)
            except (ValueError, KeyError):
                continue
            if found:
                matched = span.get("concept")
                span["candidates"] = [{"terminology": c["terminology"], "code": c["code"], "name": c["name"],
                                       "score": _unit(c["score"])} for c in found]
                if matched and all((c["terminology"], c["code"]) != (matched["terminology"], matched["code"])
                                   for c in found):
                    span["candidates"].append({**matched, "score": 0.0})
                vocabularies.add_icd10cm_xrefs(self.store, span["candidates"])
                # The search ranks the code a coder would pick (billable leaf, "unspecified") above the phrase's
                # own concept, which is often a category.
                top = found[0]
                span["concept"] = {"terminology": top["terminology"], "code": top["code"], "name": top["name"]}
                span["score"] = _unit(found[0]["score"])

    def annotate(self, text: str) -> tuple[dict, str]:
        """Payload for one note and its de-identification state ('done' or 'failed': fail closed)."""
        from annotators.notes.phi import PhiError

        headings = detect_headings(text)
        problem = vocabularies.problem_label(self.config)
        entities = [s for s in self.matcher.match(text, id_prefix="t")
                    if not _is_heading(text, s, headings) and not _is_word_not_abbreviation(s)
                    and not _not_a_problem(text, s, problem)]
        if self.ner is not None:
            from annotators.notes.ner import predict_ner

            known = [(s["start"], s["end"]) for s in entities]
            for span in predict_ner(self.ner, [text], id_prefix="n")[0]:
                if not any(a < span["end"] and span["start"] < b for a, b in known):
                    entities.append(span)
        entities = entity_rules.split_induced(text, entities, self.matcher, problem)
        entities = entity_rules.adjust_medications(text, entities)
        sections = detect_sections(text)
        entities = entity_rules.drug_classes_in_use(text, entities, sections)
        if "MEDICATION" in vocabularies.label_terminologies(self.config):
            entities += entity_rules.compound_codes(text, entities)
        entities += _morphological_problems(text, entities, self.config)
        entities += entity_rules.named_syndromes(text, entities, problem)
        entities = entity_rules.extend_problems(text, entities, problem)
        defined, long_forms, drop = defined_abbreviations(text, entities)
        entities = [s for s in entities if s["id"] not in drop] + defined
        entities = abbrev_senses.disambiguate(text, entities, set(vocabularies.label_terminologies(self.config)), problem,
                                              sections, self._sense_linker)
        attributes, relations = _attribute_spans(text, entities)
        spans = entities + attributes
        assign_assertions(text, spans, sections)
        self._link(spans, long_forms)
        deid = "done"
        if self.phi is not None:
            try:
                spans += self.phi.detect(text, id_prefix="p")
            except PhiError:
                deid = "failed"
            else:
                deid = self._add_learnt_phi(text, spans)
        for span in spans:
            span.setdefault("score", 1.0 if span.get("attributes", {}).get("source") else 0.5)
        return {"spans": spans, "relations": relations}, deid

    def _add_learnt_phi(self, text: str, spans: list[dict]) -> str:
        """Spans of the project's PHI NER that the rules missed, appended to `spans`; 'failed' when the model fails
        (fail closed: the rules' spans stay, but the note is not marked de-identified)."""
        if self.phi_ner is None:
            return "done"
        from annotators.notes.phi_ner import add_phi_candidates

        try:
            spans += add_phi_candidates(self.phi_ner, text, [s for s in spans if s.get("layer") == "phi"])
        except Exception as exc:
            log.warning("PHI NER failed (%s); the note is not marked de-identified", type(exc).__name__)
            return "failed"
        return "done"

    def predict(self, items: Sequence[ItemView]) -> list[Prediction]:
        out = []
        for item in items:
            payload, deid = self.annotate(item.text or "")
            scores = [s["score"] for s in payload["spans"] if s.get("layer") == "entity"]
            out.append(Prediction(item_id=item.id, payload=payload, score=min(scores) if scores else 0.0,
                                  item_fields={"deid_state": deid}))
        return out
