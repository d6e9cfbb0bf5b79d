"""Speaker labels (resemblyzer embeddings, clustering, the clinician guess, known voices) on synthetic
consultations with known turns, and the speaker/segment agreement metrics against pyannote.metrics and sklearn."""
from __future__ import annotations

import numpy as np
import pytest

from annotators.consult import metrics, speakers
from annotators.consult.audio import _frames
from annotators.consult.demo import DEMO_TURNS, synthesize, tools_available

# Three parties: a companion speaks every seventh turn.
THREE = [("companion" if i % 7 == 3 else role, text) for i, (role, text) in enumerate(DEMO_TURNS * 2)]


def _words(turn) -> list[dict]:
    """Evenly spread word times inside a turn (what Whisper's word timestamps look like, roughly)."""
    tokens = turn["text"].split()
    step = (turn["end_ms"] - turn["start_ms"]) / len(tokens)
    return [{"text": t, "start_ms": int(turn["start_ms"] + i * step), "end_ms": int(turn["start_ms"] + (i + 1) * step)}
            for i, t in enumerate(tokens)]


@pytest.fixture(scope="module")
def three_party(tmp_path_factory):
    if not tools_available():
        pytest.fail("espeak-ng and sox are missing: `make test` installs them (scripts/ensure-speech-tools.sh)")
    path = str(tmp_path_factory.mktemp("speakers") / "three.wav")
    turns = synthesize(THREE, path)
    mono = np.concatenate([block.reshape(-1) for block in _frames(path, 16000, "flt")])
    return mono, turns


def reference(turns) -> dict:
    return {"segments": [{"id": f"r{i}", "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"],
                          "speaker": t["role"]} for i, t in enumerate(turns)]}


def transcript_like(turns) -> dict:
    """Segments as an ASR draft gives them, no speakers, and two turns glued into one segment (a short pause)."""
    segments = []
    for i, turn in enumerate(turns):
        segments.append({"id": f"s{i}", "start_ms": turn["start_ms"], "end_ms": turn["end_ms"], "text": turn["text"],
                         "speaker": "S1", "words": _words(turn)})
    first, second = segments[0], segments.pop(1)
    first.update(end_ms=second["end_ms"], text=f"{first['text']} {second['text']}",
                 words=first["words"] + second["words"])
    return {"speakers": [{"id": "S1"}], "segments": segments}


def test_three_voices_are_told_apart_and_a_glued_turn_is_split(three_party):
    mono, turns = three_party
    labelled, voices = speakers.label_speakers(mono, transcript_like(turns))
    der, jer = metrics.der_jer(reference(turns), labelled)
    assert der < 0.15 and jer < 0.3, (der, jer, [s["speaker"] for s in labelled["segments"]])
    assert len(labelled["speakers"]) == 3 and set(voices) == {"S1", "S2", "S3"}
    glued = [s for s in labelled["segments"] if s["id"].startswith("s0")]
    assert len(glued) == 2 and glued[0]["speaker"] != glued[1]["speaker"]  # clinician, then patient
    assert glued[1]["text"].startswith("I have had a cough") and glued[1]["start_ms"] == turns[1]["start_ms"]
    given, _ = speakers.label_speakers(mono, transcript_like(turns), num_speakers=2)
    assert len(given["speakers"]) == 2
    speakers.guess_roles(labelled, ["clinician", "patient", "companion"])
    clinician = next(s["id"] for s in labelled["speakers"] if s.get("role") == "clinician")
    assert labelled["segments"][0]["speaker"] == clinician  # "Good morning. What brings you in today?"


def test_known_voices_name_the_clinician_next_time(three_party):
    mono, turns = three_party
    first, voices = speakers.label_speakers(mono, transcript_like(turns))
    clinician = first["segments"][0]["speaker"]
    again, _ = speakers.label_speakers(mono, transcript_like(turns), known={"Dr Okafor": voices[clinician],
                                                                           "Someone else": [1.0] + [0.0] * 255})
    named = {s["id"]: s.get("name") for s in again["speakers"]}
    assert named[again["segments"][0]["speaker"]] == "Dr Okafor"
    assert list(named.values()).count("Dr Okafor") == 1 and "Someone else" not in named.values()


def test_roles_overlap_and_short_pieces():
    payload = {"speakers": [{"id": "A"}, {"id": "B"}], "segments": [
        {"id": "1", "start_ms": 0, "end_ms": 2000, "speaker": "B", "text": "Thank you, doctor. I have had a cough."},
        {"id": "2", "start_ms": 1800, "end_ms": 4000, "speaker": "A", "text": "How long? Any fever? Let me examine you."}]}
    speakers.guess_roles(payload)
    assert {s["id"]: s["role"] for s in payload["speakers"]} == {"A": "clinician", "B": "patient"}
    speakers._flag_overlaps(payload["segments"])
    assert all(s["overlap"] for s in payload["segments"])
    # A person's roles stay as they are.
    kept = {"speakers": [{"id": "A", "role": "patient"}, {"id": "B"}], "segments": payload["segments"]}
    assert speakers.guess_roles(kept)["speakers"][0]["role"] == "patient"
    # Pieces are never shorter than MIN_PIECE_MS: a short pause inside a short segment is not a cut.
    seg = {"id": "x", "start_ms": 0, "end_ms": 2000, "text": "a b c",
           "words": [{"text": t, "start_ms": i * 700, "end_ms": i * 700 + 300} for i, t in enumerate("abc")]}
    assert len(speakers.pieces_of(seg)) == 1


def test_der_jer_kappa_and_boundaries_against_the_peer_libraries():
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate
    from sklearn.metrics import cohen_kappa_score

    a = {"segments": [{"id": "1", "start_ms": 0, "end_ms": 4000, "speaker": "doc", "text": "x", "type": "greeting"},
                      {"id": "2", "start_ms": 4000, "end_ms": 10000, "speaker": "pat", "text": "y",
                       "type": "history_taking"}]}
    b = {"segments": [{"id": "p", "start_ms": 0, "end_ms": 5000, "speaker": "S1", "text": "x", "type": "greeting"},
                      {"id": "q", "start_ms": 5000, "end_ms": 10000, "speaker": "S2", "text": "y",
                       "type": "history_taking"}]}
    # 1 s on the wrong speaker; collars of 0.125 s each side of the reference boundaries (0, 4 and 10 s) are not
    # scored: 0.875 s of error in 9.5 s.
    der, _ = metrics.der_jer(a, b)
    assert der == pytest.approx(0.875 / 9.5, abs=1e-6)
    ref, hyp = Annotation(), Annotation()
    ref[Segment(0, 4)], ref[Segment(4, 10)] = "doc", "pat"
    hyp[Segment(0, 5)], hyp[Segment(5, 10)] = "S1", "S2"
    assert der == pytest.approx(DiarizationErrorRate(collar=0.25)(ref, hyp, uem=Timeline([Segment(0, 10)])))
    frames_a = ["greeting"] * 40 + ["history_taking"] * 60
    frames_b = ["greeting"] * 50 + ["history_taking"] * 50
    assert metrics.segment_type_kappa(a, b) == pytest.approx(cohen_kappa_score(frames_a, frames_b), abs=0.02)
    assert metrics.boundary_distance_ms(a, b) == pytest.approx(1000 * 2 / 6)  # one boundary of 3 off by 1 s, both ways
    out = metrics.agree(a, b)
    assert {"der", "jer", "segment_type_kappa", "boundary_ms", "wer"} <= set(out) and out["agreement"] == 1.0
    # No speakers on one side: every second of the other's speech is an error; none on either side: not scored.
    bare = {"segments": [{**s, "speaker": None} for s in a["segments"]]}
    assert metrics.symmetric_der_jer(a, bare) == (1.0, 1.0) and metrics.symmetric_der_jer(bare, bare) is None
