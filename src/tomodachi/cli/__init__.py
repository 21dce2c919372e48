"""The ``tomodachi`` command line: ``tomodachi run [options] <service.py ...>`` (and ``tomodachi dlq ...``).

``cli_entrypoint`` is the console-script target (and what ``python -m tomodachi`` and
``tomodachi.run()`` call). It parses the arguments into a :class:`tomodachi.runner.RunConfig`,
hands it to the runner and exits with the runner's exit code:

* 0 after SIGINT/SIGTERM, N after ``tomodachi.exit(N)`` (or when service code set
  ``tomodachi.SERVICE_EXIT_CODE = N`` and the run ended normally);
* 1 when a service file cannot be imported or a service fails to initialise or start;
* 2 for a usage error (message on stderr, with a hint to ``--help``);
* 130 when a second SIGINT forces the exit.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from tomodachi.cli._parse import (
    HELP_FLAGS,
    RunArguments,
    UsageError,
    is_run_flag,
    merge_config,
    parse_run_arguments,
)
from tomodachi.cli._text import dependency_versions, usage_error_text, usage_text, version_text
from tomodachi.errors import ConfigurationError
from tomodachi.reload import CHILD_ENV

if TYPE_CHECKING:
    from tomodachi.reload.child import SupervisorLink

__all__ = ["RUN_COMMANDS", "UsageError", "cli_entrypoint", "main"]

#: ``run`` and its synonyms.
RUN_COMMANDS = ("run", "start", "go")
_VERSION_FLAGS = ("-v", "-V", "--version")
_DEPENDENCY_FLAGS = ("--dependency-versions", "--dependencies", "--deps")
_INTERRUPTED = 130


def cli_entrypoint(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the ``tomodachi`` command line *argv* and exit with its exit code.

    *argv* is a whole command line like ``sys.argv``: ``argv[0]`` is the program name and is
    skipped (``cli_entrypoint(["tomodachi", "run", "app.py"])``, ``cli_entrypoint(sys.argv)``).
    Without *argv*, ``sys.argv`` is used.
    """
    args = sys.argv if argv is None else argv
    sys.exit(main(list(args)[1:]))


def main(argv: Sequence[str]) -> int:
    """Run the ``tomodachi`` command with the arguments *argv* (no program name); return the exit code."""
    args = list(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        sys.stderr.write(usage_error_text(exc.message, exc.details, invalid_command=exc.invalid_command))
        return 2
    except KeyboardInterrupt:  # ctrl+c before the runner owned the signals
        return _INTERRUPTED


def _dispatch(args: list[str]) -> int:
    if not args:
        _print(usage_text())
        return 0
    head = args[0]
    if head in RUN_COMMANDS:
        return _run_command(args, args[1:])
    if head == "dlq":
        from tomodachi.cli._dlq import dlq_command

        return dlq_command(args[1:])
    if head.startswith("-") and head != "-":
        return _leading_options(args)
    details = _suggestion(args) or (
        f"unknown command {head!r}: the command is 'run' (or its synonyms 'start' and 'go'), or 'dlq'.",
    )
    raise UsageError(
        "the command 'run' must be specified before any service files or options.",
        *details,
        invalid_command=True,
    )


def _leading_options(args: list[str]) -> int:
    """``tomodachi --version`` and friends: options that come before (instead of) a command."""
    for arg in args:
        if arg in RUN_COMMANDS or not arg.startswith("-"):
            break
        if arg in HELP_FLAGS:
            _print(usage_text())
            return 0
        if arg in _VERSION_FLAGS:
            _print(version_text() + "\n")
            return 0
        if arg in _DEPENDENCY_FLAGS:
            _print("".join(f"{line}\n" for line in dependency_versions()))
            return 0
        if is_run_flag(arg):
            raise UsageError(
                "the command 'run' must be specified before any options.",
                *_suggestion(args),
                invalid_command=True,
            )
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        raise UsageError(f"option {name} not recognized.", invalid_command=True)
    raise UsageError(
        "the command 'run' must be specified before any service files or options.",
        *_suggestion(args),
        invalid_command=True,
    )


def _suggestion(args: list[str]) -> tuple[str, ...]:
    """When a service file was given, show the command the user probably meant."""
    if not any(arg.endswith(".py") for arg in args):
        return ()
    rest = [arg for arg in args if arg not in RUN_COMMANDS]
    return ("maybe you intended to run something like this?", f"$ tomodachi run {shlex.join(rest)}")


def _run_command(argv: list[str], args: list[str]) -> int:
    if not args:
        raise UsageError("no service file has been provided as argument.")
    # Service files and --custom-logger modules are usually relative to the working directory,
    # also when `tomodachi` runs as a console script (whose sys.path[0] is the script's bin/).
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    parsed = parse_run_arguments(args)
    if parsed.show_help:
        _print(usage_text())
        return 0
    if not parsed.files:
        raise UsageError("no service file has been provided as argument.")
    from tomodachi.context_vars import get_contextvar

    get_contextvar("run.args").set(list(args))  # tomodachi.context("run.args"), as in the original
    # Started by the reload supervisor? The variable stays, emptied: a `tomodachi run` started
    # from this process (by a service, or an unguarded tomodachi.run() in a service file) never
    # starts another supervisor.
    link_fd = os.environ.get(CHILD_ENV)
    if link_fd is None and parsed.workers > 1:
        from tomodachi.workers.supervisor import supervise_workers

        return supervise_workers(
            argv,
            parsed.files,
            workers=parsed.workers,
            reload=parsed.reload and _can_reload(),
            port=parsed.port,
            host=parsed.host,
            config_files=parsed.config_files,
            logger=parsed.logger,
            log_level=parsed.log_level,
            custom_logger=parsed.custom_logger,
        )
    if link_fd is None and parsed.reload and _can_reload():
        from tomodachi.reload.supervisor import supervise

        return supervise(
            argv,
            parsed.files,
            config_files=parsed.config_files,
            logger=parsed.logger,
            log_level=parsed.log_level,
            custom_logger=parsed.custom_logger,
        )
    link = None
    if link_fd:
        from tomodachi.reload.child import attach

        os.environ[CHILD_ENV] = ""
        link = attach(link_fd)  # the supervisor left out its --reload/--no-reload
    return _run(parsed, command=f"tomodachi {shlex.join(argv)}", link=link)


def _can_reload() -> bool:
    """Reload needs watchfiles (a dependency) and POSIX file-descriptor passing; else say so once."""
    import importlib.util

    why = None
    if os.name != "posix":
        why = "code reload is not supported on this platform"
    elif importlib.util.find_spec("watchfiles") is None:
        why = "code reload needs the watchfiles package (pip install watchfiles)"
    if why is None:
        return True
    sys.stderr.write(f"warning: {why}; the services run without it (use --no-reload to hide this)\n")
    return False


def _run(parsed: RunArguments, *, command: str, link: SupervisorLink | None = None) -> int:
    from tomodachi.runner import run
    from tomodachi.workers import adopt

    worker = adopt()  # a worker of `tomodachi run --workers N`?
    if worker is not None:
        # The workers share their port(s): the kernel spreads the connections over them.
        parsed.config = merge_config(parsed.config, {"options": {"http.reuse_port": True}})

    def on_start(loop_name: str) -> None:
        # Tell the reload supervisor the services' watcher options and grace period. The runner
        # calls on_start once the services are set up (before that there is nothing to report).
        if link is not None:
            link.report_services()
        if parsed.production or (worker is not None and worker[0] != 0):  # one banner per run
            return
        from tomodachi.banner import render_banner, use_color

        _print(render_banner(parsed.files, loop_name, command=command, color=use_color(sys.stdout)))

    parsed.on_start = on_start
    if parsed.opentelemetry_instrument:  # in the services' process (not a reload supervisor)
        from tomodachi.opentelemetry.auto import instrument_from_environment

        instrument_from_environment()
    try:
        return run(parsed)
    except ConfigurationError as exc:
        # Raised while configuring logging or the loop, before any service ran.
        raise UsageError(str(exc)) from exc


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
