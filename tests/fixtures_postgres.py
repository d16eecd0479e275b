"""Fixtures that provide a real PostgreSQL server (owned by the postgres area)."""
