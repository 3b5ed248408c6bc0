"""Stored names read as labels people write."""

from __future__ import annotations

import pytest

from lib.wording import field_label


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("cadence_weeks", "Cadence weeks"),
        ("json_field", "JSON field"),
        ("url", "URL"),
        ("commit_sha", "Commit SHA"),
        ("separation_of_duties", "Separation of duties"),
        ("expected", "Expected"),
    ],
)
def test_it_writes_a_stored_name_as_a_label(name, label):
    assert field_label(name) == label
