"""The API blueprint (a leaf: route modules import it from here). Every request resolves its caller once."""
from apiflask import APIBlueprint

from server.api.input_guard import guard_request
from server.auth import load_api_user

api_bp = APIBlueprint("api", __name__, tag="api")


@api_bp.before_request
def _authenticate():
    guard_request()  # before anything (the database included) sees the input
    load_api_user()
