"""Helpers for Switchboard channel plugins written in Python (componentize-py).

The Python counterpart of the Rust SDK's `manifest`, `signature` and `http`
modules, on top of the bindings componentize-py generates from the contract
(`switchboard plugin wit` writes the WIT):

- settings: `config(settings, key)`, `secret(settings, key)`,
  `required_secret(settings, key)`;
- the manifest: `ManifestBuilder` (`manifest("acme", "Acme")...build()`),
  `config_setting`, `secret_setting`;
- signatures: `hmac_sha256_hex`, `verify_hmac_sha256_hex` (constant time),
  `TimestampWindow`;
- HTTP through the host: `Request` (`Request.post(url).bearer(token)
  .json(body).send()`), `Response.json()`, and the one mapping of failures
  onto a `ChannelError` the host can act on (`RequestError.channel_error`):
  a denied origin is not retried and names `switchboard plugin grant-host`,
  429 and 5xx are retried (with Retry-After), other statuses are the
  provider's refusal;
- errors: `permanent`, `transient`, `unsupported`, `header`, `query_param`.

Every module these helpers (and most plugins) use is imported here, at build
time: componentize-py snapshots the interpreter after importing the app, and
a module imported for the first time during a call cannot be loaded in the
host's sandbox (no files). `hmac.new(key, msg, hashlib.sha256)` would import
`warnings` on its first call; it is imported here so that it works.
"""

import base64  # noqa: F401  (imported at build time, see above)
import hashlib
import hmac
import json
import urllib.parse
import warnings  # noqa: F401  (hmac imports it lazily)

from componentize_py_types import Err
from wit_world.imports import http_client
from wit_world.imports.types import (
    ChannelError,
    ContentLimits,
    ErrorCode,
    Header,
    IncomingRequest,
    Manifest,
    ReplyWindow_Unlimited,
    Settings,
    SettingSpec,
)

CONTRACT_VERSION = "0.2.0"


# Settings --------------------------------------------------------------------


def config(settings: Settings, key: str, default=None):
    """A config value by key, trimmed; `default` when not set or blank."""
    for entry in settings.config:
        if entry.key == key and entry.value.strip():
            return entry.value.strip()
    return default


def secret(settings: Settings, key: str):
    """A secret by key, trimmed; None when not set or blank."""
    for entry in settings.secrets:
        if entry.key == key and entry.value.strip():
            return entry.value.strip()
    return None


def required_secret(settings: Settings, key: str) -> str:
    """A secret the plugin cannot work without; raises an `invalid-request`
    error naming the key when it is not set."""
    value = secret(settings, key)
    if value is None:
        raise permanent(ErrorCode.INVALID_REQUEST, f"the setting `{key}` is not configured")
    return value


# Errors ----------------------------------------------------------------------


def permanent(code: ErrorCode, message: str) -> Err:
    """An error that retrying will not fix, ready to `raise`."""
    return Err(ChannelError(code=code, message=message, retryable=False, retry_after_ms=None))


def transient(code: ErrorCode, message: str, retry_after_ms=None) -> Err:
    """An error that may go away, ready to `raise`."""
    return Err(ChannelError(code=code, message=message, retryable=True, retry_after_ms=retry_after_ms))


def unsupported(what: str) -> Err:
    """The `unsupported` error for a verb the channel does not offer."""
    return permanent(ErrorCode.UNSUPPORTED, f"this channel does not support {what}")


# Requests the host received --------------------------------------------------


def header(request: IncomingRequest, name: str):
    """The first value of header `name` (case-insensitive), or None."""
    name = name.lower()
    for h in request.headers:
        if h.name.lower() == name:
            return h.value
    return None


def query_param(request: IncomingRequest, name: str):
    """A query parameter, percent-decoded, or None."""
    for key, value in urllib.parse.parse_qsl(request.query, keep_blank_values=True):
        if key == name:
            return value
    return None


# The manifest ----------------------------------------------------------------


def config_setting(key: str, description: str, default=None, required=False) -> SettingSpec:
    """A non-secret setting (an id, a URL)."""
    return SettingSpec(key=key, description=description, required=required, secret=False, default_value=default)


def secret_setting(key: str, description: str, required=False) -> SettingSpec:
    """A secret setting (stored sealed, never shown back)."""
    return SettingSpec(key=key, description=description, required=required, secret=True, default_value=None)


class ManifestBuilder:
    """`ManifestBuilder("acme", "Acme").version("1.0.0").setting(...).build()`;
    text only (4096 characters), no reply window, no authorization step
    until said otherwise."""

    def __init__(self, plugin_id: str, name: str):
        self._id = plugin_id
        self._name = name
        self._version = "0.1.0"
        self._description = ""
        self._settings = []
        self._hosts = []
        self._max_text_chars = 4096

    def version(self, version: str) -> "ManifestBuilder":
        self._version = version
        return self

    def description(self, description: str) -> "ManifestBuilder":
        self._description = description
        return self

    def setting(self, spec: SettingSpec) -> "ManifestBuilder":
        self._settings.append(spec)
        return self

    def outbound_host(self, origin: str) -> "ManifestBuilder":
        self._hosts.append(origin)
        return self

    def text_only(self, max_chars: int) -> "ManifestBuilder":
        self._max_text_chars = max_chars
        return self

    def build(self) -> Manifest:
        return Manifest(
            id=self._id,
            name=self._name,
            version=self._version,
            contract_version=CONTRACT_VERSION,
            description=self._description,
            settings=list(self._settings),
            outbound_hosts=list(self._hosts),
            limits=ContentLimits(
                max_text_chars=self._max_text_chars,
                max_attachments=0,
                text_with_attachments=False,
                attachment_kinds=[],
                attachment_mime_types=[],
                max_attachment_bytes=None,
            ),
            reply_window=ReplyWindow_Unlimited(),
            supports_authorization=False,
        )


# Signatures ------------------------------------------------------------------


def hmac_sha256_hex(secret_key: bytes, *parts: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the concatenated `parts`."""
    mac = hmac.new(secret_key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest()


def verify_hmac_sha256_hex(secret_key: bytes, parts, signature_hex: str) -> bool:
    """Whether `signature_hex` (either case) is the HMAC of `parts`; in
    constant time."""
    expected = hmac_sha256_hex(secret_key, *parts)
    return hmac.compare_digest(expected, (signature_hex or "").strip().lower())


class TimestampWindow:
    """Accepts a signature's unix-seconds timestamp at most `max_age_secs`
    old and at most `max_skew_secs` in the future."""

    def __init__(self, max_age_secs: int, max_skew_secs: int):
        self.max_age_secs = max_age_secs
        self.max_skew_secs = max_skew_secs

    def check(self, timestamp_secs: int, now_secs: int):
        """None when fresh, else the reason it is not."""
        if timestamp_secs + self.max_age_secs < now_secs:
            return f"the signature's timestamp is more than {self.max_age_secs} s old"
        if timestamp_secs > now_secs + self.max_skew_secs:
            return "the signature's timestamp is in the future"
        return None


# HTTP through the host -------------------------------------------------------


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url` (never its path or query, which may
    carry a secret)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RequestError(Exception):
    """Why a request got no usable answer."""

    def __init__(self, url: str, status=None, code=None, message="", retry_after_ms=None):
        super().__init__(message)
        self.origin = origin(url)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    def channel_error(self, plugin_id: str, provider: str) -> Err:
        """The one mapping onto what the host does (see the module docs)."""
        if self.status is not None:
            text = f"{self.status}: {self.message}"
            if self.status == 429:
                return transient(ErrorCode.RATE_LIMITED, text, self.retry_after_ms)
            if 500 <= self.status <= 599:
                return transient(ErrorCode.PROVIDER_UNAVAILABLE, text, self.retry_after_ms)
            return permanent(ErrorCode.PROVIDER_REJECTED, text)
        if self.code == http_client.ErrorCode.DENIED:
            return permanent(
                ErrorCode.NETWORK,
                f"the host denied the request to {self.origin} ({self.message}); if this is {provider}'s, "
                f"an admin can allow it with `switchboard plugin grant-host {plugin_id} {self.origin}`",
            )
        if self.code in (http_client.ErrorCode.CONNECTION_FAILED, http_client.ErrorCode.TIMEOUT):
            return transient(ErrorCode.NETWORK, f"could not reach {self.origin}: {self.message}")
        if self.code == http_client.ErrorCode.LIMIT_EXCEEDED:
            return permanent(ErrorCode.INTERNAL, f"too many requests in one call: {self.message}")
        if self.code is None:
            return permanent(ErrorCode.PROVIDER_REJECTED, f"unexpected answer from {provider}: {self.message}")
        return permanent(ErrorCode.NETWORK, f"request to {self.origin} failed: {self.message}")


class Response:
    """An answer, whatever its status."""

    def __init__(self, url: str, status: int, headers, body: bytes):
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str):
        name = name.lower()
        for h in self.headers:
            if h.name.lower() == name:
                return h.value
        return None

    def retry_after_ms(self):
        value = (self.header("retry-after") or "").strip()
        return int(value) * 1000 if value.isdigit() else None

    def error_for_status(self) -> "Response":
        """Itself when 2xx, else raises a `RequestError`."""
        if 200 <= self.status <= 299:
            return self
        excerpt = self.body[:200].decode("utf-8", "replace")
        raise RequestError(self.url, status=self.status, message=excerpt, retry_after_ms=self.retry_after_ms())

    def json(self):
        """The body as JSON; a `RequestError` (the provider's fault) when not."""
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise RequestError(self.url, message=f"not the expected JSON ({e})") from None


class Request:
    """A request built step by step and sent through the host's egress
    checks (`Request.post(url).bearer(token).json(body).send()`)."""

    def __init__(self, method: str, url: str):
        self.method = method.upper()
        self.url = url
        self.headers = []
        self.body = b""

    @classmethod
    def get(cls, url: str) -> "Request":
        return cls("GET", url)

    @classmethod
    def post(cls, url: str) -> "Request":
        return cls("POST", url)

    def header(self, name: str, value: str) -> "Request":
        self.headers.append(Header(name=name, value=value))
        return self

    def bearer(self, token: str) -> "Request":
        return self.header("authorization", f"Bearer {token}")

    def json(self, value) -> "Request":
        self.body = json.dumps(value, separators=(",", ":")).encode()
        return self.header("content-type", "application/json").header("accept", "application/json")

    def build(self) -> http_client.Request:
        return http_client.Request(method=self.method, url=self.url, headers=list(self.headers), body=self.body)

    def send(self, transport=None) -> Response:
        """Sends it (through `transport(request)` when given, for tests);
        raises `RequestError` when the host delivers no response."""
        send = transport or http_client.send
        try:
            answer = send(self.build())
        except Err as e:
            error = e.value
            message = error.message
            query = urllib.parse.urlsplit(self.url).query
            if query:
                message = message.replace(query, "…")
            raise RequestError(self.url, code=error.code, message=message) from None
        return Response(self.url, answer.status, answer.headers, answer.body)
