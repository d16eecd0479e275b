"""The reliability matrix (issue 10 §4) as tests: one test per cell of tests/reliability/matrix.py.

A cell fails with what it measured (lost, duplicated, intact, error, recovered) and why; `make reliability`
prints the whole matrix as a table instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from matrix import CELLS, FAULT_KINDS, Lab
from matrix_checks import Cell

from closesync.sandbox import faults


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Lab]:
    started = Lab(Path(tmp_path_factory.mktemp("matrix")), lambda: pg_url)
    yield started
    started.close()


def test_the_matrix_covers_every_fault_kind_of_the_sandbox() -> None:
    assert sorted(FAULT_KINDS) == sorted(faults.KINDS)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell(lab: Lab, cell: Cell) -> None:
    outcome = lab.outcome(cell)
    assert outcome.passed, outcome.explain()


def test_a_mutation_picks_each_record_once() -> None:
    """The stuckcursor cells delete 105 of 120 calls: picks spread over the list never repeat a record (they
    did when a slice's rounded end met the next one's start, and the second delete failed)."""
    from closesync.sandbox.data import SandboxData
    from closesync.sandbox.mutations import _spread

    data = SandboxData(seed=1, leads=40, activities_per_lead=10.0)
    total = data.count("activity/call")
    for wanted in range(1, total):
        for draw in range(3):
            assert len(set(_spread(data, "activity/call", wanted, draw))) == wanted
