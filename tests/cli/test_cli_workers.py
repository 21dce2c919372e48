"""``tomodachi run --workers N`` through real processes: one port, signals, crashes, orphans, schedules."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._support import TIMEOUT, ServiceProcess
from tests.cli.test_cli_reload import reload_env
from tomodachi.cli._parse import UsageError, parse_run_arguments
from tomodachi.workers.supervisor import worker_arguments

SERVICE = """
    import asyncio
    import os

    import tomodachi


    class Service(tomodachi.Service):
        name = "workers"
        options = tomodachi.Options(http={"termination_grace_period_seconds": 10})

        @tomodachi.http("GET", r"/pid")
        async def pid(self, request):
            return "{version} " + str(os.getpid())

        @tomodachi.http("GET", r"/slow")
        async def slow(self, request):
            await asyncio.sleep(1.5)
            return "slow " + str(os.getpid())

        @tomodachi.heartbeat
        async def beat(self):
            print(f"beat {os.getpid()}", flush=True)
"""

STARTED = r"started 2 worker processes on port (\d+).*pids=\[(\d+), (\d+)\]"


def service(version: str = "v1") -> str:
    return SERVICE.replace("{version}", version)


def get(port: int, path: str = "/pid", timeout: float = 5) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def pids_answering(port: int, wanted: set[int], within: float = TIMEOUT) -> set[int]:
    """GET /pid (new connections) until every pid of *wanted* has answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + within
    while not wanted <= seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"pids {wanted - seen} did not answer on port {port}; seen {seen}")
        body = get(port)
        if body is not None:
            seen.add(int(body.split()[-1]))
        else:
            time.sleep(0.05)
    return seen


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fp:
            return fp.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def wait_gone(pids: set[int], within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {within} s: {[p for p in pids if alive(p)]}")
        time.sleep(0.05)


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def started(process: ServiceProcess) -> tuple[int, set[int]]:
    match = re.search(STARTED, process.wait_for_stderr(STARTED))
    assert match is not None
    return int(match[1]), {int(match[2]), int(match[3])}


# -- parsing -------------------------------------------------------------------------------------
def test_workers_flag_environment_variable_and_auto() -> None:
    assert parse_run_arguments(["app.py"], environ={}).workers == 1
    assert parse_run_arguments(["--workers", "3", "app.py"], environ={}).workers == 3
    assert parse_run_arguments(["app.py"], environ={"TOMODACHI_WORKERS": "4"}).workers == 4
    assert parse_run_arguments(["--workers=2", "app.py"], environ={"TOMODACHI_WORKERS": "4"}).workers == 2
    cores = len(os.sched_getaffinity(0))
    assert parse_run_arguments(["--workers", "auto", "app.py"], environ={}).workers == cores
    assert parse_run_arguments(["app.py"], environ={"TOMODACHI_WORKERS": "AUTO"}).workers == cores
    for bad in ("0", "-1", "two", "1025"):
        with pytest.raises(UsageError, match="Invalid value for --workers option"):
            parse_run_arguments([f"--workers={bad}", "app.py"], environ={})
    with pytest.raises(UsageError, match="TOMODACHI_WORKERS"):
        parse_run_arguments(["app.py"], environ={"TOMODACHI_WORKERS": "x"})


def test_worker_arguments_override_the_users_flags_before_the_file_separator() -> None:
    arguments = worker_arguments(["run", "--workers", "2", "--reload", "a.py"])
    assert arguments == ["run", "--workers", "2", "a.py", "--workers=1"]
    assert worker_arguments(["run", "--port", "0", "--", "-a.py"], 8080) == [
        "run",
        "--port",
        "0",
        "--workers=1",
        "--port=8080",
        "--",
        "-a.py",
    ]


def test_the_in_memory_broker_is_refused_with_more_than_one_worker(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], write: Callable[[str, str], Path]
) -> None:
    write("app.py", service())
    result = run_cli("run", "--workers", "2", "--message-broker", "memory", "app.py")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "in-memory message broker" in errors[0], result.stderr
    result = run_cli("run", "--message-broker", "memory", "app.py", env={"TOMODACHI_WORKERS": "2"})
    assert result.returncode == 2 and "in-memory" in result.stderr


def test_a_service_file_that_fails_ends_the_run_with_its_code(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], write: Callable[[str, str], Path]
) -> None:
    write("broken.py", "raise RuntimeError('boom')\n")
    result = run_cli("run", "--production", "--workers", "2", "broken.py")
    assert result.returncode == 1, result.stderr
    assert "before its services were set up" in result.stderr


# -- processes -----------------------------------------------------------------------------------
def test_one_worker_runs_in_the_process_itself(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path]
) -> None:
    write("app.py", service())
    process = spawn("run", "--production", "--workers", "1", "--port", "0", "app.py")
    line = process.wait_for_stderr(r"accepting http requests.*listen_port=(\d+)")
    port = int(re.search(r"listen_port=(\d+)", line)[1])  # type: ignore[index]
    assert get(port) == f"v1 {process.proc.pid}"  # no supervisor: the services run right here
    assert "tomodachi.workers" not in process.stderr
    process.send(signal.SIGTERM)
    assert process.wait() == 0


def test_two_workers_share_a_port_run_the_schedule_once_and_drain_on_sigterm(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path]
) -> None:
    write("app.py", service())
    process = spawn("run", "--production", "--workers", "2", "--port", "0", "app.py")
    port, pids = started(process)
    try:
        assert pids_answering(port, pids) == pids  # both workers answer on the one port
        # Schedules: worker 0 runs the heartbeat, worker 1 says it does not.
        process.wait_for_stderr(r"not cluster-safe run in worker 0: not in this one.*worker=1")
        deadline = time.monotonic() + TIMEOUT
        while len([x for x in process.stdout_lines if x.startswith("beat ")]) < 3:
            assert time.monotonic() < deadline, process.stderr
            time.sleep(0.1)
        beats = {line.split()[1] for line in process.stdout_lines if line.startswith("beat ")}
        assert len(beats) == 1 and int(beats.pop()) in pids
        # SIGTERM: an in-flight request finishes, both workers stop gracefully, exit 0.
        answers: list[str | None] = []
        threads = [threading.Thread(target=lambda: answers.append(get(port, "/slow"))) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        process.send(signal.SIGTERM)
        for thread in threads:
            thread.join(TIMEOUT)
        assert len(answers) == 4 and all(a is not None and a.startswith("slow ") for a in answers), answers
        assert process.wait() == 0, process.stderr
        wait_gone(pids, 5)
        assert process.stderr.count("received termination signal") == 2, process.stderr
    finally:
        kill_all(pids)


def test_a_crashed_worker_is_restarted_and_a_killed_supervisor_leaves_no_orphan(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path]
) -> None:
    write("app.py", service())
    process = spawn("run", "--production", "--port", "0", "app.py", env={"TOMODACHI_WORKERS": "2"})
    port, pids = started(process)
    every = set(pids)
    try:
        pids_answering(port, pids)
        match = re.search(STARTED, process.stderr)
        assert match is not None
        victim = int(match[2])  # worker 0, the one that runs the heartbeat
        deadline = time.monotonic() + TIMEOUT
        while f"beat {victim}" not in process.stdout_lines:
            assert time.monotonic() < deadline, process.stderr
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        process.wait_for_stderr(r"exited with code 137: restarting it in 0.5 s")
        line = process.wait_for_stderr(r"restarted worker.*pid=(\d+)")
        new = int(re.search(r"pid=(\d+)", line)[1])  # type: ignore[index]
        every.add(new)
        assert pids_answering(port, {new}), "the new worker serves"
        while f"beat {new}" not in process.stdout_lines:  # the new worker 0 resumes the heartbeat
            assert time.monotonic() < deadline, process.stderr
            time.sleep(0.05)
        # SIGKILL of the supervisor: its workers notice and stop by themselves.
        process.proc.kill()
        process.wait()
        wait_gone((pids - {victim}) | {new}, 15)
    finally:
        kill_all(every)


def test_reload_restarts_every_worker_on_a_change(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(service("v1")), encoding="utf-8")
    process = ServiceProcess(["run", "--workers", "2", "--port", "0", "app.py"], tmp_path, reload_env())
    pids: set[int] = set()
    try:
        port, pids = started(process)
        process.wait_for_stderr("reload on: watching for file changes")
        pids_answering(port, pids)
        (tmp_path / "app.py").write_text(textwrap.dedent(service("v2")), encoding="utf-8")
        process.wait_for_stderr("files changed: restarting the workers")
        deadline = time.monotonic() + TIMEOUT
        fresh: set[int] = set()
        while len(fresh) < 2:
            assert time.monotonic() < deadline, process.stderr
            body = get(port)
            if body is not None and body.startswith("v2 "):
                fresh.add(int(body.split()[1]))
        assert not fresh & pids
        pids |= fresh
        process.send(signal.SIGINT)
        assert process.wait() == 0, process.stderr
        wait_gone(pids, 5)
    finally:
        process.kill()
        kill_all(pids)


def test_the_workers_share_the_ops_port_too(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        ops_port = int(sock.getsockname()[1])
    source = service().replace(
        'http={"termination_grace_period_seconds": 10}',
        f'http={{"termination_grace_period_seconds": 10}}, ops={{"health": True, "port": {ops_port}}}',
    )
    write("app.py", source)
    process = spawn("run", "--production", "--workers", "2", "--port", "0", "app.py")
    port, pids = started(process)
    try:
        pids_answering(port, pids)  # both workers started: neither failed to bind the ops port
        assert get(ops_port, "/health/ready") is not None
        assert "restarting it" not in process.stderr
        process.send(signal.SIGTERM)
        assert process.wait() == 0, process.stderr
    finally:
        kill_all(pids)


def test_a_service_on_the_in_memory_broker_by_its_options_is_refused(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], write: Callable[[str, str], Path]
) -> None:
    write(
        "bus.py",
        """
        import tomodachi


        class Bus(tomodachi.Service):
            name = "bus"
            options = tomodachi.Options(amqp={"broker": "memory"})

            @tomodachi.amqp("thing.happened")
            async def happened(self, data):
                pass
        """,
    )
    result = run_cli("run", "--production", "--workers", "2", "bus.py")
    assert result.returncode == 2, result.stderr
    refusals = [line for line in result.stderr.splitlines() if "in-memory message broker" in line]
    assert len(refusals) == 1 and "bus" in refusals[0], result.stderr


def test_the_exit_code_is_the_first_non_zero_code_of_a_worker(
    spawn: Callable[..., ServiceProcess], write: Callable[[str, str], Path]
) -> None:
    source = service().replace(
        "        @tomodachi.heartbeat",
        "        async def _stop_service(self):\n"
        "            tomodachi.SERVICE_EXIT_CODE = 3\n\n"
        "        @tomodachi.heartbeat",
    )
    write("app.py", source)
    process = spawn("run", "--production", "--workers", "2", "--port", "0", "app.py")
    port, pids = started(process)
    try:
        pids_answering(port, pids)
        process.send(signal.SIGINT)
        assert process.wait() == 3, process.stderr
    finally:
        kill_all(pids)
