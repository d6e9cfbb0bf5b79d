"""Loaded by every Python process the test suite starts (PYTHONPATH): no outbound connections, only loopback."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from offline_guard import install  # noqa: E402

install()
