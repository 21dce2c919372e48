"""``tomodachi.dlq`` is reached lazily and imports no broker library until a broker is used."""

from __future__ import annotations

import subprocess
import sys

from tests._support import cli_env


def test_lazy_and_light() -> None:
    code = (
        "import sys, tomodachi\n"
        "assert 'tomodachi.dlq' not in sys.modules\n"
        "api = tomodachi.dlq\n"
        "assert callable(api.inspect) and callable(api.redrive)\n"
        "heavy = [m for m in ('aio_pika', 'botocore', 'aiobotocore') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
