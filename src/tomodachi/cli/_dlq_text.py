"""The texts of ``tomodachi dlq``: its usage, the table of ``list``, the messages of ``show``, JSON."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tomodachi.__version__ import __version__

if TYPE_CHECKING:
    from tomodachi.dlq import DeadLetter, DeadLetterTarget, QueueStatus

__all__ = ["dlq_usage_text", "jsonable", "render_messages", "render_statuses", "status_dict"]

#: Headers the ``reason`` line of ``show`` already summarises (kept in ``--json``).
_DEATH_HEADERS = (
    "x-death",
    "x-first-death-",
    "x-last-death-",
    "x-tomodachi-dead-letter-",
    "x-tomodachi-attempts",
)


def dlq_usage_text() -> str:
    return f"""\
Usage: tomodachi dlq list [options] <service.py ...>
       tomodachi dlq show [options] <service.py> <handler>
       tomodachi dlq redrive [options] <service.py> <handler>

Inspects and re-drives the dead letters of the @amqp (RabbitMQ) and @aws_sns_sqs (SQS) handlers
of service files. The files are loaded as 'tomodachi run' loads them and their transports set up,
never started; the broker is reached with each service's own options.

Commands:
  list                          Each handler's dead-letter queue and how many messages it holds.
  show                          The first messages of one handler's dead-letter queue (id, size,
                                headers or attributes, why it was dead-lettered, the first bytes).
                                They stay in the queue; on SQS peeking counts as a receive.
  redrive                       Move messages back to the handler's queue, one at a time: each is
                                removed from the dead-letter queue only after the broker accepted
                                its copy; stops at the first failure.

  <handler> is the handler's function name, or 'service_name.function' when several services of
  the file have one of that name.

Options:
  --limit <n>                   show: at most n messages (default 10); redrive: at most n
                                messages (default: all it held when the re-drive began).
  -y, --yes                     redrive without asking (needed when stdin is not a terminal).
  --json                        list, show: print JSON instead of text.
  -c, --config <file.json ...>  JSON config files, as for 'tomodachi run' (their "options" key
                                updates the service options, e.g. the broker address).
  --message-broker <default>    'memory' is refused: the in-memory broker lives in the process
                                that runs the services (use tomodachi.testing there).
                                env: TOMODACHI_MESSAGE_BROKER
  -h, --help                    Show this help.

Exit codes: 0 done, 1 a service file, service or broker error, 2 a usage error.

Examples:
  $ tomodachi dlq list orders.py payments.py
  $ tomodachi dlq show orders.py on_order --limit 3
  $ tomodachi dlq redrive orders.py on_order --yes

ver {__version__}
"""


def status_dict(status: QueueStatus) -> dict[str, Any]:
    route = status.target.route
    return {
        "service": route.service,
        "handler": route.handler,
        "kind": route.kind,
        "broker": status.target.broker,
        "queue": route.queue,
        "dead_letter_queue": route.dead_letter_queue,
        "dead_letter_exchange": route.dead_letter_exchange,
        "messages": status.messages,
        "in_flight": status.in_flight,
        "note": status.note,
    }


def render_statuses(statuses: Sequence[QueueStatus]) -> str:
    rows = [("HANDLER", "BROKER", "DEAD-LETTER QUEUE", "MESSAGES", "NOTE")]
    for status in statuses:
        route = status.target.route
        messages = "-" if status.messages is None else str(status.messages)
        note = status.note
        if status.in_flight:
            note = f"{status.in_flight} in flight" + (f"; {note}" if note else "")
        rows.append(
            (status.target.name, status.target.broker, route.dead_letter_queue or "-", messages, note)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4]
        for row in rows
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def jsonable(value: Any) -> Any:
    """*value* with AMQP/SQS header types (bytes, datetimes, decimals) made JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def message_dict(message: DeadLetter) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "size": message.size,
        "content_type": message.content_type,
        "reason": message.reason,
        "receive_count": message.receive_count,
        "group_id": message.group_id,
        "headers": jsonable(message.headers),
        "body": jsonable(message.body),
        "body_truncated": len(message.body) < message.size,
    }


def render_messages(target: DeadLetterTarget, status: QueueStatus, messages: Sequence[DeadLetter]) -> str:
    queue = target.route.dead_letter_queue
    held = "?" if status.messages is None else str(status.messages)
    lines = [f"{target.name}: {held} message(s) in {queue!r} [{target.broker}]; showing {len(messages)}"]
    for number, message in enumerate(messages, 1):
        facts = [f"message id: {message.message_id or '-'}", f"size: {message.size} B"]
        if message.content_type:
            facts.append(f"content type: {message.content_type}")
        if message.group_id:
            facts.append(f"group: {message.group_id}")
        if message.receive_count is not None:
            facts.append(f"receives: {message.receive_count}")
        lines.append("")
        lines.append(f"#{number}  " + "   ".join(facts))
        if message.reason:
            lines.append(f"    reason: {message.reason}")
        headers = {k: v for k, v in message.headers.items() if not str(k).startswith(_DEATH_HEADERS)}
        if headers:
            lines.append(
                f"    {'attributes' if target.route.kind == 'aws_sns_sqs' else 'headers'}: "
                f"{json.dumps(jsonable(headers), ensure_ascii=False)}"
            )
        body = " ".join(message.body.decode("utf-8", "replace").split())
        body = "".join(c if c.isprintable() else "\N{MIDDLE DOT}" for c in body)
        more = f"  ({len(message.body)} of {message.size} bytes)" if len(message.body) < message.size else ""
        lines.append(f"    body: {body}{more}")
    return "".join(f"{line}\n" for line in lines)
