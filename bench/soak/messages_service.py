"""The message side of the soak: a service that publishes to itself on the in-memory broker.

Run by ``bench/soak/run.py`` as ``tomodachi run --message-broker memory``. Each handler call
fails (``SOAK_FAIL=1``, the default) with a plain exception, so every message is logged with its
traceback and dead-lettered. The service measures its own resident memory after a warm-up and
after ``SOAK_MESSAGES`` more messages, prints one ``SOAK ...`` line and exits.
"""

import asyncio
import gc
import os

import tomodachi
from tomodachi.envelope import JsonBase

MESSAGES = int(os.environ.get("SOAK_MESSAGES", "100000"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "2000"))
SIZE = int(os.environ.get("SOAK_SIZE", "10240"))
FAIL = os.environ.get("SOAK_FAIL", "1") == "1"
BATCH = 200


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SoakService(tomodachi.Service):
    name = "soak"
    message_envelope = JsonBase

    def __init__(self) -> None:
        self.calls = 0
        self.progress = asyncio.Event()

    @tomodachi.amqp("soak.work")
    async def work(self, data: dict) -> None:
        self.calls += 1
        self.progress.set()
        payload = data["payload"]  # a local of the failing frame, as in real handlers
        if FAIL:
            raise ValueError(f"soak failure {data['n']} ({len(payload)} bytes)")

    async def _publish(self, count: int) -> None:
        payload = "x" * SIZE
        base = self.calls
        sent = 0
        while sent < count:
            batch = min(BATCH, count - sent)
            for _ in range(batch):
                await tomodachi.amqp_publish(self, {"n": sent, "payload": payload}, routing_key="soak.work")
                sent += 1
            await self._until(base + sent - 4 * BATCH)  # keep the backlog bounded
        await self._until(base + count)
        await asyncio.sleep(0.2)  # the last settles

    async def _until(self, calls: int) -> None:
        while self.calls < calls:
            self.progress.clear()
            await self.progress.wait()

    async def _started_service(self) -> None:
        async def soak() -> None:
            await self._publish(WARMUP)
            gc.collect()
            before = rss_kib()
            loop = asyncio.get_running_loop()
            start = loop.time()
            await self._publish(MESSAGES)
            gc.collect()
            after = rss_kib()
            print(
                f"SOAK messages={MESSAGES} size={SIZE} fail={int(FAIL)} rss_before_kib={before} "
                f"rss_after_kib={after} seconds={loop.time() - start:.1f}",
                flush=True,
            )
            tomodachi.exit()

        self._soak = asyncio.get_running_loop().create_task(soak())
