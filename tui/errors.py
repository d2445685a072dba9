"""One error taxonomy: every failure becomes a sentence a person can act on."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    MISSING_KEY = "missing_key"
    INVALID_KEY = "invalid_key"  # 401
    NO_BALANCE = "no_balance"  # 402
    KEY_BASE_MISMATCH = "key_base_mismatch"  # a bare 404
    WRONG_ENDPOINT = "wrong_endpoint"  # "model … not supported" where the endpoint is the cause
    MODEL_UNAVAILABLE = "model_unavailable"  # the model is not offered to this key or region
    PAYLOAD_TOO_LARGE = "payload_too_large"  # 413, or reset while a large body was uploading
    BAD_REQUEST = "bad_request"  # other 400
    RATE_LIMITED = "rate_limited"  # 429
    MODERATED = "moderated"  # 451, 400 censorship_block, or a mid-stream "content blocked"
    STREAM_ERROR = "stream_error"  # any other error-like stream record (e.g. internal error)
    SERVER_ERROR = "server_error"  # 5xx
    NOT_SSE = "not_sse"  # 200 but not an event stream (proxy/captive page)
    TRUNCATED = "truncated"  # the stream ended without `done`
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_INPUT = "bad_input"  # the file itself: unreadable, empty, unknown format
    LOCAL = "local"  # this machine: cache not writable, disk full
    HTTP_ERROR = "http_error"  # any other status
    CANCELED = "canceled"


# Retrying these can help; the rest fail the same way every time (or cost money again).
RETRYABLE = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TRUNCATED,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
    }
)


class AsrError(Exception):
    """A failed transcription. ``str(err)`` is the user-facing sentence, already redacted."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.retryable = kind in RETRYABLE if retryable is None else retryable

    def __repr__(self) -> str:
        return f"AsrError({self.kind.value!r}, {self.message!r}, status={self.status})"
