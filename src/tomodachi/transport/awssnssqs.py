"""``tomodachi.transport.awssnssqs`` is the same module object as ``tomodachi.transport.aws_sns_sqs``."""

import sys

from tomodachi.transport import aws_sns_sqs as _module

sys.modules[__name__] = _module
