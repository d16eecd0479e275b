"""Optional integrations with the engines users already run (dlt, Dagster…), each behind its own extra.

They may import any closesync package; nothing in the core imports them (import-linter checks it), except
`closesync.sinks.open_sink`, which opens a ``dlt:`` destination through `closesync.integrations.dlt` when
one is named. Importing this package loads nothing.
"""
