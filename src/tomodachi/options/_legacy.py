"""Legacy option keys of the original library and the current keys they stand for.

Keys are full dotted keys. A legacy key may stand for several keys (``aws.endpoint_url`` sets all
three endpoint URLs); reading such a key returns the value of the first one. Legacy keys are
accepted wherever a key is accepted, but never appear in ``keys()``/``asdict()``/``repr()``.
"""

from __future__ import annotations

_ENDPOINTS = ("aws_endpoint_urls.sns", "aws_endpoint_urls.sqs", "aws_endpoint_urls.sts")
_KMS_KEYS = ("aws_sns_sqs.sns_kms_master_key_id", "aws_sns_sqs.sqs_kms_master_key_id")


def _aws_keys() -> dict[str, tuple[str, ...]]:
    """The legacy names of the AWS options, relative to ``aws.`` (and to ``aws_sns_sqs.``)."""
    keys: dict[str, tuple[str, ...]] = {}

    def add(names: tuple[str, ...], targets: tuple[str, ...]) -> None:
        for name in names:
            keys[name] = targets

    add(("region_name", "aws_region_name"), ("aws_sns_sqs.region_name",))
    for name in ("secret_access_key", "access_key_id"):
        add((name, f"aws_{name}"), (f"aws_sns_sqs.aws_{name}",))
    add(("endpoint_url", "aws_endpoint_url"), _ENDPOINTS)
    for service in ("sns", "sqs", "sts"):
        target = (f"aws_endpoint_urls.{service}",)
        add((f"{service}_endpoint_url", f"aws_{service}_endpoint_url", f"endpoint_urls.{service}"), target)
    for name in ("topic_prefix", "queue_name_prefix", "queue_policy", "wildcard_queue_policy"):
        add((name,), (f"aws_sns_sqs.{name}",))
    add(("kms_master_key_id", "aws_kms_master_key_id"), _KMS_KEYS)
    for service in ("sns", "sqs"):
        name = f"{service}_kms_master_key_id"
        add((name, f"aws_{name}"), (f"aws_sns_sqs.{name}",))
    add(
        (
            "kms_data_key_reuse_period",
            "aws_kms_data_key_reuse_period",
            "sqs_kms_data_key_reuse_period",
            "aws_sqs_kms_data_key_reuse_period",
        ),
        ("aws_sns_sqs.sqs_kms_data_key_reuse_period",),
    )
    return keys


def _build() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {
        "http.max_buffer_size": ("http.client_max_size",),
        "http.max_upload_size": ("http.client_max_size",),
        "http.keepalive_expiry": ("http.keepalive_timeout",),
    }
    for name, targets in _aws_keys().items():
        table[f"aws.{name}"] = targets
        # Inside `aws_sns_sqs` the same names are accepted, except the current keys themselves.
        if targets != (f"aws_sns_sqs.{name}",):
            table[f"aws_sns_sqs.{name}"] = targets
    return table


LEGACY_KEYS: dict[str, tuple[str, ...]] = _build()

# Every proper prefix of a legacy key ("aws", "aws.endpoint_urls", ...): a dict given for one of these
# is flattened, so that `Options(aws={"region_name": ...})` works.
LEGACY_PREFIXES: frozenset[str] = frozenset(
    key.rsplit(".", n)[0] for key in LEGACY_KEYS for n in range(1, key.count(".") + 1)
)
