"""aiobotocore clients (SNS, SQS, STS), shared by every service of a run with the same AWS options.

:func:`clients_for` keeps one :class:`AwsClients` per set of options as a run-scoped resource
(``runtime.resource``, closed when the run ends), so the clients live exactly as long as the
run. The clients are created on first use. Every call goes through :meth:`AwsClients.call`,
which returns a plain ``dict`` (aiobotocore is untyped) and optionally bounds the call in time.

This module also classifies botocore errors (transient, credentials, missing queue) and turns
them into one line for the user that never contains a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from tomodachi.errors import ServiceStartError, mask_url_credentials
from tomodachi.transport._lru import LruCache
from tomodachi.transport.aws_sns_sqs.errors import AWSSNSSQSConnectionException, AWSSNSSQSException

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "AWSSNSSQSStartError",
    "AwsClients",
    "ClientSettings",
    "Service",
    "aws_error",
    "clients_for",
    "describe_error",
    "error_code",
    "is_credentials_error",
    "is_missing_queue",
    "is_transient",
]

Service = Literal["sns", "sqs", "sts"]

CONNECT_TIMEOUT: Final = 8.0
READ_TIMEOUT: Final = 35.0  # longer than the 20 s long poll of ReceiveMessage
MAX_POOL_CONNECTIONS: Final = 50
# One retry inside botocore (standard mode: throttling, 5xx, connection errors); the callers
# retry with their own backoff and logging, and start-up fails fast on a wrong endpoint.
BOTOCORE_MAX_ATTEMPTS: Final = 2

_CREDENTIAL_CODES: Final = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
    }
)
_TRANSIENT_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "KMSThrottling",
        "KMSThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "AWS.SimpleQueueService.ServiceUnavailable",
        "OverLimit",
    }
)
_MISSING_QUEUE_CODES: Final = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


class AWSSNSSQSStartError(AWSSNSSQSException, ServiceStartError):
    """Start-up could not set up (or verify) the topics, queues and subscriptions."""


@dataclass(frozen=True, slots=True, repr=False)
class ClientSettings:
    """The AWS options clients are created from. The secret never appears in ``repr``, the access
    key id only by its last four characters, an endpoint without a URL password."""

    region_name: str | None
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    sns_endpoint: str | None
    sqs_endpoint: str | None
    sts_endpoint: str | None

    @classmethod
    def from_options(cls, options: Any) -> ClientSettings:
        section, urls = options.aws_sns_sqs, options.aws_endpoint_urls
        return cls(
            region_name=section.region_name or None,
            access_key_id=section.aws_access_key_id or None,
            secret_access_key=section.aws_secret_access_key or None,
            sns_endpoint=urls.sns or None,
            sqs_endpoint=urls.sqs or None,
            # Like the original: STS falls back to the SNS endpoint (localstack, moto).
            sts_endpoint=urls.sts or urls.sns or None,
        )

    def __repr__(self) -> str:
        endpoints = (self.sns_endpoint, self.sqs_endpoint, self.sts_endpoint)
        sns, sqs, sts = (mask_url_credentials(url) if url else url for url in endpoints)
        key_id = _key_id(self.access_key_id)
        return (
            f"ClientSettings(region_name={self.region_name!r}, access_key_id={key_id!r}, "
            f"sns_endpoint={sns!r}, sqs_endpoint={sqs!r}, sts_endpoint={sts!r})"
        )

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable identity for sharing clients; holds a digest of the secret, not the secret."""
        secret = hashlib.sha256((self.secret_access_key or "").encode("utf-8")).hexdigest()
        return (
            self.region_name,
            self.access_key_id,
            secret,
            self.sns_endpoint,
            self.sqs_endpoint,
            self.sts_endpoint,
        )

    def endpoint(self, service: Service) -> str:
        url = {"sns": self.sns_endpoint, "sqs": self.sqs_endpoint, "sts": self.sts_endpoint}[service]
        if url:
            return mask_url_credentials(url)
        return f"AWS {service.upper()} ({self.region_name or 'default region'})"


#: How many topic ARNs, and how many queue URLs, a set of clients remembers for publishing.
NAME_CACHE_SIZE: Final = 1_024


class AwsClients:
    """The SNS, SQS and STS clients of one set of options, plus caches shared by publishers."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()
        self._session: Any = None
        self._closed = False
        self._account_id: str | None = None
        #: Topic name -> ARN, and queue name/ARN -> URL, for publishing and sending; each keeps
        #: the :data:`NAME_CACHE_SIZE` most recently used names (a forgotten one is resolved again).
        self.topic_arns: LruCache[str, str] = LruCache(NAME_CACHE_SIZE)
        self.queue_urls: LruCache[str, str] = LruCache(NAME_CACHE_SIZE)

    def __repr__(self) -> str:
        key_id = _key_id(self.settings.access_key_id)
        return f"<AwsClients region={self.settings.region_name!r} key_id={key_id!r}>"

    async def client(self, service: Service) -> Any:
        """The aiobotocore client for *service*, created on first use."""
        client = self._clients.get(service)
        if client is not None:
            return client
        async with self._lock:
            client = self._clients.get(service)
            if client is None:
                if self._closed:
                    raise AWSSNSSQSException("the AWS clients of this run are already closed")
                client = await self._create(service)
                self._clients[service] = client
        return client

    async def _create(self, service: Service) -> Any:
        from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
        from aiobotocore.session import get_session  # type: ignore[import-untyped]

        if self._session is None:
            self._session = get_session()
        settings = self.settings
        config = AioConfig(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=MAX_POOL_CONNECTIONS,
            retries={"mode": "standard", "total_max_attempts": BOTOCORE_MAX_ATTEMPTS},
        )
        endpoint = {"sns": settings.sns_endpoint, "sqs": settings.sqs_endpoint, "sts": settings.sts_endpoint}
        creator = self._session.create_client(
            service,
            region_name=settings.region_name,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            endpoint_url=endpoint[service],
            config=config,
        )
        return await self._stack.enter_async_context(creator)

    async def call(
        self, service: Service, operation: str, time_limit: float | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``client.<operation>(**kwargs)``; with *time_limit*, a ``TimeoutError`` after that many seconds."""
        client = await self.client(service)
        method = getattr(client, operation)
        if time_limit is None:
            result = await method(**kwargs)
        else:
            async with asyncio.timeout(time_limit):
                result = await method(**kwargs)
        return dict(result)

    async def account_id(self, time_limit: float | None = None) -> str:
        """The AWS account of the credentials (``sts:GetCallerIdentity``, cached)."""
        if self._account_id is None:
            self._account_id = str((await self.call("sts", "get_caller_identity", time_limit))["Account"])
        return self._account_id

    async def system_attributes_parameter(self) -> str:
        """``MessageSystemAttributeNames`` of ``ReceiveMessage``, or ``AttributeNames`` on older botocore."""
        try:
            client = await self.client("sqs")
            members = client.meta.service_model.operation_model("ReceiveMessage").input_shape.members
        except Exception:  # the receive call will report the real problem
            return "MessageSystemAttributeNames"
        return "MessageSystemAttributeNames" if "MessageSystemAttributeNames" in members else "AttributeNames"

    async def region(self) -> str:
        """The region the clients talk to (from the options or botocore's default chain)."""
        client = await self.client("sns")
        return str(client.meta.region_name)

    async def close(self) -> None:
        self._closed = True
        self._clients.clear()
        await self._stack.aclose()


def clients_for(service: Any, runtime: Runtime) -> AwsClients:
    """The clients for *service*'s AWS options in *runtime*; created (and closed) once per run."""
    settings = ClientSettings.from_options(service.options)
    key = ("tomodachi.aws_sns_sqs.clients", settings.key)
    return runtime.resource(key, lambda: AwsClients(settings), AwsClients.close)


# -- errors ------------------------------------------------------------------------------------
def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``None`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else None


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    return int(status) if isinstance(status, int) else 0


def _is_network_error(exc: BaseException) -> bool:
    from botocore.exceptions import (  # type: ignore[import-untyped]
        ConnectionError as BotoConnectionError,
    )
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, (BotoConnectionError, HTTPClientError, OSError, TimeoutError))


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: throttling, AWS-side failures, timeouts and connection errors."""
    if _is_network_error(exc):
        return True
    code = error_code(exc)
    return code is not None and (code in _TRANSIENT_CODES or _status(exc) >= 500)


def is_credentials_error(exc: BaseException) -> bool:
    return error_code(exc) in _CREDENTIAL_CODES


def is_missing_queue(exc: BaseException) -> bool:
    return error_code(exc) in _MISSING_QUEUE_CODES


def _short(text: str, limit: int = 300) -> str:
    line = mask_url_credentials(" ".join(str(text).split()))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _key_id(access_key_id: str | None) -> str:
    """An access key id as ``aws configure list`` shows it: its last four characters only."""
    if not access_key_id:
        return "(default chain)"
    return "****" + access_key_id[-4:] if len(access_key_id) > 8 else "****"


def describe_error(exc: BaseException) -> str:
    """One line for an AWS error: ``Code: message`` for AWS errors, else the exception."""
    code = error_code(exc)
    if code is not None:
        response = getattr(exc, "response", {}) or {}
        message = (response.get("Error") or {}).get("Message") or ""
        return _short(f"{code}: {message}" if message else code)
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return _short(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def aws_error(
    exc: BaseException, settings: ClientSettings, service: Service, what: str, *, start: bool = False
) -> AWSSNSSQSException:
    """One line (never with a secret) for *what*, an AWS call that raised *exc*.

    Unreachable endpoints and refused credentials give :class:`AWSSNSSQSConnectionException`;
    other failures :class:`AWSSNSSQSStartError` during start-up (*start*), else
    :class:`AWSSNSSQSException`.
    """
    from botocore.exceptions import (
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    where = settings.endpoint(service)
    if isinstance(exc, NoRegionError):
        return AWSSNSSQSConnectionException(
            "no AWS region is configured: set the option aws_sns_sqs.region_name (or AWS_DEFAULT_REGION)"
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AWSSNSSQSConnectionException(
            "no AWS credentials were found: set the options aws_sns_sqs.aws_access_key_id and "
            "aws_sns_sqs.aws_secret_access_key (or the AWS_* environment variables or a profile)"
        )
    if is_credentials_error(exc):
        return AWSSNSSQSConnectionException(
            f"{where} refused the credentials of access key id {_key_id(settings.access_key_id)} "
            f"({error_code(exc)}): check aws_sns_sqs.aws_access_key_id and aws_secret_access_key"
        )
    if isinstance(exc, TimeoutError):
        return AWSSNSSQSConnectionException(
            f"no answer from {where} to {what} in time: is the endpoint reachable?"
        )
    if _is_network_error(exc):
        return AWSSNSSQSConnectionException(f"cannot reach {where} ({what}): {describe_error(exc)}")
    cls = AWSSNSSQSStartError if start else AWSSNSSQSException
    if error_code(exc) is not None:
        return cls(f"{what} failed at {where}: {describe_error(exc)}")
    return cls(f"{what} failed: {describe_error(exc)}")
