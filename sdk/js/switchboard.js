// Helpers for Switchboard channel plugins written in JavaScript
// (componentize-js): the counterpart of the Rust SDK's `manifest`,
// `signature` and `http` modules. Pure JavaScript with no import of the
// host, so `node --test` runs their tests natively; the plugin passes the
// host's `send` (from 'switchboard:channel/http-client@0.1.0') to
// `Request.send`.
//
// - settings: config(settings, key), secret(settings, key),
//   requiredSecret(settings, key);
// - the manifest: manifest(id, name).version(..).setting(..).build(),
//   configSetting, secretSetting;
// - signatures: hmacSha256Hex, verifyHmacSha256Hex (constant time),
//   constantTimeEqual (for tokens), TimestampWindow;
// - HTTP: Request.post(url).bearer(token).json(body).send(send), and the one
//   mapping of failures onto a channel-error the host can act on
//   (RequestError#channelError): a denied origin is not retried and names
//   `switchboard plugin grant-host`, 429 and 5xx are retried (with
//   Retry-After), other statuses are the provider's refusal;
// - errors to throw from a function returning a result: permanent,
//   transient, unsupported; header(request, name), queryParam(request, name);
// - crashes: reportCrashes(exports) prints an uncaught error with its stack
//   to stderr, where the host finds it.
//
// WIT to JavaScript, as componentize-js maps it: records are objects with
// camelCase fields, variants `{ tag, val }`, enums kebab-case strings, `u64`
// a BigInt, `list<u8>` a Uint8Array, an absent option `undefined`; a function
// returning `result<T, E>` returns T or throws `{ payload: E }`.

import { constantTimeEqual, hmacSha256, toHex } from './hmac-sha256.js';

export { constantTimeEqual };

export const CONTRACT_VERSION = '0.2.0';

const utf8 = new TextEncoder();
const bytes = (value) => (typeof value === 'string' ? utf8.encode(value) : value);

// Crashes ---------------------------------------------------------------------

/** Wraps a plugin's exported object (`channel`, `webhooks`) so that an error
 * the plugin does not catch is printed (name, message, stack) to stderr
 * before the call fails: the host quotes what a crashed call printed, while
 * componentize-js itself would report only that the thrown value is not a
 * `channel-error`. Errors thrown on purpose (`{ payload }`) pass through. */
export function reportCrashes(exports) {
  const wrapped = {};
  for (const [name, verb] of Object.entries(exports)) {
    wrapped[name] =
      typeof verb !== 'function'
        ? verb
        : (...args) => {
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

// Settings --------------------------------------------------------------------

function lookup(entries, key) {
  const value = entries.find((entry) => entry.key === key)?.value?.trim();
  return value ? value : undefined;
}

/** A config value, trimmed; `fallback` when not set or blank. */
export function config(settings, key, fallback = undefined) {
  return lookup(settings.config, key) ?? fallback;
}

/** A secret, trimmed; undefined when not set or blank. */
export function secret(settings, key) {
  return lookup(settings.secrets, key);
}

/** A secret the plugin cannot work without: throws `invalid-request` naming it. */
export function requiredSecret(settings, key) {
  const value = secret(settings, key);
  if (value === undefined) {
    throw permanent('invalid-request', `the setting \`${key}\` is not configured`);
  }
  return value;
}

// Errors ----------------------------------------------------------------------

/** An error retrying will not fix, to `throw`. */
export function permanent(code, message) {
  return { payload: { code, message, retryable: false, retryAfterMs: undefined } };
}

/** An error that may go away, to `throw`. */
export function transient(code, message, retryAfterMs = undefined) {
  return { payload: { code, message, retryable: true, retryAfterMs } };
}

/** The `unsupported` error of a verb the channel does not offer. */
export function unsupported(what) {
  return permanent('unsupported', `this channel does not support ${what}`);
}

// Requests the host received --------------------------------------------------

/** The first value of header `name` (case-insensitive). */
export function header(request, name) {
  const lower = name.toLowerCase();
  return request.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** A query parameter, decoded. */
export function queryParam(request, name) {
  for (const pair of request.query.split('&')) {
    const [key, value = ''] = pair.split('=');
    if (decodeURIComponent(key) === name) {
      return decodeURIComponent(value.replace(/\+/g, ' '));
    }
  }
  return undefined;
}

// The manifest ----------------------------------------------------------------

/** A non-secret setting. */
export function configSetting(key, description, { defaultValue = undefined, required = false } = {}) {
  return { key, description, required, secret: false, defaultValue };
}

/** A secret setting (stored sealed, never shown back). */
export function secretSetting(key, description, { required = false } = {}) {
  return { key, description, required, secret: true, defaultValue: undefined };
}

/** `manifest('acme', 'Acme').version('1.0.0').setting(...).build()`: text only
 * (4096 characters), no reply window, no authorization step until said
 * otherwise. */
export function manifest(id, name) {
  const m = {
    id,
    name,
    version: '0.1.0',
    contractVersion: CONTRACT_VERSION,
    description: '',
    settings: [],
    outboundHosts: [],
    limits: {
      maxTextChars: 4096,
      maxAttachments: 0,
      textWithAttachments: false,
      attachmentKinds: [],
      attachmentMimeTypes: [],
      maxAttachmentBytes: undefined,
    },
    replyWindow: { tag: 'unlimited' },
    supportsAuthorization: false,
  };
  const builder = {
    version: (v) => ((m.version = v), builder),
    description: (d) => ((m.description = d), builder),
    setting: (s) => (m.settings.push(s), builder),
    outboundHost: (o) => (m.outboundHosts.push(o), builder),
    textOnly: (n) => ((m.limits.maxTextChars = n), builder),
    build: () => m,
  };
  return builder;
}

// Signatures ------------------------------------------------------------------

/** Lower-case hex HMAC-SHA256 of the concatenated `parts` (strings or bytes). */
export function hmacSha256Hex(key, ...parts) {
  const chunks = parts.map(bytes);
  const message = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    message.set(chunk, at);
    at += chunk.length;
  }
  return toHex(hmacSha256(bytes(key), message));
}

/** Whether `signatureHex` (either case) is the HMAC of `parts`, in constant time. */
export function verifyHmacSha256Hex(key, parts, signatureHex) {
  if (typeof signatureHex !== 'string') return false;
  return constantTimeEqual(hmacSha256Hex(key, ...parts), signatureHex.trim().toLowerCase());
}

/** Accepts a unix-seconds timestamp at most `maxAgeSecs` old and at most
 * `maxSkewSecs` in the future. */
export class TimestampWindow {
  constructor(maxAgeSecs, maxSkewSecs) {
    this.maxAgeSecs = maxAgeSecs;
    this.maxSkewSecs = maxSkewSecs;
  }

  /** undefined when fresh, else the reason it is not. */
  check(timestampSecs, nowSecs) {
    if (timestampSecs + this.maxAgeSecs < nowSecs) {
      return `the signature's timestamp is more than ${this.maxAgeSecs} s old`;
    }
    if (timestampSecs > nowSecs + this.maxSkewSecs) {
      return "the signature's timestamp is in the future";
    }
    return undefined;
  }
}

// HTTP through the host -------------------------------------------------------

/** `scheme://host[:port]` of `url` (never its path or query). */
export function origin(url) {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)/i.exec(url);
  return match ? match[1] : url;
}

/** Why a request got no usable answer. */
export class RequestError extends Error {
  constructor(url, { status, code, message = '', retryAfterMs } = {}) {
    super(message);
    this.origin = origin(url);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** The one mapping onto what the host does (see the top of this file). */
  channelError(pluginId, provider) {
    if (this.status !== undefined) {
      const text = `${this.status}: ${this.message}`;
      if (this.status === 429) return transient('rate-limited', text, this.retryAfterMs);
      if (this.status >= 500 && this.status <= 599) return transient('provider-unavailable', text, this.retryAfterMs);
      return permanent('provider-rejected', text);
    }
    switch (this.code) {
      case 'denied':
        return permanent(
          'network',
          `the host denied the request to ${this.origin} (${this.message}); if this is ${provider}'s, ` +
            `an admin can allow it with \`switchboard plugin grant-host ${pluginId} ${this.origin}\``,
        );
      case 'connection-failed':
      case 'timeout':
        return transient('network', `could not reach ${this.origin}: ${this.message}`);
      case 'limit-exceeded':
        return permanent('internal', `too many requests in one call: ${this.message}`);
      case undefined:
        return permanent('provider-rejected', `unexpected answer from ${provider}: ${this.message}`);
      default:
        return permanent('network', `request to ${this.origin} failed: ${this.message}`);
    }
  }
}

/** An answer, whatever its status. */
export class Response {
  constructor(url, { status, headers, body }) {
    this.url = url;
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  header(name) {
    return header(this, name);
  }

  retryAfterMs() {
    const value = (this.header('retry-after') ?? '').trim();
    return /^\d+$/.test(value) ? BigInt(value) * 1000n : undefined;
  }

  /** Itself when 2xx, else throws a RequestError. */
  errorForStatus() {
    if (this.status >= 200 && this.status <= 299) return this;
    const excerpt = new TextDecoder().decode(this.body.slice(0, 200));
    throw new RequestError(this.url, { status: this.status, message: excerpt, retryAfterMs: this.retryAfterMs() });
  }

  /** The body as JSON; a RequestError (the provider's fault) when not. */
  json() {
    try {
      return JSON.parse(new TextDecoder().decode(this.body));
    } catch (e) {
      throw new RequestError(this.url, { message: `not the expected JSON (${e.message})` });
    }
  }
}

/** `Request.post(url).bearer(token).json(body).send(send)`. */
export class Request {
  constructor(method, url) {
    this.method = method.toUpperCase();
    this.url = url;
    this.headers = [];
    this.body = new Uint8Array();
  }

  static get(url) {
    return new Request('GET', url);
  }

  static post(url) {
    return new Request('POST', url);
  }

  header(name, value) {
    this.headers.push({ name, value });
    return this;
  }

  bearer(token) {
    return this.header('authorization', `Bearer ${token}`);
  }

  json(value) {
    this.body = utf8.encode(JSON.stringify(value));
    return this.header('content-type', 'application/json').header('accept', 'application/json');
  }

  /** Sends it with `send` (the host's http-client `send`, or a fake in
   * tests); throws a RequestError when the host delivers no response. */
  send(send) {
    let answer;
    try {
      answer = send({ method: this.method, url: this.url, headers: this.headers, body: this.body });
    } catch (e) {
      const error = e?.payload ?? { code: undefined, message: String(e) };
      const query = this.url.includes('?') ? this.url.slice(this.url.indexOf('?') + 1) : '';
      const message = query ? String(error.message).replaceAll(query, '…') : String(error.message);
      throw new RequestError(this.url, { code: error.code ?? 'invalid-request', message });
    }
    return new Response(this.url, answer);
  }
}
