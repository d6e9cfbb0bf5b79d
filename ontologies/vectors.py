"""Character-trigram TF-IDF postings (trigram -> names, weights), built in blocks of names to bound memory.

Building the name x trigram matrix and transposing it would hold two full copies at once (~120 MB for
ICD-10-CM). Instead the names are read twice in blocks: the first pass counts document frequencies, the second
computes each block's weights and scatters them straight into the final column-wise arrays. Within a column,
names stay in ascending order, which retrieval relies on (it binary-searches postings).
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .text import TRIGRAM_SPACE, trigram_matrix_parts

BLOCK = 4_096


def _block_counts(names: list[str]) -> sparse.csr_matrix:
    """Trigram counts per name (duplicates merged), one row per name."""
    indptr, trigrams = trigram_matrix_parts(names)
    counts = sparse.csr_matrix((np.ones(trigrams.size, dtype=np.float32), trigrams, indptr),
                               shape=(len(names), TRIGRAM_SPACE))
    counts.sum_duplicates()
    return counts


def tfidf_postings(sorted_normalized: list[str], block: int = BLOCK) -> dict[str, np.ndarray]:
    """Sublinear tf, smoothed idf, L2-normalised rows, stored as postings: post_ptr[t]:post_ptr[t + 1] slices
    post_name (ascending name ids) and post_weight for trigram t."""
    n_names = len(sorted_normalized)
    document_frequency = np.zeros(TRIGRAM_SPACE, dtype=np.int64)
    for start in range(0, n_names, block):
        counts = _block_counts(sorted_normalized[start:start + block])
        document_frequency += np.bincount(counts.indices, minlength=TRIGRAM_SPACE)
    idf = (np.log((1.0 + n_names) / (1.0 + document_frequency)) + 1.0).astype(np.float32)
    post_ptr = np.concatenate(([0], np.cumsum(document_frequency))).astype(np.int64)
    post_name = np.empty(int(post_ptr[-1]), dtype=np.int32)
    post_weight = np.empty(int(post_ptr[-1]), dtype=np.float32)
    next_free = post_ptr[:-1].copy()

    for start in range(0, n_names, block):
        counts = _block_counts(sorted_normalized[start:start + block])
        rows = np.repeat(np.arange(counts.shape[0], dtype=np.int32), np.diff(counts.indptr))
        weights = (1.0 + np.log(counts.data)) * idf[counts.indices]
        norms = np.sqrt(np.bincount(rows, weights=weights.astype(np.float64) ** 2, minlength=counts.shape[0]))
        norms[norms == 0] = 1.0
        weights /= norms.astype(np.float32)[rows]
        # Stable sort by trigram keeps rows ascending inside each trigram; blocks arrive in ascending order too.
        order = np.argsort(counts.indices, kind="stable")
        columns = counts.indices[order]
        per_column = np.bincount(columns, minlength=TRIGRAM_SPACE)
        first_of_column = np.cumsum(per_column) - per_column
        destination = next_free[columns] + (np.arange(columns.size) - first_of_column[columns])
        post_name[destination] = rows[order] + start
        post_weight[destination] = weights[order]
        next_free += per_column
    return {"post_ptr": post_ptr, "post_name": post_name, "post_weight": post_weight, "idf": idf}
