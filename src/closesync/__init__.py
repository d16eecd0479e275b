"""closesync: sync Close CRM data into DuckDB, PostgreSQL, Parquet or CSV."""

__version__ = "0.1.0"
