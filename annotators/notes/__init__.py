"""Clinical notes modality: PHI detection, sections, assertion, term matching and NER, formats and agreement."""
