"""Test doubles shared across test packages (importable as ``fakes``: ``tests/`` is on sys.path)."""
