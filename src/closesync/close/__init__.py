"""Talking to Close: the client, its typed errors, pacing per endpoint group and complete paged reads."""

from closesync.close import errors
from closesync.close.client import DEFAULT_BASE_URL, CloseClient
from closesync.close.groups import endpoint_group
from closesync.close.retry import RetryPolicy
from closesync.close.stats import ClientStats

__all__ = ["DEFAULT_BASE_URL", "ClientStats", "CloseClient", "RetryPolicy", "endpoint_group", "errors"]
