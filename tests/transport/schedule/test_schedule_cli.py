"""End to end through ``tomodachi run``: a heartbeat service, and a bad cron expression."""

from __future__ import annotations

import calendar
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")
DEADLINE = 30.0

HEARTBEAT_SERVICE = """
import tomodachi


def event(text: str) -> None:
    print(f"event: {text}", flush=True)


class Heartbeat(tomodachi.Service):
    name = "heartbeat-e2e"

    async def _start_service(self) -> None:
        event("_start_service")

    async def _started_service(self) -> None:
        event("_started_service")

    @tomodachi.heartbeat
    async def beat(self, invocation_time: str) -> None:
        event(f"beat {invocation_time}")

    async def _stopping_service(self) -> None:
        event("_stopping_service")

    async def _stop_service(self) -> None:
        event("_stop_service")
"""

BAD_CRON_SERVICE = """
import tomodachi


class BadCron(tomodachi.Service):
    name = "bad-cron"

    @tomodachi.schedule(interval="61 * * * *")
    async def tick(self) -> None:
        pass
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMODACHI_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=SRC, PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.py"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_heartbeat_service_through_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, HEARTBEAT_SERVICE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tomodachi", "run", "--production", str(path)],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    errors: list[str] = []
    readers = [
        threading.Thread(
            target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout or []), daemon=True
        ),
        threading.Thread(
            target=lambda: errors.extend(line.rstrip("\n") for line in proc.stderr or []), daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while sum(line.startswith("event: beat") for line in list(lines)) < 3:
            assert proc.poll() is None, "\n".join(errors)
            assert time.monotonic() < deadline, "no three heartbeats in time:\n" + "\n".join(errors)
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE)
    for reader in readers:
        reader.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):  # closed here, not by the GC (a ResourceWarning)
        if pipe is not None:
            pipe.close()

    assert code == 0, "\n".join(errors)
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    beats = [e for e in events if e.startswith("beat ")]
    assert events[:2] == ["_start_service", "_started_service"]
    assert events[-2:] == ["_stopping_service", "_stop_service"]
    assert events[2 : 2 + len(beats)] == beats and len(beats) >= 3
    # One invocation per second, on the grid (invocation_time is the due time, in UTC).
    times = [calendar.timegm(time.strptime(b.removeprefix("beat "), "%Y-%m-%dT%H:%M:%SZ")) for b in beats]
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] >= len(times) - 2
    assert not any("Traceback" in line for line in errors)


def test_bad_cron_exits_1_with_one_line_naming_handler_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD_CRON_SERVICE)
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", "--production", str(path)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 1
    mentions = [line for line in result.stderr.splitlines() if "61 * * * *" in line]
    assert len(mentions) == 1, result.stderr
    assert "scheduled function 'tick'" in mentions[0]
    assert "minute 61 is out of range 0-59" in mentions[0]
    assert "Traceback" not in result.stderr
