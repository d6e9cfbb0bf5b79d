"""Keyword pre-annotator for whole-item labels, and its training from accepted labels."""
from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from typing import Sequence

from annotators.base import ItemView, Prediction

TOKEN = re.compile(r"[a-z][a-z0-9'-]{2,}")
STOPWORDS = frozenset(
    "the and for with was were has had have this that from are not but his her she him they them their you your "
    "our its into over under after before about than then there here what when which while who will would could "
    "should also been being did does doing each few more most other some such only own same very can just now any "
    "all both per via".split()
)


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall((text or "").lower()) if t not in STOPWORDS]


class KeywordLabeler:
    """Counts whole-word keyword hits per label; the score is the winner's share of all hits (its confidence)."""

    name = "keywords"
    wants_gpu = False

    def __init__(self) -> None:
        self.version = "1"
        self._patterns: dict[str, re.Pattern] = {}

    def setup(self, device: str, label_config: dict, params: dict | None = None, resources: dict | None = None):
        learned = (params or {}).get("keywords", {})
        self._patterns = {}
        for label in label_config.get("labels", []):
            words = {w.lower() for w in label.get("keywords", [])} | {w.lower() for w in learned.get(label["name"], [])}
            words.discard("")
            if words:
                alternation = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
                self._patterns[label["name"]] = re.compile(rf"\b(?:{alternation})\b", re.IGNORECASE)

    def scores(self, text: str) -> Counter:
        return Counter({label: len(p.findall(text or "")) for label, p in self._patterns.items()})

    def predict(self, items: Sequence[ItemView]) -> list[Prediction]:
        out = []
        for item in items:
            hits = +self.scores(item.text or "")
            if not hits:
                continue
            label, best = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            out.append(Prediction(item_id=item.id, payload={"labels": [label]}, score=best / sum(hits.values())))
        return out


def accuracy(labeler: KeywordLabeler, pairs: Sequence[tuple[ItemView, dict]]) -> float:
    if not pairs:
        return 0.0
    predicted = {p.item_id: p.payload["labels"] for p in labeler.predict([view for view, _ in pairs])}
    return sum(predicted.get(view.id) == sorted(payload.get("labels", []))[:1] for view, payload in pairs) / len(pairs)


def learn_keywords(pairs: Sequence[tuple[ItemView, dict]], per_label: int = 15) -> dict[str, list[str]]:
    """Words that are much more frequent in one label's items than in the rest (smoothed log-odds)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for view, payload in pairs:
        words = set(tokens(view.text or ""))
        for label in payload.get("labels", []):
            counts[label].update(words)
    total = Counter()
    for c in counts.values():
        total.update(c)
    vocab = len(total) or 1
    learned = {}
    for label, c in counts.items():
        n_in, n_out = sum(c.values()), sum(total.values()) - sum(c.values())
        ranked = []
        for word, k in c.items():
            if k < 2:
                continue
            rest = total[word] - k
            log_odds = math.log((k + 0.5) / (n_in + vocab)) - math.log((rest + 0.5) / (n_out + vocab))
            if log_odds > 1.0:
                ranked.append((log_odds, word))
        learned[label] = [w for _, w in sorted(ranked, reverse=True)[:per_label]]
    return learned


def fit_keywords(pairs: Sequence[tuple[ItemView, dict]], label_config: dict, previous: dict | None) -> dict:
    """Learn keywords on 80 % of the accepted items, compare with the previous model on the other 20 %."""
    shuffled = list(pairs)
    random.Random(13).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * 0.8)) if len(shuffled) > 4 else len(shuffled)
    train, held_out = shuffled[:cut], shuffled[cut:] or shuffled
    candidate = KeywordLabeler()
    candidate.setup("cpu", label_config, {"keywords": learn_keywords(train)})
    baseline = KeywordLabeler()
    baseline.setup("cpu", label_config, previous)
    new_acc, old_acc = accuracy(candidate, held_out), accuracy(baseline, held_out)
    return {"params": {"keywords": learn_keywords(pairs)},
            "metrics": {"held_out_accuracy": new_acc, "previous_accuracy": old_acc, "held_out": len(held_out)},
            "better": new_acc >= old_acc}
