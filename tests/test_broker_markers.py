"""The real-broker markers: skipped only when their environment variable says the broker is absent."""

from __future__ import annotations

import pytest

from tests._support import BROKERS, broker_absent


@pytest.mark.parametrize("marker", sorted(BROKERS))
def test_a_broker_is_expected_unless_its_variable_says_otherwise(
    marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, _ = BROKERS[marker]
    for value in ("", "0"):
        monkeypatch.setenv(variable, value)
        assert broker_absent(marker) is None
    monkeypatch.delenv(variable)
    assert broker_absent(marker) is None
    monkeypatch.setenv(variable, "1")
    reason = broker_absent(marker)
    assert reason is not None and reason.startswith(f"{variable}=1: ")


def test_every_broker_marker_is_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(BROKERS) <= registered
