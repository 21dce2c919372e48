"""A service file inside a package (``__init__.py``), importing a sibling module relatively."""

import tomodachi

from .models import GREETING


class PackagedService(tomodachi.Service):
    name = "compat_packaged"

    async def _started_service(self) -> None:
        print('COMPAT {"event": "imported", "value": "' + GREETING + '"}', flush=True)
        tomodachi.exit()
