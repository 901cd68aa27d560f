"""Unit tests of switchboard_sdk.py, run natively against the bindings
componentize-py generates from the contract:

    switchboard plugin wit --out /tmp/wit
    componentize-py -d /tmp/wit -w switchboard:channel/channel-plugin@0.2.0 bindings /tmp/bindings
    PYTHONPATH=/tmp/bindings python3 -m unittest discover -s sdk/python

(tests/e2e/polyglot.rs runs them so.)
"""

import unittest

from componentize_py_types import Err
from wit_world.imports import http_client
from wit_world.imports.types import ErrorCode, Header, IncomingRequest, KeyValue, Settings

import switchboard_sdk as sdk


def settings(config=(), secrets=()):
    return Settings(
        config=[KeyValue(key=k, value=v) for k, v in config],
        secrets=[KeyValue(key=k, value=v) for k, v in secrets],
    )


class Fake:
    """A scripted host: records requests, answers from `answers`."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, http_client.Error):
            raise Err(answer)
        return answer


class SettingsTest(unittest.TestCase):
    def test_lookups_trim_and_refuse_blank(self):
        s = settings(config=[("api_base", " https://x ")], secrets=[("token", "t"), ("blank", " ")])
        self.assertEqual(sdk.config(s, "api_base"), "https://x")
        self.assertEqual(sdk.config(s, "missing", "d"), "d")
        self.assertEqual(sdk.secret(s, "token"), "t")
        self.assertIsNone(sdk.secret(s, "blank"))
        with self.assertRaises(Err) as refused:
            sdk.required_secret(s, "blank")
        self.assertEqual(refused.exception.value.code, ErrorCode.INVALID_REQUEST)
        self.assertIn("`blank`", refused.exception.value.message)


class ManifestTest(unittest.TestCase):
    def test_builder_fills_the_contract_version(self):
        manifest = (
            sdk.ManifestBuilder("acme", "Acme")
            .version("1.2.3")
            .setting(sdk.secret_setting("token", "API token", required=True))
            .setting(sdk.config_setting("api_base", "API", default="https://api.acme"))
            .outbound_host("https://api.acme")
            .build()
        )
        self.assertEqual(manifest.contract_version, "0.2.0")
        self.assertEqual([s.key for s in manifest.settings], ["token", "api_base"])
        self.assertTrue(manifest.settings[0].secret and manifest.settings[0].required)
        self.assertEqual(manifest.settings[1].default_value, "https://api.acme")
        self.assertEqual(manifest.limits.max_text_chars, 4096)


class SignatureTest(unittest.TestCase):
    def test_hmac_round_trip_in_either_case(self):
        sig = sdk.hmac_sha256_hex(b"secret", b"a", b"b")
        self.assertEqual(sig, sdk.hmac_sha256_hex(b"secret", b"ab"))
        self.assertTrue(sdk.verify_hmac_sha256_hex(b"secret", [b"ab"], sig.upper()))
        self.assertFalse(sdk.verify_hmac_sha256_hex(b"other", [b"ab"], sig))
        self.assertFalse(sdk.verify_hmac_sha256_hex(b"secret", [b"ab"], None))

    def test_timestamp_window(self):
        window = sdk.TimestampWindow(300, 30)
        self.assertIsNone(window.check(1000, 1200))
        self.assertIn("old", window.check(1000, 1301))
        self.assertIn("future", window.check(1031, 1000))

    def test_request_accessors(self):
        request = IncomingRequest(
            method="GET",
            path="/webhooks/acme",
            query="challenge=a%20b&verify_token=t",
            headers=[Header(name="X-Signature", value="v")],
            body=b"",
        )
        self.assertEqual(sdk.header(request, "x-signature"), "v")
        self.assertEqual(sdk.query_param(request, "challenge"), "a b")
        self.assertIsNone(sdk.query_param(request, "nope"))


class HttpTest(unittest.TestCase):
    def test_a_json_post_with_a_bearer_token(self):
        host = Fake(http_client.Response(status=200, headers=[], body=b'{"id": "out-1"}'))
        answer = sdk.Request.post("https://api.acme/v1/messages").bearer("t").json({"to": "u-1"}).send(host)
        self.assertEqual(answer.error_for_status().json(), {"id": "out-1"})
        sent = host.requests[0]
        self.assertEqual((sent.method, sent.url, sent.body), ("POST", "https://api.acme/v1/messages", b'{"to":"u-1"}'))
        self.assertIn(Header(name="authorization", value="Bearer t"), sent.headers)

    def test_failures_map_onto_what_the_host_does(self):
        def error_of(answer, url="https://api.acme/v1/m?key=s3cret"):
            try:
                sdk.Request.post(url).send(Fake(answer)).error_for_status()
            except sdk.RequestError as e:
                return e.channel_error("acme", "Acme").value
            self.fail("no error")

        denied = error_of(http_client.Error(code=http_client.ErrorCode.DENIED, message="not allowed: key=s3cret"))
        self.assertEqual((denied.code, denied.retryable), (ErrorCode.NETWORK, False))
        self.assertIn("switchboard plugin grant-host acme https://api.acme", denied.message)
        self.assertNotIn("s3cret", denied.message)
        down = error_of(http_client.Error(code=http_client.ErrorCode.CONNECTION_FAILED, message="refused"))
        self.assertEqual((down.code, down.retryable), (ErrorCode.NETWORK, True))
        limited = error_of(
            http_client.Response(status=429, headers=[Header(name="Retry-After", value="30")], body=b"slow")
        )
        self.assertEqual((limited.code, limited.retryable, limited.retry_after_ms), (ErrorCode.RATE_LIMITED, True, 30000))
        self.assertTrue(error_of(http_client.Response(status=503, headers=[], body=b"")).retryable)
        refused = error_of(http_client.Response(status=401, headers=[], body=b"bad token"))
        self.assertEqual((refused.code, refused.retryable), (ErrorCode.PROVIDER_REJECTED, False))
        self.assertIn("401: bad token", refused.message)


if __name__ == "__main__":
    unittest.main()
