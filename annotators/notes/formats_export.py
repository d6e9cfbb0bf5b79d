"""Writers for annotated notes. Each takes (item, payload) pairs, the label config and a binary file object.

Formats: our JSONL, spaCy DocBin, brat standoff (zip), CoNLL-2003 BIO (formats_export_conll), BioC XML, Label
Studio JSON, and de-identified text (zip); the peers' PubTator, WebAnno TSV3, IOB2/BIOES, doccano, Prodigy and
MedCATtrainer formats are written by formats_export_peers and formats_export_webanno. `pairs` is an iterable the
server streams from the database: writers go through it once and write as they go. The de-identified export runs
PHI detection again on every note and adds the annotators' PHI spans; a note whose detection fails is left out
(fail closed) and listed by id in the zip's manifest.json.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from typing import Any, BinaryIO, Callable, Iterable
from xml.sax.saxutils import escape

from annotators.base import Exporter

from .formats_import import index_to_utf16
from .phi import PhiError, deidentify
from .schema import ASSERTIONS

Pairs = Iterable[tuple[Any, "dict | None"]]
_EMPTY = {"spans": [], "relations": []}
_JSON = json.JSONEncoder(ensure_ascii=False)
_LINES_PER_WRITE = 256
_tokenizer_nlp = None


def _nlp():
    """A blank English pipeline with a sentencizer: tokenisation for DocBin and CoNLL, loaded on first use."""
    global _tokenizer_nlp
    if _tokenizer_nlp is None:
        import spacy

        _tokenizer_nlp = spacy.blank("en")
        _tokenizer_nlp.add_pipe("sentencizer")
    return _tokenizer_nlp


def _entity_spans(payload: dict | None) -> list[dict]:
    return [s for s in (payload or _EMPTY)["spans"] if s.get("layer", "entity") == "entity"]


def _non_overlapping(spans: list[dict]) -> list[dict]:
    """Spans that overlap no other span."""
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"]))
    return [s for s in ordered if not any(o is not s and o["start"] < s["end"] and s["start"] < o["end"]
                                          for o in ordered)]


# ------------------------------------------------------------------------------------------------------- JSONL
def write_jsonl(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """A line per note: the bytes of json.dumps({"id", "text", "meta", "payload", "provenance"},
    ensure_ascii=False). A payload may come as the JSON text json.dumps gave it (the server streams it as stored:
    accepts_json_text below); it is then written as it is, not decoded and encoded again."""
    # One encoder for the whole export (json.dumps with an option builds one per call), one write per batch of
    # lines.
    encode, lines = _JSON.encode, []
    for item, payload in pairs:
        head = encode({"id": item.id, "text": item.text, "meta": item.meta})[:-1]
        body = payload if isinstance(payload, str) else encode(payload or _EMPTY)
        lines.append(f'{head}, "payload": {body}, "provenance": {encode(_provenance(item))}}}')
        if len(lines) == _LINES_PER_WRITE:
            out.write(("\n".join(lines) + "\n").encode("utf-8"))
            lines = []
    if lines:
        out.write(("\n".join(lines) + "\n").encode("utf-8"))


write_jsonl.accepts_json_text = True  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ spaCy DocBin
def write_docbin(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """Entity layer in doc.spans["sc"] (all spans, overlaps allowed) and doc.ents (the spans overlapping no other);
    PHI layer in doc.spans["phi"]. Concepts ride in kb_id ("terminology:code"), our span ids in span.id, and
    assertions in doc.user_data["clinlabel_assertions"] keyed by span id."""
    from spacy.tokens import DocBin, Span
    from spacy.util import filter_spans

    docbin = DocBin(store_user_data=True)
    for item, payload in pairs:
        doc = _nlp().make_doc(item.text or "")

        def to_span(s: dict) -> Span | None:
            concept = s.get("concept") or {}
            kb_id = f"{concept['terminology']}:{concept['code']}" if concept else ""
            aligned = doc.char_span(s["start"], s["end"], alignment_mode="expand")
            if aligned is None or not len(aligned):
                return None
            return Span(doc, aligned.start, aligned.end, label=s["label"], kb_id=kb_id, span_id=s["id"])

        entities = _entity_spans(payload)
        doc.spans["sc"] = [span for span in map(to_span, entities) if span is not None]
        doc.spans["phi"] = [span for span in map(to_span, [s for s in (payload or _EMPTY)["spans"]
                                                          if s.get("layer") == "phi"]) if span is not None]
        ents = [span for span in map(to_span, _non_overlapping(entities)) if span is not None]
        doc.ents = filter_spans(ents)  # snapping to tokens can make neighbours overlap; keep doc.ents valid
        doc.user_data["clinlabel_item_id"] = item.id
        doc.user_data["clinlabel_provenance"] = _provenance(item)
        doc.user_data["clinlabel_assertions"] = {s["id"]: s["assertion"] for s in entities if "assertion" in s}
        docbin.add(doc)
    out.write(docbin.to_bytes())


# --------------------------------------------------------------------------------------------------------- brat
def _brat_fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """brat cannot show a span across a line break: split it into per-line fragments."""
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"[^\n\r]+", text[start:end])]


def _span_fragments(span: dict) -> list[tuple[int, int]]:
    """A discontinuous span's fragments ("0 5;10 15" in attributes, as the readers keep them), else its extent."""
    raw = (span.get("attributes") or {}).get("fragments", "")
    try:
        pieces = [tuple(int(x) for x in part.split()) for part in raw.split(";")] if raw else []
    except ValueError:
        pieces = []
    if pieces and all(len(p) == 2 and span["start"] <= p[0] < p[1] <= span["end"] for p in pieces):
        return pieces
    return [(span["start"], span["end"])]


def _brat_name(value: str) -> str:
    return re.sub(r"\s+", "_", value.strip()) or "_"


def brat_ann(text: str, payload: dict | None) -> str:
    lines, tid = [], {}
    counters = {"A": 0, "N": 0, "#": 0}

    def add(kind: str, body: str) -> None:
        counters[kind] += 1
        lines.append(f"{kind}{counters[kind]}\t{body}")

    for span in sorted((payload or _EMPTY)["spans"], key=lambda s: (s["start"], s["end"])):
        fragments = [piece for s, e in _span_fragments(span) for piece in _brat_fragments(text, s, e)]
        if not fragments:
            continue
        tid[span["id"]] = ref = f"T{len(tid) + 1}"
        ranges = ";".join(f"{s} {e}" for s, e in fragments)
        lines.append(f"{ref}\t{_brat_name(span['label'])} {ranges}\t{' '.join(text[s:e] for s, e in fragments)}")
        if span.get("assertion"):
            add("A", f"Assertion {ref} {span['assertion']}")
        for concept in ([span["concept"]] if span.get("concept") else []) + list(span.get("candidates") or []):
            add("N", f"Reference {ref} {_brat_name(concept['terminology'])}:{_brat_name(concept['code'])}\t"
                     f"{' '.join(concept.get('name', '').split())}")
        for key, value in sorted((span.get("attributes") or {}).items()):
            if key == "note":
                add("#", f"AnnotatorNotes {ref}\t{' '.join(value.split())}")
            elif key != "fragments":
                add("A", f"{_brat_name(key)} {ref} {_brat_name(value)}")
    for number, relation in enumerate((payload or _EMPTY).get("relations", []), start=1):
        if relation["head"] in tid and relation["tail"] in tid:
            lines.append(f"R{number}\t{_brat_name(relation['type'])} Arg1:{tid[relation['head']]} "
                         f"Arg2:{tid[relation['tail']]}")
    return "\n".join(lines) + ("\n" if lines else "")


def brat_used(payload: dict | None, used: dict) -> None:
    """Collect what an .ann file uses (labels, relation argument types, attribute values), so that the exported
    annotation.conf declares all of it: brat's verifier flags every annotation whose type or attribute is not
    declared, and an import may bring labels or attributes the project's configuration does not list."""
    spans = {s["id"]: s for s in (payload or _EMPTY)["spans"]}
    for span in spans.values():
        used["labels"].add(_brat_name(span["label"]))
        if span.get("assertion"):
            used["attributes"].setdefault("Assertion", set()).add(_brat_name(span["assertion"]))
        for key, value in (span.get("attributes") or {}).items():
            if key not in ("note", "fragments"):
                used["attributes"].setdefault(_brat_name(key), set()).add(_brat_name(value))
    for relation in (payload or _EMPTY).get("relations", []):
        head, tail = spans.get(relation["head"]), spans.get(relation["tail"])
        if head and tail:
            used["relations"].setdefault(_brat_name(relation["type"]), set()).add(
                (_brat_name(head["label"]), _brat_name(tail["label"])))


def new_brat_usage() -> dict:
    return {"labels": set(), "relations": {}, "attributes": {}}


def brat_conf(config: dict, used: dict | None = None) -> str:
    """The project's labels, relation types and attribute values, plus whatever the exported files use besides."""
    used = used or new_brat_usage()
    entities = [_brat_name(label["name"]) for label in config.get("entity_labels", [])]
    entities += [_brat_name(label) for label in config.get("phi_labels", [])]
    entities += sorted(used["labels"] - set(entities))
    arguments: dict[str, tuple[list, list]] = {}
    for rule in config.get("relation_types", []):
        heads, tails = arguments.setdefault(_brat_name(rule["name"]), ([], []))
        heads += [_brat_name(h) for h in rule["head"] if _brat_name(h) not in heads]
        tails += [_brat_name(t) for t in rule["tail"] if _brat_name(t) not in tails]
    for name, pairs in sorted(used["relations"].items()):
        heads, tails = arguments.setdefault(name, ([], []))
        heads += sorted({h for h, _ in pairs} - set(heads))
        tails += sorted({t for _, t in pairs} - set(tails))
    relations = [f"{name}\tArg1:{'|'.join(heads)}, Arg2:{'|'.join(tails)}" for name, (heads, tails) in arguments.items()]
    values = {"Assertion": [_brat_name(a) for a in config.get("assertions", ASSERTIONS)]}
    for name, seen in sorted(used["attributes"].items()):
        values.setdefault(name, [])
        values[name] += sorted(seen - set(values[name]))
    attributes = [f"{name}\tArg:<ENTITY>, Value:{'|'.join(vals)}" for name, vals in values.items() if vals]
    return ("[entities]\n" + "\n".join(entities) + "\n[relations]\n" + "\n".join(relations) +
            "\n<OVERLAP>\tArg1:<ENTITY>, Arg2:<ENTITY>, <OVL-TYPE>:<ANY>\n[events]\n[attributes]\n" +
            "\n".join(attributes) + "\n")


def write_brat(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    used = new_brat_usage()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item, payload in pairs:
            text = item.text or ""
            archive.writestr(f"{item.id}.txt", text.encode("utf-8"))
            archive.writestr(f"{item.id}.ann", brat_ann(text, payload).encode("utf-8"))
            brat_used(payload, used)
        archive.writestr("annotation.conf", brat_conf(config, used))  # last: it declares what the files used


# -------------------------------------------------------------------------------------------------------- BioC
def write_bioc(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """One document per note, one passage at offset 0. CR is written as a character reference, because XML parsers
    turn a literal CR into LF and every offset after it would drift; form feeds (not allowed in XML 1.0) become
    spaces, which keeps offsets."""
    def infon(key: str, value: str) -> str:
        return f'<infon key="{escape(key, {chr(34): "&quot;"})}">{_xml_text(value)}</infon>'

    out.write(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<collection>"
              b"<source>Clinlabel</source><date>" + dt.date.today().isoformat().encode() +
              b"</date><key>clinlabel_notes.key</key>\n")
    for item, payload in pairs:
        text = item.text or ""
        origin = _provenance(item)
        provenance = "".join(infon(f"clinlabel_{k}", str(v)) for k, v in sorted(origin.items()) if v is not None)
        parts = [f"<document><id>{item.id}</id>{provenance}<passage><offset>0</offset><text>{_xml_text(text)}</text>"]
        for span in (payload or _EMPTY)["spans"]:
            infons = [infon("type", span["label"]), infon("layer", span.get("layer", "entity"))]
            if span.get("assertion"):
                infons.append(infon("assertion", span["assertion"]))
            if span.get("concept"):
                concept = span["concept"]
                infons += [infon("concept_terminology", concept["terminology"]), infon("concept_code", concept["code"]),
                           infon("concept_name", concept.get("name", "")),
                           # the concept, then its candidates: "MeSH:D003920|MeSH:D003924" as BioC corpora list ids
                           infon("identifier", "|".join(f"{c['terminology']}:{c['code']}" for c in
                                                        [concept, *(span.get("candidates") or [])]))]
            infons += [infon(k, v) for k, v in sorted((span.get("attributes") or {}).items())]
            parts.append(f'<annotation id="{escape(span["id"])}">{"".join(infons)}'
                         f'<location offset="{span["start"]}" length="{span["end"] - span["start"]}"/>'
                         f"<text>{_xml_text(text[span['start']:span['end']])}</text></annotation>")
        for relation in (payload or _EMPTY).get("relations", []):
            parts.append(f'<relation id="{escape(relation["id"])}">{infon("type", relation["type"])}'
                         f'<node refid="{escape(relation["head"])}" role="head"/>'
                         f'<node refid="{escape(relation["tail"])}" role="tail"/></relation>')
        parts.append("</passage></document>\n")
        out.write("".join(parts).encode("utf-8"))
    out.write(b"</collection>\n")


def _xml_text(value: str) -> str:
    return escape(value.replace("\f", " ")).replace("\r", "&#13;")


# ------------------------------------------------------------------------------------------------ Label Studio
def label_studio_config(config: dict) -> str:
    """A Label Studio labeling config matching the exported tasks (from_names label, phi, assertion, concept, note,
    attributes)."""
    def labels(names: Iterable[str]) -> str:
        return "".join(f'<Label value="{escape(n, {chr(34): "&quot;"})}"/>' for n in names)

    relation_names = "".join(f'<Relation value="{escape(r["name"])}"/>' for r in config.get("relation_types", []))
    choices = "".join(f'<Choice value="{a}"/>' for a in config.get("assertions", ASSERTIONS))
    return ('<View><Labels name="label" toName="text">'
            f'{labels(label["name"] for label in config.get("entity_labels", []))}</Labels>'
            f'<Labels name="phi" toName="text">{labels(config.get("phi_labels", []))}</Labels>'
            f'<Relations>{relation_names}</Relations>'
            f'<Choices name="assertion" toName="text" perRegion="true">{choices}</Choices>'
            '<TextArea name="concept" toName="text" perRegion="true"/>'
            '<TextArea name="note" toName="text" perRegion="true"/>'
            '<TextArea name="attributes" toName="text" perRegion="true"/>'
            '<Text name="text" value="$text"/></View>')


def write_label_studio(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """Tasks importable by Label Studio: data.text + annotations[].result; offsets in UTF-16 code units. The JSON
    array is written task by task (the bytes json.dumps(tasks, ensure_ascii=False) gives, without the list)."""
    out.write(b"[")
    for number, (item, payload) in enumerate(pairs):
        text = item.text or ""
        provenance = _provenance(item)
        from_model = provenance.get("origin") in ("model", "import")
        origin = "prediction" if from_model else "manual"
        result = []
        for span in (payload or _EMPTY)["spans"]:
            start, end = index_to_utf16(text, span["start"]), index_to_utf16(text, span["end"])
            region = {"start": start, "end": end, "text": text[span["start"]:span["end"]]}
            result.append({"id": span["id"], "from_name": "phi" if span.get("layer") == "phi" else "label",
                           "to_name": "text", "type": "labels", "origin": origin,
                           "value": {**region, "labels": [span["label"]]}})
            if span.get("assertion"):
                result.append({"id": span["id"], "from_name": "assertion", "to_name": "text", "type": "choices",
                               "value": {**region, "choices": [span["assertion"]]}})
            concepts = ([span["concept"]] if span.get("concept") else []) + list(span.get("candidates") or [])
            if concepts:  # "terminology:code name" per line (candidates after the concept), read back by our reader
                lines = [f"{c['terminology']}:{c['code']} {' '.join(c.get('name', '').split())}".strip() for c in concepts]
                result.append({"id": span["id"], "from_name": "concept", "to_name": "text", "type": "textarea",
                               "value": {**region, "text": lines}})
            attributes = dict(span.get("attributes") or {})
            if "note" in attributes:
                result.append({"id": span["id"], "from_name": "note", "to_name": "text", "type": "textarea",
                               "value": {**region, "text": [attributes.pop("note")]}})
            if attributes:  # one "name=value" line each (fragments of a discontinuous span included)
                result.append({"id": span["id"], "from_name": "attributes", "to_name": "text", "type": "textarea",
                               "value": {**region, "text": [f"{k}={' '.join(str(v).split())}"
                                                            for k, v in sorted(attributes.items())]}})
        for relation in (payload or _EMPTY).get("relations", []):
            result.append({"from_id": relation["head"], "to_id": relation["tail"], "type": "relation",
                           "direction": "right", "labels": [relation["type"]]})
        task = {"data": {"text": text, "clinlabel_item_id": item.id}, "annotations": [], "predictions": []}
        if payload and from_model:  # a model draft nobody reviewed is a prediction in Label Studio, not an annotation
            task["predictions"].append({"model_version": provenance.get("model_version") or "unknown",
                                        "result": result})
        elif payload:
            task["annotations"].append({"result": result, "ground_truth": bool(provenance.get("gold")),
                                        "meta": {"clinlabel_provenance": provenance}})
        out.write(((", " if number else "") + _JSON.encode(task)).encode("utf-8"))
    out.write(b"]")


# ---------------------------------------------------------------------------------------- de-identified text
_HUMAN_ORIGINS = ("human", "reviewer", "consensus")


def _provenance(item) -> dict:
    """Provenance the export job put on the item view; an item with none is treated as unreviewed model output."""
    return getattr(item, "provenance", None) or {"origin": "model", "reviewed": False}

def make_deid_writer(mode: str, detector_factory: Callable | None = None) -> Callable:
    def write(pairs: Pairs, config: dict, out: BinaryIO) -> None:
        from .phi import get_default_detector

        detector = None
        exported, failed, by_people, by_model = [], [], [], []
        seed = config.get("surrogate_seed", 0)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item, payload in pairs:
                text = item.text or ""
                annotated = [s for s in (payload or _EMPTY)["spans"] if s.get("layer") == "phi"]
                if _provenance(item).get("origin") in _HUMAN_ORIGINS:
                    # People decided the PHI layer: what they rejected stays, what they added is masked.
                    phi = annotated
                    by_people.append(item.id)
                else:
                    detector = detector or (detector_factory or get_default_detector)()
                    try:
                        phi = detector.detect(text) + annotated
                    except PhiError:
                        failed.append(item.id)  # fail closed: never export a note we could not check
                        continue
                    by_model.append(item.id)
                clean = deidentify(text, phi, mode=mode, seed=f"{seed}:{item.id}")
                archive.writestr(f"{item.id}.txt", clean.encode("utf-8"))
                exported.append(item.id)
            archive.writestr("manifest.json", json.dumps(
                {"mode": mode, "exported": exported, "failed_phi_detection": failed,
                 "phi_from_people": by_people, "phi_from_model_no_human_review": by_model,
                 "note": "Items under phi_from_model_no_human_review were masked by the model's PHI detection "
                         "only: no person checked them."}, indent=1))
    return write


def exporters(detector_factory: Callable | None = None) -> dict[str, Exporter]:
    from .formats_export_conll import write_conll
    from .formats_export_peers import make_iob_writer, write_doccano, write_medcat, write_prodigy, write_pubtator
    from .formats_export_webanno import write_webanno

    return {
        "jsonl": Exporter("jsonl", ".jsonl", "application/x-ndjson", write_jsonl),
        "spacy": Exporter("spacy", ".spacy", "application/octet-stream", write_docbin),
        "brat": Exporter("brat", ".zip", "application/zip", write_brat),
        "conll": Exporter("conll", ".conll", "text/plain; charset=utf-8", write_conll),
        "bioc": Exporter("bioc", ".xml", "application/xml", write_bioc),
        "label_studio": Exporter("label_studio", ".json", "application/json", write_label_studio),
        # peers' formats (formats_export_peers / formats_export_webanno; what each cannot carry: CANNOT_CARRY)
        "pubtator": Exporter("pubtator", ".pubtator", "text/plain; charset=utf-8", write_pubtator),
        "webanno": Exporter("webanno", ".zip", "application/zip", write_webanno),
        "iob2": Exporter("iob2", ".conll", "text/plain; charset=utf-8", make_iob_writer("iob2")),
        "bioes": Exporter("bioes", ".conll", "text/plain; charset=utf-8", make_iob_writer("bioes")),
        "doccano": Exporter("doccano", ".jsonl", "application/x-ndjson", write_doccano),
        "prodigy": Exporter("prodigy", ".jsonl", "application/x-ndjson", write_prodigy),
        "medcat": Exporter("medcat", ".json", "application/json", write_medcat),
        "deid_mask": Exporter("deid_mask", ".zip", "application/zip", make_deid_writer("mask", detector_factory)),
        "deid_surrogate": Exporter("deid_surrogate", ".zip", "application/zip",
                                   make_deid_writer("surrogate", detector_factory)),
    }
