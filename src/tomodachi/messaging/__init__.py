"""What every message transport shares: the pipeline, the settle rules, envelopes, backends.

- :mod:`tomodachi.messaging.pipeline`: decode, inject, run middleware and the handler, decide how
  to settle (:class:`~tomodachi.messaging.pipeline.Outcome`);
- :mod:`tomodachi.messaging.errors`: ``RetryMessage`` / ``RejectMessage``;
- :mod:`tomodachi.messaging.envelopes`: choosing and checking a handler's envelope;
- :mod:`tomodachi.messaging.backend`: message families, the real broker or the in-memory one;
- :mod:`tomodachi.messaging.slots`: bounded concurrency for batch consumers.

Importing this package imports none of them (nor any broker library).
"""
