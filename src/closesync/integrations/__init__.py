"""Optional integrations with other engines (Dagster, dlt): nothing in closesync's core imports them."""
