"""Modality plugins. Built-ins are registered here, in one place; others come through entry points."""


def register_builtins(registry) -> None:
    """Register the built-in modalities (safe to call twice: registering a name again replaces it)."""
    from annotators.consult.plugin import ConsultModality
    from annotators.labels.plugin import LabelsModality
    from annotators.notes.plugin import NotesModality
    from annotators.surgical.plugin import SurgicalModality

    registry.register(LabelsModality())
    registry.register(NotesModality())
    registry.register(ConsultModality())
    registry.register(SurgicalModality())
