"""The transcriber's two decoding backends (annotators/consult/backends.py) on the same synthetic consultation
(espeak-ng, known words, ~38 s): the same output contract from each (segments with words inside them, no text from
silence, a payload the modality accepts), the selection rule and a project's forced choice, and a resumed item.
The suite's offline guard is on: faster-whisper loading the installed CTranslate2 files proves nothing is fetched."""
from __future__ import annotations

import pytest

import media_files
from annotators.base import ItemView, registry
from annotators.consult import backends, metrics
from annotators.consult.audio import make_pcm
from annotators.consult.demo import DEMO_TURNS, synthesize, tools_available
from annotators.consult.preannotate import WhisperTranscriber
from annotators.consult.schema import LABEL_CONFIG_SCHEMA
from annotators.media import MediaInfo

CONFIG = {"language": "en", "diarize": False}  # transcription only: speakers have their own tests


def _item(item_id: int, path: str, folder, seconds: float) -> ItemView:
    info = MediaInfo(container="wav", duration_ms=int(seconds * 1000), has_audio=True, channels=1,
                     sample_rate=16000, audio_codec="pcm_s16le")
    out = folder / f"pcm{item_id}"
    out.mkdir()
    make_pcm(ItemView(id=item_id, kind="audio", media_path=path, media=info), str(out))
    return ItemView(id=item_id, kind="audio", media_path=path, media=info, assets={"pcm16k": str(out / "pcm16k.s16")})


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    if not tools_available():
        pytest.fail("espeak-ng and sox are missing: `make test` installs them (scripts/ensure-speech-tools.sh)")
    folder = tmp_path_factory.mktemp("backends")
    turns = synthesize(DEMO_TURNS, str(folder / "visit.wav"))
    reference = {"segments": [{"id": f"r{i}", "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"]}
                              for i, t in enumerate(turns)]}
    silence = media_files.wav(folder / "silence.wav", seconds=4.0, amplitude=0.0)
    return {"visit": _item(1, str(folder / "visit.wav"), folder, turns[-1]["end_ms"] / 1000 + 0.6),
            "silence": _item(2, silence, folder, 4.0), "reference": reference}


@pytest.fixture(scope="module")
def transcribers():
    """One set-up transcriber per backend, forced through the project setting."""
    out = {}
    for backend in backends.BACKENDS:
        model = WhisperTranscriber("tiny.en")
        model.setup("cpu", {**CONFIG, "whisper_backend": backend})
        out[backend] = model
    return out


@pytest.fixture(scope="module")
def drafts(transcribers, clips):
    return {name: model.predict([clips["visit"]])[0].payload for name, model in transcribers.items()}


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_each_backend_transcribes_the_consultation_with_word_timestamps(backend, drafts, clips, transcribers):
    payload = drafts[backend]
    wer, _ = metrics.wer_cer(clips["reference"], payload)
    assert wer < 0.15, (backend, wer, [s["text"] for s in payload["segments"]])
    words = [w for s in payload["segments"] for w in s["words"]]
    assert len(words) >= 60
    assert all(s["start_ms"] <= w["start_ms"] <= w["end_ms"] <= s["end_ms"] + 50
               for s in payload["segments"] for w in s["words"])
    starts = [s["start_ms"] for s in payload["segments"]]
    assert starts == sorted(starts) and all(0 <= w["score"] <= 1 for w in words)
    registry.get("consult").validate_payload(payload, registry.get("consult").default_label_config)
    # Each turn of the reference starts near a segment (the timestamps are the audio's, not the window's).
    for turn in clips["reference"]["segments"][::3]:
        assert min(abs(s["start_ms"] - turn["start_ms"]) for s in payload["segments"]) < 700, (backend, turn)
    assert backend in transcribers[backend].version


def test_the_backends_agree_on_the_words(drafts):
    a, b = (metrics.transcript(drafts[name]) for name in backends.BACKENDS)
    wer, _ = metrics.wer_cer({"segments": [{"id": "a", "start_ms": 0, "end_ms": 1, "text": a}]},
                             {"segments": [{"id": "b", "start_ms": 0, "end_ms": 1, "text": b}]})
    assert wer < 0.1, (a, b)


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_silence_gives_no_segments(backend, transcribers, clips):
    assert transcribers[backend].predict([clips["silence"]])[0].payload["segments"] == []


def test_auto_picks_faster_whisper_on_cpu_and_openai_whisper_on_gpu(monkeypatch):
    assert backends.choose("auto", "cpu") == "faster-whisper"
    assert backends.choose(None, "cpu") == "faster-whisper"
    assert backends.choose("auto", "cuda") == "openai-whisper"
    assert backends.choose("openai-whisper", "cpu") == "openai-whisper"
    assert backends.choose("faster-whisper", "cuda") == "faster-whisper"
    with pytest.raises(ValueError, match="unknown Whisper backend"):
        backends.choose("whisper.cpp", "cpu")
    monkeypatch.setattr(backends, "importable", lambda name: name == "openai-whisper")
    assert backends.choose("auto", "cpu") == "openai-whisper"  # faster-whisper is optional
    with pytest.raises(RuntimeError, match="not installed"):
        backends.choose("faster-whisper", "cpu")


def test_the_default_setup_on_cpu_is_faster_whisper_int8_and_its_version_says_so():
    model = WhisperTranscriber("tiny.en")
    model.setup("cpu", CONFIG)
    assert isinstance(model.model, backends.FasterWhisper)
    assert model.version.startswith("tiny.en@faster-whisper-") and ":int8:greedy:" in model.version
    forced = WhisperTranscriber("tiny.en")
    forced.setup("cpu", {**CONFIG, "whisper_backend": "openai-whisper"})
    assert forced.version.startswith("tiny.en@openai-whisper-") and ":fp32:" in forced.version
    assert len(f"whisper@{model.version}") <= 120  # Annotation.model_version


def test_the_label_config_schema_takes_the_backend_setting():
    import jsonschema

    consult = registry.get("consult")
    for value in ("auto", "openai-whisper", "faster-whisper"):
        consult.validate_label_config({**consult.default_label_config, "whisper_backend": value})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"whisper_backend": "fastest"}, LABEL_CONFIG_SCHEMA)


class _Report:
    """What the preannotate job hands the transcriber: resume from a checkpoint, then checkpoints and progress."""

    def __init__(self, resumed=None):
        self.resumed, self.checkpoints, self.progressed = resumed, [], []

    def resume(self, item_id):
        return self.resumed

    def checkpoint(self, item_id, payload, state):
        self.checkpoints.append((len(payload["segments"]), state))

    def progress(self, done, total, unit="items"):
        self.progressed.append((done, total, unit))


def test_a_resumed_item_keeps_its_checkpoint_and_decodes_only_the_windows_left(transcribers, clips, drafts):
    from annotators.consult.audio import read_pcm
    from annotators.consult.preannotate import chunks, voiced_regions

    model = transcribers["faster-whisper"]
    plan = chunks(voiced_regions(read_pcm(clips["visit"].assets["pcm16k"], 1)[0]))
    assert len(plan) >= 2
    full = _Report()
    payload = model.predict([clips["visit"]], full)[0].payload
    assert [state["chunks"] for _, state in full.checkpoints] == list(range(1, len(plan) + 1))  # one per window
    first_window = [s for s in payload["segments"] if s["end_ms"] <= plan[0][1] * 1000 + 50]
    kept = {"speakers": [], "segments": [{**s, "text": "KEPT " + s["text"]} for s in first_window]}
    resumed = _Report(({**kept}, {"chunks": 1}))
    again = model.predict([clips["visit"]], resumed)[0].payload
    assert [state["chunks"] for _, state in resumed.checkpoints] == list(range(2, len(plan) + 1))
    texts = [s["text"] for s in again["segments"]]
    assert sum(t.startswith("KEPT ") for t in texts) == len(first_window)
    assert metrics.transcript(again).replace("kept ", "") == metrics.transcript(payload)
