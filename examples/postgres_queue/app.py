"""A service with a PostgreSQL job queue: an HTTP API enqueues e-mails, a handler sends them.

    tomodachi run examples/postgres_queue/app.py                          # PostgreSQL (asyncpg)
    tomodachi run --message-broker memory examples/postgres_queue/app.py  # no database

then ``curl -X POST 'localhost:9710/emails?to=a@example.com'`` (add ``&delay=5`` to send it
later). The queue itself is ``pgqueue/``: see README.md beside this file.
"""

from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase

from .pgqueue import pg_enqueue, pg_queue


async def log_attempts(func: Any, *args: Any, attempt: int, job_id: int, **kwargs: Any) -> Any:
    """A message middleware: it sees every job, with the transport's keywords."""
    tomodachi.get_logger().info("job received", job_id=job_id, attempt=attempt)
    return await func()


class Mailer(tomodachi.Service):
    name = "mailer"
    message_envelope = JsonBase
    message_middleware = [log_attempts]
    options = tomodachi.Options(
        http={"port": 9710},
        pg_queue={"dsn": "postgresql://postgres@127.0.0.1:5432/postgres"},
        # The retry policy of every handler without its own retry= (docs/retries.md): a job that
        # asks for a retry runs again after about 1 s, then 2 s, and is dead after its 3rd try.
        retry={"max_attempts": 3, "initial_delay": 1.0},
    )

    @tomodachi.http("POST", r"/emails")
    async def create_email(self, request: Any) -> tuple[int, str]:
        to = request.query.get("to", "someone@example.com")
        delay = float(request.query.get("delay", "0"))
        job_id = await pg_enqueue(self, {"to": to, "subject": "Hello"}, "emails", delay=delay)
        return 202, str(job_id)

    @pg_queue("emails")
    async def send_email(self, data: dict[str, str], attempt: int) -> None:
        to = data["to"]
        if to.endswith(".invalid"):
            # Never retried: the job is dead at once, kept with its reason.
            raise tomodachi.RejectMessage(f"cannot deliver to {to}")
        if to.startswith("flaky") and attempt < 2:
            # Tried again after the retry policy's delay (the database holds the job meanwhile).
            raise tomodachi.RetryMessage("mail server busy")
        self.logger.info("email sent", to=to, subject=data["subject"], attempt=attempt)
