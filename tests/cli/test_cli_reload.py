"""Code reload, ``--host``/``--port`` and ``python -m tomodachi.run``, through real processes.

The reload tests edit the service files of a real ``tomodachi run`` (the supervisor) and read the
answers of its services over HTTP. Their environment has no ``PYTHONPATH`` when tomodachi is
installed (editable): ``PYTHONPATH`` directories are watched, and other work edits ``src/``.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._support import SRC, TIMEOUT, ServiceProcess, cli_env
from tomodachi.reload.filter import ChangeFilter, watch_roots
from tomodachi.reload.supervisor import QUIET_MS, child_arguments
from tomodachi.runner import FORCE_AFTER

WATCHING = "reload on: watching for file changes"
#: Longer than the watcher's quiet period: changes made before this have been seen (or ignored).
SETTLE = QUIET_MS / 1000 + 0.35

APP = """
    import os

    import tomodachi
    from tomodachi.logging import get_logger


    class App(tomodachi.Service):
        name = "app"
        options = {{"http": {{"port": {port}}}, {options}}}
        greeting = "none"

        async def _start_service(self):
            get_logger("app").info("INFO-MARK")
            get_logger("app").warning("WARN-MARK")

        async def _stop_service(self):
            tomodachi.SERVICE_EXIT_CODE = {exit_code}

        @tomodachi.http("GET", r"/")
        async def index(self, request):
            return "{version} " + self.greeting + " " + str(os.getpid())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_source(port: int, version: str = "v1", *, options: str = "", exit_code: int = 0) -> str:
    return textwrap.dedent(APP.format(port=port, version=version, options=options, exit_code=exit_code))


@functools.cache
def _installed() -> bool:
    """Is the tomodachi of ``src/`` importable without PYTHONPATH (an editable install)?"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", "import tomodachi; print(tomodachi.__file__)"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return result.returncode == 0 and result.stdout.strip().startswith(SRC)


def reload_env(**extra: str) -> dict[str, str]:
    """``cli_env`` with reload at its default (TOMODACHI_RELOAD unset) and, if possible, no PYTHONPATH."""
    env = cli_env(**extra)
    if "TOMODACHI_RELOAD" not in extra:
        del env["TOMODACHI_RELOAD"]
    if _installed():
        del env["PYTHONPATH"]
    return env


def get(port: int, path: str = "/") -> str | None:
    """The body of ``GET path``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def wait_for_answer(port: int, predicate: Callable[[str], bool], what: str, process: ServiceProcess) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        body = get(port)
        if body is not None and predicate(body):
            return body
        if process.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no answer {what} on port {port}; stderr:\n{process.stderr}")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fp:
            state = fp.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """``start(*args, cwd=..., env=...)``: ``python -m tomodachi *args`` (env: reload_env()).

    Every process is killed at the end, and so are the services' processes of ``start.children``.
    """
    started: list[ServiceProcess] = []
    children: list[int] = []

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> ServiceProcess:
        process = ServiceProcess(list(args), cwd or tmp_path, env if env is not None else reload_env())
        started.append(process)
        return process

    run.children = children  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        for process in started:
            process.kill()
        for pid in children:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def answer_pid(body: str) -> int:
    return int(body.split()[-1])


# -- reload ------------------------------------------------------------------------------------


def test_change_break_fix(start: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    """The new code answers; a syntax error is one line and the watcher waits; the fix answers."""
    port = free_port()
    app = tmp_path / "app.py"
    app.write_text(app_source(port, "v1"), encoding="utf-8")
    process = start("run", "app.py")
    process.wait_for_stderr(WATCHING)
    first = wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process)
    supervisor_pid = process.proc.pid
    assert answer_pid(first) != supervisor_pid  # the services run in a child process
    start.children.append(answer_pid(first))  # type: ignore[attr-defined]

    app.write_text(app_source(port, "v2"), encoding="utf-8")
    second = wait_for_answer(port, lambda b: b.startswith("v2 "), "from v2", process)
    assert answer_pid(second) != answer_pid(first)  # a fresh process
    assert not pid_alive(answer_pid(first))

    app.write_text(app_source(port, "v3") + "\ndef broken(:\n", encoding="utf-8")
    process.wait_for_stderr("waiting for a file change to restart them")
    assert get(port) is None
    errors = [line for line in process.stderr_lines if "syntax error" in line.lower()]
    assert len(errors) == 1, process.stderr
    assert "app.py" in errors[0]
    assert "Traceback" not in process.stderr

    app.write_text(app_source(port, "v4"), encoding="utf-8")
    wait_for_answer(port, lambda b: b.startswith("v4 "), "from v4 after the fix", process)
    assert process.proc.poll() is None
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr
    assert process.stderr.count("files changed: restarting services") == 3
    # Two children stopped for a reload (v1, v2), gracefully; the third change started a child.
    assert process.stderr.count("received termination signal") == 2, process.stderr
    assert "Traceback" not in process.stderr


def test_flags_and_config_survive_a_reload(start: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    port = free_port()
    app = tmp_path / "app.py"
    app.write_text(app_source(port, "v1"), encoding="utf-8")
    (tmp_path / "config.json").write_text('{"greeting": "from-config"}', encoding="utf-8")
    process = start("run", "--log-level", "warning", "app.py", "-c", "config.json")
    wait_for_answer(port, lambda b: b.startswith("v1 from-config "), "v1 with the config", process)
    process.wait_for_stderr("WARN-MARK")
    time.sleep(SETTLE)  # the watcher is ready (its info line is not logged at --log-level warning)
    app.write_text(app_source(port, "v2"), encoding="utf-8")
    wait_for_answer(port, lambda b: b.startswith("v2 from-config "), "v2 with the config", process)
    process.send(signal.SIGTERM)
    assert process.wait() == 0, process.stderr
    stderr = process.stderr
    assert stderr.count("WARN-MARK") == 2, stderr
    assert "INFO-MARK" not in stderr and "[info" not in stderr, stderr  # --log-level warning, twice


def test_ignored_changes_do_not_restart(start: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(app_source(port, "v1"), encoding="utf-8")
    for directory in ("node_modules", ".git", "__pycache__", ".venv/lib", "docs", "lib.egg-info"):
        (tmp_path / directory).mkdir(parents=True)
    process = start("run", "app.py")
    process.wait_for_stderr(WATCHING)
    pid = answer_pid(wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process))
    start.children.append(pid)  # type: ignore[attr-defined]
    for name in (
        "node_modules/z.py",
        ".git/hooks.py",
        "__pycache__/app.py",
        ".venv/lib/site.py",
        "lib.egg-info/x.py",
        "docs/notes.md",
        "notes.txt",
        ".#app.py",
    ):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    time.sleep(SETTLE)
    assert "files changed" not in process.stderr, process.stderr
    assert answer_pid(get(port) or "0") == pid

    # Several changes in a burst are one restart (debounced).
    (tmp_path / "docs" / "conf.yaml").write_text("x: 1\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "settings.toml").write_text("x = 1\n", encoding="utf-8")
    process.wait_for_stderr("files changed: restarting services")
    wait_for_answer(port, lambda b: answer_pid(b) != pid, "from a restarted child", process)
    time.sleep(SETTLE)
    lines = [x for x in process.stderr_lines if "files changed" in x]
    assert len(lines) == 1, process.stderr
    assert "conf.yaml" in lines[0] and "helper.py" in lines[0] and "settings.toml" in lines[0]
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr


def test_watcher_options_add_ignored_dirs_and_endings(
    start: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    """The services' process reports its options from on_start, which the runner calls once the
    services are set up; the supervisor applies them from then on."""
    port = free_port()
    options = '"watcher": {"ignored_dirs": ["data", "deep/skip"], "watched_file_endings": [".txt"]}'
    (tmp_path / "app.py").write_text(app_source(port, "v1", options=options), encoding="utf-8")
    for directory in ("data", "deep/skip", "docs"):
        (tmp_path / directory).mkdir(parents=True)
    process = start("run", "app.py")
    process.wait_for_stderr(WATCHING)
    pid = answer_pid(wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process))
    start.children.append(pid)  # type: ignore[attr-defined]
    for name in ("data/x.py", "docs/data/x.py", "deep/skip/y.py", "docs/notes.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    time.sleep(SETTLE)
    assert "files changed" not in process.stderr, process.stderr

    (tmp_path / "docs" / "readme.txt").write_text("watched by the option\n", encoding="utf-8")
    process.wait_for_stderr("files changed: restarting services")
    wait_for_answer(port, lambda b: answer_pid(b) != pid, "from a restarted child", process)
    line = next(x for x in process.stderr_lines if "files changed" in x)
    assert "readme.txt" in line and "x.py" not in line
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr


def test_a_project_inside_a_dot_directory_reloads(
    start: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    project = tmp_path / ".hidden" / "project"
    project.mkdir(parents=True)
    port = free_port()
    (project / "app.py").write_text(app_source(port, "v1"), encoding="utf-8")
    process = start("run", "app.py", cwd=project)
    process.wait_for_stderr(WATCHING)
    wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process)
    (project / "app.py").write_text(app_source(port, "v2"), encoding="utf-8")
    wait_for_answer(port, lambda b: b.startswith("v2 "), "from v2", process)
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--no-reload"], {}),
        (["--production"], {}),
        ([], {"TOMODACHI_RELOAD": "0"}),
        ([], {"TOMODACHI_PRODUCTION": "1"}),
    ],
    ids=["--no-reload", "--production", "TOMODACHI_RELOAD=0", "TOMODACHI_PRODUCTION=1"],
)
def test_reload_off_does_not_watch(
    start: Callable[..., ServiceProcess], tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    port = free_port()
    app = tmp_path / "app.py"
    app.write_text(app_source(port, "v1"), encoding="utf-8")
    process = start("run", *args, "app.py", env=reload_env(**env))
    body = wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process)
    assert answer_pid(body) == process.proc.pid  # no supervisor: the services run in this process
    app.write_text(app_source(port, "v2"), encoding="utf-8")
    time.sleep(SETTLE)
    assert (get(port) or "").startswith("v1 ")
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr
    assert WATCHING not in process.stderr and "files changed" not in process.stderr


def test_explicit_reload_wins_over_production(start: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(app_source(port, "v1"), encoding="utf-8")
    process = start("run", "--production", "--reload", "app.py")
    process.wait_for_stderr(WATCHING)
    body = wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process)
    assert answer_pid(body) != process.proc.pid
    assert process.stdout == ""  # still production: no banner
    process.send(signal.SIGTERM)
    assert process.wait() == 0, process.stderr


# -- signals, exit codes, orphans ----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_the_services_gracefully_with_their_exit_code(
    start: Callable[..., ServiceProcess], tmp_path: Path, signum: signal.Signals
) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(app_source(port, "v1", exit_code=7), encoding="utf-8")
    process = start("run", "app.py")
    process.wait_for_stderr(WATCHING)
    pid = answer_pid(wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process))
    start.children.append(pid)  # type: ignore[attr-defined]
    process.send(signum)
    assert process.wait() == 7, process.stderr  # the child's code (SERVICE_EXIT_CODE set on stop)
    assert "terminated service" in process.stderr
    assert not pid_alive(pid)


def test_a_second_sigint_to_the_supervisor_forces_the_exit_130(
    start: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            import tomodachi
            from tomodachi.logging import get_logger


            class Slow(tomodachi.Service):
                name = "slow"

                async def _started_service(self):
                    get_logger("app").info("STARTED-MARK")

                async def _stop_service(self):
                    get_logger("app").info("STOPPING-MARK")
                    await asyncio.sleep(30)
            """
        ),
        encoding="utf-8",
    )
    process = start("run", "app.py")
    process.wait_for_stderr(WATCHING)
    process.wait_for_stderr("STARTED-MARK")
    process.send(signal.SIGINT)
    process.wait_for_stderr("STOPPING-MARK")
    time.sleep(FORCE_AFTER)  # an earlier SIGINT is taken for a copy of the first
    process.send(signal.SIGINT)
    assert process.wait() == 130, process.stderr


def test_a_failure_before_any_change_exits_as_without_reload(
    start: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text("def broken(:\n", encoding="utf-8")
    process = start("run", "broken.py")
    assert process.wait() == 1, process.stderr
    assert "syntax error" in process.stderr and "Traceback" not in process.stderr


def test_an_unguarded_tomodachi_run_in_a_service_file_starts_no_second_supervisor(
    start: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    """The services' process imports the file, whose tomodachi.run() must not supervise again."""
    (tmp_path / "app.py").write_text(
        "import tomodachi\n\n\nclass S(tomodachi.Service):\n    name = 's'\n\n"
        "    async def _started_service(self):\n        pass\n\n\ntomodachi.run()\n",
        encoding="utf-8",
    )
    process = start("run", "app.py")
    assert process.wait() == 1, process.stderr  # the nested run fails (a loop is running) and ends
    assert process.stderr.count(WATCHING) <= 1


def test_a_killed_supervisor_leaves_no_orphan(start: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(app_source(port, "v1"), encoding="utf-8")
    process = start("run", "app.py")
    pid = answer_pid(wait_for_answer(port, lambda b: b.startswith("v1 "), "from v1", process))
    start.children.append(pid)  # type: ignore[attr-defined]
    process.send(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + TIMEOUT
    while pid_alive(pid):
        assert time.monotonic() < deadline, "the services' process outlived its supervisor"
        time.sleep(0.02)
    assert get(port) is None


# -- --host / --port, python -m tomodachi.run ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--port", "{port}"], {}),
        (["--port={port}", "--host", "127.0.0.1"], {"TOMODACHI_PORT": "1"}),  # the flag wins
        ([], {"TOMODACHI_PORT": "{port}", "TOMODACHI_HOST": "127.0.0.1"}),
    ],
    ids=["--port", "--port wins over TOMODACHI_PORT", "TOMODACHI_PORT"],
)
def test_host_and_port_override_the_service_options(
    start: Callable[..., ServiceProcess], tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    port, configured = free_port(), free_port()
    (tmp_path / "app.py").write_text(app_source(configured, "v1"), encoding="utf-8")
    (tmp_path / "config.json").write_text(f'{{"options": {{"http.port": {configured}}}}}', encoding="utf-8")
    args = [a.format(port=port) for a in args]
    env = {k: v.format(port=port) for k, v in env.items()}
    process = start("run", "--production", "app.py", "-c", "config.json", *args, env=reload_env(**env))
    wait_for_answer(port, lambda b: b.startswith("v1 "), f"on the port {port}", process)
    assert get(configured) is None
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "http"], {}, "Invalid value for --port option: 'http'"),
        ([], {"TOMODACHI_PORT": "70000"}, "set by the TOMODACHI_PORT environment variable"),
        (["--reload", "--no-reload"], {}, "the options --reload and --no-reload contradict each other"),
        (["--reload=1"], {}, "the --reload option does not take a value"),
    ],
)
def test_bad_reload_host_port_flags_are_usage_errors(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", "app.py", *args],
        cwd=tmp_path,
        env=reload_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_python_m_tomodachi_run(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(app_source(port, "v1"), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "tomodachi.run", "--production", "app.py"],
        cwd=tmp_path,
        env=reload_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while (body := get(port)) is None:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
            time.sleep(0.05)
        assert body.startswith("v1 ")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, stderr
        assert "Warning" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    usage = subprocess.run(
        [sys.executable, "-m", "tomodachi.run"],
        env=reload_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert usage.returncode == 2
    assert "no service file has been provided as argument." in usage.stderr


def test_importing_tomodachi_run_keeps_the_function_callable() -> None:
    code = (
        "import tomodachi, tomodachi.run, sys\n"
        "assert callable(tomodachi.run)\n"
        "tomodachi.run('missing_h8.py', production=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=reload_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd="/",
    )
    assert result.returncode == 1, result.stderr  # tomodachi.run() ran: the file is missing
    assert "missing_h8.py" in result.stderr


# -- pieces ----------------------------------------------------------------------------------------


def test_child_arguments_drop_the_reload_flags_before_the_files_marker() -> None:
    assert child_arguments(["run", "--reload", "app.py", "--no-reload", "-l", "debug"]) == [
        "run",
        "app.py",
        "-l",
        "debug",
    ]
    assert child_arguments(["run", "--", "--reload"]) == ["run", "--", "--reload"]


def test_change_filter(tmp_path: Path) -> None:
    root = tmp_path / ".dot" / "project"
    check = ChangeFilter([str(root)], always=[str(root / "service")], ignored_dirs=["data", "a/b"])
    assert check(None, str(root / "app.py"))
    assert check(None, str(root / "pkg" / "mod.py"))
    assert check(None, str(root / ".config" / "settings.toml"))  # only the listed dot-directories
    assert check(None, str(root / "service"))  # named on the command line: any ending
    assert not check(None, str(root / "notes.txt"))
    assert not check(None, str(root / "pkg" / "__pycache__" / "mod.py"))
    assert not check(None, str(root / "data" / "x.py"))
    assert not check(None, str(root / "pkg" / "data" / "x.py"))
    assert not check(None, str(root / "a" / "b" / "x.py"))
    assert check(None, str(root / "pkg" / "a" / "b" / "x.py"))  # a path is relative to the root
    assert not check(None, str(root / "lib.egg-info" / "x.py"))
    assert not check(None, str(root / ".#app.py"))
    check.update([], [".txt"])
    assert check(None, str(root / "notes.txt"))
    assert check(None, str(root / "data" / "x.py"))  # update() replaces the added ignores


def test_watch_roots_collapse_nested_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "lib").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "lib"), "/nonexistent-h8"]))
    assert watch_roots(["services/app.py"]) == [str(tmp_path)]
    monkeypatch.chdir(tmp_path / "services")
    assert sorted(watch_roots(["app"])) == sorted([str(tmp_path / "services"), str(tmp_path / "lib")])
    monkeypatch.chdir("/")  # never the whole file system
    assert sorted(watch_roots([str(tmp_path / "services" / "app.py")])) == sorted(
        [str(tmp_path / "services"), str(tmp_path / "lib")]
    )
