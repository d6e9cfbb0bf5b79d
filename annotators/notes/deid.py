"""De-identification of a note from its PHI spans: masks ([NAME]) or consistent surrogates (the same real value
gets the same fake value within a note; dates shift by one offset per note so intervals survive)."""
from __future__ import annotations

import random
import re
from datetime import date, timedelta

_FAKE = {
    "FIRST": "Avery Blake Casey Devon Emerson Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Riley "
             "Rowan Sawyer Skyler Taylor Tatum".split(),
    "LAST": "Abbott Barlow Carver Dalton Ellery Fenwick Garland Hollis Irwin Jessup Keaton Lowell Marsh Norwood "
            "Oakes Prescott Ramsey Stanton Thorne Whitley".split(),
    "HOSPITAL": ["Lakeside General Hospital", "Maple Grove Medical Center", "Riverbend Clinic", "Cedar Hills Hospital",
                 "Northfield Health Center", "Harbor View Infirmary", "Pinecrest Medical Center", "Elm Street Clinic"],
    "STREET": ["Oak Street", "Birch Avenue", "Willow Lane", "Cedar Road", "Aspen Drive", "Spruce Court", "Hazel Way"],
    "CITY": ["Fairview", "Greenville", "Riverton", "Milford", "Ashland", "Clinton", "Georgetown", "Salem"],
}
_DATE_FORMS = [  # (regex, parts order); a missing year is parsed against a leap year so 2/29 stays valid
    (re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$"), "mdy", "/"),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})$"), "mdy", "-"),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "ymd", "-"),
    (re.compile(r"^([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?(?:,? (\d{4}))?$"), "Mdy", " "),
    (re.compile(r"^(\d{1,2})(?:st|nd|rd|th)? (?:of )?([A-Za-z]{3,9})\.?(?:,? (\d{4}))?$"), "dMy", " "),
]
_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December"]


def deidentify(text: str, spans: list[dict], mode: str = "mask", seed: int | str = 0) -> str:
    """Replace PHI spans by `[LABEL]` masks or by surrogates. Surrogates are consistent within the note (one real
    value, one fake) and deterministic for a seed; dates move by one per-note shift so intervals survive."""
    if mode not in ("mask", "surrogate"):
        raise ValueError("mode must be 'mask' or 'surrogate'")
    regions = _merge_regions([s for s in spans if s.get("layer", "phi") == "phi"], len(text))
    rng = random.Random(f"clinlabel-deid:{seed}")
    shift = timedelta(days=rng.randint(-400, -30))
    pools = {key: rng.sample(values, len(values)) for key, values in _FAKE.items()}
    assigned: dict[tuple[str, str], str] = {}
    per_label: dict[str, int] = {}
    out, cursor = [], 0
    for start, end, label in regions:
        out.append(text[cursor:start])
        value = text[start:end]
        if mode == "mask":
            out.append(f"[{label}]")
        else:
            key = (label, re.sub(r"\W+", " ", value).strip().casefold())
            if key not in assigned:
                assigned[key] = _surrogate(label, value, per_label.get(label, 0), pools, shift, rng)
                per_label[label] = per_label.get(label, 0) + 1
            out.append(assigned[key])
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _merge_regions(spans: list[dict], length: int) -> list[tuple[int, int, str]]:
    regions: list[list] = []
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        start, end = max(0, span["start"]), min(length, span["end"])
        if end <= start:
            continue
        if regions and start < regions[-1][1]:
            last = regions[-1]
            if end - start > last[1] - last[0]:
                last[2] = span["label"]
            last[1] = max(last[1], end)
        else:
            regions.append([start, end, span["label"]])
    return [tuple(r) for r in regions]


def _surrogate(label: str, value: str, n: int, pools: dict, shift: timedelta, rng: random.Random) -> str:
    def pick(pool: str) -> str:
        items = pools[pool]
        return items[n % len(items)] + ("" if n < len(items) else f" {n // len(items) + 1}")

    if label == "NAME":
        words = value.replace(",", " ").split()
        fake = f"{pick('FIRST')} {pick('LAST')}" if len(words) > 1 else pick("LAST")
        return fake.upper() if value.isupper() else fake
    if label == "DATE":
        return _shift_date(value, shift) or f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1990, 2015)}"
    if label == "HOSPITAL":
        return pick("HOSPITAL")
    if label == "LOCATION":
        return f"{100 + 17 * n} {pick('STREET')}" if value[:1].isdigit() else pick("CITY")
    if label == "AGE_OVER_89":
        return "90+"
    if label == "EMAIL":
        return f"person{n + 1}@example.org"
    if label == "URL":
        return f"https://example.org/page{n + 1}"
    if label == "IP_ADDRESS":
        return f"192.0.2.{n % 250 + 1}"  # TEST-NET-1, never routable
    if label in ("PHONE", "SSN", "ID"):
        if not any(ch.isdigit() for ch in value):  # a number spelt in words
            return f"555-01{n % 100:02d}"
        # Same shape, fresh characters; SSNs start with 9, a range never issued.
        fake = "".join(str(rng.randint(0, 9)) if ch.isdigit() else (
            chr(rng.randint(65, 90)) if ch.isalpha() else ch) for ch in value)
        fake = "".join(f.lower() if v.islower() else f for f, v in zip(fake, value))
        return ("9" + fake[1:]) if label == "SSN" and fake[:1].isdigit() else fake
    return f"[{label}]"


def _shift_date(value: str, shift: timedelta) -> str | None:
    for pattern, order, sep in _DATE_FORMS:
        match = pattern.match(value.strip())
        if not match:
            continue
        parts = dict(zip(order, match.groups()))
        year_text = parts.get("y")
        if "M" in parts:  # month by name: keep the text's style (full or abbreviated)
            names = [m for m in _MONTH_NAMES if m.lower().startswith(parts["M"].lower()[:3])]
            if not names:
                return None
            parts["m"] = str(_MONTH_NAMES.index(names[0]) + 1)
        try:
            year = int(year_text) if year_text else 2000
            year = year + 2000 if year_text and len(year_text) == 2 and year < 50 else (
                year + 1900 if year_text and len(year_text) == 2 else year)
            moved = date(year, int(parts["m"]), int(parts["d"])) + shift
        except ValueError:
            return None
        pad = len(parts["m"]) == 2
        month, day = (f"{moved.month:02d}", f"{moved.day:02d}") if pad else (str(moved.month), str(moved.day))
        year_out = "" if not year_text else (str(moved.year)[-2:] if len(year_text) == 2 else str(moved.year))
        if order == "ymd":
            return f"{year_out}{sep}{month}{sep}{day}"
        if "M" in parts:
            name = _MONTH_NAMES[moved.month - 1]
            name = name if len(parts["M"]) > 3 else name[:3]
            name = name.upper() if parts["M"].isupper() else name
            body = f"{name} {moved.day}" if order == "Mdy" else f"{moved.day} {name}"
            return body + (f", {moved.year}" if year_text else "")
        return f"{month}{sep}{day}" + (f"{sep}{year_out}" if year_out else "")
    return None


