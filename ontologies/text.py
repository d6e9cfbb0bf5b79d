"""Text normalisation and character trigram features shared by index building and querying.

Both sides must normalise identically (the prefix search bisects names sorted by their normalised form), so this is
the only place that defines it. Normalised text contains only ``a-z``, ``0-9`` and single spaces, which lets
trigrams be numbered arithmetically (37 symbols, 50,653 possible trigrams) instead of through a vocabulary dict:
building needs no Python-level loop over trigrams and the feature space is the same for every terminology.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789"
ALPHABET_SIZE = len(ALPHABET)
TRIGRAM_SPACE = ALPHABET_SIZE**3

_SYMBOL_OF_BYTE = np.zeros(256, dtype=np.int32)
for _position, _char in enumerate(ALPHABET):
    _SYMBOL_OF_BYTE[ord(_char)] = _position
_SYMBOL_OF_CHAR = {char: position for position, char in enumerate(ALPHABET)}

# Greek letters are common in clinical names (alpha-thalassemia, beta blocker) and would otherwise vanish.
_GREEK = str.maketrans({"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda",
                        "μ": "mu", "ω": "omega", "ß": "ss"})
# Every ASCII character that is not a letter or digit becomes a space; apostrophes vanish so "Alzheimer's" stays
# one word. str.translate plus split/join is several times faster than regular expressions here, and index
# building normalises a few hundred thousand names.
_ASCII_TO_WORDS = {code: " " for code in range(128) if not chr(code).isalnum()}
_ASCII_TO_WORDS.update({ord("'"): None, ord("`"): None})
_ASCII_TO_WORDS = str.maketrans(_ASCII_TO_WORDS)
_APOSTROPHES = str.maketrans({"’": None, "‘": None})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# ICD-10-CM writes optional plurals as "Seizure(s)"; reading them as the plural keeps the word whole.
_OPTIONAL_PLURAL = re.compile(r"\((e?s)\)", re.IGNORECASE)

# Words that carry no meaning for matching clinical names.
STOPWORDS = frozenset({"of", "the", "and", "or", "in", "on", "to", "for", "a", "an", "by", "at", "as", "from", "is",
                       "its", "due"})


def normalize(text: str) -> str:
    """Lower-cased ASCII words separated by single spaces (accents folded, punctuation dropped)."""
    if "(" in text:
        text = _OPTIONAL_PLURAL.sub(r"\1", text)
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_GREEK).translate(_APOSTROPHES))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return _NON_ALNUM.sub(" ", text.translate(_ASCII_TO_WORDS)).strip()
    return " ".join(text.translate(_ASCII_TO_WORDS).split())


def normalize_mention(text: str) -> str:
    """The key under which a mention's learned aliases are stored (case, accents and punctuation ignored)."""
    return normalize(text)


def normalize_code(code: str) -> str:
    """Codes compare without case, dots or separators: "e119", "E11.9" and "E11 9" are the same code."""
    return re.sub(r"[^0-9A-Z]", "", code.upper())


def stem(token: str) -> str:
    """A deliberately tiny plural stripper, so "seizures" matches "seizure" without a stemming library."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss") and not token.endswith("us"):
        return token[:-1]
    return token


def content_tokens(normalized: str) -> list[str]:
    return [stem(token) for token in normalized.split() if token not in STOPWORDS]


def trigram_matrix_parts(normalized_names: list[str], chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Trigram ids of every name, vectorised: returns (indptr, trigram ids) in CSR layout, one row per name.

    Each name is padded with one space on each side so that word starts and ends form their own trigrams. Names are
    processed in chunks written into one preallocated array, so temporaries stay small next to the result.
    """
    per_name = np.fromiter((len(name) for name in normalized_names), dtype=np.int64,
                           count=len(normalized_names))  # a padded name of length L + 2 has L trigrams
    indptr = np.concatenate(([0], np.cumsum(per_name)))
    trigrams = np.empty(int(indptr[-1]), dtype=np.int32)
    for i in range(0, len(normalized_names), chunk):
        piece = _chunk_trigrams(normalized_names[i:i + chunk])
        trigrams[indptr[i]:indptr[i] + piece.size] = piece
    return indptr, trigrams


def _chunk_trigrams(names: list[str]) -> np.ndarray:
    joined = "".join(f" {name} " for name in names).encode("ascii")
    symbols = _SYMBOL_OF_BYTE[np.frombuffer(joined, dtype=np.uint8)]
    if symbols.size < 3:
        return np.zeros(0, dtype=np.int32)
    trigrams = (symbols[:-2] * ALPHABET_SIZE + symbols[1:-1]) * ALPHABET_SIZE + symbols[2:]
    # The last two start positions of every padded name would run into the next name: drop them.
    ends = np.cumsum(np.fromiter((len(name) + 2 for name in names), dtype=np.int64, count=len(names)))
    keep = np.ones(trigrams.size, dtype=bool)
    for back in (2, 1):
        positions = ends - back
        keep[positions[positions < trigrams.size]] = False
    return trigrams[keep].astype(np.int32)


def query_trigrams(normalized: str) -> dict[int, int]:
    """Trigram id -> count for one query (plain Python: faster than numpy for a few dozen characters)."""
    padded = f" {normalized} "
    counts: dict[int, int] = {}
    symbols = [_SYMBOL_OF_CHAR.get(ch, 0) for ch in padded]  # anything unexpected counts as a word break
    size = ALPHABET_SIZE
    for i in range(len(symbols) - 2):
        trigram = (symbols[i] * size + symbols[i + 1]) * size + symbols[i + 2]
        counts[trigram] = counts.get(trigram, 0) + 1
    return counts
