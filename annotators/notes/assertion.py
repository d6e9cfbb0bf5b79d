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
    unless_target: frozenset[str] = frozenset()  # the target's last word that keeps the rule from applying
    findings_only: bool = False  # not for a drug or body part: "prn pain" is not there, "prn ativan" is an order


def _rules(category: str, direction: str, phrases: str, window: int = DEFAULT_WINDOW, **options) -> list[Rule]:
    return [Rule(p.strip(), category, direction, window, **options) for p in phrases.split("|") if p.strip()]


_CONSEQUENCES = ("may cause|can cause|could cause|might cause|may precipitate|could precipitate|can precipitate|"
                 "may lead to|could lead to|can lead to|might lead to|may result in|could result in|"
                 "can result in|may signal|could signal|could mean|can mean|may increase the risk of|may rarely cause|"
                 "can rarely cause|may occasionally cause|can sometimes cause|may also cause|can also cause")

_PAST_TIMES = ("numtoken years ago|numtoken months ago|numtoken year ago|numtoken month ago|numtoken months prior to|"
               "numtoken years prior to|months prior to admission|years prior to admission|numtoken months before|"
               "numtoken years before|numtoken years earlier|numtoken months earlier|in the past|years ago|"
               "in childhood|previously|in remote past|last year|in yearnum|at age numtoken|at the age of numtoken|"
               "months ago|year ago|month ago|last month|as a child|as a teenager|as a kid|as a toddler|as an infant|"
               "as a baby|as a young adult|long time ago|long ago|decades ago|many years ago|several years ago|"
               "years back|years earlier|years before|yearnum|monthyear|in monthyear|healed|well healed|well-healed|"
               "last spring|last summer|last fall|last winter|in the decadeyear|back in the decadeyear|"
               "in her decadenum|in his decadenum|in their decadenum|back in the decadenum|high school|"
               "in high school|in college|in grade school|in elementary school|in her youth|in his youth|at birth|"
               "in infancy")

RULES: list[Rule] = [
    *_rules("negated", FORWARD, "no|not|denies|denied|deny|denying|without|negative for|no evidence of|"
            "no signs of|no sign of|no history of|free of|absence of|never had|never|none|no new|no further|"
            "rules out|ruled out for|not demonstrate|no complaints of|fails to reveal|"
            "no longer|not have|did not have|does not have|doesn't have|nor|was negative for|were negative for|"
            "is negative for|are negative for|was negative for any|were negative for any"),
    *_rules("negated", BACKWARD, "is ruled out|was ruled out|were ruled out|ruled out|is negative|was negative|"
            "were negative|are negative|not seen|not present|absent|is absent|was absent|unlikely|"
            "has resolved|resolved|excluded|is excluded|was excluded|has been excluded", window=6),
    # right after the finding: "weight loss denied", "palpitations - negative", "retinal detachment not identified"
    *_rules("negated", BACKWARD, "denied|negative|not identified|not visualized|not appreciated|not detected|"
            "not demonstrated|not found|not observed", window=3),
    *_rules("possible", FORWARD, "possible|possibly|probable|probably|likely|suspected|suspect|suspicious for|"
            "concern for|concerning for|cannot rule out|can't rule out|cannot exclude|can't exclude|"
            "may have|might have|may be|could be|questionable|question of|rule out|r/o|versus|vs|"
            "differential includes|differential diagnosis includes|worrisome for|presumed|?|evaluate for|"
            "to evaluate for|workup for|work-up for|work up for|"
            # longer than the terminator "due to", so they are read first
            "probably due to|likely due to|possibly due to|probably secondary to|likely secondary to|"
            "possibly secondary to|probably related to|likely related to|possibly related to|may be due to|"
            "may be secondary to|may be related to|could be due to|could be secondary to|could be related to|"
            "might be due to|might be secondary to"),
    *_rules("possible", BACKWARD, "is possible|is likely|is suspected|is questionable|not excluded|"
            "cannot be excluded|can't be excluded|cannot be ruled out|vs|versus|?|is a consideration|"
            "a consideration|is considered|on the differential|in the differential|remains on the differential",
            window=6),
    *_rules("possible", BACKWARD, "favored|is favored|favoured|favored over|favoured over", window=3),
    *_rules("possible", FORWARD, "favor|favored over|favoured over|may represent|might represent|could represent|"
            "may reflect|could reflect|suggestive of|suggests|raises the possibility of|differential diagnosis of"),
    *_rules("hypothetical", FORWARD, "if|should|in case of|in the event of|watch for|monitor for|seek care for|"
            "seek medical attention for|as needed for|prn for|to prevent|prophylaxis for|at risk for|risk of|"
            "precautions|unless|"
            # planned, not yet done
            "scheduled for|will undergo|to undergo|will have|plan for|planned for|planning for|referred for|"
            "referral for|follow up for|f/u for|will need|will require|candidate for|consider starting|"
            # instructions and warnings: what to watch, report or come back for
            "back for|for any|report|at onset of|at the onset of|at first sign of|"
            "at the first sign of|watch closely for|watch out for|watch carefully for|"
            "observe for|monitor closely for|assess for|to assess for|early signs of|other signs of|"
            "warning signs of|signs and symptoms of|"
            "on symptoms of|on signs of|on the signs of|on the symptoms of|about symptoms of|about signs of|"
            "regarding signs of|regarding symptoms of|on warning signs of|about the signs of|about the symptoms of|"
            "regarding the signs of|on the warning signs of|"
            # what may come ("can develop neutropenia", "may require a mastectomy")
            "may develop|can develop|could develop|might develop|may experience|can experience|might experience|"
            "could experience|may require|might require|may need|would require|would need|"
            # what a measure or a drug is meant to prevent ("to reduce agitation" treats one that is there)
            "to avoid|in order to avoid|prevent|prevention of|to protect against|reduce the risk of|"
            "reduce the chance of|chance of|lower the risk of|decrease the risk of|increase the risk of|"
            "increases the risk of|increased risk of|risks of|risks include|risks including|the risks|risk for|"
            "danger of|possibility of|complications include|complications of|possible complications|warnings|"
            "warned about|warned of|warned that|was warned|"
            "side effects of|side effects include|side effects including|possible side effects|adverse effects of|"
            "prophylaxis against|prophylaxis of|if any|p.r.n. for"),
    # whom to call or where to go, then what for: "call your doctor for temperature greater than 101 or wound
    # drainage" (a longer reach, as the list of reasons comes after the whom)
    *_rules("hypothetical", FORWARD, "call|notify|return to|seek|call for|return for|call if|return if", window=12),
    *_rules("hypothetical", BACKWARD, "would be indicated|would be needed|would be required|would be necessary|"
            "may occur|can occur|could occur|might occur", window=3),
    # an order's condition: "hold metoprolol for bradycardia" (the drug itself is ordered, so findings only)
    *_rules("hypothetical", FORWARD, "hold", window=8, findings_only=True),
    *_rules("hypothetical", BIDIRECTIONAL, "to report|to watch for|to look for|to return for", window=4),
    # a possible consequence, which also ends a negation before it ("do not stop X, as this could lead to Y")
    *_rules("hypothetical", FORWARD, _CONSEQUENCES),
    *_rules("terminate", FORWARD, _CONSEQUENCES),
    *_rules("hypothetical", FORWARD, "prn|p.r.n.|as needed", window=2, findings_only=True),
    # "DVT prophylaxis", "seizure precautions", "delirium prevention"
    *_rules("hypothetical", BACKWARD, "prophylaxis|prevention", window=1),
    # "seizure precautions" guard against a seizure; "neutropenic precautions" are kept for a condition there is
    *_rules("hypothetical", BACKWARD, "precautions", window=1, unless_target=frozenset(
        "neutropenic contact droplet airborne isolation mrsa vre sternal spinal wound standard universal enteric "
        "c-diff cdiff diff tb".split())),
    *_rules("historical", FORWARD, "history of|hx of|h/o|hx|previous|prior|status post|s/p|remote|former|"
            "childhood|past history of|past history significant for|past medical history of|"
            "past medical history significant for|medical history of|history significant for|known history of|"
            "history notable for|history is notable for|history remarkable for|history is significant for|"
            "history includes|history positive for|past medical history|past surgical history|past history|pmh|"
            "psh|pmhx|surgical history|obstetric history", window=8),
    # time expressions (and "previously", "healed"), read on either side of the finding and a little further
    # forward: "MI in 2010", "appendectomy at age 12", "several years ago she was treated for Lyme disease"
    *_rules("historical", FORWARD, _PAST_TIMES, window=8),
    *_rules("historical", BACKWARD, _PAST_TIMES, window=7),
    *_rules("historical", FORWARD, "old", window=2),  # "old MI", "old L CT site"
    # planned: "colonoscopy in 3 months", "MRI next week"
    *_rules("hypothetical", BACKWARD, "in numtoken days|in numtoken weeks|in numtoken months|in numtoken years|"
            "next week|next month|next year|tomorrow|next visit", window=6),
    *_rules("family", BIDIRECTIONAL, "mother|father|mom|dad|sister|brother|sibling|siblings|aunt|uncle|"
            "grandmother|grandfather|grandparent|cousin|maternal|paternal|parents|family history of|"
            "family history|fhx|fh of|son|daughter|twin", window=6),
    *_rules("pseudo", FORWARD, "no increase|no change|no significant change|not only|not necessarily|"
            "not cause|not certain if|not certain whether|without difficulty|no further workup|"
            "gram negative|not ruled out|not been ruled out|social history|"
            "no acute distress|non-tender|history and physical|possible that|not drain|not extend|"
            "sister hospital|fh and sh|prior to|history of present illness|present illness|if needed|"
            "if necessary|if possible|should be|whether or not|old records|prior records|"
            "previously healthy|previously well|year old|years old|yr old|yrs old|month old|months old|"
            "week old|day old|since yearnum|since monthyear|per report|by report|on report|the report|"
            "pathology report|radiology report|call to|on call|called|watch list|call light|call bell|call button|"
            "at onset of shift|at the onset of shift|onset of shift|start of shift|beginning of shift|"
            # recent, not historical: "a three-day history of cough", "in the past week"
            "recentspan history of|numtoken day history of|numtoken days history of|numtoken week history of|"
            "numtoken weeks history of|numtoken hour history of|in the past week|in the past few days|"
            "in the past numtoken days|in the past several days|in the past numtoken hours|in the past day|"
            "in the past numtoken weeks|in the past month|in the past 24 hours|previous shift|prior shift|"
            "last shift|previous night|last night|prior night|"
            # the finding is still there: "pain has not improved", "if the pain does not improve"
            "not improve|not improved|not improving|not resolve|not resolved|not resolving|not respond|"
            "not responded|not responding|no relief|no improvement|not herself|not himself|"
            "not present on admission|if anything|on hold"),
    *_rules("terminate", FORWARD, "but|however|yet|though|although|except|aside from|apart from|other than|"
            "because|which|secondary to|due to|as the cause of|as a cause of|source of|"
            "etiology of|origin of|cause of|reason for|presents with|presented with|complains of|reports|"
            "endorses|admits to|notes|positive for|and has|now has|now presents|now p/w|who|whom|now|currently|"
            "presently|this admission|shows|showed|demonstrates|demonstrated|reveals|revealed|was admitted with|"
            "is admitted with|admitted with|now admitted with|presents for"),
]

_TOKEN = re.compile(r"\w+(?:[/'\-]\w+)*|\?|[^\w\s]")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# "3/2017", "11/1998" (a two-digit year is left alone: "5/50" is a ventilator setting, "1/2" a ratio)
_MONTH_YEAR = re.compile(r"^(?:0?[1-9]|1[0-2])/(?:19|20)\d\d$")
# A four-digit number is a year unless it reads as a clock time or an amount: "@ 2000", "at 1930", "dumped 2000+",
# "2000 cc" (nursing notes write times as 24-hour numbers).
_NOT_A_YEAR_BEFORE = {"@", "at", "~", "by", "until", "till", "around", "approx", "approximately", "from", "to",
                      "between", "since", "after", "before", "x"}
_NOT_A_YEAR_AFTER = {"+", "cc", "ml", "mls", "l", "hrs", "hr", "h", "hours", "units", "u", "mg", "mcg", "g", "kcal",
                     "cal", "%", "pm", "am", "-", "calories", "steps", "feet", "ft", "m"}
_YEAR_BEFORE = {"in", "of", "summer", "spring", "fall", "autumn", "winter", "early", "late", "mid", "(", "circa",
                "year", "january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
                "oct", "nov", "dec"}
_YEAR_AFTER = {")", ".", ";", ":"}
# Terminators that leave one kind of scope open: a relative clause ends a temporal or negation scope ("h/o HTN who
# had syncope this morning") but not whose condition it is ("mother, who had breast cancer"); what a study showed
# ends a negation ("denies chest pain, the ECG shows ST elevations") but is as old as the study ("colonoscopy 2008
# showed polyps", "in 1998, which showed")...
_TERMINATOR_SPARES = {**{(word,): {"family"} for word in ("who", "whom")},
                      # (and what a test may show, a condition: "if the biopsy shows malignancy")
                      **{(word,): {"historical", "hypothetical"} for word in ("shows", "showed", "demonstrates",
                                                                            "demonstrated", "reveals", "revealed")},
                      ("which",): {"historical"},
                      # ... and what a patient may say ends a negation, not a condition ("call if she notes numbness")
                      **{(word,): {"hypothetical"} for word in ("notes", "reports")}}
_NUMBER = re.compile(r"^(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
                     r"twenty|thirty|forty|fifty)$")
# "three-day", "2-week", "24h": as in "a three-day history of cough", which is recent
_RECENT_SPAN = re.compile(r"^(?:(?:\d{1,2}|one|two|three|four|five|six|seven|several|few)-(?:hour|day|week)s?|"
                          r"\d{1,3}(?:h|hr|hrs))$")
# "her 20s", "back in the 80s": rules use it only after such words, as nursing notes write values so ("HR in the
# 80s"); "the 1990s" is always a time
_DECADE = re.compile(r"^[1-9]0'?s$")
_DECADE_OF_YEARS = re.compile(r"^(?:19|20)[0-9]0'?s$")
_LIST_SEPARATORS = {",", "and", "or", "nor", "/", "&"}
_LIST_ITEM_WORDS = 4


# Triggers with a window this small are near-only: counted word by word, not by list items, and (after the
# finding) never past a comma: "old MI", "prn pain", "weight loss denied", but "c/o knee pain, denied hip pain".
NEAR_BEFORE, NEAR_AFTER = 2, 3


def _reaches(words: list[str], begin: int, end: int, window: int, after: bool) -> bool:
    """Whether a trigger's scope of `window` spans the words between it and the target (words[begin:end]); `after`:
    the trigger comes after the target."""
    if window > (NEAR_AFTER if after else NEAR_BEFORE):
        return _distance(words, begin, end) < window
    return end - begin < window and not (after and "," in words[begin:end])


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


# A period ends a sentence unless it ends an initial ("C. diff"), a dotted abbreviation ("p.o.", "p.r.n.", "q.8h.")
# or a title ("Dr.", "St. Jude")
# (the look-ahead first: the look-behinds run only where a period is)
_SENTENCE_BREAK = re.compile(r"(?=[.]\s)(?<!\s[A-Z])(?<!\.[A-Za-z])(?<!\.\d[a-z])(?<!\bDr)(?<!\bMr)(?<!\bMrs)"
                             r"(?<!\bMs)(?<!\bSt)(?<!\bvs)[.]\s|[!;]\s|\n\s*\n|\n(?=\s*[-*\u2022\dA-Z])|:\s*\n")


def _normalised(tokens: list[tuple[int, int, str]], i: int) -> str:
    """A token as the rules see it: small numbers as numtoken, years as yearnum, month/year as monthyear,
    decades as decadenum / decadeyear, short durations as recentspan."""
    word = tokens[i][2]
    if _NUMBER.match(word):
        return "numtoken"
    if _MONTH_YEAR.match(word):
        return "monthyear"
    if _DECADE.match(word):
        return "decadenum"
    if _RECENT_SPAN.match(word):
        return "recentspan"
    if _DECADE_OF_YEARS.match(word):
        return "decadeyear"
    if _YEAR.match(word) and _reads_as_year(tokens, i):
        return "yearnum"
    return word


def _reads_as_year(tokens: list[tuple[int, int, str]], i: int) -> bool:
    """A four-digit number from 1900 to 2099 is a year, or a 24-hour clock time as nursing notes write them ("2000
    c/o nausea"): one that cannot be a round time (1977, 2016) is a year; a round one (2000, 2015) only where the
    words around it say so ("in 2010", "(2015)")."""
    before = tokens[i - 1][2] if i else ""
    after = tokens[i + 1][2] if i + 1 < len(tokens) else ""
    if before in _NOT_A_YEAR_BEFORE or after in _NOT_A_YEAR_AFTER:
        return False
    minutes = int(tokens[i][2][2:])
    return minutes >= 60 or minutes % 5 != 0 or before in _YEAR_BEFORE or after in _YEAR_AFTER

class ConText:
    """Compiled rule set. Phrases are matched on lowercased tokens; longer phrases are preferred."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self.rules = list(rules if rules is not None else RULES)
        self._by_tokens: dict[tuple[str, ...], list[Rule]] = {}
        for rule in self.rules:
            key = tuple(t.lower() for t in _TOKEN.findall(rule.phrase))
            self._by_tokens.setdefault(key, []).append(rule)
        self._max_len = max((len(k) for k in self._by_tokens), default=1)

    def categories(self, text: str, span_start: int, span_end: int, sent_start: int, sent_end: int,
                   not_finding: bool = False) -> set[str]:
        """Categories whose scope reaches the entity at [span_start, span_end) within one sentence (`not_finding`:
        the entity is something given, a drug or its dose, or a body part, which rules for findings only pass by)."""
        tokens = [(m.start() + sent_start, m.end() + sent_start, m.group().lower())
                  for m in _TOKEN.finditer(text[sent_start:sent_end])]
        target = [i for i, (s, e, _) in enumerate(tokens) if s < span_end and e > span_start]
        if not target:
            return set()
        first, last = target[0], target[-1]
        matches = self._match(tokens, exclude=set(target))
        words = [w for _, _, w in tokens]
        terminators = [(m, _TERMINATOR_SPARES.get(tuple(words[m[0]:m[1]]), set())) for m in matches
                       if m[2].category == "terminate"]
        found = set()
        for start, end, rule in matches:
            if rule.category in ("terminate", "pseudo"):
                continue
            if (rule.unless_target and words[last] in rule.unless_target) or (rule.findings_only and not_finding):
                continue
            stopping = [m for m, spares in terminators if rule.category not in spares]
            if rule.direction in (FORWARD, BIDIRECTIONAL) and end <= first:
                stops = [t for t, _, _ in stopping if end <= t <= first]
                if _reaches(words, end, first, rule.window, after=False) and not stops:
                    found.add(rule.category)
            if rule.direction in (BACKWARD, BIDIRECTIONAL) and start > last:
                stops = [t for t, _, _ in stopping if last < t < start]
                if _reaches(words, last + 1, start, rule.window, after=True) and not stops:
                    found.add(rule.category)
        return found

    def _match(self, tokens: list[tuple[int, int, str]], exclude: set[int]) -> list[tuple[int, int, Rule]]:
        """Greedy longest match left to right; pseudo-triggers consume their tokens like any other phrase."""
        words = [_normalised(tokens, i) for i in range(len(tokens))]
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


# Labels of what is given rather than found, and body parts: rules for findings only (Rule.findings_only) pass them
# by ("hold metoprolol for bradycardia", "able to lift and hold head up").
NOT_FINDING_LABELS = frozenset({"MEDICATION", "DRUG", "CHEMICAL", "DOSAGE", "ROUTE", "FREQUENCY", "STRENGTH",
                                "DURATION", "ANATOMY"})


def assert_span(text: str, start: int, end: int, section: str | None = None,
                context: ConText | None = None, label: str | None = None) -> str:
    sent_start, sent_end = sentence_bounds(text, start)
    found = (context or _context()).categories(text, start, end, sent_start, max(sent_end, end),
                                               not_finding=label in NOT_FINDING_LABELS)
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
            span["assertion"] = assert_span(text, span["start"], span["end"], section, context, span.get("label"))
    return spans
