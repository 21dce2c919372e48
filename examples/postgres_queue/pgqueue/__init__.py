"""A PostgreSQL job queue for tomodachi services, written with tomodachi's public transport kit.

::

    from pgqueue import pg_enqueue, pg_queue

    class Mailer(tomodachi.Service):
        @pg_queue("emails", retry=tomodachi.RetryPolicy(max_attempts=5, initial_delay=2.0))
        async def send_email(self, data):
            ...

    await pg_enqueue(service, {"to": "a@example.com"}, "emails", delay=30)

Roles, one module each (the same roles as tomodachi's own transports):

- ``declaration``: the frozen dataclass ``@pg_queue`` attaches (a pipeline ``Subscription``);
- ``decorators``: ``pg_queue()``, which only declares;
- ``settings``: the options (``pg_queue.*``) and which store a service uses;
- ``store``: the ``JobStore`` protocol and ``Job``; ``memory``: the in-memory store;
  ``postgres``: the PostgreSQL store (asyncpg, imported lazily);
- ``transport``: ``PgQueueTransport``, the one consumer for every store;
- ``enqueue``: ``pg_enqueue()``.
"""

from .declaration import PgQueueSubscription
from .decorators import pg_queue
from .enqueue import pg_enqueue
from .memory import MemoryDatabase, MemoryJobs, MemoryJobStore
from .settings import PG_QUEUE, PgQueueOptions
from .store import Job, JobStore, StoreUnavailable
from .transport import PgQueueTransport

__all__ = [
    "PG_QUEUE",
    "Job",
    "JobStore",
    "MemoryDatabase",
    "MemoryJobStore",
    "MemoryJobs",
    "PgQueueOptions",
    "PgQueueSubscription",
    "PgQueueTransport",
    "StoreUnavailable",
    "pg_enqueue",
    "pg_queue",
]
