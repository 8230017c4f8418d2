"""One exception hierarchy for everything that can go wrong talking to IBKR.

Every error carries a message a trader can act on (what happened and what to do next) plus the
attributes code needs to decide (status, endpoint, ``retry_after``...). Messages never contain
secrets: the server text quoted in them is shortened and any OAuth parameter in it is redacted.
Messages are one line without control characters (:func:`ibtui.text.clean_text`): whatever text a
message quotes (a server's, a key's name), it is safe to print to a terminal.

::

    IbkrError
    ├── AuthError                     the OAuth handshake or the session was refused
    │   ├── InvalidConsumerError      consumer key unknown or not active yet
    │   ├── LstValidationError        the live session token signature did not match
    │   ├── VerifierError             wrong or expired verifier in the third-party login
    │   └── SessionExpiredError       401/410 on a signed request: renew the LST / log in again
    ├── RateLimitedError              429 (retry_after seconds or None, endpoint)
    ├── ApiStatusError                any other non-2xx answer (status, endpoint, server_text)
    │   ├── NoBridgeError             400 "no bridge": the brokerage session is not open
    │   ├── CompetingSessionError     another platform holds the brokerage session
    │   └── AccountsNotQueriedError   400 "Please query /accounts first"
    ├── ApiConnectionError            the server could not be reached
    │   └── TlsVerificationError      its TLS certificate could not be verified
    ├── ApiTimeoutError               the server did not answer in time
    ├── ProtocolError                 the answer could not be understood (endpoint, reason)
    │   └── ResponseTooLargeError     the answer was larger than ibtui reads (BODY_LIMIT)
    ├── OrderRejectedError            IBKR refused an order, a reply, a modify or a cancel
    └── OrderOutcomeUnknownError      an order POST may or may not have reached IBKR

:func:`error_from_response` (an HTTP error answer to the right class), :func:`connection_error`
(an httpx transport failure) and :func:`endpoint_path` live in :mod:`ibtui.ibkr.error_mapping`;
this module re-exports them, imported on first use (the mapping imports the classes from here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ibtui.lazy import lazy_names
from ibtui.logfile import log_path
from ibtui.text import clean_text

if TYPE_CHECKING:
    from ibtui.ibkr.error_mapping import (
        connection_error,
        endpoint_path,
        error_from_response,
        is_order_action_path,
        parse_retry_after,
    )

__all__ = [
    "AccountsNotQueriedError",
    "ApiConnectionError",
    "ApiStatusError",
    "ApiTimeoutError",
    "AuthError",
    "CompetingSessionError",
    "IbkrError",
    "InvalidConsumerError",
    "LstValidationError",
    "NoBridgeError",
    "OrderOutcomeUnknownError",
    "OrderRejectedError",
    "ProtocolError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "SessionExpiredError",
    "TlsVerificationError",
    "VerifierError",
    "connection_error",
    "endpoint_path",
    "error_from_response",
    "is_order_action_path",
    "parse_retry_after",
]

# the response->error mapping, re-exported (it imports this module's classes)
_HOMES = dict.fromkeys(
    (
        "connection_error",
        "endpoint_path",
        "error_from_response",
        "is_order_action_path",
        "parse_retry_after",
    ),
    "ibtui.ibkr.error_mapping",
)
if not TYPE_CHECKING:
    __getattr__ = lazy_names(__name__, _HOMES)


class IbkrError(Exception):
    """Base of every ibtui error about IBKR. ``message`` is the text shown to the trader.

    ``needs_attention`` marks the errors that trying again cannot cure (wrong keys, an unknown
    consumer): the console stops retrying and says what to fix.
    """

    needs_attention: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        message = clean_text(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------
# Authentication


class AuthError(IbkrError):
    """IBKR refused the OAuth handshake or the signed session."""

    needs_attention: ClassVar[bool] = True

    default_message = (
        "IBKR refused the login. Check the consumer key, the access token and the key files "
        "in the configuration."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        server_text: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.server_text = server_text
        if message is None:
            message = self.default_message
            if server_text:
                message = f"{message} (IBKR said: {server_text})"
        super().__init__(message)


class InvalidConsumerError(AuthError):
    """401 ``invalid consumer``: the consumer key is unknown to IBKR or not active yet."""

    default_message = (
        "IBKR does not recognise the consumer key (invalid consumer). Check consumer_key in the "
        "configuration; a newly registered key can take a day, or until after the weekend, "
        "to become active."
    )


class LstValidationError(AuthError):
    """The live session token IBKR sent back did not validate against our keys."""

    default_message = (
        "The live session token did not validate: the keys in the configuration do not match "
        "the ones registered with IBKR, or the server is not IBKR."
    )


class VerifierError(AuthError):
    """The verifier typed in the third-party login was wrong, already used or expired."""

    default_message = (
        "IBKR did not accept the verification code (wrong, already used or expired). "
        "Start the login again to get a new code."
    )


class SessionExpiredError(AuthError):
    """A signed request got 401 (or 410 Gone): the live session token or session is gone."""

    needs_attention: ClassVar[bool] = False  # renewed automatically

    default_message = (
        "IBKR no longer accepts this session (expired or logged out). ibtui renews it "
        "automatically; if this keeps happening, run `ibtui login` again."
    )


# --------------------------------------------------------------------------------------------
# HTTP status errors


class RateLimitedError(IbkrError):
    """429 Too Many Requests. ``retry_after`` is in seconds when IBKR said how long to wait."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        retry_after: float | None = None,
        server_text: str | None = None,
        message: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.server_text = server_text
        self.status = 429
        if message is None:
            where = f" on {endpoint}" if endpoint else ""
            wait = (
                f"wait {retry_after:g} s before retrying"
                if retry_after is not None
                else "ibtui slows down and retries"
            )
            message = (
                f"IBKR's rate limit was hit{where}: {wait}. Repeated violations can lock this "
                "IP address out for 10 minutes."
            )
        super().__init__(message)


class ApiStatusError(IbkrError):
    """IBKR answered with an error status (or a 200 error envelope) not covered by a subclass."""

    def __init__(
        self,
        status: int,
        endpoint: str,
        server_text: str | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.server_text = server_text
        if message is None:
            message = self._default_message()
        super().__init__(message)

    def _default_message(self) -> str:
        said = f": {self.server_text}" if self.server_text else ""
        hint = ""
        if self.status == 503:
            hint = " IBKR's backend did not answer in time; try again in a moment."
        elif self.status >= 500:
            hint = " IBKR reported a problem on its side; try again, and check the request."
        elif self.status == 404:
            hint = " The item does not exist (any more)."
        return f"IBKR answered {self.status} on {self.endpoint}{said}.{hint}"


class NoBridgeError(ApiStatusError):
    """400 ``no bridge``: the brokerage session is not open (e.g. after the nightly reset)."""

    def _default_message(self) -> str:
        return (
            f"IBKR has no brokerage session for {self.endpoint} (no bridge). ibtui reopens it; if "
            "this persists, another IBKR login (TWS, mobile, Client Portal) may be holding it."
        )


class CompetingSessionError(ApiStatusError):
    """Another platform (TWS, mobile, Client Portal) took the brokerage session."""

    def _default_message(self) -> str:
        return (
            "Another IBKR login (TWS, IBKR Mobile, Client Portal or another ibtui) holds the "
            "brokerage session. ibtui takes it back at most every 5 minutes, so the two never "
            "fight over it; log out of the other platform, or take it back now from the console."
        )


class AccountsNotQueriedError(ApiStatusError):
    """400 ``Please query /accounts first``: call ``GET /iserver/accounts`` and retry."""

    def _default_message(self) -> str:
        return (
            f"IBKR wants the account list loaded before {self.endpoint}; ibtui reloads it and "
            "retries."
        )


# --------------------------------------------------------------------------------------------
# Transport and protocol


class ApiConnectionError(IbkrError):
    """The request did not reach IBKR or the connection broke before an answer arrived."""

    def __init__(self, endpoint: str | None, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        where = f" for {endpoint}" if endpoint else ""
        super().__init__(
            f"Cannot reach IBKR{where}: {reason}. Check the network connection and the API URL."
        )


class TlsVerificationError(ApiConnectionError):
    """The server's TLS certificate could not be verified; nothing was sent to it."""

    needs_attention: ClassVar[bool] = True  # trying again reaches the same certificate

    def __init__(self, endpoint: str | None, reason: str) -> None:
        super().__init__(endpoint, f"the server's TLS certificate could not be verified: {reason}")
        where = f" (for {endpoint})" if endpoint else ""
        self.message = (
            f"The server's TLS certificate could not be verified{where}: {reason}. ibtui only "
            "talks to a server it can verify: check base_url in the configuration (the "
            "simulator serves plain http on 127.0.0.1) and the system's CA certificates."
        )
        self.args = (self.message,)


class ApiTimeoutError(IbkrError):
    """IBKR did not answer in time. ``timeout`` is the limit that was exceeded, in seconds."""

    def __init__(
        self,
        endpoint: str | None,
        reason: str = "no answer in time",
        *,
        timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.timeout = timeout
        where = f" on {endpoint}" if endpoint else ""
        limit = f" (limit {timeout:g} s)" if timeout is not None else ""
        super().__init__(f"IBKR timed out{where}{limit}: {reason}. Try again in a moment.")


class ProtocolError(IbkrError):
    """IBKR's answer could not be understood: not JSON, or not the expected shape.

    ``reason`` is short and never contains the whole body. Parsers that do not know the endpoint
    pass ``None``; the client adds it with :meth:`with_endpoint`.
    """

    def __init__(self, endpoint: str | None, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        where = f" for {endpoint}" if endpoint else ""
        super().__init__(
            f"Unexpected answer from IBKR{where}: {reason}. If this keeps happening, the API "
            f"may have changed: {_report_hint()}"
        )

    def with_endpoint(self, endpoint: str) -> ProtocolError:
        """The same error naming ``endpoint`` (keeps the cause)."""
        err = ProtocolError(endpoint, self.reason)
        err.__cause__ = self.__cause__
        return err


class ResponseTooLargeError(ProtocolError):
    """An answer longer than ibtui reads (``limit`` bytes); it was refused unread."""

    def __init__(self, method: str, endpoint: str, limit: int) -> None:
        super().__init__(endpoint, f"the answer is larger than {_size(limit)}")
        self.method = method
        self.limit = limit
        self.message = (
            f"IBKR's answer to {method} {endpoint} was larger than {_size(limit)}; refused "
            f"(ibtui reads at most {_size(limit)} of one answer). {_report_hint()}"
        )
        self.args = (self.message,)

    def with_endpoint(self, endpoint: str) -> ProtocolError:
        err = ResponseTooLargeError(self.method, endpoint, self.limit)
        err.__cause__ = self.__cause__
        return err


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n:,} bytes"


def _report_hint() -> str:
    path = log_path()
    if path is None:
        return "please report it."
    return f"please report it with the log file {path}."


# --------------------------------------------------------------------------------------------
# Orders


class OrderRejectedError(IbkrError):
    """IBKR refused an order, a reply, a modify or a cancel. ``text`` is IBKR's reason."""

    def __init__(
        self,
        text: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        self.text = text
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"IBKR rejected the order: {text}")


class OrderOutcomeUnknownError(IbkrError):
    """An order POST failed in a way that leaves its fate unknown; it is never retried.

    ``coid`` is the client order id sent with it (empty for replies and cancels), ``reason`` what
    went wrong. The trader must look at the order list before sending the order again.
    """

    def __init__(self, coid: str, reason: str, *, endpoint: str | None = None) -> None:
        self.coid = coid
        self.reason = reason
        self.endpoint = endpoint
        name = f"Order {coid}" if coid else "The order request"
        super().__init__(
            f"{name} may or may not have reached IBKR ({reason}). Check the order list before "
            "sending it again."
        )
