"""Synthetic consultations with known words and speaker turns (Debian's espeak-ng and sox), for the demo project
and the tests: two or three voices, optionally as an 8 kHz stereo telephone call with one party per channel."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from annotators.base import ItemInput

# Three voices a voice encoder tells apart as it would three people (resemblyzer similarity about 0.7 between them,
# 0.85 within one). A variant on "en-gb" is silently ignored by espeak-ng: "en-gb+f2" is the plain male en-gb voice.
VOICES = {"clinician": "en-us+m3", "patient": "en-us+f2", "companion": "en+Annie"}
# No dither: sox otherwise adds random noise when it resamples to 16 bits, so every synthesis differed and the tests'
# word error rates moved by several points between runs (int8 decoding is sensitive to it).
SOX_REPEATABLE = ("-D",)
DEMO_TURNS = [
    ("clinician", "Good morning. What brings you in today?"),
    ("patient", "I have had a cough and a fever for three days."),
    ("clinician", "Any shortness of breath or chest pain?"),
    ("patient", "A little short of breath when I climb the stairs."),
    ("clinician", "I will listen to your chest and check your oxygen level."),
    ("patient", "Thank you, doctor."),
    ("clinician", "Your lungs sound clear. I think this is a viral infection."),
    ("clinician", "Drink plenty of fluids and take paracetamol for the fever."),
    ("patient", "Should I come back if it gets worse?"),
    ("clinician", "Yes, come back if the fever lasts more than five days."),
]


def tools_available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def synthesize(turns, path: str, rate: int = 16000, stereo: bool = False, pause_s: float = 0.6,
               speed: int = 150) -> list[dict]:
    """Write the dialogue to `path` (WAV); returns the turns with their times: [{role, text, start_ms, end_ms}]."""
    work = tempfile.mkdtemp(prefix="consult-synth-")
    try:
        parts, timeline, t = [], [], 0.0
        for index, (role, text) in enumerate(turns):
            raw = os.path.join(work, f"{index}.wav")
            subprocess.run(["espeak-ng", "-v", VOICES[role], "-s", str(speed), "-w", raw, text], check=True,
                           capture_output=True)
            norm = os.path.join(work, f"{index}n.wav")
            subprocess.run(["sox", *SOX_REPEATABLE, raw, "-r", str(rate), "-c", "1", "-b", "16", norm,
                            "pad", "0", str(pause_s)],
                           check=True, capture_output=True)
            seconds = float(subprocess.run(["soxi", "-D", norm], check=True, capture_output=True,
                                           text=True).stdout.strip())
            timeline.append({"role": role, "text": text, "start_ms": int(t * 1000),
                             "end_ms": int((t + seconds - pause_s) * 1000)})
            if stereo:  # the clinician on the left channel, everyone else on the right
                left, right = ("1", "0") if role == "clinician" else ("0", "1")
                st = os.path.join(work, f"{index}s.wav")
                subprocess.run(["sox", *SOX_REPEATABLE, norm, st, "remix", left, right],
                               check=True, capture_output=True)
                norm = st
            parts.append(norm)
            t += seconds
        subprocess.run(["sox", *SOX_REPEATABLE, *parts, path], check=True, capture_output=True)
        return timeline
    finally:
        shutil.rmtree(work, ignore_errors=True)


def demo_inputs() -> list[ItemInput]:
    if not tools_available():
        return []
    folder = tempfile.mkdtemp(prefix="consult-demo-")
    path = os.path.join(folder, "consultation.wav")
    synthesize(DEMO_TURNS, path)
    return [ItemInput(name="consultation.wav", path=path, size=os.path.getsize(path))]
