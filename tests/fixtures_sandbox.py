"""Fixtures that start the Close sandbox over real HTTP on 127.0.0.1 (owned by the sandbox area)."""
