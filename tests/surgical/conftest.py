"""The surgical tests run on SQLite only: what they check (media, formats, metrics) does not
depend on the database (the workflow, storage and jobs under them are tested on both elsewhere)."""
import pytest


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url
