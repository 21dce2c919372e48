"""``python -m tomodachi.run [options] <service.py ...>``: ``tomodachi run ...`` without the word ``run``.

This module is only meant to be run with ``-m``. ``tomodachi.run`` is also the name of the
function ``tomodachi.run()``; importing this module (``import tomodachi.run``) makes Python bind
the package attribute ``tomodachi.run`` to the module, so the module is made callable and calls
that function: ``tomodachi.run("app.py")`` works either way.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import tomodachi

_run_function = tomodachi.__dict__.get("run")


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not callable(_run_function):  # pragma: no cover - tomodachi.run was not the function
            raise TypeError("tomodachi.run is not callable")
        return _run_function(*args, **kwargs)


def main(argv: list[str] | None = None) -> None:
    """``tomodachi run <argv>`` (default: ``sys.argv[1:]``); always ends with ``SystemExit``."""
    from tomodachi.cli import cli_entrypoint

    cli_entrypoint(["tomodachi", "run", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
else:
    sys.modules[__name__].__class__ = _CallableModule
