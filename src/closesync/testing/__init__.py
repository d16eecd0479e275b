"""Support for closesync's own tests and benchmarks (not part of the product; nothing in closesync uses it).

``closesync.testing.postgres``: a throwaway local PostgreSQL server (initdb/pg_ctl) for the pytest
fixtures and the PostgreSQL benchmark.
"""
