"""py-echo: an example Switchboard channel plugin written in Python.

Built into a WebAssembly component by componentize-py against the contract
in `wit/since_v0.2.0` (world `switchboard:channel/channel-plugin@0.2.0`):

    componentize-py -d wit/since_v0.2.0 \
        -w switchboard:channel/channel-plugin@0.2.0 \
        componentize -p examples/python-echo app -o py-echo.wasm

The "provider" is imaginary and simple, so that the example shows the shape
of a channel rather than one provider's quirks:

- a webhook is genuine when its `x-echo-signature` header carries the hex
  HMAC-SHA256 of the raw body under the secret setting `signing_secret`;
- its JSON body is one inbound message:
  `{"account_id"?, "conversation_id", "contact": {"id", "name"?},
  "message": {"id", "text", "sent_at_ms"?}}` (`account_id` defaults to
  `echo-account`; it routes the message to the inbox whose external id it is);
- sending a message "succeeds" at once with the provider id
  `py-echo-<idempotency key>`, without any network call.

Everything the host does not need is refused with the `unsupported` error.
"""

import hmac
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.webhooks import WebhookRegistration
from wit_world.imports import clock, log
from wit_world.imports.types import (
    Authorization,
    ChannelContext,
    ChannelError,
    ChannelEvent,
    ChannelEvent_Message,
    ContactProfile,
    ContentLimits,
    Credentials,
    DeliveryStatus,
    ErrorCode,
    IncomingRequest,
    KeyValue,
    Manifest,
    Media,
    MessageEvent,
    OutboundMessage,
    ReplyWindow_Unlimited,
    SentMessage,
    SettingSpec,
    Settings,
    Verification,
    Verification_Accepted,
    Verification_Rejected,
)

PLUGIN_ID = "py-echo"
VERSION = "1.0.0"
# The world this module is built against (see the module docstring).
CONTRACT_VERSION = "0.2.0"
SIGNATURE_HEADER = "x-echo-signature"
DEFAULT_ACCOUNT = "echo-account"


def _error(code: ErrorCode, message: str) -> Err:
    return Err(ChannelError(code=code, message=message, retryable=False, retry_after_ms=None))


def _unsupported(what: str) -> Err:
    return _error(ErrorCode.UNSUPPORTED, f"{PLUGIN_ID} does not support {what}")


def _secret(settings: Settings, key: str):
    for entry in settings.secrets:
        if entry.key == key:
            return entry.value
    return None


def _header(request: IncomingRequest, name: str):
    for header in request.headers:
        if header.name.lower() == name:
            return header.value
    return None


def _crash(reason: str):
    raise RuntimeError(reason)


class Channel(exports.Channel):
    def describe(self) -> Manifest:
        return Manifest(
            id=PLUGIN_ID,
            name="Python echo",
            version=VERSION,
            contract_version=CONTRACT_VERSION,
            description="Example channel written in Python (componentize-py): signed JSON webhooks in, echoed ids out.",
            settings=[
                SettingSpec(
                    key="signing_secret",
                    description="Key of the HMAC-SHA256 in the x-echo-signature header of every webhook",
                    required=True,
                    secret=True,
                    default_value=None,
                )
            ],
            outbound_hosts=["https://example.com"],
            limits=ContentLimits(
                max_text_chars=1000,
                max_attachments=0,
                text_with_attachments=False,
                attachment_kinds=[],
                attachment_mime_types=[],
                max_attachment_bytes=None,
            ),
            reply_window=ReplyWindow_Unlimited(),
            supports_authorization=False,
        )

    def authorization_url(self, settings: Settings, state: str, redirect_uri: str) -> str:
        raise _unsupported("authorization")

    def complete_authorization(self, settings: Settings, query, redirect_uri: str) -> Authorization:
        raise _unsupported("authorization")

    def refresh_credentials(self, settings: Settings, current: Credentials) -> Credentials:
        raise _unsupported("credentials")

    def verify_webhook(self, settings: Settings, request: IncomingRequest) -> Verification:
        secret = _secret(settings, "signing_secret")
        if not secret:
            return Verification_Rejected("the signing_secret setting is not configured")
        # The digest by name: `hmac.new(key, msg, hashlib.sha256)` would
        # import `warnings` on its first call, and a module imported during a
        # call (not at build time) aborts the component; see the README.
        expected = hmac.new(secret.encode(), request.body, "sha256").hexdigest()
        given = _header(request, SIGNATURE_HEADER)
        if given is None:
            return Verification_Rejected(f"{SIGNATURE_HEADER} header missing")
        if not hmac.compare_digest(expected, given.strip().lower()):
            return Verification_Rejected("signature does not match")
        return Verification_Accepted()

    def parse_event(self, settings: Settings, request: IncomingRequest) -> list[ChannelEvent]:
        # `{"crash": "<text>"}` raises an exception the plugin does not
        # catch: the host reports its traceback (tests/e2e/polyglot.rs).
        if request.body.startswith(b'{"crash"'):
            _crash(json.loads(request.body)["crash"])
        try:
            body = json.loads(request.body)
            contact = body["contact"]
            message = body["message"]
            event = MessageEvent(
                channel_external_id=str(body.get("account_id", DEFAULT_ACCOUNT)),
                conversation_id=str(body["conversation_id"]),
                contact=ContactProfile(
                    external_id=str(contact["id"]),
                    name=contact.get("name"),
                    username=None,
                    avatar_url=None,
                ),
                message_id=str(message["id"]),
                sent_at_ms=int(message.get("sent_at_ms") or clock.now_ms()),
                text=message.get("text"),
                attachments=[],
                reply_to=None,
                unsupported=None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise _error(ErrorCode.INVALID_REQUEST, f"not an echo event: {type(e).__name__}: {e}")
        log.write(
            log.Level.DEBUG,
            "parsed a message",
            [KeyValue(key="message_id", value=event.message_id)],
        )
        return [ChannelEvent_Message(event)]

    def send_message(self, context: ChannelContext, message: OutboundMessage) -> SentMessage:
        return SentMessage(
            message_id=f"{PLUGIN_ID}-{message.idempotency_key}",
            status=DeliveryStatus.SENT,
        )

    def fetch_media(self, context: ChannelContext, media_ref: str) -> Media:
        raise _unsupported("media")


class Webhooks(exports.Webhooks):
    def register_webhook(self, settings: Settings, callback_url: str) -> WebhookRegistration:
        raise _unsupported("webhook registration")

    def current_webhook(self, settings: Settings) -> WebhookRegistration:
        raise _unsupported("webhook registration")

