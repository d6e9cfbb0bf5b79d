"""Request schemas (marshmallow via apiflask). Unknown fields are rejected with 400 by default."""
from __future__ import annotations

import json

from apiflask import Schema, fields
from flask import has_request_context, request
from marshmallow import ValidationError, pre_load
from apiflask.validators import Length, OneOf, Range, Validator

from server.models import ROLES

NAME = Length(min=1, max=200)
# Per-document limits (bytes of compact JSON): a 20 MB label config would be echoed by every GET /projects.
LABEL_CONFIG_MAX = 256 * 1024
PAYLOAD_MAX = 16 * 1024 * 1024  # above the modalities' own unit limits (notes: 100,000 spans ≈ 8 MB)
UI_STATE_MAX = 64 * 1024
PARAMS_MAX = 16 * 1024
DB_ID = Range(1, 2**31 - 1)  # ids past PostgreSQL's integer range are refused here, not by the database


class JsonSize(Validator):
    """Refuse a JSON value whose compact serialisation exceeds `limit` bytes (the message names the limit)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, value):
        if has_request_context() and request.content_length is not None and request.content_length <= self.limit:
            return value  # the whole body is smaller than the limit: no need to serialise the field again
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > self.limit:
            raise ValidationError(f"is {size:,} bytes of JSON; the limit is {self.limit:,}")
        return value


class TokenIn(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=80))
    password = fields.String(required=True, validate=Length(min=1, max=256))
    name = fields.String(load_default="", validate=Length(max=120))
    otp = fields.String(load_default=None, allow_none=True, validate=Length(max=20))  # two-factor code


class UserIn(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=80))
    password = fields.String(required=True, validate=Length(min=1, max=256))  # policy: server/passwords.py
    is_admin = fields.Boolean(load_default=False)


class UserPatch(Schema):
    password = fields.String(validate=Length(min=1, max=256))
    is_admin = fields.Boolean()
    is_active = fields.Boolean()


def _label_plan(value: dict) -> None:
    from annotators.notes.label_mapping import PlanError, check_plan

    try:
        check_plan(value)
    except PlanError as exc:
        raise ValidationError(str(exc)) from None


class WorkflowIn(Schema):
    annotators_per_item = fields.Integer(validate=Range(1, 5))
    peer_review = fields.Boolean()
    adjudication = fields.String(validate=OneOf(["always", "below_threshold", "never"]))
    adjudication_threshold = fields.Float(validate=Range(0, 1))
    auto_consensus = fields.Boolean()
    consensus_threshold = fields.Float(validate=Range(0, 1))
    gold_share = fields.Float(validate=Range(0, 0.5))
    pilot_size = fields.Integer(validate=Range(0, 10000))
    ordering = fields.String(validate=OneOf(["import", "random", "uncertain"]))
    lease_minutes = fields.Integer(validate=Range(1, 24 * 60))
    auto_preannotate = fields.Boolean()
    max_suggestions_per_item = fields.Integer(validate=Range(10, 100_000))
    # Per layer the modality declares (e.g. notes: entities, assertion, concepts, relations, phi); a layer left
    # out uses the project-wide threshold.
    consensus_layer_thresholds = fields.Dict(keys=fields.String(validate=Length(max=40)),
                                             values=fields.Float(validate=Range(0, 1)), validate=JsonSize(8192))
    adjudication_layer_thresholds = fields.Dict(keys=fields.String(validate=Length(max=40)),
                                                values=fields.Float(validate=Range(0, 1)))
    # What imports do with labels the project lacks: {"labels": {"Disease": "PROBLEM"}, "unknown": "drop"}
    import_label_plan = fields.Dict(validate=[JsonSize(64 * 1024), _label_plan])


class ProjectIn(Schema):
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default="", validate=Length(max=2000))
    modality = fields.String(required=True, validate=Length(min=1, max=64))
    label_config = fields.Dict(load_default=None, allow_none=True, validate=JsonSize(LABEL_CONFIG_MAX))
    workflow = fields.Nested(WorkflowIn, load_default=dict)


class ProjectPatch(Schema):
    name = fields.String(validate=NAME)
    description = fields.String(validate=Length(max=2000))
    label_config = fields.Dict(validate=JsonSize(LABEL_CONFIG_MAX))
    workflow = fields.Nested(WorkflowIn)
    archived = fields.Boolean()


class MemberIn(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=80))
    role = fields.String(required=True, validate=OneOf(ROLES))


class MemberDelete(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=80))


class StrictQuery(Schema):
    """Query strings are loaded with EXCLUDE by webargs; we want unknown parameters (order_by=…) to be a 400."""

    @pre_load
    def _reject_unknown(self, data, **_):
        unknown = sorted(set(data.keys()) - set(self.fields))
        if unknown:
            raise ValidationError({key: ["Unknown query parameter."] for key in unknown})
        return data


class PageQuery(StrictQuery):
    limit = fields.Integer(load_default=50, validate=Range(1, 500))
    cursor = fields.String(load_default=None, allow_none=True, validate=Length(max=200))


class ItemQuery(PageQuery):
    status = fields.String(validate=OneOf(["ready", "invalid", "failed"]))
    stage = fields.String(validate=OneOf(["annotate", "review", "adjudicate", "done"]))
    kind = fields.String(validate=Length(max=32))
    annotated = fields.Boolean()


class AnnotationIn(Schema):
    payload = fields.Dict(required=True, validate=JsonSize(PAYLOAD_MAX))
    stage = fields.String(load_default="annotate", validate=OneOf(["annotate", "review", "adjudicate"]))
    status = fields.String(load_default="submitted", validate=OneOf(["draft", "submitted"]))
    time_spent_ms = fields.Integer(load_default=None, allow_none=True, validate=Range(0, 24 * 3600 * 1000))
    comment = fields.String(load_default=None, allow_none=True, validate=Length(max=5000))


class AnnotationPut(Schema):
    payload = fields.Dict(required=True, validate=JsonSize(PAYLOAD_MAX))
    version = fields.Integer(required=True, validate=DB_ID)
    status = fields.String(validate=OneOf(["draft", "submitted"]))
    time_spent_ms = fields.Integer(allow_none=True, validate=Range(0, 24 * 3600 * 1000))
    comment = fields.String(allow_none=True, validate=Length(max=5000))


class RevisionIn(Schema):
    payload = fields.Dict(required=True, validate=JsonSize(PAYLOAD_MAX))
    time_spent_ms = fields.Integer(load_default=None, allow_none=True, validate=Range(0, 24 * 3600 * 1000))
    comment = fields.String(load_default=None, allow_none=True, validate=Length(max=5000))


class NextQuery(StrictQuery):
    stage = fields.String(load_default="annotate", validate=OneOf(["annotate", "review", "adjudicate"]))


class SkipIn(Schema):
    reason = fields.String(required=True, validate=Length(min=1, max=500))


class JobIn(Schema):
    kind = fields.String(required=True, validate=Length(min=1, max=32))
    items = fields.List(fields.Integer(validate=DB_ID), load_default=None, allow_none=True, validate=Length(max=100000))
    params = fields.Dict(load_default=dict, validate=JsonSize(PARAMS_MAX))
    idempotency_key = fields.String(load_default=None, allow_none=True, validate=Length(max=120))


class ExportIn(Schema):
    format = fields.String(required=True, validate=Length(min=1, max=40))
    options = fields.Dict(load_default=dict, validate=JsonSize(PARAMS_MAX))


class AuditQuery(PageQuery):
    action = fields.String(validate=Length(max=60))
    actor = fields.String(validate=Length(max=120))
    project_id = fields.Integer(validate=DB_ID)
