"""Shared pytest setup: each area keeps its fixtures in its own module, loaded here."""

pytest_plugins = ["fixtures_sandbox", "fixtures_postgres", "fixtures_web", "fixtures_datacenter", "fixtures_notify"]
