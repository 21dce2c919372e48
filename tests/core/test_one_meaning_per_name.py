"""Names explain themselves: one object per name across the package, one meaning per name."""

from __future__ import annotations

import copy
import pickle

import tomodachi.messaging.envelopes
import tomodachi.options
import tomodachi.runner
import tomodachi.testing
import tomodachi.transport.amqp
import tomodachi.transport.aws_sns_sqs


def test_one_default_sentinel() -> None:
    default = tomodachi.options.DEFAULT
    assert tomodachi.messaging.envelopes.DEFAULT is default
    assert tomodachi.transport.amqp.MESSAGE_ENVELOPE_DEFAULT is default
    assert tomodachi.transport.aws_sns_sqs.MESSAGE_ENVELOPE_DEFAULT is default
    assert copy.copy(default) is default and pickle.loads(pickle.dumps(default)) is default
    assert repr(default) == "DEFAULT"


def test_running_files_and_running_classes_have_different_names() -> None:
    assert tomodachi.runner.run_files is not None  # service files, for the CLI
    assert not hasattr(tomodachi.runner, "run_services")
    assert "run_services" in tomodachi.testing.__all__  # service classes, in-process for tests
