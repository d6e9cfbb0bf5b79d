"""Two transcribers' versions of one consultation through the existing review workflow: agreement from WER/DER
(`agree`), the review screen's word-level and speaker-turn differences, per-pair WER/DER on the dashboard's data,
and the reviewer's decision making gold."""
from __future__ import annotations

import io

import media_files

TEXT_A = ["Good morning. What brings you in today?", "I have had a cough and a fever for three days.",
          "Any shortness of breath?"]
TEXT_B = ["Good morning, what brings you here today?", "I have had a cuff and a fever for three days.",
          "Any shortness of breath?"]


def transcript(texts, speakers, prefix):
    segments = [{"id": f"{prefix}{i}", "start_ms": i * 4000, "end_ms": i * 4000 + 3500, "text": t, "speaker": who}
                for i, (t, who) in enumerate(zip(texts, speakers))]
    return {"speakers": [{"id": s} for s in sorted(set(speakers))], "segments": segments}


def test_two_transcripts_are_reviewed_with_word_and_speaker_differences(admin, make_member, tmp_path):
    workflow = {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.95,
                "adjudication": "below_threshold", "adjudication_threshold": 0.95}
    _, project = admin.post("/projects", {"name": "Consult review", "modality": "consult", "workflow": workflow})
    pid = project["id"]
    a, b = make_member(pid, "tx_a", "annotator"), make_member(pid, "tx_b", "annotator")
    reviewer = make_member(pid, "tx_rev", "reviewer")
    wav = media_files.wav(tmp_path / "visit.wav", seconds=12.0)
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data",
                             data={"files": [(io.BytesIO(open(wav, "rb").read()), "visit.wav")]})
    assert resp.status_code == 201, resp.get_json()
    item_id = resp.get_json()["created"][0]["id"]
    # tx_a hears doctor, patient, doctor; tx_b gives the last turn to the patient, and mishears two words.
    versions = {"tx_a": transcript(TEXT_A, ["D", "P", "D"], "a"), "tx_b": transcript(TEXT_B, ["S1", "S2", "S2"], "b")}
    for api, who in ((a, "tx_a"), (b, "tx_b")):
        status, item = api.post(f"/projects/{pid}/next")
        assert status == 200 and item["id"] == item_id
        status, body = api.post(f"/items/{item_id}/annotations", {"payload": versions[who], "time_spent_ms": 9000})
        assert status == 201, body
    _, item = admin.get(f"/items/{item_id}")
    assert item["stage"] == "adjudicate"  # WER 2/22 between them: agreement 0.91 < 0.95
    _, view = reviewer.get(f"/items/{item_id}/review")
    kinds = [(d["kind"], tuple(d["values"])) for d in view["diff"]]
    assert ("words_differ", ("in", "here")) in kinds and ("words_differ", ("cough", "cuff")) in kinds
    speaker = [d for d in view["diff"] if d["kind"] == "speaker_differs"]
    assert len(speaker) == 1 and speaker[0]["start_ms"] == 8000 and speaker[0]["values"] == ["D", "S2"]
    pairs = view["agreement"]["pairs"]
    assert pairs and {"wer", "der", "jer", "boundary_ms"} <= set(pairs[0]["metrics"])
    _, agreement = admin.get(f"/projects/{pid}/agreement")
    pair = agreement["live"]["pairs"][0]
    assert (pair["a"], pair["b"]) == ("tx_a", "tx_b")
    assert abs(pair["metrics"]["wer"] - 2 / 22) < 0.01 and 0.2 < pair["metrics"]["der"] < 0.5
    csv = admin.client.get(f"/api/v1/projects/{pid}/agreement?format=csv", headers=admin.headers()).data.decode()
    assert "pair,tx_a|tx_b,der," in csv
    chosen = next(v for v in view["versions"] if v["author"] == "tx_a")
    status, outcome = reviewer.post(f"/items/{item_id}/decision",
                                    {"action": "accept", "annotation_id": chosen["annotation_id"]})
    assert status == 200 and outcome["stage"] == "done"
