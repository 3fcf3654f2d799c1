"""The error tree every core module raises from.

CoreError
├── ConfigError              settings missing or invalid
├── ValidationFailed         user input refused, with a message fit to show
│   └── PolicyRefusal        content policy refused a request (audited)
├── NotFound                 a row the caller asked for does not exist or is not theirs
├── InsufficientCredits      a hold or charge would take a balance below zero
├── MediaUnavailable         the media store (an S3 bucket) could not be reached or refused
├── PaymentError             a payment service (Stripe) call failed (status, body, request id)
│   └── PaymentUnavailable   transport failure, timeout or 5xx: try again later
├── ProviderError            a GPU provider call failed (status, body, request id)
│   ├── ProviderUnavailable  transport failure, timeout or 5xx: the call may be repeated
│   ├── RateLimited          HTTP 429; `retry_after_s` when the provider said
│   ├── AuthFailed           the provider refused our key
│   ├── OfferUnavailable     the offer was taken or is gone (single-use offers)
│   └── InstanceNotFound     the provider does not know the instance
└── ComfyError               a ComfyUI call failed (status, body)
    ├── ComfyUnavailable     transport failure or timeout
    ├── GraphInvalid         /prompt refused the graph; `node_errors` names node and input
    └── ExecutionFailed      the graph ran and failed, or was interrupted
"""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """Base of every error raised on purpose by `core`."""


class ConfigError(CoreError):
    """A setting is missing or has a value we cannot use."""


class ValidationFailed(CoreError):
    """Input was refused; `str(error)` is a message fit to show the user."""


class PolicyRefusal(ValidationFailed):
    """The content policy refused a request before any credit hold or GPU work."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class NotFound(CoreError):
    """The requested row does not exist, or the caller may not see it."""


class InsufficientCredits(CoreError):
    """The balance does not cover the requested hold or charge."""


class RemoteError(CoreError):
    """A call to a remote service failed; keeps what the remote said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.request_id = request_id


class MediaUnavailable(RemoteError):
    """The media store could not be reached or refused the call (status and request id kept);
    the call may be repeated."""


class PaymentError(RemoteError):
    """A payment service call failed; `str(error)` is a message fit to show the user."""


class PaymentUnavailable(PaymentError):
    """The payment service could not be reached, timed out or failed (5xx): try again later."""


class ProviderError(RemoteError):
    """A GPU provider call failed."""


class ProviderUnavailable(ProviderError):
    """Transport failure, timeout or 5xx: the outcome is unknown, the call may be repeated."""


class RateLimited(ProviderError):
    """HTTP 429 from the provider."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class AuthFailed(ProviderError):
    """The provider refused our API key."""


class OfferUnavailable(ProviderError):
    """The offer is no longer available (taken by someone else, or gone)."""


class InstanceNotFound(ProviderError):
    """The provider does not know this instance."""


class ComfyError(RemoteError):
    """A ComfyUI call failed."""


class ComfyUnavailable(ComfyError):
    """ComfyUI could not be reached or did not answer in time."""


class GraphInvalid(ComfyError):
    """ComfyUI refused the graph; `node_errors` is its per-node explanation and `details`
    the top-level error's details ("" when the failure lies upstream of the output node)."""

    def __init__(
        self, message: str, *, node_errors: dict[str, Any], details: str = "", **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.node_errors = node_errors
        self.details = details


class ExecutionFailed(ComfyError):
    """The graph started but failed or was interrupted."""
