"""Logging the way the original's logging test service does: a stdlib file handler with
``tomodachi.logging.JSONFormatter`` added to ``tomodachi.logging.getLogger()``, and the deprecated
``self.log(msg, level=logging.INFO)``."""

import asyncio
import logging
import os
from logging.handlers import WatchedFileHandler

import tomodachi


@tomodachi.service
class LoggingService(tomodachi.Service):
    name = "compat_logging"
    log_path = os.environ["COMPAT_LOG_PATH"]

    def __init__(self) -> None:
        try:
            os.remove(self.log_path)
        except OSError:
            pass

    def log_setup(self, filename: str) -> None:
        wfh = WatchedFileHandler(filename=filename)
        wfh.setLevel(logging.DEBUG)
        wfh.setFormatter(tomodachi.logging.JSONFormatter)
        tomodachi.logging.getLogger().addHandler(wfh)

    async def _start_service(self) -> None:
        self.log_setup(filename=self.log_path)
        self.log("_start_service", level=logging.INFO)

    async def _started_service(self) -> None:
        self.log("_started_service", level=logging.INFO)
        tomodachi.get_logger("compat.logger").info("structured", answer=42)
        await asyncio.sleep(0.1)
        tomodachi.exit()

    async def _stop_service(self) -> None:
        self.log("_stop_service", level=logging.INFO)
