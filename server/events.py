"""Domain events (blinker signals, as Flask's own): a module reacts to another's event without importing it.

    gold_created.send(project, item=item, payload=payload, modality=modality)
"""
from __future__ import annotations

from blinker import Namespace

_events = Namespace()

# An item's gold annotation was created or replaced. Receivers: learned concept aliases (ontology_service).
gold_created = _events.signal("gold-created")
