"""Redis Streams task queues: ``@tomodachi.redis_queue`` handlers and ``tomodachi.redis_enqueue``.

::

    class Mailer(tomodachi.Service):
        name = "mailer"
        message_envelope = JsonBase

        @tomodachi.redis_queue("emails")
        async def send_email(self, data, attempt):
            ...

    await tomodachi.redis_enqueue(service, {"to": "a@example.com"}, "emails", delay=30)

Written on tomodachi's public transport kit (``docs/transports.md``), one role per module:
``declaration`` (the frozen dataclass), ``decorators`` (``redis_queue``), ``options`` (the
``redis.*`` section and the message family), ``backend`` (the protocol and the key layout),
``redis_backend`` (redis-py, imported only when a service talks to Redis), ``memory`` (the
in-memory model), ``transport`` (``RedisQueueTransport``), ``enqueue`` (``redis_enqueue``).
See ``docs/redis.md``.
"""

from __future__ import annotations

from tomodachi.transport.redis.backend import BackendUnavailable, DeadLetter, Entry, QueueBackend, QueueKeys
from tomodachi.transport.redis.declaration import RedisQueueSubscription
from tomodachi.transport.redis.decorators import redis_queue
from tomodachi.transport.redis.enqueue import RedisEnqueueError, redis_enqueue
from tomodachi.transport.redis.memory import MemoryQueueBackend, MemoryRedis
from tomodachi.transport.redis.options import REDIS_FAMILY, RedisOptions
from tomodachi.transport.redis.transport import RedisQueueTransport, backend_for

__all__ = [
    "REDIS_FAMILY",
    "BackendUnavailable",
    "DeadLetter",
    "Entry",
    "MemoryQueueBackend",
    "MemoryRedis",
    "QueueBackend",
    "QueueKeys",
    "RedisEnqueueError",
    "RedisOptions",
    "RedisQueueSubscription",
    "RedisQueueTransport",
    "backend_for",
    "redis_enqueue",
    "redis_queue",
]
