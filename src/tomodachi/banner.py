"""The start-up banner ``tomodachi run`` prints on stdout (not in ``--production``).

It tells a developer what is running: which files, which Python and tomodachi, which virtualenv
and which event loop. Logs go to stderr, so the banner never mixes with machine-read log output.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from tomodachi.__version__ import __build_time__, __version__
from tomodachi.errors import mask_url_credentials

__all__ = ["render_banner", "use_color"]

_LOGO = (
    "▀█▀ █▀█ █▀▄▀█ █▀█ █▀▄ ▄▀█ █▀▀ █ █ █",
    " █  █▄█ █ ▀ █ █▄█ █▄▀ █▀█ █▄▄ █▀█ █  友達",
)
_LABEL_WIDTH = 23
_FALSE_WORDS = ("", "0", "false", "no", "off")

# ANSI styles, applied only when colour is on.
_RESET = "\033[0m"
_DIM = "\033[2m"
_BOLD = "\033[1m"
_LOGO_STYLE = "\033[1;36m"
_VALUE_STYLE = "\033[37m"
_NOTICE_STYLE = "\033[33m"


def use_color(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR / TOMODACHI_NO_COLOR (or kin) is set."""
    environ = os.environ if environ is None else environ
    for name in (
        "NO_COLOR",
        "NOCOLOR",
        "TOMODACHI_NO_COLOR",
        "TOMODACHI_NOCOLOR",
        "TOMODACHI_BANNER_NO_COLOR",
    ):
        value = environ.get(name)
        if value is not None and value.strip().lower() not in _FALSE_WORDS:
            return False
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _display_path(path: str) -> str:
    """``./app.py`` for a file under the working directory, else the absolute path."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    if relative.startswith(os.pardir):
        return absolute
    return f".{os.sep}{relative}"


def _version_note(now: datetime | None = None) -> str:
    if not __build_time__:
        return "local development version"
    try:
        built = datetime.fromisoformat(__build_time__.replace("Z", "+00:00"))
    except ValueError:
        return f"built {__build_time__}"
    if built.tzinfo is None:
        built = built.replace(tzinfo=UTC)
    days = ((now or datetime.now(UTC)) - built).days
    if days <= 0:
        return "released today"
    return f"released {days} day{'s' if days != 1 else ''} ago"


def _virtualenv(environ: Mapping[str, str]) -> str | None:
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        return venv
    if sys.prefix != sys.base_prefix:
        return sys.prefix
    return None


def _event_loop(loop_name: str) -> str:
    if loop_name != "uvloop":
        return loop_name
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"uvloop (version: {version('uvloop')})"
    except PackageNotFoundError:  # pragma: no cover - imported but not installed as a distribution
        return "uvloop"


def render_banner(
    files: Sequence[str],
    loop_name: str,
    *,
    command: str | None = None,
    color: bool = False,
    pid: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The banner text (ending in a newline) for a run of *files* on the *loop_name* event loop.

    *command* is the command line shown after ``$`` (default: ``tomodachi run <files>``).
    """
    environ = os.environ if environ is None else environ

    def style(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    def line(label: str, value: str) -> str:
        return f"{style(label.ljust(_LABEL_WIDTH - 1), _DIM)} ⇢ {style(value, _VALUE_STYLE)}"

    pid = os.getpid() if pid is None else pid
    # A URL password on the command line (an argument of the user's own) is not shown.
    command = mask_url_credentials(command or "tomodachi run " + " ".join(files))
    lines = [style(row, _LOGO_STYLE) for row in _LOGO]
    lines.append("")
    lines.append(line(f"process [pid: {pid}]", f"$ {command}"))
    shown = [_display_path(f) for f in files]
    if len(shown) == 1:
        lines.append(line("service file", shown[0]))
    else:
        lines.append(line(f"service file [{len(shown)}]", shown[0] if shown else ""))
        lines.extend(" " * (_LABEL_WIDTH + 2) + style(path, _VALUE_STYLE) for path in shown[1:])
    lines.append("")
    hostname = environ.get("HOSTNAME") or socket.gethostname()
    lines.append(
        line("operating system", f"{platform.system()} on {platform.machine()} (hostname: {hostname})")
    )
    python = f"{platform.python_implementation()} {platform.python_version()}"
    lines.append(line("python runtime", f"{python} (build: {platform.python_build()[1]})"))
    lines.append(line("tomodachi version", f"{__version__} ({_version_note()})"))
    venv = _virtualenv(environ)
    if venv:
        lines.append(line("virtualenv path", venv))
    else:
        lines.append(line("python executable", f"{sys.executable} [outside venv]"))
    lines.append(line("event loop", _event_loop(loop_name)))
    lines.append("")
    notice = "stop running services with <ctrl+c> (graceful teardown)"
    lines.append(f"{style('⌁ [notice ]', _NOTICE_STYLE)} {style(notice, _BOLD) if color else notice}")
    return "\n".join(lines) + "\n"
