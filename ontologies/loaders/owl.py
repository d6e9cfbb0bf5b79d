"""OWL ontologies in RDF/XML (the format OBO Foundry publishes as .owl), read with defusedxml's SAX parser.

Only named owl:Class elements are read: rdfs:label, oboInOwl synonyms (exact, related, narrow), skos labels,
rdfs:subClassOf with an rdf:resource (named superclasses; anonymous restrictions are ignored), owl:deprecated.
Other OWL serialisations (Turtle, OWL/XML, Manchester) are not supported. SAX keeps line numbers for errors and
keeps memory flat; defusedxml refuses entity expansion and external references.
"""
from __future__ import annotations

import io
import os
import xml.sax
from xml.sax.handler import ContentHandler, feature_namespaces

import defusedxml.sax
from defusedxml import DefusedXmlException

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressReader, ProgressTracker, single_path

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
OBO_IN_OWL = "http://www.geneontology.org/formats/oboInOwl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OBO_PURL = "http://purl.obolibrary.org/obo/"
DEFINITION = (OBO_PURL, "IAO_0000115")
SYNONYM_TAGS = {(OBO_IN_OWL, "hasExactSynonym"), (OBO_IN_OWL, "hasRelatedSynonym"),
                (OBO_IN_OWL, "hasNarrowSynonym"), (SKOS, "altLabel")}
LABEL_TAGS = {(RDFS, "label"), (SKOS, "prefLabel")}


def code_from_iri(iri: str) -> str:
    """OBO PURLs become CURIEs (http://purl.obolibrary.org/obo/HP_0000118 -> HP:0000118); others keep their
    fragment or last path segment."""
    if iri.startswith(OBO_PURL) and "_" in iri[len(OBO_PURL):]:
        prefix, _, local = iri[len(OBO_PURL):].partition("_")
        return f"{prefix}:{local}"
    return iri.rsplit("#", 1)[-1] if "#" in iri else iri.rstrip("/").rsplit("/", 1)[-1]


class _OwlHandler(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.locator = None
        self.classes: list[dict] = []
        self.ontology: dict[str, str] = {}
        self.depth = 0
        self.class_depth = -1
        self.current: dict | None = None
        self.text_target: tuple | None = None
        self.text: list[str] = []
        self.in_ontology_depth = -1

    def setDocumentLocator(self, locator) -> None:  # noqa: N802 (SAX API name)
        self.locator = locator

    def startElementNS(self, name, qname, attrs) -> None:  # noqa: N802
        self.depth += 1
        line = self.locator.getLineNumber() if self.locator else 0
        about = attrs.get((RDF, "about"))
        if name == (OWL, "Class") and about and self.current is None:
            self.current = {"iri": about, "line": line, "labels": [], "synonyms": [], "parents": [],
                            "deprecated": False, "id": None, "definition": None}
            self.class_depth = self.depth
        elif name == (OWL, "Ontology"):
            self.in_ontology_depth = self.depth
        elif self.current is not None and self.depth == self.class_depth + 1:
            if name == (RDFS, "subClassOf") and attrs.get((RDF, "resource")):
                self.current["parents"].append((attrs.get((RDF, "resource")), line))
            elif name in LABEL_TAGS or name in SYNONYM_TAGS or name in (
                    (OWL, "deprecated"), (OBO_IN_OWL, "id"), DEFINITION):
                self.text_target, self.text = name, []
        elif self.in_ontology_depth >= 0 and self.depth == self.in_ontology_depth + 1:
            resource = attrs.get((RDF, "resource"))
            if name[1] == "license" and resource:
                self.ontology["license"] = resource
            elif name in ((OWL, "versionInfo"),):
                self.text_target, self.text = name, []
            elif name == (OWL, "versionIRI") and resource:
                self.ontology.setdefault("version_iri", resource)

    def characters(self, content: str) -> None:
        if self.text_target is not None:
            self.text.append(content)

    def endElementNS(self, name, qname) -> None:  # noqa: N802
        if self.text_target is not None and name == self.text_target:
            value = "".join(self.text).strip()
            self._store(name, value)
            self.text_target = None
        if self.current is not None and self.depth == self.class_depth and name == (OWL, "Class"):
            self.classes.append(self.current)
            self.current = None
        if self.depth == self.in_ontology_depth:
            self.in_ontology_depth = -1
        self.depth -= 1

    def _store(self, name, value: str) -> None:
        if self.current is None:
            if name == (OWL, "versionInfo"):
                self.ontology["version"] = value
            return
        if name in LABEL_TAGS:
            self.current["labels"].append(value)
        elif name in SYNONYM_TAGS:
            self.current["synonyms"].append(value)
        elif name == (OWL, "deprecated"):
            self.current["deprecated"] = value.lower() == "true"
        elif name == (OBO_IN_OWL, "id"):
            self.current["id"] = value
        elif name == DEFINITION:
            self.current["definition"] = value


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         licence: str | None = None, source: str | None = None) -> Terminology:
    path = single_path(paths)
    if not os.path.isfile(path):
        raise OntologyLoadError("file not found", path)
    handler = _OwlHandler()
    parser = defusedxml.sax.make_parser()
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    try:
        with open(path, "rb") as handle:
            source_input = xml.sax.xmlreader.InputSource(os.path.basename(path))
            source_input.setByteStream(io.BufferedReader(ProgressReader(handle, tracker)))
            if encoding:
                source_input.setEncoding(encoding)
            parser.parse(source_input)
    except xml.sax.SAXParseException as exc:
        raise OntologyLoadError(f"malformed XML ({exc.getMessage()})", path, exc.getLineNumber()) from None
    except DefusedXmlException as exc:
        line = handler.locator.getLineNumber() if handler.locator else None
        raise OntologyLoadError(f"refused unsafe XML ({type(exc).__name__})", path, line) from None

    stem = os.path.splitext(os.path.basename(path))[0]
    builder = TerminologyBuilder(name or stem, version or handler.ontology.get("version") or _version_from_iri(
        handler.ontology.get("version_iri", "")), source or os.path.basename(path),
        licence or handler.ontology.get("license", "as stated by the file's publisher (user-supplied file)"))
    entries = _merge_by_iri(handler.classes)
    code_of = {iri: entry["id"] or code_from_iri(iri) for iri, entry in entries.items()}
    unlabelled = 0
    for iri, entry in entries.items():
        if entry["deprecated"]:
            continue
        if not entry["labels"]:
            # Bare declarations of classes from other ontologies (imports, cross-references) carry no label.
            unlabelled += 1
            continue
        attributes: dict = {"semantic_types": [], "iri": iri}
        if entry["definition"]:
            attributes["definition"] = entry["definition"]
        concept = builder.add(Concept(code=code_of[iri], name=entry["labels"][0],
                                      synonyms=entry["labels"][1:] + entry["synonyms"], attributes=attributes),
                              (path, entry["line"]))
        for parent_iri, line in entry["parents"]:
            if parent_iri != f"{OWL}Thing":
                builder.add_parent(concept.code, code_of.get(parent_iri, code_from_iri(parent_iri)), (path, line))
    if unlabelled:
        builder.warn(f"{unlabelled} class(es) without rdfs:label were skipped")
    return builder.build()


def _merge_by_iri(classes: list[dict]) -> dict[str, dict]:
    """OWL may state a class's axioms in several places; they describe one concept."""
    merged: dict[str, dict] = {}
    for entry in classes:
        first = merged.get(entry["iri"])
        if first is None:
            merged[entry["iri"]] = entry
            continue
        for key in ("labels", "synonyms", "parents"):
            first[key].extend(entry[key])
        first["deprecated"] = first["deprecated"] or entry["deprecated"]
        first["id"] = first["id"] or entry["id"]
        first["definition"] = first["definition"] or entry["definition"]
    return merged


def _version_from_iri(iri: str) -> str:
    parts = [part for part in iri.split("/") if part]
    dated = [part for part in parts if part[:4].isdigit()]
    return dated[-1] if dated else "unversioned"
