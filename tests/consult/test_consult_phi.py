"""PHI in consultations: the notes detector over the transcript gives PHI spans with their time ranges; the
de-identified transcript masks them (also words typed after pre-annotation) and the redacted recording replaces
them, with the project's margin, by a tone or silence."""
from __future__ import annotations

import io
import wave
import zipfile

import numpy as np

import media_files
from annotators.consult import phi


def timed(seg_id, start_ms, text, speaker="S2"):
    words, t = [], start_ms
    for token in text.split():
        words.append({"text": token, "start_ms": t, "end_ms": t + 300})
        t += 350
    return {"id": seg_id, "start_ms": start_ms, "end_ms": t, "text": text, "speaker": speaker, "words": words}


PAYLOAD = {"speakers": [{"id": "S1", "role": "clinician", "name": "Dr Lee"}, {"id": "S2", "role": "patient"}],
           "segments": [timed("s1", 0, "Good morning, can you tell me your full name?", "S1"),
                        timed("s2", 4000, "My name is John Smith and I was born on March 3, 1970.")]}


def test_phi_words_get_their_time_ranges_and_the_transcript_is_masked():
    out = phi.detect(PAYLOAD)
    spans = [(p["label"], out["segments"][1]["text"][p["start"]:p["end"]], p["start_ms"], p["end_ms"])
             for p in out["segments"][1].get("phi", [])]
    name = next(s for s in spans if s[0] == "NAME")
    assert name[1] == "John Smith" and (name[2], name[3]) == (4000 + 3 * 350, 4000 + 4 * 350 + 300)
    assert any(s[0] == "DATE" and "1970" in s[1] for s in spans)
    lines = phi.deidentified_lines(out)
    assert "John" not in "\n".join(lines) and "1970" not in "\n".join(lines) and "[NAME]" in lines[1]
    assert lines[0].startswith("[00:00:00.000] clinician:") and "Dr Lee" not in "\n".join(lines)  # roles, not names
    # A name typed by a person after pre-annotation (no PHI span for it yet) is still masked at export.
    edited = {**out, "segments": [out["segments"][0], {**out["segments"][1], "text": "Mary Jones, 12 Oak Street.",
                                                        "words": [], "phi": []}]}
    assert "Mary" not in "\n".join(phi.deidentified_lines(edited))
    ranges = phi.redaction_ranges(out, margin_ms=100)
    assert (name[2] - 100, name[3] + 100) in ranges or any(a <= name[2] - 100 and b >= name[3] + 100
                                                           for a, b in ranges)


def test_redacted_wav_replaces_the_ranges_by_a_tone_or_silence(tmp_path):
    pcm = tmp_path / "pcm16k.s16"
    samples = (np.sin(2 * np.pi * 220 * np.arange(16000 * 3) / 16000) * 8000).astype("<i2")
    stereo = np.stack([samples, samples // 2], axis=1)
    pcm.write_bytes(stereo.tobytes())
    for fill in ("tone", "silence"):
        out = io.BytesIO()
        phi.write_redacted_wav(str(pcm), 2, [(1000, 1500)], out, fill)
        out.seek(0)
        with wave.open(out) as wav:
            assert (wav.getnchannels(), wav.getframerate(), wav.getnframes()) == (2, 16000, 48000)
            data = np.frombuffer(wav.readframes(48000), "<i2").reshape(-1, 2)
        assert np.array_equal(data[:16000], stereo[:16000]) and np.array_equal(data[24000:], stereo[24000:])
        hidden = data[16000:24000]
        if fill == "silence":
            assert not hidden.any()
        else:  # the 1 kHz bleep, the same on both channels, nothing of the speech left
            spectrum = np.abs(np.fft.rfft(hidden[:, 0]))
            assert np.argmax(spectrum) * 16000 / len(hidden) == 1000 and np.array_equal(hidden[:, 0], hidden[:, 1])


def test_deidentified_and_redacted_exports_through_the_api(admin, tmp_path):
    _, project = admin.post("/projects", {"name": "PHI consults", "modality": "consult",
                                          "label_config": {"redaction": {"margin_ms": 50, "fill": "silence"}}})
    assert project.get("id"), project
    pid = project["id"]
    wav = media_files.wav(tmp_path / "visit.wav", seconds=9.0)
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data",
                             data={"files": [(io.BytesIO(open(wav, "rb").read()), "visit.wav")]})
    item_id = resp.get_json()["created"][0]["id"]
    status, body = admin.post(f"/items/{item_id}/annotations", {"payload": phi.detect(PAYLOAD)})
    assert status == 201, body
    files = {}
    for fmt in ("deidentified", "redacted_audio"):
        _, job = admin.post(f"/projects/{pid}/exports", {"format": fmt, "options": {"stage": "all"}})
        resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
        assert resp.status_code == 200, (fmt, resp.get_json(silent=True))
        files[fmt] = zipfile.ZipFile(io.BytesIO(resp.data))
    text = files["deidentified"].read(f"item-{item_id}.txt").decode()
    assert "[NAME]" in text and "John" not in text
    with wave.open(io.BytesIO(files["redacted_audio"].read(f"item-{item_id}.wav"))) as out:
        data = np.frombuffer(out.readframes(out.getnframes()), "<i2")
    start = (4000 + 3 * 350 - 50) * 16  # "John Smith" less the 50 ms margin: silence
    assert not data[start:start + 16 * 500].any() and data[:16000].any()
