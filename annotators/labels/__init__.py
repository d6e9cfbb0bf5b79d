"""Whole-item classification of text items (the `labels` modality)."""
