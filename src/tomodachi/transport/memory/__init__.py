"""In-memory message brokers for tests and local runs, with no network and no external services.

The broker models live in submodules and are driven by a :class:`tomodachi.clock.Clock`, so a
test can move time (visibility timeouts, delays, long polls, deduplication windows) with a
:class:`~tomodachi.clock.ManualClock` instead of waiting:

- :mod:`.topic_match` — AMQP topic-exchange routing-key patterns (``*`` and ``#``);
- :mod:`.amqp_broker` — exchanges, queues, bindings, competing consumers, prefetch, DLX;
- :mod:`.filter_policy` — AWS SNS subscription filter policies on message attributes;
- :mod:`.sqs_queue` — one SQS queue: visibility, delays, redrive, FIFO groups, deduplication;
- :mod:`.sns_sqs_broker` — SNS topics fanning out to SQS queues;
- :mod:`.sns_sqs_client` — the SNS+SQS client protocol on that model (the consumer is shared with AWS).
"""

from __future__ import annotations

__all__: list[str] = []
