"""``tomodachi dlq list|show|redrive``: parse the arguments, call :mod:`tomodachi.dlq`, print the result.

Usage mistakes raise :class:`~tomodachi.cli._parse.UsageError` (exit 2, with the help hint); a
service file that cannot be loaded, a service that cannot be set up, a handler whose dead letters
cannot be inspected and a broker error print one ``error: ...`` line and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.cli._dlq_text import (
    dlq_usage_text,
    message_dict,
    render_messages,
    render_statuses,
    status_dict,
)
from tomodachi.cli._parse import HELP_FLAGS, UsageError, load_config_files

if TYPE_CHECKING:
    from tomodachi.dlq import DeadLetterTarget

__all__ = ["DLQ_COMMANDS", "DLQ_FLAGS", "dlq_command", "parse_dlq_arguments"]

DLQ_COMMANDS = ("list", "show", "redrive")
#: Every flag of ``tomodachi dlq`` (the help, docs/cli.md and docs/dead_letters.md list each one).
DLQ_FLAGS = ("--limit", "-y", "--yes", "--json", "-c", "--config", "--message-broker", "-h", "--help")
_CONFIG_FLAGS = ("-c", "--config")
_YES_FLAGS = ("-y", "--yes")
#: Flags each command accepts (besides -c/--config, --message-broker and --help).
_ALLOWED = {"list": {"--json"}, "show": {"--json", "--limit"}, "redrive": {"--limit", "--yes"}}
_SHOW_LIMIT = 10


@dataclass
class DlqArguments:
    command: str
    positionals: list[str] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    limit: int | None = None
    yes: bool = False
    json: bool = False
    show_help: bool = False


def _value(args: Sequence[str], index: int, name: str, inline: str | None) -> tuple[str, int]:
    if inline:
        return inline, index
    if index < len(args) and not args[index].startswith("-"):
        return args[index], index + 1
    raise UsageError(f"Missing value for {name} option")


def parse_dlq_arguments(args: Sequence[str], environ: Mapping[str, str] | None = None) -> DlqArguments:
    """Parse the arguments after ``dlq``; raise :class:`UsageError` on any mistake."""
    environ = os.environ if environ is None else environ
    if not args or args[0] in HELP_FLAGS:
        return DlqArguments("", show_help=True)
    command = args[0]
    if command not in DLQ_COMMANDS:
        raise UsageError(
            f"unknown dlq command {command!r} (expected 'list', 'show' or 'redrive').", invalid_command=True
        )
    parsed = DlqArguments(command)
    broker = environ.get("TOMODACHI_MESSAGE_BROKER", "").strip()
    broker_source = "TOMODACHI_MESSAGE_BROKER environment variable"
    index, only_positionals = 1, False
    while index < len(args):
        arg = args[index]
        index += 1
        if only_positionals or not arg.startswith("-") or arg == "-":
            parsed.positionals.append(arg)
            continue
        if arg == "--":
            only_positionals = True
            continue
        name, has_inline, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in HELP_FLAGS:
            parsed.show_help = True
        elif name in _CONFIG_FLAGS:
            value, index = _value(args, index, name, inline if has_inline else None)
            parsed.config_files.append(value)
            while (
                index < len(args)
                and args[index].lower().endswith(".json")
                and not args[index].startswith("-")
            ):
                parsed.config_files.append(args[index])
                index += 1
        elif name == "--message-broker":
            broker, index = _value(args, index, name, inline if has_inline else None)
            broker_source = f"{name} option"
        elif name == "--limit" or name in _YES_FLAGS or name == "--json":
            flag = "--yes" if name in _YES_FLAGS else name
            if flag not in _ALLOWED[command]:
                raise UsageError(f"option {name} is not an option of 'tomodachi dlq {command}'.")
            if flag == "--limit":
                text, index = _value(args, index, name, inline if has_inline else None)
                if not text.isdigit() or int(text) < 1:
                    raise UsageError(
                        f"Invalid value for --limit option: {text!r} (expected a whole number >= 1)"
                    )
                parsed.limit = int(text)
            elif has_inline:
                raise UsageError(f"the {name} option does not take a value")
            elif flag == "--yes":
                parsed.yes = True
            else:
                parsed.json = True
        else:
            raise UsageError(f"option {name} not recognized.", invalid_command=True)
    if broker.lower() == "memory":
        raise UsageError(
            f"tomodachi dlq cannot reach the in-memory broker (set by the {broker_source}): it lives in the "
            "process that runs the services; inspect its dead letters there (tomodachi.testing)"
        )
    if broker and broker.lower() != "default":
        raise UsageError(f"Invalid value for --message-broker option: {broker!r} (expected 'default')")
    if parsed.show_help:
        return parsed
    if command == "list" and not parsed.positionals:
        raise UsageError("no service file has been provided as argument.")
    if command != "list" and len(parsed.positionals) != 2:
        raise UsageError(f"'tomodachi dlq {command}' takes one service file and one handler name.")
    return parsed


def dlq_command(args: Sequence[str]) -> int:
    """Run ``tomodachi dlq *args``; return the exit code."""
    parsed = parse_dlq_arguments(args)
    if parsed.show_help:
        _print(dlq_usage_text())
        return 0
    config = load_config_files(parsed.config_files) if parsed.config_files else None
    cwd = os.getcwd()  # service files import modules next to them, or relative to here
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    from tomodachi.logging import configure

    configure("console", "critical")  # service code and libraries: only what ends the command
    from tomodachi.dlq import DeadLetterError

    try:
        return asyncio.run(_COMMANDS[parsed.command](parsed, config))
    except DeadLetterError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


async def _list(parsed: DlqArguments, config: dict[str, Any] | None) -> int:
    from tomodachi.dlq import inspect, targets

    found = await targets(parsed.positionals, config=config)
    statuses = await inspect(found)
    if parsed.json:
        _print(json.dumps([status_dict(status) for status in statuses], indent=2) + "\n")
    elif not statuses:
        _print(f"no handler of {', '.join(parsed.positionals)} reports a dead-letter route\n")
    else:
        _print(render_statuses(statuses))
    return 0


async def _target(parsed: DlqArguments, config: dict[str, Any] | None) -> DeadLetterTarget:
    from tomodachi.dlq import targets

    path, handler = parsed.positionals
    found = await targets(path, config=config)
    matches = [t for t in found if handler in (t.route.handler, t.name)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(t.name for t in found) or "none"
    if matches:
        raise UsageError(f"handler {handler!r} is ambiguous in {path}: name one of {known}")
    raise UsageError(f"no handler {handler!r} with a dead-letter route in {path} (handlers: {known})")


async def _show(parsed: DlqArguments, config: dict[str, Any] | None) -> int:
    from tomodachi.dlq import inspect, peek

    target = await _target(parsed, config)
    [status] = await inspect(target)
    messages = await peek(target, parsed.limit or _SHOW_LIMIT)
    if parsed.json:
        document = {**status_dict(status), "shown": [message_dict(message) for message in messages]}
        _print(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        _print(render_messages(target, status, messages))
    return 0


async def _redrive(parsed: DlqArguments, config: dict[str, Any] | None) -> int:
    from tomodachi.dlq import RedriveError, inspect, redrive

    target = await _target(parsed, config)
    route = target.route
    where = f"from {route.dead_letter_queue!r} to {route.queue!r} ({target.name})"
    if not parsed.yes:
        if not sys.stdin.isatty():
            raise UsageError("re-driving moves messages: add --yes to confirm (stdin is not a terminal)")
        [status] = await inspect(target)
        count = "all" if status.messages is None else str(status.messages)
        if parsed.limit is not None and status.messages is not None:
            count = str(min(parsed.limit, status.messages))
        _print(f"move {count} message(s) {where}? [y/N] ")
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            _print("nothing moved\n")
            return 0
    try:
        moved = await redrive(target, parsed.limit)
    except RedriveError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    _print(f"moved {moved} message(s) {where}\n")
    return 0


_COMMANDS = {"list": _list, "show": _show, "redrive": _redrive}


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
