"""Timeline measures that look at stretches rather than single frames: the relaxed-boundary evaluation of the
Cholec80 / M2CAI16 workflow challenge, the segmental edit score and segmental F1@k of the action segmentation
literature (Lea et al. 2017; MS-TCN, Farha & Gall 2019), and nearest-boundary distances.

Everything works on integer code arrays (one code per frame; 0 = no phase there, 1..K = the project's phases in
their configured order), so a 4-hour video at 25 fps (360,000 frames) costs a few numpy passes.

Relaxed boundaries, as implemented here (`relaxed`), with the reference `r` (annotator a) and the compared
timeline `p` (annotator b). Within each maximal run of one reference phase k (every run, the first and last of the
video included), with t = min(round(10 s x fps), run length):
- the first t frames also count as correct where p is an earlier phase k - d, d in LATE[k] ("late transition":
  b has not yet moved on), and
- the last t frames also count as correct where p is a later phase k + d, d in EARLY[k] ("early transition"),
where "earlier/later" is the position in the project's phase list. LATE/EARLY are {1} except the published special
cases, named by phase: GallbladderDissection and GallbladderPackaging: late {1}, early {1, 2};
CleaningCoagulation and GallbladderRetraction: late {1, 2}, early {1, 2}. With Cholec80's 7 phases (or M2CAI16's 8,
TrocarPlacement first) in their usual order these are exactly the index-based cases of the published Evaluate.m.
Per phase k present in the reference: TP = frames in (r == k or p == k) that count as correct; Jaccard = TP / |r == k
or p == k|; precision = TP / |p == k| (0 when b never uses k); recall = TP / |r == k|; precision and recall clipped to
1 (as the script's Main.m clips at 100: TP includes forgiven frames of the other class, so either can exceed 1).
Phases absent from the reference are left out of the means (the script's NaN + nanmean). Accuracy: correct frames /
all frames.

Where this differs from the published MATLAB (Evaluate.m, Jin et al. / Twinanda et al.):
1. The script's early-transition line indexes with a length-t logical mask, which MATLAB applies to the FIRST t frames
   of the run, not the last t (reported by Funke et al., "Metrics Matter in Surgical Phase Recognition", 2023). We
   apply the rule to the last t frames, as its comment says it should.
2. Frames where the reference has no phase are correct only where b has none either (the script zero-fills them,
   i.e. counts them correct whatever was predicted); a prediction of "no phase" is never an adjacent phase (the
   script would forgive a label 0 after phase 1 as "k - 1").
3. Per-video values are fractions in [0, 1], not percentages; means over phases are per item pair.

Segmental measures (a = MS-TCN's ground truth, b = its prediction; "no phase" is its background class, left out):
edit score = 1 - Levenshtein(label sequences of the segments) / max(segment counts); F1@tau as in `f1_at`. Unlike
MS-TCN's eval.py: values are per item pair (it pools TP/FP/FN over all videos before dividing), the last segment
ends after the last frame (its `get_labels_start_end_time` ends it one frame short), and two empty timelines score 1.
"""
from __future__ import annotations

import numpy as np

RELAXED_SECONDS = 10.0
# (late offsets, early offsets) beyond the general (1, 1), by phase name: the published per-phase special cases
SPECIAL = {"GallbladderDissection": (1, 2), "GallbladderPackaging": (1, 2),
           "CleaningCoagulation": (2, 2), "GallbladderRetraction": (2, 2)}
F1_OVERLAPS = (0.10, 0.25, 0.50)


def runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of equal codes: (starts, ends (exclusive), codes)."""
    if codes.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [codes.size]))
    return starts, ends, codes[starts].astype(np.int64)


def segments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase segments (runs without the 'no phase' code 0, MS-TCN's background class)."""
    starts, ends, labels = runs(codes)
    keep = labels != 0
    return starts[keep], ends[keep], labels[keep]


def relaxed(ref: np.ndarray, hyp: np.ndarray, names: list[str], fps: float) -> tuple[float, dict[int, dict]]:
    """Relaxed-boundary accuracy and, per phase code present in `ref`, relaxed precision/recall/Jaccard."""
    n, k = ref.size, len(names)
    window = max(1, int(round(RELAXED_SECONDS * fps)))
    starts, ends, labels = runs(ref)
    lengths = ends - starts
    late = np.ones(labels.size, dtype=np.int32)
    early = np.ones(labels.size, dtype=np.int32)
    for code, (lt, er) in ((i + 1, SPECIAL[name]) for i, name in enumerate(names) if name in SPECIAL):
        late[labels == code], early[labels == code] = lt, er
    ok = hyp == ref
    t = np.minimum(window, lengths)
    phase_runs = labels > 0
    # only the frames inside the windows are looked at: at most 2 x 10 s per run, however long the video
    for first, sign, allowed in ((starts, -1, late), (ends - t, 1, early)):
        first, width, allowed = first[phase_runs], t[phase_runs], allowed[phase_runs]
        frame = np.repeat(first - np.cumsum(width) + width, width) + np.arange(width.sum())
        gt, got = ref[frame].astype(np.int32), hyp[frame].astype(np.int32)
        step = (got - gt) * sign  # how many phases earlier (head) or later (tail) b is
        ok[frame[(got > 0) & (step >= 1) & (step <= np.repeat(allowed, width))]] = True
    # TP per phase over the union (r == k or p == k): correct frames of reference k, plus correct frames predicted
    # as k whose reference is another phase (forgiven neighbours), as the script counts them.
    in_ref = np.bincount(ref, minlength=k + 1)
    in_hyp = np.bincount(hyp, minlength=k + 1)
    both = np.bincount(ref[ref == hyp], minlength=k + 1)
    tp = np.bincount(ref[ok], minlength=k + 1) + np.bincount(hyp[ok & (hyp != ref)], minlength=k + 1)
    out = {}
    for code in range(1, k + 1):
        if not in_ref[code]:
            continue  # the script's NaN: a phase the reference never shows has no relaxed score
        union = in_ref[code] + in_hyp[code] - both[code]
        out[code] = {"jaccard": min(1.0, tp[code] / union),
                     "precision": min(1.0, tp[code] / in_hyp[code]) if in_hyp[code] else 0.0,
                     "recall": min(1.0, tp[code] / in_ref[code])}
    return float(ok.mean()) if n else 1.0, out


def edit_score(ref_labels: np.ndarray, hyp_labels: np.ndarray) -> float:
    """1 - Levenshtein(segment labels) / max(segment counts) (MS-TCN's `edit_score` / 100). Both empty: 1.0.
    One row of the table at a time, vectorised: a row's insertions are a running minimum (min over k <= j of
    tmp[k] + j - k), so a long timeline costs len(ref) numpy passes of len(hyp)."""
    m, n = ref_labels.size, hyp_labels.size
    if max(m, n) == 0:
        return 1.0
    cols = np.arange(n + 1)
    row = cols.astype(np.int64)
    for i in range(1, m + 1):
        substitute = row[:-1] + (hyp_labels != ref_labels[i - 1])
        tmp = np.empty(n + 1, dtype=np.int64)
        tmp[0] = i
        tmp[1:] = np.minimum(row[1:] + 1, substitute)
        row = np.minimum.accumulate(tmp - cols) + cols
    return 1.0 - float(row[-1]) / max(m, n)


def f1_at(ref: tuple, hyp: tuple, overlaps=F1_OVERLAPS) -> dict[float, float]:
    """Segmental F1@tau (MS-TCN's `f_score`): each segment of `hyp`, in order, is matched to the reference segment of
    the same phase with the highest IoU; a true positive if that IoU >= tau and that reference segment is not yet
    taken, else a false positive; unmatched reference segments are false negatives. Both empty: 1.0."""
    rs, re_, rl = ref
    hs, he, hl = hyp
    best_ref = np.full(hl.size, -1)
    best_iou = np.zeros(hl.size)
    for label in np.intersect1d(rl, hl):
        ri, hi = np.flatnonzero(rl == label), np.flatnonzero(hl == label)
        inter = np.minimum(he[hi, None], re_[None, ri]) - np.maximum(hs[hi, None], rs[None, ri])
        union = np.maximum(he[hi, None], re_[None, ri]) - np.minimum(hs[hi, None], rs[None, ri])
        iou = np.clip(inter, 0, None) / union
        pick = iou.argmax(axis=1)  # first of equals, like MS-TCN's argmax
        best_ref[hi], best_iou[hi] = ri[pick], iou[np.arange(hi.size), pick]
    out = {}
    for tau in overlaps:
        if rl.size == 0 and hl.size == 0:
            out[tau] = 1.0
            continue
        taken = np.zeros(rl.size, dtype=bool)
        tp = 0
        for j in np.flatnonzero(best_iou >= tau):  # greedy, in the order of b's segments (the order matters)
            if not taken[best_ref[j]]:
                taken[best_ref[j]] = True
                tp += 1
        fp, fn = hl.size - tp, rl.size - tp
        out[tau] = 2 * tp / (2 * tp + fp + fn)  # = 2PR / (P + R); 0 when there is no true positive
    return out


def boundary_distance(ref: np.ndarray, hyp: np.ndarray) -> float | None:
    """Mean distance (frames) from each boundary (a frame where the phase, or its absence, changes) to the nearest
    boundary of the other timeline, both ways pooled: a boundary one annotator put and the other did not costs its
    distance to the other's nearest one. None when exactly one timeline has boundaries (nothing to measure to);
    0.0 when neither has any."""
    ba, bb = runs(ref)[0][1:], runs(hyp)[0][1:]
    if ba.size == 0 and bb.size == 0:
        return 0.0
    if ba.size == 0 or bb.size == 0:
        return None
    return float(np.concatenate([_nearest(ba, bb), _nearest(bb, ba)]).mean())


def _nearest(points: np.ndarray, sorted_targets: np.ndarray) -> np.ndarray:
    at = np.clip(np.searchsorted(sorted_targets, points), 1, sorted_targets.size - 1) if sorted_targets.size > 1 \
        else np.zeros(points.size, dtype=np.int64)
    left = np.abs(points - sorted_targets[np.maximum(at - 1, 0)])
    right = np.abs(points - sorted_targets[at])
    return np.minimum(left, right)
