"""``tomodachi run --opentelemetry-instrument`` / ``TOMODACHI_OPENTELEMETRY_INSTRUMENT`` in real
processes: spans exported by the SDK configured from OTEL_* variables; exit 2 without the extra."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SERVICE = """
    import tomodachi


    class Ticker(tomodachi.Service):
        name = "ticker"

        @tomodachi.schedule(interval=60, immediately=True)
        async def tick(self) -> None:
            tomodachi.get_logger().info("ticked")
            tomodachi.exit()
"""


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_with_opentelemetry_instrument_exports_spans(
    how: str, spawn: Callable[..., Any], write: Callable[[str, str], Path]
) -> None:
    write("ticker.py", SERVICE)
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "ticker-svc",
        "OTEL_METRICS_EXPORTER": "none",
    }
    args = ["run", "--production", "--logger", "json", "ticker.py"]
    if how == "flag":
        args.insert(1, "--opentelemetry-instrument")
    else:
        env["TOMODACHI_OPENTELEMETRY_INSTRUMENT"] = "1"
    process = spawn(*args, env=env)
    assert process.wait() == 0, process.stderr
    output = process.stdout + process.stderr
    assert '"name": "tick"' in output  # the console exporter's span
    assert '"service.name": "ticker-svc"' in output
    ticked = next(line for line in process.stdout_lines + process.stderr_lines if '"ticked"' in line)
    assert '"trace_id"' in ticked and '"span_id"' in ticked


def test_missing_extra_is_a_usage_error(
    spawn: Callable[..., Any], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("ticker.py", SERVICE)
    shadow = tmp_path / "shadow" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")  # an opentelemetry without the SDK
    from tests._support import SRC

    process = spawn(
        "run", "--opentelemetry-instrument", "ticker.py", env={"PYTHONPATH": f"{tmp_path / 'shadow'}:{SRC}"}
    )
    assert process.wait() == 2
    assert 'pip install "tomodachi[opentelemetry]"' in process.stderr
    assert "Traceback" not in process.stderr
