"""A service file that runs itself with ``tomodachi.run()`` (``python run_by_itself.py``)."""

import tomodachi


class RunByItself(tomodachi.Service):
    name = "compat_run_by_itself"

    async def _started_service(self) -> None:
        print('COMPAT {"event": "started"}', flush=True)
        tomodachi.exit(3)


if __name__ == "__main__":
    tomodachi.run(production=True)
