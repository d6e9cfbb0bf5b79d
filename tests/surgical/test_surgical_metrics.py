"""Surgical phase agreement (issue 12 item 7): frame-wise measures against scikit-learn, the segmental ones against
a frame-list transcription of MS-TCN's published definitions, the relaxed boundary rule against a per-run loop
written from the challenge script's description, and hand-computed small cases."""
import random

import numpy as np
import pytest

from annotators.base import ItemView, MediaInfo, registry
from annotators.surgical import metrics
from annotators.surgical.schema import PHASES

PREP, CALOT, CLIP, DISSECT, PACK, CLEAN, RETRACT = PHASES


def timeline(*spans, fps=None):
    """(phase, start, end) triples -> payload; with `fps`, times as the frame index would give them."""
    phases = []
    for i, (phase, start, end) in enumerate(spans):
        seg = {"id": f"p{i}", "phase": phase, "start_frame": start, "end_frame": end}
        if fps:
            seg.update(start_ms=round(start * 1000 / fps), end_ms=round(end * 1000 / fps))
        phases.append(seg)
    return {"phases": phases}


def random_timeline(rng, length, pieces, gaps=True):
    cuts = sorted(rng.sample(range(1, length), pieces - 1))
    spans = []
    for i, (s, e) in enumerate(zip([0] + cuts, cuts + [length])):
        if gaps:
            phase = rng.choice(PHASES[:5] + [None])
        else:  # roughly in order, with a neighbour now and then: the relaxed rule's cases
            phase = PHASES[max(0, min(6, i * 7 // pieces + rng.choice((-2, -1, 0, 0, 1, 2))))]
        if phase is not None or rng.random() < 0.5:  # None: an unlabelled segment; skipped: a gap in the timeline
            spans.append((phase, s, e))
    return timeline(*spans)


def frames(payload, length):
    return ["-" if v is None else v for v in metrics.frame_labels(payload, length)]


# -- MS-TCN's eval.py definitions, transcribed from the paper/code description onto frame lists ------------------
def ms_tcn_segments(labels, background="-"):
    out, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] != background:
                out.append((labels[start], start, i))  # half-open (MS-TCN's last end is len - 1: off by one)
            start = i
    return out


def ms_tcn_edit(p, y):
    p, y = [s[0] for s in ms_tcn_segments(p)], [s[0] for s in ms_tcn_segments(y)]
    d = [[0] * (len(y) + 1) for _ in range(len(p) + 1)]
    for i in range(len(p) + 1):
        d[i][0] = i
    for j in range(len(y) + 1):
        d[0][j] = j
    for i in range(1, len(p) + 1):
        for j in range(1, len(y) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (p[i - 1] != y[j - 1]))
    return 1.0 - d[-1][-1] / max(len(p), len(y)) if max(len(p), len(y)) else 1.0


def ms_tcn_f1(p, y, overlap):
    ps, ys = ms_tcn_segments(p), ms_tcn_segments(y)
    hits, tp, fp = [False] * len(ys), 0, 0
    for label, start, end in ps:
        ious = [(min(end, ye) - max(start, ys_)) / (max(end, ye) - min(start, ys_)) * (label == yl)
                for yl, ys_, ye in ys]
        best = int(np.argmax(ious)) if ious else None
        if best is not None and ious[best] >= overlap and not hits[best]:
            tp, hits[best] = tp + 1, True
        else:
            fp += 1
    fn = len(ys) - sum(hits)
    if not ps and not ys:
        return 1.0
    precision, recall = tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# -- the relaxed rule, one run at a time, from the challenge script's description (bug fixed: tail = last t) -----
# Evaluate.m's index-based special cases for Cholec80 (4, 5 and 6, 7 of 7 phases), by name: (late, early) offsets
SCRIPT_CASES = {DISSECT: (1, 2), PACK: (1, 2), CLEAN: (2, 2), RETRACT: (2, 2)}


def relaxed_reference(gt, pred, names, fps):
    code = {name: i + 1 for i, name in enumerate(names)}
    g = [code.get(x, 0) for x in gt]
    p = [code.get(x, 0) for x in pred]
    ok = [x == y for x, y in zip(g, p)]
    window = round(10 * fps)
    start = 0
    for i in range(1, len(g) + 1):
        if i < len(g) and g[i] == g[start]:
            continue
        k, t = g[start], min(window, i - start)
        if k:
            late, early = SCRIPT_CASES.get(names[k - 1], (1, 1))
            for f in range(start, start + t):
                if p[f] and 1 <= g[f] - p[f] <= late:
                    ok[f] = True
            for f in range(i - t, i):
                if p[f] and 1 <= p[f] - g[f] <= early:
                    ok[f] = True
        start = i
    per = {}
    for name, k in code.items():
        if k not in g:
            continue
        union = [f for f in range(len(g)) if g[f] == k or p[f] == k]
        tp = sum(ok[f] for f in union)
        per[name] = {"jaccard": tp / len(union), "recall": min(1, tp / g.count(k)),
                     "precision": min(1, tp / p.count(k)) if p.count(k) else 0.0}
    return sum(ok) / len(g), per


@pytest.mark.parametrize("seed", range(12))
def test_frame_measures_match_scikit_learn(seed):
    from sklearn.metrics import accuracy_score, cohen_kappa_score, precision_recall_fscore_support, jaccard_score

    rng = random.Random(seed)
    length = rng.randint(50, 3000)
    a, b = random_timeline(rng, length, rng.randint(1, 12)), random_timeline(rng, length, rng.randint(1, 12))
    length = metrics._length(a, b)
    if not length:
        return
    out, per_phase = metrics.evaluate(a, b)
    la, lb = frames(a, length), frames(b, length)
    used = sorted((set(la) | set(lb)) - {"-"})
    assert out["phase_accuracy"] == out["agreement"] == pytest.approx(accuracy_score(la, lb), abs=1e-6)
    if len(set(la) | set(lb)) > 1:
        assert out["phase_kappa"] == pytest.approx(cohen_kappa_score(la, lb), abs=1e-6)
    else:
        assert "phase_kappa" not in out
    if used:
        p, r, _, _ = precision_recall_fscore_support(la, lb, labels=used, average=None, zero_division=0)
        j = jaccard_score(la, lb, labels=used, average=None, zero_division=0)
        assert [per_phase[u]["precision"] for u in used] == pytest.approx(list(p), abs=1e-6)
        assert [per_phase[u]["recall"] for u in used] == pytest.approx(list(r), abs=1e-6)
        assert [per_phase[u]["jaccard"] for u in used] == pytest.approx(list(j), abs=1e-6)
        assert out["phase_precision"] == pytest.approx(p.mean(), abs=1e-6)
        assert out["phase_recall"] == pytest.approx(r.mean(), abs=1e-6)
        assert out["phase_jaccard"] == pytest.approx(j.mean(), abs=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_segmental_and_relaxed_measures_match_the_reference_definitions(seed):
    rng = random.Random(100 + seed)
    length = rng.randint(200, 4000)
    gaps = seed % 2 == 0
    a = random_timeline(rng, length, rng.randint(1, 15), gaps)
    b = random_timeline(rng, length, rng.randint(1, 15), gaps)
    length = metrics._length(a, b)
    fps = rng.choice((5, 10, 25))
    out, per_phase = metrics.evaluate(a, b, fps=fps)
    la, lb = frames(a, length), frames(b, length)
    # a is the reference: MS-TCN's ground truth; b its prediction
    assert out["edit_score"] == pytest.approx(ms_tcn_edit(lb, la), abs=1e-6)
    for tau in (10, 25, 50):
        assert out[f"f1_{tau}"] == pytest.approx(ms_tcn_f1(lb, la, tau / 100), abs=1e-6), tau
    accuracy, per = relaxed_reference(la, lb, PHASES, fps)
    assert out["relaxed_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    for name, values in per.items():
        for key, value in values.items():
            assert per_phase[name][f"relaxed_{key}"] == pytest.approx(value, abs=1e-6), (name, key)
    if per:
        assert out["relaxed_jaccard"] == pytest.approx(np.mean([v["jaccard"] for v in per.values()]), abs=1e-6)


def test_relaxed_boundaries_by_hand():
    a = timeline((PREP, 0, 1000), (CALOT, 1000, 2000))
    late = metrics.agree(a, timeline((PREP, 0, 1100), (CALOT, 1100, 2000)))  # b moves on 4 s late (25 fps)
    assert late["phase_accuracy"] == 0.95 and late["relaxed_accuracy"] == 1.0
    # the forgiven frames count for both phases' unions, so precision/recall would pass 1: clipped as Main.m does
    assert late["relaxed_precision"] == late["relaxed_recall"] == late["relaxed_jaccard"] == 1.0
    very_late = metrics.agree(a, timeline((PREP, 0, 1300), (CALOT, 1300, 2000)))  # 12 s: 10 s forgiven, 2 s not
    assert very_late["relaxed_accuracy"] == pytest.approx(1950 / 2000)
    # early transition: forgiven at the END of the reference's Preparation (the published script's mask lands on its
    # first 250 frames instead, which would leave these 100 errors standing)
    early = metrics.agree(a, timeline((PREP, 0, 900), (CALOT, 900, 2000)))
    assert early["relaxed_accuracy"] == 1.0
    # the window follows the frame rate the payload's times give: at 50 fps, 10 s is 500 frames
    assert metrics.agree(timeline((PREP, 0, 1000), (CALOT, 1000, 2000), fps=50),
                         timeline((PREP, 0, 1400), (CALOT, 1400, 2000), fps=50))["relaxed_accuracy"] == 1.0
    assert metrics.agree(a, timeline((PREP, 0, 1400), (CALOT, 1400, 2000)))["relaxed_accuracy"] == 0.925
    # a phase that is not adjacent in the phase list is never forgiven ...
    skip = metrics.agree(timeline((PREP, 0, 1000), (CLIP, 1000, 2000)), timeline((PREP, 0, 900), (CLIP, 900, 2000)))
    assert skip["relaxed_accuracy"] == 0.95
    # ... except the published special cases: GallbladderDissection may be followed early by CleaningCoagulation (+2)
    dissect = metrics.agree(timeline((DISSECT, 0, 1000), (CLEAN, 1000, 2000)),
                            timeline((DISSECT, 0, 900), (CLEAN, 900, 2000)))
    assert dissect["relaxed_accuracy"] == 1.0
    # and CleaningCoagulation may start late still predicted as GallbladderDissection (-2); not beyond the window
    clean = metrics.agree(timeline((DISSECT, 0, 1000), (CLEAN, 1000, 2000)),
                          timeline((DISSECT, 0, 1300), (CLEAN, 1300, 2000)))
    assert clean["relaxed_accuracy"] == pytest.approx(1950 / 2000)
    # "no phase" is no adjacent phase: b leaving the start unlabelled is an error, relaxed or not
    unlabelled = metrics.agree(a, timeline((None, 0, 100), (PREP, 100, 1000), (CALOT, 1000, 2000)))
    assert unlabelled["relaxed_accuracy"] == 0.95


def test_segmental_scores_by_hand():
    a = timeline((PREP, 0, 100), (CALOT, 100, 200), (CLIP, 200, 300))
    b = timeline((PREP, 0, 100), (CLIP, 100, 300))
    out = metrics.agree(a, b)
    assert out["edit_score"] == pytest.approx(1 - 1 / 3)
    # b's CLIP [100, 300) vs a's CLIP [200, 300): IoU 0.5, a match at every threshold; PREP matches; CALOT missed
    assert out["f1_10"] == out["f1_25"] == out["f1_50"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))
    shifted = metrics.agree(a, timeline((PREP, 0, 100), (CALOT, 100, 130), (CLIP, 130, 300)))
    # CALOT [100, 130) vs [100, 200): IoU 0.3 -> a match at 10 % and 25 %, not at 50 %
    assert shifted["f1_25"] == 1.0 and shifted["f1_50"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert shifted["edit_score"] == 1.0
    # two b segments on one a segment: the second is a false positive (a's segment is taken)
    split = metrics.agree(timeline((PREP, 0, 100)), timeline((PREP, 0, 50), (PREP, 50, 51), (None, 51, 52),
                                                             (PREP, 52, 100)))
    assert split["f1_10"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 0)) and split["edit_score"] == 0.5


def test_boundaries_in_frames_and_seconds():
    a = timeline((PREP, 0, 100), (CALOT, 100, 400), (CLIP, 400, 500), fps=25)
    b = timeline((PREP, 0, 130), (CALOT, 130, 380), (CLIP, 380, 500), fps=25)
    out = metrics.agree(a, b)
    assert out["boundary_frames"] == 25.0 and out["boundary_seconds"] == 1.0
    # an extra boundary in b (150) costs its distance to a's nearest one (100): 30, 20 | 30, 50, 20
    extra = timeline((PREP, 0, 130), (CALOT, 130, 150), (CLIP, 150, 380), (CALOT, 380, 500), fps=25)
    assert metrics.agree(a, extra)["boundary_frames"] == pytest.approx(np.mean([30, 20, 30, 50, 20]))
    # no times in the payloads: the item's probed frame rate, else 25 fps
    plain_a, plain_b = timeline((PREP, 0, 100), (CALOT, 100, 200)), timeline((PREP, 0, 150), (CALOT, 150, 200))
    assert metrics.agree(plain_a, plain_b)["boundary_seconds"] == 2.0
    modality = registry.get("surgical")
    item = ItemView(id=1, kind="video", media=MediaInfo(has_video=True, fps_num=50, fps_den=1))
    assert modality.agree(plain_a, plain_b, item, modality.default_label_config)["boundary_seconds"] == 1.0
    # a timeline without boundaries against one with: nothing to measure to, the key is left out
    assert "boundary_frames" not in metrics.agree(timeline((PREP, 0, 200)), plain_b)


def test_edge_cases():
    assert metrics.agree({"phases": []}, {"phases": []}) == {"agreement": 1.0}
    same = metrics.agree(timeline((PREP, 0, 1), (CALOT, 1, 2)), timeline((PREP, 0, 1), (CALOT, 1, 2)))
    assert all(v == 1.0 for k, v in same.items() if not k.startswith("boundary")) and same["boundary_frames"] == 0
    # one annotator with no phases: nothing agrees, nothing crashes; relaxed per-phase scores are undefined
    one = metrics.agree({"phases": []}, timeline((PREP, 0, 50), (CALOT, 50, 100)))
    assert one["agreement"] == 0.0 and one["phase_kappa"] == 0.0 and one["edit_score"] == 0.0
    assert one["f1_50"] == 0.0 and "relaxed_jaccard" not in one and one["relaxed_accuracy"] == 0.0
    assert "boundary_frames" not in one
    other_way = metrics.agree(timeline((PREP, 0, 50), (CALOT, 50, 100)), {"phases": []})
    assert other_way["relaxed_precision"] == 0.0 and other_way["relaxed_recall"] == 0.0
    # unlabelled segments and gaps are "no phase" on both sides: they agree with each other, not with a phase
    gaps = timeline((PREP, 0, 40), (None, 40, 60), (CALOT, 70, 100))
    assert metrics.agree(gaps, timeline((PREP, 0, 40), (CALOT, 70, 100)))["agreement"] == 1.0
    # a phase absent in one version: 0 for it in the strict means, excluded from the relaxed ones if a lacks it
    _, per = metrics.evaluate(timeline((PREP, 0, 100)), timeline((PREP, 0, 60), (CLIP, 60, 100)))
    assert per[CLIP] == {"precision": 0.0, "recall": 0.0, "jaccard": 0.0}
    assert per[PREP]["relaxed_recall"] == 0.6 and "relaxed_jaccard" not in per[CLIP]
    # single-frame segments
    flicker = metrics.agree(timeline((PREP, 0, 1), (CALOT, 1, 2), (PREP, 2, 3)), timeline((PREP, 0, 3)))
    assert flicker["agreement"] == pytest.approx(2 / 3) and flicker["edit_score"] == pytest.approx(1 / 3)
    # a phase name the project does not list (an old payload): measured, put after the configured ones
    assert metrics.agree(timeline(("Other", 0, 10)), timeline(("Other", 0, 10)), [PREP])["agreement"] == 1.0


def test_a_four_hour_video_is_measured_whole():
    """360,000 frames (the time is measured, ~0.05 s here, not asserted: shared CI cores)."""
    length, rng = 4 * 3600 * 25, random.Random(7)
    a = random_timeline(rng, length, 40, gaps=False)
    b = random_timeline(rng, length, 60, gaps=False)
    out = metrics.agree(a, b)
    assert 0 <= out["agreement"] <= 1 and set(out) >= {"relaxed_accuracy", "edit_score", "f1_50", "boundary_seconds"}


def test_every_metric_is_declared_in_range_and_reported_per_phase():
    modality = registry.get("surgical")
    specs = {m.name: m for m in modality.metric_specs}
    item = ItemView(id=1, kind="video")
    a = timeline((PREP, 0, 100), (CALOT, 100, 300), (CLIP, 300, 400), fps=25)
    b = timeline((PREP, 0, 120), (CALOT, 120, 280), (DISSECT, 280, 400), fps=25)
    a["tags"] = [{"id": "t", "track": "Hook", "start_frame": 10, "end_frame": 90}]
    out = modality.agree(a, b, item, modality.default_label_config)
    assert set(out) <= set(specs) and set(out) >= {"relaxed_jaccard", "f1_10", "boundary_seconds", "tag_f1"}
    for name, value in out.items():
        low, high = specs[name].range
        assert (low is None or value >= low) and (high is None or value <= high), name
    described = {m["name"] for m in modality.describe()["metrics"]}
    assert {"phase_precision", "relaxed_recall", "edit_score", "f1_25", "boundary_seconds"} <= described
    report = modality.agree_many([(1, "ann", a), (1, "bob", b), (2, "ann", a), (2, "bob", a)],
                                 modality.default_label_config).as_dict()
    assert report["per_pair"]["ann vs bob"]["items"] == 2 and report["overall"]["mean_f1_50"] <= 1
    assert report["per_label"][PREP]["pairs"] == 2 and report["per_label"][CLIP]["recall"] == 0.5
    assert report["per_label"][DISSECT] == {"pairs": 1, "precision": 0.0, "recall": 0.0, "jaccard": 0.0}
