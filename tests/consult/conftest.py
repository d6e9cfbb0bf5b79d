"""The consult tests run on SQLite only: Whisper makes them the slowest in the suite, and what they check does not
depend on the database (the workflow, storage and jobs under them are tested on both elsewhere)."""
import pytest


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url
