"""Builders that several test files share (tests import them from here, never from each other), one module per
subject. Fixtures and the workflow runner live in tests/conftest.py."""
