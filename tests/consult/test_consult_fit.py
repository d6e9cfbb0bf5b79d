"""`fit` for consultations: speakers people named in accepted recordings are enrolled as known voices and become
the initial prompt; a version is made active only when it names held-out speakers better than the one before."""
from __future__ import annotations

import pytest

from annotators.base import ItemView
from annotators.consult import training
from annotators.consult.audio import make_pcm
from annotators.consult.demo import DEMO_TURNS, synthesize, tools_available
from annotators.media import MediaInfo


@pytest.fixture(scope="module")
def accepted(tmp_path_factory):
    if not tools_available():
        pytest.fail("espeak-ng and sox are missing: `make test` installs them (scripts/ensure-speech-tools.sh)")
    folder = tmp_path_factory.mktemp("fit")
    out = []
    for n in range(3):  # three accepted visits of the same clinician and patient
        wav = str(folder / f"visit{n}.wav")
        turns = synthesize(DEMO_TURNS[n * 2:n * 2 + 6], wav)
        info = MediaInfo(container="wav", duration_ms=turns[-1]["end_ms"], has_audio=True, channels=1,
                         sample_rate=16000, audio_codec="pcm_s16le")
        view = ItemView(id=n + 1, kind="audio", media_path=wav, media=info)
        pcm_dir = folder / f"pcm{n}"
        pcm_dir.mkdir()
        make_pcm(view, str(pcm_dir))
        view.assets["pcm16k"] = str(pcm_dir / "pcm16k.s16")
        ids = {"clinician": "S1", "patient": "S2"}
        payload = {"speakers": [{"id": "S1", "role": "clinician", "name": "Dr Okafor"},
                                {"id": "S2", "role": "patient", "name": "Ms Adeyemi"}],
                   "segments": [{"id": f"t{i}", "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"],
                                 "speaker": ids[t["role"]]} for i, t in enumerate(turns)]}
        out.append((view, payload))
    return out


def test_named_voices_are_enrolled_and_only_an_improvement_is_activated(accepted):
    first = training.fit(accepted, {}, None)
    assert set(first["params"]["known_voices"]) == {"Dr Okafor", "Ms Adeyemi"}
    assert first["params"]["initial_prompt"] == "Speakers: Dr Okafor, Ms Adeyemi"
    assert first["metrics"]["held_out_items"] == 1 and first["metrics"]["naming_accuracy"] == 1.0
    assert first["better"] and first["metrics"]["previous_naming_accuracy"] == 0.0
    again = training.fit(accepted, {}, first["params"])
    assert not again["better"]  # nothing new to learn: the active version stays
    unnamed = [(view, {**payload, "speakers": [{"id": "S1"}, {"id": "S2"}]}) for view, payload in accepted]
    assert training.fit(unnamed, {}, None)["params"]["known_voices"] == {}
