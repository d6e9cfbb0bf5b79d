"""`fit` for surgical phases, trained on the project's own accepted timelines.

Per accepted video, one frame a second (keyframes when they come about once a second, else decoded and picked),
downscaled to 64x64. A small CNN learns per-frame phase logits (or starts from a user's checkpoint of the same
network: `checkpoint_path`); a bidirectional GRU over the sequence of its 64-d features learns the order of a
procedure. Every third accepted video is held out; the new version is made active only when its frame accuracy on
the held-out videos beats the active version's. Prediction smooths the per-second phases into segments of at least
`min_phase_s` with a score each (the mean probability of the segment's phase), which the review queue's
riskiest-first order uses."""
from __future__ import annotations

import base64
import bisect
import io
import json

import numpy as np

SIZE = 64
EPOCHS_CNN = 25
EPOCHS_GRU = 60
SEED = 7
PLATEAU_GAIN, PLATEAU_EPOCHS, PLATEAU_FLOOR = 0.02, 3, 0.01
FINAL_EPOCHS_SHARE = 1 / 3  # the version kept: the held-out-checked model refined on every video


def seconds_of(view) -> tuple[np.ndarray, list[float]]:
    """(frames at 1 fps as uint8 [n, 64, 64, 3], frame-index times in s)."""
    import av

    with open(view.assets["frames"], encoding="utf-8") as fh:
        index = json.load(fh)
    num, den = index["time_base"]
    times = [p * num / den for p in index["pts"]]
    keys = [times[k] for k in index["keyframes"]]
    keyframes_only = len(keys) > 1 and float(np.median(np.diff(keys))) <= 1.5
    pictures, wanted = [], 0.0
    with av.open(view.media_path) as container:
        stream = container.streams.video[0]
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        start = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            if keyframes_only or frame.time - start >= wanted - 1e-6:
                pictures.append(frame.reformat(width=SIZE, height=SIZE, format="rgb24").to_ndarray())
                wanted = len(pictures)
    return np.stack(pictures) if pictures else np.zeros((0, SIZE, SIZE, 3), np.uint8), times


def labels_per_second(payload: dict, times: list[float], count: int, phases: list[str]) -> np.ndarray:
    """Phase index per sampled second (-1: no phase there); seconds map to frames through the frame index."""
    out = np.full(count, -1, dtype=np.int64)
    position = {p: i for i, p in enumerate(phases)}
    for second in range(count):
        frame = min(len(times) - 1, bisect.bisect_left(times, second - 1e-6))
        for seg in payload.get("phases", []):
            if seg["start_frame"] <= frame < seg["end_frame"] and seg.get("phase") in position:
                out[second] = position[seg["phase"]]
    return out


def _networks(classes: int):
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    cnn = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                        nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten())
    head = nn.Linear(64, classes)
    gru = nn.GRU(64, 32, batch_first=True, bidirectional=True)
    out = nn.Linear(64, classes)
    return cnn, head, gru, out


def _tensor(pictures: np.ndarray):
    import torch

    return torch.from_numpy(pictures).float().permute(0, 3, 1, 2) / 255.0


class Plateau:
    """Early stop: the training loss has not improved by PLATEAU_GAIN for PLATEAU_EPOCHS epochs running, or is
    below PLATEAU_FLOOR (the data is learnt). Epoch counts are the ceilings; easy projects stop well before them."""

    def __init__(self):
        self.best, self.stale = float("inf"), 0

    def done(self, value: float) -> bool:
        if value < PLATEAU_FLOOR:
            return True
        if value < self.best * (1 - PLATEAU_GAIN):
            self.best, self.stale = value, 0
            return False
        self.stale += 1
        return self.stale >= PLATEAU_EPOCHS


def train(sequences: list[tuple[np.ndarray, np.ndarray]], classes: int, checkpoint: str | None, device: str,
          start_from: dict | None = None, epochs_share: float = 1.0) -> dict:
    """`start_from`: the weights of a model trained on part of these videos, refined for `epochs_share` of the
    epochs (the final version after the held-out check: a third of the cost of training again from scratch)."""
    import torch
    from torch import nn

    cnn, head, gru, out = _networks(classes)
    if checkpoint:
        cnn.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True), strict=False)
    if start_from:
        state = torch.load(io.BytesIO(base64.b64decode(start_from["weights"])), map_location="cpu", weights_only=True)
        for name, module in (("cnn", cnn), ("head", head), ("gru", gru), ("out", out)):
            if name in state:
                module.load_state_dict(state[name])
    for module in (cnn, head, gru, out):
        module.to(device)
    loss = nn.CrossEntropyLoss(ignore_index=-1)
    pictures = torch.cat([_tensor(p) for p, _ in sequences]).to(device)
    targets = torch.cat([torch.from_numpy(y) for _, y in sequences]).to(device)
    optimiser = torch.optim.Adam(list(cnn.parameters()) + list(head.parameters()), lr=3e-3)
    plateau = Plateau()
    for _ in range(max(1, round(EPOCHS_CNN * epochs_share))):
        total = 0.0
        for batch in torch.randperm(len(pictures), generator=torch.Generator().manual_seed(SEED)).split(64):
            optimiser.zero_grad()
            value = loss(head(cnn(pictures[batch])), targets[batch])
            value.backward()
            optimiser.step()
            total += float(value.detach()) * len(batch)
        if plateau.done(total / len(pictures)):
            break
    cnn.eval()
    optimiser = torch.optim.Adam(list(gru.parameters()) + list(out.parameters()), lr=1e-2)
    with torch.no_grad():
        features = [cnn(_tensor(p).to(device)) for p, _ in sequences]
    plateau = Plateau()
    for _ in range(max(1, round(EPOCHS_GRU * epochs_share))):
        total = 0.0
        for feats, (_, y) in zip(features, sequences):
            optimiser.zero_grad()
            hidden, _ = gru(feats[None])
            value = loss(out(hidden[0]), torch.from_numpy(y).to(device))
            value.backward()
            optimiser.step()
            total += float(value.detach())
        if plateau.done(total / max(1, len(sequences))):
            break
    blob = io.BytesIO()
    torch.save({"cnn": cnn.state_dict(), "head": head.state_dict(), "gru": gru.state_dict(), "out": out.state_dict()},
               blob)
    return {"weights": base64.b64encode(blob.getvalue()).decode("ascii")}


class PhaseModel:
    def __init__(self, params: dict, classes: int, device: str = "cpu"):
        import torch

        self.cnn, _head, self.gru, self.out = _networks(classes)
        state = torch.load(io.BytesIO(base64.b64decode(params["weights"])), map_location="cpu", weights_only=True)
        for name, module in (("cnn", self.cnn), ("gru", self.gru), ("out", self.out)):
            module.load_state_dict(state[name])
            module.to(device).eval()
        self.device = device

    def probabilities(self, pictures: np.ndarray) -> np.ndarray:
        import torch

        if not len(pictures):
            return np.zeros((0, self.out.out_features))
        with torch.no_grad():
            hidden, _ = self.gru(self.cnn(_tensor(pictures).to(self.device))[None])
            return torch.softmax(self.out(hidden[0]), dim=-1).cpu().numpy()


def smooth(probabilities: np.ndarray, min_seconds: int) -> list[tuple[int, int, int, float]]:
    """(first second, end second, phase index, score) segments: argmax runs, runs shorter than `min_seconds` given
    to the neighbour they resemble most, until none is left."""
    if not len(probabilities):
        return []
    runs = []
    for second, phase in enumerate(probabilities.argmax(axis=1)):
        if runs and runs[-1][2] == phase:
            runs[-1][1] = second + 1
        else:
            runs.append([second, second + 1, int(phase)])
    while len(runs) > 1:
        short = min(range(len(runs)), key=lambda i: runs[i][1] - runs[i][0])
        if runs[short][1] - runs[short][0] >= min_seconds:
            break
        a, b = runs[short][0], runs[short][1]
        neighbours = [i for i in (short - 1, short + 1) if 0 <= i < len(runs)]
        target = max(neighbours, key=lambda i: probabilities[a:b, runs[i][2]].mean())
        runs[target][0], runs[target][1] = min(runs[target][0], a), max(runs[target][1], b)
        del runs[short]
        merged = []
        for run in runs:
            if merged and merged[-1][2] == run[2]:
                merged[-1][1] = run[1]
            else:
                merged.append(run)
        runs = merged
    return [(a, b, p, round(float(probabilities[a:b, p].mean()), 3)) for a, b, p in runs]


def fit(accepted, label_config: dict, previous: dict | None) -> dict | None:
    import torch

    phases = list(label_config.get("phases") or [])
    data = []
    for view, payload in accepted:
        if not view.assets.get("frames") or not view.media_path:
            continue
        pictures, times = seconds_of(view)
        labels = labels_per_second(payload, times, len(pictures), phases)
        if (labels >= 0).any():
            data.append((pictures, labels))
    if len(data) < 2:
        return None
    train_set = [d for i, d in enumerate(data) if i % 3 != 2]
    held = [d for i, d in enumerate(data) if i % 3 == 2] or data[-1:]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    checkpoint = label_config.get("checkpoint_path")
    candidate = train(train_set, len(phases), checkpoint, device)
    after = accuracy(candidate, held, len(phases), device)
    before = accuracy(previous, held, len(phases), device) if previous and previous.get("weights") else None
    final = (train(data, len(phases), checkpoint, device, start_from=candidate, epochs_share=FINAL_EPOCHS_SHARE)
             if len(data) > len(train_set) else candidate)
    return {"params": {**final, "phases": phases},
            "metrics": {"held_out_videos": len(held), "held_out_frame_accuracy": after,
                        "previous_held_out_frame_accuracy": before, "trained_on_seconds": int(sum(len(y) for _, y in data)),
                        "device": device, "backbone": "checkpoint" if checkpoint else "trained in project"},
            "better": after is not None and (before is None or after > before)}


def accuracy(params: dict | None, held: list, classes: int, device: str) -> float | None:
    if not params or not params.get("weights"):
        return None
    try:
        model = PhaseModel(params, classes, device)
    except (RuntimeError, KeyError, ValueError):  # a previous version with other phases: not comparable
        return None
    right = total = 0
    for pictures, labels in held:
        guess = model.probabilities(pictures).argmax(axis=1)
        known = labels >= 0
        right += int((guess[known] == labels[known]).sum())
        total += int(known.sum())
    return round(right / total, 4) if total else None
