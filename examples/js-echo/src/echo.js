// js-echo: an example Switchboard channel plugin written in JavaScript.
//
// Built into a WebAssembly component by componentize-js (see ../build.mjs)
// against the contract in `wit/since_v0.2.0`, world
// `switchboard:channel/channel-plugin@0.2.0`. The same imaginary provider as
// examples/python-echo:
//
// - a webhook is genuine when its `x-echo-signature` header carries the hex
//   HMAC-SHA256 of the raw body under the secret setting `signing_secret`;
// - its JSON body is one inbound message:
//   `{"account_id"?, "conversation_id", "contact": {"id", "name"?},
//   "message": {"id", "text", "sent_at_ms"?}}` (`account_id` defaults to
//   `echo-account`; it routes the message to the inbox whose external id it is);
// - sending a message "succeeds" at once with the provider id
//   `js-echo-<idempotency key>`, without any network call.
//
// WIT to JavaScript, as componentize-js maps it: records are objects with
// camelCase fields, variants `{ tag, val }`, enums kebab-case strings,
// `u64` a BigInt, `list<u8>` a Uint8Array, an absent option `undefined`; a
// function returning `result<T, E>` returns T or throws `{ payload: E }`.

import { nowMs } from 'switchboard:channel/clock@0.1.0';
import { write as log } from 'switchboard:channel/log@0.1.0';
// The SDK's HMAC (sdk/js), not a copy: build.mjs maps the whole checkout
// into the build so this path resolves.
import { constantTimeEqual, hmacSha256, toHex } from '../../../sdk/js/hmac-sha256.js';

const PLUGIN_ID = 'js-echo';
const VERSION = '1.0.0';
// The world this module is built against (see above).
const CONTRACT_VERSION = '0.2.0';
const SIGNATURE_HEADER = 'x-echo-signature';
const DEFAULT_ACCOUNT = 'echo-account';

const utf8 = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A `channel-error` to throw from a function that returns a `result`. */
function failure(code, message) {
  return { payload: { code, message, retryable: false, retryAfterMs: undefined } };
}

function unsupported(what) {
  return failure('unsupported', `${PLUGIN_ID} does not support ${what}`);
}

function secret(settings, key) {
  return settings.secrets.find((entry) => entry.key === key)?.value;
}

function header(request, name) {
  return request.headers.find((h) => h.name.toLowerCase() === name)?.value;
}

function crash(reason) {
  throw new Error(reason);
}

/** An error the plugin does not catch is printed with its stack to stderr,
 * which the host quotes in the crash's error: componentize-js alone would
 * say only that the thrown value is not a `channel-error`. */
function reportCrashes(exports) {
  const wrapped = {};
  for (const [name, verb] of Object.entries(exports)) {
    wrapped[name] = (...args) => {
      try {
        return verb.apply(exports, args);
      } catch (e) {
        if (e !== null && typeof e === 'object' && 'payload' in e) throw e;
        console.error(`${e?.name ?? 'Error'}: ${e?.message ?? e}\n${e?.stack ?? ''}`);
        throw e;
      }
    };
  }
  return wrapped;
}

function text(value, what) {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new TypeError(`${what} must be a string`);
  }
  return String(value);
}

export const channel = reportCrashes({
  describe() {
    return {
      id: PLUGIN_ID,
      name: 'JavaScript echo',
      version: VERSION,
      contractVersion: CONTRACT_VERSION,
      description:
        'Example channel written in JavaScript (componentize-js): signed JSON webhooks in, echoed ids out.',
      settings: [
        {
          key: 'signing_secret',
          description: 'Key of the HMAC-SHA256 in the x-echo-signature header of every webhook',
          required: true,
          secret: true,
          defaultValue: undefined,
        },
      ],
      outboundHosts: ['https://example.com'],
      limits: {
        maxTextChars: 1000,
        maxAttachments: 0,
        textWithAttachments: false,
        attachmentKinds: [],
        attachmentMimeTypes: [],
        maxAttachmentBytes: undefined,
      },
      replyWindow: { tag: 'unlimited' },
      supportsAuthorization: false,
    };
  },

  authorizationUrl(_settings, _state, _redirectUri) {
    throw unsupported('authorization');
  },

  completeAuthorization(_settings, _query, _redirectUri) {
    throw unsupported('authorization');
  },

  refreshCredentials(_settings, _current) {
    throw unsupported('credentials');
  },

  verifyWebhook(settings, request) {
    const key = secret(settings, 'signing_secret');
    if (!key) {
      return { tag: 'rejected', val: 'the signing_secret setting is not configured' };
    }
    const expected = toHex(hmacSha256(utf8.encode(key), request.body));
    const given = header(request, SIGNATURE_HEADER);
    if (given === undefined) {
      return { tag: 'rejected', val: `${SIGNATURE_HEADER} header missing` };
    }
    if (!constantTimeEqual(expected, given.trim().toLowerCase())) {
      return { tag: 'rejected', val: 'signature does not match' };
    }
    return { tag: 'accepted' };
  },

  parseEvent(_settings, request) {
    // `{"crash": "<text>"}` throws an error the plugin does not catch: the
    // host reports it with its stack (tests/e2e/polyglot.rs).
    const raw = decoder.decode(request.body);
    if (raw.startsWith('{"crash"')) {
      crash(JSON.parse(raw).crash);
    }
    let event;
    try {
      const body = JSON.parse(decoder.decode(request.body));
      const { contact, message } = body;
      event = {
        channelExternalId: text(body.account_id ?? DEFAULT_ACCOUNT, 'account_id'),
        conversationId: text(body.conversation_id, 'conversation_id'),
        contact: {
          externalId: text(contact.id, 'contact.id'),
          name: typeof contact.name === 'string' ? contact.name : undefined,
          username: undefined,
          avatarUrl: undefined,
        },
        messageId: text(message.id, 'message.id'),
        sentAtMs: message.sent_at_ms ? BigInt(message.sent_at_ms) : nowMs(),
        text: typeof message.text === 'string' ? message.text : undefined,
        attachments: [],
        replyTo: undefined,
        unsupported: undefined,
      };
    } catch (e) {
      throw failure('invalid-request', `not an echo event: ${e?.name}: ${e?.message}`);
    }
    log('debug', 'parsed a message', [{ key: 'message_id', value: event.messageId }]);
    return [{ tag: 'message', val: event }];
  },

  sendMessage(_context, message) {
    return { messageId: `${PLUGIN_ID}-${message.idempotencyKey}`, status: 'sent' };
  },

  fetchMedia(_context, _mediaRef) {
    throw unsupported('media');
  },
});

export const webhooks = reportCrashes({
  registerWebhook(_settings, _callbackUrl) {
    throw unsupported('webhook registration');
  },

  currentWebhook(_settings) {
    throw unsupported('webhook registration');
  },
});
