"""`fit` for consultations: speakers people named in accepted recordings are enrolled as known voices; their names
and the drug names said become the initial prompt; a version is made active only when it names held-out speakers
better or transcribes held-out recordings with fewer word errors than the one before."""
from __future__ import annotations

import pytest

from annotators.base import ItemView
from annotators.consult import training
from annotators.consult.audio import make_pcm
from annotators.consult.demo import DEMO_TURNS, synthesize, tools_available
from annotators.media import MediaInfo


def _visits(folder, dialogues, names=("Dr Okafor", "Ms Adeyemi")):
    out = []
    for n, turns in enumerate(dialogues):
        wav = str(folder / f"visit{n}.wav")
        timed = synthesize(turns, wav)
        info = MediaInfo(container="wav", duration_ms=timed[-1]["end_ms"], has_audio=True, channels=1,
                         sample_rate=16000, audio_codec="pcm_s16le")
        view = ItemView(id=n + 1, kind="audio", media_path=wav, media=info)
        pcm_dir = folder / f"pcm{n}"
        pcm_dir.mkdir()
        make_pcm(view, str(pcm_dir))
        view.assets["pcm16k"] = str(pcm_dir / "pcm16k.s16")
        ids = {"clinician": "S1", "patient": "S2"}
        payload = {"speakers": [{"id": "S1", "role": "clinician", "name": names[0]},
                                {"id": "S2", "role": "patient", "name": names[1]}],
                   "segments": [{"id": f"t{i}", "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"],
                                 "speaker": ids[t["role"]]} for i, t in enumerate(timed)]}
        out.append((view, payload))
    return out


@pytest.fixture(scope="module")
def accepted(tmp_path_factory):
    if not tools_available():
        pytest.fail("espeak-ng and sox are missing: `make test` installs them (scripts/ensure-speech-tools.sh)")
    # three accepted visits of the same clinician and patient
    return _visits(tmp_path_factory.mktemp("fit"), [DEMO_TURNS[n * 2:n * 2 + 6] for n in range(3)])


def test_named_voices_are_enrolled_and_only_an_improvement_is_activated(accepted):
    first = training.fit(accepted, {}, None)
    assert set(first["params"]["known_voices"]) == {"Dr Okafor", "Ms Adeyemi"}
    assert first["params"]["initial_prompt"] == "Speakers: Dr Okafor, Ms Adeyemi. paracetamol."
    assert first["metrics"]["held_out_items"] == 1 and first["metrics"]["naming_accuracy"] == 1.0
    assert first["better"] and first["metrics"]["previous_naming_accuracy"] == 0.0
    again = training.fit(accepted, {}, first["params"])
    assert not again["better"]  # nothing new to learn: the active version stays
    unnamed = [(view, {**payload, "speakers": [{"id": "S1"}, {"id": "S2"}]}) for view, payload in accepted]
    assert training.fit(unnamed, {}, None)["params"]["known_voices"] == {}


DIABETES_VISIT = [("clinician", "Good morning. How have you been on the empagliflozin?"),
                  ("patient", "Fine. I also take apixaban and atorvastatin."),
                  ("clinician", "Keep the empagliflozin at ten milligrams and add dapagliflozin if needed."),
                  ("patient", "And the semaglutide injections?")]


def test_drug_names_said_in_accepted_visits_enter_the_prompt_when_they_cut_held_out_word_errors(tmp_path):
    visits = _visits(tmp_path, [DIABETES_VISIT, DIABETES_VISIT[1:] + DIABETES_VISIT[:1], DIABETES_VISIT])
    result = training.fit(visits, {}, {"known_voices": {}, "initial_prompt": None})
    prompt = result["params"]["initial_prompt"]
    for drug in ("empagliflozin", "apixaban", "atorvastatin", "dapagliflozin", "semaglutide"):
        assert drug in prompt
    assert prompt.startswith("Speakers: Dr Okafor, Ms Adeyemi.") and "milligrams" not in prompt
    metrics = result["metrics"]
    # tiny.en alone hears "empire cliff london": the prompt that names the drugs removes most of those errors
    assert metrics["held_out_wer"] < metrics["previous_held_out_wer"] - 0.1, metrics
    assert result["better"] and metrics["vocabulary"] == 5
    assert training.drug_vocabulary([{"segments": [{"text": "Drink water, rest; take the Tylenol."}]}]) == ["tylenol"]
