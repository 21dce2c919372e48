"""``python -m tomodachi run service.py``: the same as the ``tomodachi`` command."""

from tomodachi.cli import cli_entrypoint

if __name__ == "__main__":
    cli_entrypoint()
