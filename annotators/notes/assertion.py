"""ConText-style assertion of clinical entities: negated, possible, hypothetical, historical, family, or present.

Trigger phrases open a scope forward, backward or both ways, inside one sentence, up to a window of tokens, and
stop at termination terms ("but", "however"...). Pseudo-triggers ("no change", "not only") are matched first and
hide the real triggers they contain. When several categories cover one entity, the strongest wins (negation over
experiencer over hypothetical over uncertainty over history); with no trigger, the section decides (Family History
-> family, Past Medical/Surgical History -> historical).

We keep our own rules rather than medspaCy: medspaCy 1.3 pins spaCy < 3.8 on Python 3.11 (see the offline notes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .sections import Section, section_at

FORWARD, BACKWARD, BIDIRECTIONAL = "forward", "backward", "bidirectional"
PRECEDENCE = ("negated", "family", "hypothetical", "possible", "historical")
SECTION_DEFAULTS = {"family_history": "family", "past_medical_history": "historical",
                    "past_surgical_history": "historical"}
DEFAULT_WINDOW = 8


@dataclass(frozen=True)
class Rule:
    phrase: str
    category: str  # one of PRECEDENCE, or "pseudo" / "terminate"
    direction: str = FORWARD
    window: int = DEFAULT_WINDOW


def _rules(category: str, direction: str, phrases: str, window: int = DEFAULT_WINDOW) -> list[Rule]:
    return [Rule(p.strip(), category, direction, window) for p in phrases.split("|") if p.strip()]


RULES: list[Rule] = [
    *_rules("negated", FORWARD, "no|not|denies|denied|deny|denying|without|negative for|no evidence of|"
            "no signs of|no sign of|no history of|free of|absence of|never had|never|none|no new|no further|"
            "rules out|ruled out for|not demonstrate|no complaints of|fails to reveal|"
            "no longer|not have|did not have|does not have|doesn't have|nor"),
    *_rules("negated", BACKWARD, "is ruled out|was ruled out|were ruled out|ruled out|is negative|was negative|"
            "were negative|are negative|not seen|not present|absent|is absent|was absent|unlikely|"
            "has resolved|resolved", window=6),
    *_rules("possible", FORWARD, "possible|possibly|probable|probably|likely|suspected|suspect|suspicious for|"
            "concern for|concerning for|cannot rule out|can't rule out|cannot exclude|can't exclude|"
            "may have|might have|may be|could be|questionable|question of|rule out|r/o|versus|vs|"
            "differential includes|differential diagnosis includes|worrisome for|presumed|?"),
    *_rules("possible", BACKWARD, "is possible|is likely|is suspected|is questionable|not excluded|"
            "cannot be excluded|can't be excluded|cannot be ruled out|vs|versus|?", window=6),
    *_rules("possible", FORWARD, "may represent|might represent|could represent|may reflect|could reflect|"
            "suggestive of|suggests|raises the possibility of|differential diagnosis of"),
    *_rules("hypothetical", FORWARD, "if|should|in case of|in the event of|return for|return if|call for|"
            "call if|watch for|monitor for|seek care for|seek medical attention for|as needed for|prn for|"
            "to prevent|prophylaxis for|at risk for|risk of|precautions|unless|"
            # planned, not yet done
            "scheduled for|will undergo|to undergo|will have|plan for|planned for|planning for|referred for|"
            "referral for|follow up for|f/u for|will need|will require|candidate for|consider starting"),
    *_rules("historical", FORWARD, "history of|hx of|h/o|hx|previous|previously|prior|status post|s/p|"
            "remote|former|childhood|in the past|last year|years ago|past history of|past history significant for|"
            "past medical history of|past medical history significant for|medical history of|"
            "history significant for|known history of|healed", window=6),
    # planned: "colonoscopy in 3 months", "MRI next week"
    *_rules("hypothetical", BACKWARD, "in numtoken days|in numtoken weeks|in numtoken months|in numtoken years|"
            "next week|next month|next year|tomorrow|next visit", window=6),
    # time expressions after the entity: "MI in 2010", "appendectomy at age 12", "pneumonia last month"
    *_rules("historical", BACKWARD, "in the past|years ago|in childhood|previously|in remote past|last year|"
            "in yearnum|at age numtoken|at the age of numtoken|months ago|year ago|month ago|last month|"
            "as a child|as a teenager", window=6),
    *_rules("family", BIDIRECTIONAL, "mother|father|mom|dad|sister|brother|sibling|siblings|aunt|uncle|"
            "grandmother|grandfather|grandparent|cousin|maternal|paternal|parents|family history of|"
            "family history|fhx|fh of|son|daughter|twin", window=6),
    *_rules("pseudo", FORWARD, "no increase|no change|no significant change|not only|not necessarily|"
            "not cause|not certain if|not certain whether|without difficulty|no further workup|"
            "gram negative|not ruled out|not been ruled out|social history|past medical history|"
            "no acute distress|non-tender|history and physical|possible that|if any|not drain|not extend|"
            "sister hospital|fh and sh|prior to|history of present illness|present illness|if needed|"
            "if necessary|if possible|should be|whether or not|old records|prior records"),
    *_rules("terminate", FORWARD, "but|however|yet|though|although|except|aside from|apart from|other than|"
            "because|which|secondary to|due to|as the cause of|as a cause of|source of|"
            "etiology of|origin of|cause of|reason for|presents with|presented with|complains of|reports|"
            "endorses|admits to|notes|positive for|and has|now has"),
]

_TOKEN = re.compile(r"\w+(?:[/'\-]\w+)*|\?|[^\w\s]")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_NUMBER = re.compile(r"^\d{1,2}$")
_LIST_SEPARATORS = {",", "and", "or", "nor", "/", "&"}
_LIST_ITEM_WORDS = 4


def _distance(words: list[str], begin: int, end: int) -> int:
    """Words between a trigger and its target, counted from the last list separator: in "denies fever, chills,
    night sweats, nausea or abdominal pain" every item is near its trigger, as ConText treats a list as one scope
    (which still ends at a terminator or the end of the clause)."""
    distance, listing = 0, False
    for word in words[begin:end]:
        listing = listing or word == ","  # "and"/"or" separate items only in a comma list ("A, B and C")
        # an item is a short phrase: after a long stretch a comma ends a clause, not a list item
        if word in _LIST_SEPARATORS and (listing or word == ",") and distance <= _LIST_ITEM_WORDS:
            distance = 0
        else:
            distance += 1
    return distance
_SENTENCE_BREAK = re.compile(r"[.!;]\s|\n\s*\n|\n(?=\s*[-*\u2022\dA-Z])|:\s*\n")


class ConText:
    """Compiled rule set. Phrases are matched on lowercased tokens; longer phrases are preferred."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self.rules = list(rules if rules is not None else RULES)
        self._by_tokens: dict[tuple[str, ...], list[Rule]] = {}
        for rule in self.rules:
            key = tuple(t.lower() for t in _TOKEN.findall(rule.phrase))
            self._by_tokens.setdefault(key, []).append(rule)
        self._max_len = max((len(k) for k in self._by_tokens), default=1)

    def categories(self, text: str, span_start: int, span_end: int, sent_start: int, sent_end: int) -> set[str]:
        """Categories whose scope reaches the entity at [span_start, span_end) within one sentence."""
        tokens = [(m.start() + sent_start, m.end() + sent_start, m.group().lower())
                  for m in _TOKEN.finditer(text[sent_start:sent_end])]
        target = [i for i, (s, e, _) in enumerate(tokens) if s < span_end and e > span_start]
        if not target:
            return set()
        first, last = target[0], target[-1]
        matches = self._match(tokens, exclude=set(target))
        terminators = [m for m in matches if m[2].category == "terminate"]
        words = [w for _, _, w in tokens]
        found = set()
        for start, end, rule in matches:
            if rule.category in ("terminate", "pseudo"):
                continue
            if rule.direction in (FORWARD, BIDIRECTIONAL) and end <= first:
                stops = [t for t, _, _ in terminators if end <= t <= first]
                if _distance(words, end, first) < rule.window and not stops:
                    found.add(rule.category)
            if rule.direction in (BACKWARD, BIDIRECTIONAL) and start > last:
                stops = [t for t, _, _ in terminators if last < t < start]
                if _distance(words, last + 1, start) < rule.window and not stops:
                    found.add(rule.category)
        return found

    def _match(self, tokens: list[tuple[int, int, str]], exclude: set[int]) -> list[tuple[int, int, Rule]]:
        """Greedy longest match left to right; pseudo-triggers consume their tokens like any other phrase."""
        words = [_YEAR.sub("yearnum", _NUMBER.sub("numtoken", t[2])) for t in tokens]
        out, i = [], 0
        while i < len(words):
            for length in range(min(self._max_len, len(words) - i), 0, -1):
                key = tuple(words[i:i + length])
                if key in self._by_tokens and not exclude.intersection(range(i, i + length)):
                    out.extend((i, i + length, rule) for rule in self._by_tokens[key])
                    i += length
                    break
            else:
                i += 1
        return out


_default_context: ConText | None = None


def _context() -> ConText:
    global _default_context
    if _default_context is None:
        _default_context = ConText()
    return _default_context


def sentence_bounds(text: str, offset: int) -> tuple[int, int]:
    """The sentence (or list item / heading line) around `offset`: ConText scopes never cross it."""
    start = 0
    for match in _SENTENCE_BREAK.finditer(text, max(0, offset - 2000), offset):
        start = match.end()
    following = _SENTENCE_BREAK.search(text, offset, min(len(text), offset + 2000))
    return start, (following.start() + 1 if following else min(len(text), offset + 2000))


def assert_span(text: str, start: int, end: int, section: str | None = None,
                context: ConText | None = None) -> str:
    sent_start, sent_end = sentence_bounds(text, start)
    found = (context or _context()).categories(text, start, end, sent_start, max(sent_end, end))
    for category in PRECEDENCE:
        if category in found:
            return category
    return SECTION_DEFAULTS.get(section or "", "present")


def assign_assertions(text: str, spans: list[dict], sections: list[Section] | None = None,
                      context: ConText | None = None, overwrite: bool = False) -> list[dict]:
    """Set `assertion` (and `section`) on entity-layer spans, in place; returns the spans. A human-set assertion is
    kept unless `overwrite`."""
    sections = sections if sections is not None else []
    for span in spans:
        if span.get("layer", "entity") != "entity":
            continue
        section = section_at(sections, span["start"])
        if section and "section" not in span:
            span["section"] = section
        if overwrite or "assertion" not in span:
            span["assertion"] = assert_span(text, span["start"], span["end"], section, context)
    return spans
