"""A service file next to a helper directory, imported relatively; no ``__init__.py`` anywhere."""

import tomodachi

from .relative_import.import_file import noop


class RelativeService(tomodachi.Service):
    name = "compat_relative"

    async def _started_service(self) -> None:
        print('COMPAT {"event": "imported", "value": "' + noop() + '"}', flush=True)
        tomodachi.exit()
