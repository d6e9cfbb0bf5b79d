"""Database models. Import from here: `from server.models import Item`."""
from server.models._types import as_utc, utcnow
from server.models.audit import AuditEvent
from server.models.items import Annotation, Assignment, Item
from server.models.jobs import Job, ModelVersion, WorkerHeartbeat
from server.models.media import Asset, PredictionCheckpoint
from server.models.ontology import ConceptAlias
from server.models.review import AgreementSnapshot, AnnotationDraft, ItemAgreement, ReviewComment
from server.models.projects import ROLES, Membership, Project
from server.models.uploads import Upload
from server.models.users import ApiToken, LoginAttempt, SiteSetting, User

__all__ = [
    "AgreementSnapshot", "AnnotationDraft", "Asset", "PredictionCheckpoint", "AuditEvent", "Annotation", "ConceptAlias", "ItemAgreement", "ReviewComment", "ApiToken", "Assignment", "Item", "Job", "Membership", "ModelVersion", "Project",
    "LoginAttempt", "ROLES", "SiteSetting", "Upload", "User", "WorkerHeartbeat", "as_utc", "utcnow",
]
