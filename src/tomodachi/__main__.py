"""``python -m tomodachi run service.py``: the same as the ``tomodachi`` command."""

import sys

from tomodachi.cli import cli_entrypoint

if __name__ == "__main__":
    cli_entrypoint(sys.argv)  # argv[0] (this file) is the program name
