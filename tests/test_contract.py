"""The modality contract, checked over every registered modality, and a third modality defined only here."""
import importlib.metadata
import io
import json
import os

import jsonschema
import pytest

from annotators.agreement import AgreementReport
from annotators.base import ENTRY_POINT_GROUP, ItemInput, ItemView, Modality, Registry, UnknownModality, registry
from support import ROOT


def _prepare_media(m, view, ingested, config, folder):
    from annotators.media import MediaInfo
    from annotators.probe import probe

    folder.mkdir(parents=True)
    view.media_path = ingested.media_path
    view.media = MediaInfo.from_dict(probe(view.media_path))
    m.check_media(view.media, config)
    for derivative in m.derivatives():
        if derivative.when is not None and not derivative.when(view.media):
            continue
        made = derivative.make(view, str(folder))
        view.assets[derivative.name] = str(folder / (made["file"] if isinstance(made, dict) else made))


@pytest.mark.parametrize("name", registry.names())
def test_registered_modality_honours_the_contract(name, tmp_path):
    m = registry.get(name)
    described = m.describe()
    json.dumps(described)
    jsonschema.Draft202012Validator.check_schema(m.label_config_schema)
    jsonschema.Draft202012Validator.check_schema(m.payload_schema)
    config = m.validate_label_config(m.default_label_config)
    assert os.path.exists(os.path.join(ROOT, "static", m.ui_module)), m.ui_module
    demo = m.demo()
    assert demo and demo["inputs"]
    items = []
    for n, inp in enumerate(demo["inputs"]):
        for ingested in m.ingest(inp, config):
            view = ItemView(id=n + 1, kind=ingested.kind, text=ingested.text, meta=ingested.meta)
            if m.probe_media:  # media: what the derive job gives models (probe facts, derived assets)
                _prepare_media(m, view, ingested, config, tmp_path / f"item{n}")
            items.append(view)
    preds = []
    for annotator in m.preannotators(config):
        assert annotator.name and annotator.version
        annotator.setup("cpu", config, None)
        preds += annotator.predict(items)
    assert preds, "the pre-annotators predict something on the demo items"
    for pred in preds:
        m.validate_payload(pred.payload, config)
    payload = preds[0].payload
    item = next(i for i in items if i.id == preds[0].item_id)
    assert m.agree(payload, payload, item, config)["agreement"] == 1.0
    m.validate_payload(m.merge([payload, payload], item, config), config)
    assert m.diff([payload, payload], item, config) == []
    report = m.agree_many([(item, "a", payload), (item, "b", payload)], config)
    assert isinstance(report, AgreementReport) and report.per_pair  # one shape for every modality
    json.dumps(report.as_dict())
    pairs = [(i, p.payload) for i in items for p in preds if p.item_id == i.id]
    for exporter in m.exporters().values():
        out = io.BytesIO()
        exporter.write(pairs, config, out)
        assert out.getvalue(), exporter.name


def test_unknown_modality_lists_available_names():
    with pytest.raises(UnknownModality, match="available: .*labels"):
        registry.get("nope")


class Stars(Modality):
    """A minimal third modality: rate a text 1-5 stars. Defined only in tests; the server knows nothing of it."""

    name = "stars"
    title = "Star rating"
    item_kinds = ("text",)
    accepts = (".txt",)
    label_config_schema = {"type": "object", "properties": {"max": {"type": "integer"}}, "additionalProperties": False}
    payload_schema = {"type": "object", "required": ["stars"], "additionalProperties": False,
                      "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5}}}
    default_label_config = {"max": 5}
    ui_module = "js/modalities/labels.js"

    def ingest(self, item, label_config):
        from annotators.base import IngestedItem

        return [IngestedItem(kind="text", text=item.record["text"])]

    def agree(self, a, b, item, label_config):
        return {"agreement": 1.0 - abs(a["stars"] - b["stars"]) / 4}

    def agree_many(self, annotations, label_config):
        return {"metrics": {"items": len({getattr(i, "id", i) for i, _, _ in annotations})}}

    def merge(self, payloads, item, label_config):
        return {"stars": round(sum(p["stars"] for p in payloads) / len(payloads))}

    def demo(self):
        return None


@pytest.fixture
def stars():
    registry.register(Stars())
    yield
    registry.unregister("stars")


def test_a_third_modality_gets_the_workflow_without_server_changes(stars, admin, make_member):
    status, project = admin.post("/projects", {"name": "Stars", "modality": "stars", "workflow": {
        "annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.9,
        "adjudication": "below_threshold", "adjudication_threshold": 0.8}})
    assert status == 201, project
    pid = project["id"]
    _, body = admin.post(f"/projects/{pid}/items", [{"text": "good"}, {"text": "mixed"}])
    ids = [c["id"] for c in body["created"]]
    a, b = make_member(pid, "sa", "annotator"), make_member(pid, "sb", "annotator")
    ratings = {ids[0]: (4, 4), ids[1]: (1, 5)}
    for who, index in ((a, 0), (b, 1)):
        while True:
            status, item = who.post(f"/projects/{pid}/next")
            if status == 204:
                break
            stars = ratings[item["id"]][index]
            assert who.post(f"/items/{item['id']}/annotations", {"payload": {"stars": stars}})[0] == 201
    assert admin.post(f"/items/{ids[1]}/annotations", {"payload": {"stars": 9}})[0] == 400  # schema enforced
    assert admin.post(f"/items/{ids[0]}/annotations", {"payload": {"stars": 3}})[0] == 409  # done: frozen
    _, agreed = admin.get(f"/items/{ids[0]}")
    _, disputed = admin.get(f"/items/{ids[1]}")
    assert agreed["stage"] == "done" and disputed["stage"] == "adjudicate"
    _, anns = admin.get(f"/items/{ids[0]}/annotations")
    gold = [x for x in anns["items"] if x["stage"] == "gold"]
    assert gold and gold[0]["payload"] == {"stars": 4} and gold[0]["source"] == "consensus"


def test_entry_point_modalities_are_loaded(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="stars", value="test_contract:Stars", group=ENTRY_POINT_GROUP)

    def fake_entry_points(group=None, **_):
        return [ep] if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    fresh = Registry()
    assert "stars" in fresh.names() and "labels" in fresh.names()


class Blobs(Stars):
    """A media modality defined only in tests: stores uploaded bytes content-addressed and streams them back."""

    name = "blobs"
    accepts = (".bin",)

    def ingest(self, item, label_config):
        from annotators.base import IngestedItem, ItemRejected

        # contract v2: the upload is a file on disk; look at its first bytes, store it by path (streamed)
        with open(item.path, "rb") as fh:
            head = fh.read(4)
        if head != b"BLOB":
            raise ItemRejected(f"{item.name}: not a blob file (checked by content, not extension)")
        return [IngestedItem(kind="blob", media_path=item.path, media_type="application/octet-stream")]


def test_media_is_content_addressed_and_streams_with_range(admin, app):
    registry.register(Blobs())
    try:
        _, project = admin.post("/projects", {"name": "Media", "modality": "blobs"})
        data = b"BLOB" + bytes(range(256)) * 40
        resp = admin.client.post(f"/api/v1/projects/{project['id']}/items",
                                 headers={"Authorization": f"Bearer {admin.token}"}, content_type="multipart/form-data",
                                 data={"files": [(io.BytesIO(data), "a.bin"), (io.BytesIO(data), "copy.bin"),
                                                 (io.BytesIO(b"<svg onload=alert(1)>"), "evil.bin")]})
        body = resp.get_json()
        assert resp.status_code == 201 and len(body["created"]) == 2 and "not a blob" in body["failed"][0]["error"]
        ids = [c["id"] for c in body["created"]]
        _, first = admin.get(f"/items/{ids[0]}")
        _, second = admin.get(f"/items/{ids[1]}")
        assert first["content_hash"] == second["content_hash"] and first["name"] == "a.bin"
        headers = {"Authorization": f"Bearer {admin.token}"}
        full = admin.client.get(f"/api/v1/items/{ids[0]}/media", headers=headers)
        assert full.status_code == 200 and full.data == data
        assert full.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in full.headers["Content-Security-Policy"]
        part = admin.client.get(f"/api/v1/items/{ids[0]}/media", headers={**headers, "Range": "bytes=4-103"})
        assert part.status_code == 206 and part.data == data[4:104]
        assert part.headers["Content-Range"] == f"bytes 4-103/{len(data)}"
        bad = admin.client.get(f"/api/v1/items/{ids[0]}/media", headers={**headers, "Range": f"bytes={len(data) + 10}-"})
        assert bad.status_code == 416
        stored = os.path.join(app.config["MEDIA_DIR"], first["content_hash"][:2], first["content_hash"][2:4],
                              first["content_hash"])
        assert os.path.exists(stored)
    finally:
        registry.unregister("blobs")
