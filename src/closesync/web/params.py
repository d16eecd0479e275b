"""Path parameters shared by the pages and the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: A row id as SQLite stores it: a larger number would overflow in the query (a 500), so it is refused
#: by validation instead (a 422 in the API, the 404 page elsewhere).
RowId = Annotated[int, Path(ge=0, le=2**63 - 1)]
