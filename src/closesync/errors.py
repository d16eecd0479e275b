"""The one root of every error closesync raises on purpose.

Front ends (the CLI, the web app) catch :class:`ClosesyncError` and show ``str(error)``: each subclass's
message is written for a user and never carries a secret. Kind-specific subclasses live with the layer
that raises them (``close.errors``, ``sinks.errors``, ``datacenter.errors``, ``reports``, ``schedule``).
"""

from __future__ import annotations


class ClosesyncError(Exception):
    """Base class of closesync's own errors; ``str()`` is a message fit to show as is."""
