"""Row keys and scopes over Arrow batches: what the file sink's merge uses where a database would use SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def key_array(batch: pa.RecordBatch | pa.Table, key: Sequence[str]) -> pa.Array:
    """One comparable value per row for a (possibly composite) key."""
    if len(key) == 1:
        col = batch.column(key[0])
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    parts = []
    for k in key:
        col = batch.column(k)
        text = pc.cast(col, pa.string())
        parts.append(pc.fill_null(text, "\x00"))
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


_COMPARE = {"=": pc.equal, ">=": pc.greater_equal, "<": pc.less}


def scope_mask(batch: pa.RecordBatch, scope: Sequence[tuple[str, str, Any]]) -> pa.Array:
    """True for the rows of ``batch`` inside ``scope`` (every row when it is empty, none lacking a column)."""
    mask = pa.array([True] * batch.num_rows, pa.bool_())
    for column, operator, value in scope:
        index = batch.schema.get_field_index(column)
        if index < 0:
            return pa.array([False] * batch.num_rows, pa.bool_())
        col = batch.column(index)
        mask = pc.and_(mask, _COMPARE[operator](col, pa.scalar(value, col.type)))
    return mask


def first_positions(keys: pa.Array) -> pa.Array:
    """For each position, the position of the first equal key (a key's first occurrence maps to itself)."""
    table = pa.table({"k": keys, "pos": pa.array(range(len(keys)), pa.int64())})
    firsts = table.group_by("k", use_threads=False).aggregate([("pos", "min")])
    return firsts.column("pos_min").take(pc.index_in(keys, value_set=firsts.column("k"))).combine_chunks()
