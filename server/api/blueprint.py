"""The API blueprint (a leaf: route modules import it from here). Every request resolves its caller once."""
from apiflask import APIBlueprint
from flask import g, request

from server.api.input_guard import guard_request
from server.auth import SAFE_METHODS, load_api_user
from server.db import AUTOCOMMIT_READS, READ_BEFORE_LOCK, autocommit_if_postgresql, set_request_mode
from server.errors import ApiError
from server.extensions import db
from server.two_factor import ENROLMENT_ENDPOINTS, must_enrol

api_bp = APIBlueprint("api", __name__, tag="api")

@api_bp.before_request
def _authenticate():
    guard_request()  # before anything (the database included) sees the input
    if request.endpoint in AUTOCOMMIT_READS and request.method in SAFE_METHODS:
        autocommit_if_postgresql(db.session)
    load_api_user()
    if g.user is not None and request.endpoint not in ENROLMENT_ENDPOINTS and must_enrol(g.user):
        raise ApiError(403, "two-factor login is required for your role: set it up on your account page "
                            "(/account) first", code="2fa_required")
    if request.method not in SAFE_METHODS and db.dialect == "sqlite" and request.endpoint not in READ_BEFORE_LOCK:
        # A SQLite read transaction cannot become a writing one safely: end the authentication read here, and
        # the request's first statement begins with the write lock. Reading requests go on in the same deferred
        # transaction, and PostgreSQL needs neither (a second transaction would cost a pool check-out and a ping).
        db.session.commit()
        set_request_mode("immediate")
