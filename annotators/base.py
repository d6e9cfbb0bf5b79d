"""The modality contract and the registry of modalities.

A modality (labels, notes, consult, surgical, or a third-party package) is one object that tells the server how to
validate and ingest items of its kind, which label configurations and annotation payloads are valid, how to import
and export annotations, how to pre-annotate, and how to measure agreement. The server never branches on a modality's
name: everything it needs goes through this contract.

Third-party modalities register through the entry-point group ``clinlabel.annotators``; each entry point names a
zero-argument callable (or a Modality instance) returning the Modality.
"""
from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

from annotators.agreement import AgreementReport, MetricSpec  # noqa: F401  (part of the contract)
from annotators.media import Derivative, MediaInfo, Report  # noqa: F401  (part of the contract)
from annotators.validation import validate as _validate


# Text formats are read into memory to be parsed; a bigger file is refused with a message, not an out-of-memory.
TEXT_FILE_LIMIT = 300 * 1024 * 1024
# Records (lines, rows, entries) one file may hold, in every importer: a 10^6-line file is refused, not parsed
# into gigabytes of objects. Larger corpora are split into several files.
MAX_RECORDS_PER_FILE = 100_000


class ItemRejected(ValueError):
    """An uploaded item is not valid for the modality; the message names the problem (never its content)."""


class FormatError(ValueError):
    """An import file is malformed; the message names the file part (line, record) that is wrong."""


class DocumentErrors(FormatError):
    """Some documents of a multi-document file (JSONL lines, PubTator blocks...) are bad. The file is refused as a
    whole (the message names the first problem and how many there are) unless the importer asked to keep the valid
    documents: then `items` are imported and `errors` (each naming line or document and the problem) reported."""

    def __init__(self, name: str, items: list, errors: list[str]):
        more = f" (and {len(errors) - 1} more problem(s) in this file)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.name, self.items, self.errors = name, items, errors


@dataclass
class ItemInput:
    """One candidate item as uploaded: a file or a JSON record. A file arrives as `path` (spooled to disk by the
    server; media modalities read or probe it there, never whole into memory) or, for small in-process inputs
    (demos, tests), as `data` bytes. `read()` gives the bytes either way, for text formats."""

    name: str
    data: bytes | None = None
    record: dict | None = None
    content_type: str | None = None
    path: str | None = None
    size: int | None = None
    # Files uploaded with this one under the same base name whose extension is in the modality's
    # `sidecar_extensions` (an existing transcript next to its audio): the modality turns them into imported drafts.
    sidecars: list["ItemInput"] = field(default_factory=list)

    def read(self, limit: int | None = None) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            return b""
        # os-level calls, not open(): a server-side import reads thousands of small files, and the io layer's
        # buffered file object was about half of each read's cost.
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size  # of the file opened: no second lookup of the path
            if limit is not None and size > limit:
                raise ItemRejected(f"{self.name or 'file'}: {size} bytes is too large for a text item (limit {limit})")
            chunks = [os.read(fd, size + 1)]
            while chunks[-1]:  # on to the end, as read() did, should the file have grown since fstat
                chunks.append(os.read(fd, 65536))
            return b"".join(chunks)
        finally:
            os.close(fd)


@dataclass
class IngestedItem:
    """What a modality makes of one valid input: text or media bytes, plus metadata (no PHI in `meta` keys)."""

    kind: str
    text: str | None = None
    media: bytes | None = None
    media_path: str | None = None  # the upload's file: stored content-addressed by streaming, not read whole
    media_type: str | None = None
    # Keep the file where it is (server-side import "in place"): only its hash is stored, no copy is made.
    reference: bool = False
    meta: dict = field(default_factory=dict)
    name: str = ""
    # Annotations that came with the item (e.g. brat .ann, Label Studio results); stored as imported drafts.
    annotations: list[dict] = field(default_factory=list)
    # The reader already checked `annotations` against the payload schema (offsets, ids, types): storing them then
    # checks only what depends on the project (its labels), not the schema a second time.
    schema_checked: bool = False
    # The SHA-256 of `text` when already known (the server computes it while parsing, before any lock is taken);
    # None: the server computes it when storing. Media items are hashed by storage, as they are copied.
    content_hash: str | None = None


@dataclass
class ItemView:
    """The read-only view of a stored item that modalities receive (never an ORM object)."""

    id: int
    kind: str
    text: str | None = None
    meta: dict = field(default_factory=dict)
    name: str = ""  # the uploaded file's original name (metadata: exports may name their files after it)
    # A local path of the media file. On shared S3 storage it is filled only where the server fetched the file into
    # the worker's cache (derive and preannotate jobs); elsewhere it may be None.
    media_path: str | None = None
    media: MediaInfo | None = None  # measured by the server's sandboxed probe (modalities with `probe_media`)
    assets: dict[str, str] = field(default_factory=dict)  # derived asset name -> local path (same rule as media_path)
    # Exports only: who stands behind the payload exported with this item ({"origin": "human" | "reviewer" |
    # "consensus" | "model" | "import", "gold", "reviewed", "by" or "model_version"}).
    provenance: dict | None = None


@dataclass
class Prediction:
    """A pre-annotator's output for one item."""

    item_id: int
    payload: dict
    score: float | None = None
    # Item fields a pre-annotator may set: "deid_state" ("done" | "failed": PHI detection ran, or failed and the
    # item must never be exported as de-identified) and "meta" (merged into the item's metadata; no PHI).
    item_fields: dict = field(default_factory=dict)


ITEM_FIELDS = {"deid_state": ("done", "failed"), "meta": dict}


class PreAnnotator(Protocol):
    """A model that drafts annotations. `setup` loads weights (never at import time).

    The server keeps set-up pre-annotators per worker process, keyed by modality, name, version, device, label
    configuration and trained parameters: a second job with the same key reuses the loaded model instead of calling
    `setup` again. `predict(items, report)` may take a second argument, a `Report` (annotators/media.py): it reports
    progress in items or media seconds, notices cancellation inside a long item, and checkpoints partial results
    (`report.checkpoint` / `report.resume`) so a worker lost an hour into a file resumes there. A `predict(items)`
    of one argument is called as before and progress is counted per batch.
    """

    name: str
    version: str
    wants_gpu: bool
    batch_size: int  # items per predict() call (optional; 64 when absent)

    def available(self) -> tuple[bool, str]:
        """(True, "") when its models and packages are installed; else (False, what is missing). Optional."""

    def setup(self, device: str, label_config: dict, params: dict | None = None,
              resources: dict | None = None) -> None:
        """Load models. `params`: the active trained version's parameters; `resources`: shared services such as
        {"ontologies": OntologyStore}."""

    def predict(self, items: Sequence[Any], report: Report | None = None) -> list[Prediction]: ...


@dataclass
class Exporter:
    name: str
    extension: str
    media_type: str
    write: Callable[[Iterable[tuple[Any, dict | None]], dict, Any], None]
    """write(pairs of (item, gold-or-latest payload), label_config, binary file object)."""
    assets: tuple[str, ...] = ()  # derived assets the writer reads (filled into each item's `assets` as local paths)
    # A per-item media step the export job runs in the media sandbox before the writer sees the item (a video
    # re-encoded with faces blurred): a module-level function prepare(view, out_dir, label_config) -> {"file", ...}
    # like Derivative.make. Its file's path is in view.assets[name] (the exporter's name) while the writer holds
    # the item, and is deleted when the writer takes the next one; a failure leaves view.meta["prepare_error"].
    prepare: Callable[[Any, str, dict], dict] | None = None


@dataclass
class Importer:
    name: str
    extensions: tuple[str, ...]
    read: Callable[[ItemInput, dict], list[IngestedItem]]
    """read(one uploaded file, label_config) -> items (a file may hold many)."""


class Modality(ABC):
    """Base class of every modality. Subclasses set the class attributes and override the methods."""

    name: str = ""
    title: str = ""
    description: str = ""
    item_kinds: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()  # file extensions (with the dot) accepted on upload
    label_config_schema: dict = {}
    payload_schema: dict = {}
    default_label_config: dict = {}
    # ES module under static/ (relative path) following the UI-module contract in static/js/modalities/README.md:
    # mount(el, {item, payload, readOnly, mediaUrl, assets}) -> {value(), destroy()}, keys scoped to `el`.
    ui_module: str = ""
    ui_template: str = ""  # Jinja template under templates/
    fit_wants_gpu: bool = False  # `fit` is routed to a GPU worker when one is live
    # Media items are probed by the server in a sandboxed child (PyAV): `ItemView.media` holds the MediaInfo, the
    # item stays "processing" until the probe and `derivatives()` succeed, and `check_media` may refuse the file.
    probe_media: bool = False
    # Extensions of annotation files that travel next to a media file with the same base name (transcripts,
    # phase annotations). Uploaded together, they are attached to it (ItemInput.sidecars) instead of being items.
    sidecar_extensions: tuple[str, ...] = ()
    # Metrics `agree` reports (keys of its result), with their direction and range, for dashboards and checks.
    metric_specs: tuple[MetricSpec, ...] = (MetricSpec("agreement", description="the value workflow thresholds use"),)

    def available(self) -> tuple[bool, str]:
        """(True, "") when everything the modality needs is installed; else (False, what is missing). A modality
        that is not available is listed with the reason and cannot be chosen for a new project."""
        return True, ""

    # -- items ---------------------------------------------------------------------------------------------------
    def ingest(self, item: ItemInput, label_config: dict) -> list[IngestedItem]:
        """Validate and turn one upload into items. Raise ItemRejected with a reason naming the problem."""
        raise ItemRejected(f"modality {self.name!r} cannot ingest files")

    def check_media(self, info: MediaInfo, label_config: dict) -> None:
        """Refuse probed media the modality cannot use (a video with no audio track for transcription, ...): raise
        ItemRejected; the item becomes "invalid" with the message as its reason."""

    def derivatives(self) -> list[Derivative]:
        """Files to derive from each media item after ingest (waveform peaks, frame index, browser proxy,
        thumbnails). A generic `derive` job runs them (sandboxed) and stores them as the item's assets."""
        return []

    def project_derivatives(self, label_config: dict) -> list[Derivative]:
        """The derivatives for a project's items: `derivatives()` unless the project's settings change one (a
        proxy with faces blurred). Give a changed derivative its own version, so a setting's change rebuilds it."""
        return self.derivatives()

    def original_hidden(self, label_config: dict) -> bool:
        """True where a project's annotators and reviewers get derived assets only, never the uploaded file
        (its proxy has faces masked): the media route refuses them the original."""
        return False

    # -- configuration and payloads ------------------------------------------------------------------------------
    def validate_label_config(self, config: dict) -> dict:
        _validate(config, self.label_config_schema, "label_config")
        return config

    def validate_payload(self, payload: dict, label_config: dict) -> dict:
        _validate(payload, self.payload_schema, "payload")
        self.check_payload_semantics(payload, label_config)
        return payload

    def check_payload_semantics(self, payload: dict, label_config: dict) -> None:
        """Checks JSON Schema cannot express (labels exist in the config, offsets inside the text...)."""

    # -- import / export -----------------------------------------------------------------------------------------
    def importers(self) -> dict[str, Importer]:
        return {}

    def map_import_labels(self, payloads: list[dict], label_config: dict, plan: dict,
                          may_add: bool) -> tuple[dict | None, dict] | None:
        """Labels of imported payloads the project lacks: rewrite `payloads` in place by `plan` (map, add, drop;
        see annotators/notes/label_mapping.py) and return (extended label config or None, report). None: the
        modality does not map labels (its imported payloads are validated as they are)."""
        return None

    def exporters(self) -> dict[str, Exporter]:
        return {}

    # -- models --------------------------------------------------------------------------------------------------
    def preannotators(self, label_config: dict) -> list[PreAnnotator]:
        return []

    def warm_up(self, resources: dict) -> None:
        """Load what every pre-annotation of this modality needs, once, in the worker's main process before its pool
        forks: the pool processes then share those pages (copy-on-write) and the first job of a fresh upload starts
        warm. Only process-wide caches belong here (no database connections, no CUDA: the children fork after)."""

    fit_assets: tuple[str, ...] = ()  # derived assets `fit` reads (local paths in each item's `assets`)

    def fit(self, accepted: Sequence[tuple[Any, dict]], label_config: dict, previous: dict | None) -> dict | None:
        """Train from accepted (item, payload) pairs; return new model parameters (JSON) or None if not trainable."""
        return None

    # -- agreement -----------------------------------------------------------------------------------------------
    @abstractmethod
    def agree(self, a: dict, b: dict, item: Any, label_config: dict) -> dict[str, float]:
        """Pairwise agreement between two payloads of one item: named metrics, higher is better.

        The key "agreement" (in [0, 1]) is the one the workflow compares with its thresholds. Time-based modalities
        may add error rates (WER, DER) under their own names; those are lower-is-better and say so in the name.
        """

    @abstractmethod
    def agree_many(self, annotations: Sequence[tuple[Any, str, dict]], label_config: dict) -> dict[str, Any]:
        """Project-level agreement over (item, annotator, payload) triples: named metrics, per label where useful."""

    @abstractmethod
    def merge(self, payloads: Sequence[dict], item: Any, label_config: dict) -> dict:
        """Auto-consensus: one payload from several that agree."""

    def limit_suggestions(self, payload: dict, limit: int) -> tuple[dict, int]:
        """At most `limit` units of a model draft, the most confident kept: (payload, units dropped). A draft of
        50,000 suggestions is not reviewable by a person; the annotator is told what was left out."""
        return payload, 0

    # Layers auto-consensus checks separately: layer name -> key of `agree`'s result. Every layer must reach the
    # workflow's threshold (a per-layer threshold where the project sets one) before versions merge unattended.
    consensus_layers: dict[str, str] = {"overall": "agreement"}

    def merge_conflicts(self, payloads: Sequence[dict], item: Any, label_config: dict) -> list[dict]:
        """What `merge` could not decide by a strict majority (ties): each a dict naming the unit. Auto-consensus
        happens only when this is empty. The default is conservative: no conflict only when a strict majority of
        versions are identical."""
        canon = [_canonical(p) for p in payloads]
        best = max((canon.count(c) for c in canon), default=0)
        return [] if 2 * best > len(canon) else [{"kind": "versions_differ"}]

    def curation_units(self, payloads: Sequence[dict], item: Any, label_config: dict) -> list[dict]:
        """Units a reviewer curates one by one ({id, options: [{versions: [indexes], ...}], default, agreed}).
        The default offers each distinct whole version as one option."""
        options: dict[str, dict] = {}
        for index, payload in enumerate(payloads):
            options.setdefault(_canonical(payload), {"versions": [], "payload": payload})["versions"].append(index)
        majority = [i for i, o in enumerate(options.values()) if 2 * len(o["versions"]) > len(payloads)]
        return [{"id": "whole", "options": list(options.values()), "agreed": len(options) == 1,
                 "default": majority[0] if majority else None}]

    def curate(self, payloads: Sequence[dict], choices: dict, item: Any, label_config: dict) -> dict:
        """The payload assembled from the reviewer's choices ({unit id: option index})."""
        unit = self.curation_units(payloads, item, label_config)[0]
        pick = choices.get("whole", unit["default"])
        if not isinstance(pick, int) or not 0 <= pick < len(unit["options"]):
            raise ValueError("choose one of the versions for unit 'whole'")
        return unit["options"][pick]["payload"]

    def diff(self, payloads: Sequence[dict], item: Any, label_config: dict) -> list[dict]:
        """Differences between versions in the modality's own terms, for the review screen."""
        return []

    def demo(self) -> dict | None:
        """A demo project for `make run`: {"name", "description", "label_config", "inputs": [ItemInput], ...}."""
        return None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "item_kinds": list(self.item_kinds),
            "accepts": list(self.accepts),
            "label_config_schema": self.label_config_schema,
            "payload_schema": self.payload_schema,
            "default_label_config": self.default_label_config,
            "import_formats": sorted(self.importers()),
            "export_formats": sorted(self.exporters()),
            "consensus_layers": sorted(self.consensus_layers),
            "probe_media": self.probe_media,
            "maps_import_labels": type(self).map_import_labels is not Modality.map_import_labels,
            "derivatives": [d.name for d in self.derivatives()],
            "metrics": [{"name": m.name, "higher_is_better": m.higher_is_better, "range": list(m.range),
                         "description": m.description} for m in self.metric_specs],
            "available": self.available()[0], "unavailable_reason": self.available()[1],
        }


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


# The registry lives in annotators/registry.py; importing it from here keeps `from annotators.base import registry`.
from annotators.registry import ENTRY_POINT_GROUP, Registry, UnknownModality, registry  # noqa: E402,F401
