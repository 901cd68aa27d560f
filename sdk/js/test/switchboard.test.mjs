// The JavaScript helpers, natively: `node --test sdk/js/test/`.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import * as sdk from '../switchboard.js';

const utf8 = new TextEncoder();
const settings = (config = [], secrets = []) => ({
  config: config.map(([key, value]) => ({ key, value })),
  secrets: secrets.map(([key, value]) => ({ key, value })),
});
const fake = (...answers) => {
  const requests = [];
  const send = (request) => {
    requests.push(request);
    const answer = answers.shift();
    if (answer.error) throw { payload: answer.error };
    return answer;
  };
  return { send, requests };
};
const errorOf = (answer, url = 'https://api.acme/v1/m?key=s3cret') => {
  try {
    sdk.Request.post(url).send(fake(answer).send).errorForStatus();
  } catch (e) {
    assert.ok(e instanceof sdk.RequestError, String(e));
    return e.channelError('acme', 'Acme').payload;
  }
  assert.fail('no error');
};

test('settings are trimmed and blank is unset', () => {
  const s = settings([['api_base', ' https://x ']], [['token', 't'], ['blank', ' ']]);
  assert.equal(sdk.config(s, 'api_base'), 'https://x');
  assert.equal(sdk.config(s, 'missing', 'd'), 'd');
  assert.equal(sdk.secret(s, 'blank'), undefined);
  assert.throws(() => sdk.requiredSecret(s, 'blank'), (e) => e.payload.code === 'invalid-request');
});

test('the manifest builder fills the contract version', () => {
  const m = sdk
    .manifest('acme', 'Acme')
    .version('1.2.3')
    .setting(sdk.secretSetting('token', 'API token', { required: true }))
    .setting(sdk.configSetting('api_base', 'API', { defaultValue: 'https://api.acme' }))
    .outboundHost('https://api.acme')
    .build();
  assert.equal(m.contractVersion, '0.2.0');
  assert.deepEqual(m.settings.map((s) => [s.key, s.secret, s.required]), [['token', true, true], ['api_base', false, false]]);
  assert.equal(m.limits.maxTextChars, 4096);
});

test('signatures match node:crypto and are checked in either case', () => {
  const expected = createHmac('sha256', 'secret').update('ab').digest('hex');
  assert.equal(sdk.hmacSha256Hex('secret', 'a', utf8.encode('b')), expected);
  assert.ok(sdk.verifyHmacSha256Hex('secret', ['ab'], expected.toUpperCase()));
  assert.ok(!sdk.verifyHmacSha256Hex('other', ['ab'], expected));
  assert.ok(!sdk.verifyHmacSha256Hex('secret', ['ab'], undefined));
  const window = new sdk.TimestampWindow(300, 30);
  assert.equal(window.check(1000, 1200), undefined);
  assert.match(window.check(1000, 1301), /old/);
  assert.match(window.check(1031, 1000), /future/);
});

test('request accessors', () => {
  const request = { query: 'challenge=a%20b&verify_token=t', headers: [{ name: 'X-Signature', value: 'v' }] };
  assert.equal(sdk.header(request, 'x-signature'), 'v');
  assert.equal(sdk.queryParam(request, 'challenge'), 'a b');
  assert.equal(sdk.queryParam(request, 'nope'), undefined);
});

test('a JSON post with a bearer token', () => {
  const host = fake({ status: 200, headers: [], body: utf8.encode('{"id":"out-1"}') });
  const answer = sdk.Request.post('https://api.acme/v1/messages').bearer('t').json({ to: 'u-1' }).send(host.send);
  assert.deepEqual(answer.errorForStatus().json(), { id: 'out-1' });
  const sent = host.requests[0];
  assert.equal(new TextDecoder().decode(sent.body), '{"to":"u-1"}');
  assert.ok(sent.headers.some((h) => h.name === 'authorization' && h.value === 'Bearer t'));
});

test('failures map onto what the host does', () => {
  const denied = errorOf({ error: { code: 'denied', message: 'not allowed: key=s3cret' } });
  assert.deepEqual([denied.code, denied.retryable], ['network', false]);
  assert.match(denied.message, /switchboard plugin grant-host acme https:\/\/api\.acme/);
  assert.doesNotMatch(denied.message, /s3cret/);
  const down = errorOf({ error: { code: 'connection-failed', message: 'refused' } });
  assert.deepEqual([down.code, down.retryable], ['network', true]);
  const limited = errorOf({ status: 429, headers: [{ name: 'Retry-After', value: '30' }], body: utf8.encode('slow') });
  assert.deepEqual([limited.code, limited.retryable, limited.retryAfterMs], ['rate-limited', true, 30000n]);
  assert.ok(errorOf({ status: 503, headers: [], body: new Uint8Array() }).retryable);
  const refused = errorOf({ status: 401, headers: [], body: utf8.encode('bad token') });
  assert.deepEqual([refused.code, refused.retryable], ['provider-rejected', false]);
  assert.match(refused.message, /401: bad token/);
});

test('reportCrashes prints an uncaught error and lets a channel-error through', (t) => {
  const printed = [];
  t.mock.method(console, 'error', (text) => printed.push(text));
  const exports = sdk.reportCrashes({
    parseEvent() {
      throw new TypeError('no parser yet');
    },
    sendMessage() {
      throw sdk.unsupported('sending');
    },
  });
  assert.throws(() => exports.parseEvent(), TypeError);
  assert.match(printed[0], /^TypeError: no parser yet\n.*parseEvent/s);
  assert.throws(() => exports.sendMessage(), (e) => e.payload.code === 'unsupported');
  assert.equal(printed.length, 1, 'a channel-error is an answer, not a crash');
});
