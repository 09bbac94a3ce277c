"""The shared lookups of catalog/queries.py: ids and names as people type them."""

from __future__ import annotations

from pathlib import Path

import pytest

from daguerre.platform.catalog.db import Catalog
from daguerre.platform.catalog.models import Library
from daguerre.platform.catalog.queries import as_id, find_library
from daguerre.platform.errors import NotFound


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), (12, 12), (" 7 ", 7), ("0", 0),
    # Digits Python's isdigit() admits but int() refuses, or that are not ASCII: names.
    ("²", None), ("١٢", None), ("12a", None), ("-3", None), (-3, None), (True, None),
    (str(2**63), None), (2**63, None),
])
def test_as_id_takes_only_what_can_be_an_id(text, expected) -> None:  # noqa: ANN001
    assert as_id(text) == expected


def test_find_library_by_id_or_name_and_never_a_server_error(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    try:
        with catalog.session() as s:
            s.add_all([Library(name="²", root="/a"), Library(name="2024", root="/b")])
        with catalog.session() as s:
            assert find_library(s, "²").root == "/a"  # a name, not an id
            assert find_library(s, "1").name == "²"  # an id first
            assert find_library(s, "2024").root == "/b"  # no id 2024: then a name
            with pytest.raises(NotFound) as err:
                find_library(s, "³", field="params.library")
            assert (err.value.field, err.value.value) == ("params.library", "³")
    finally:
        catalog.dispose()
