// The example signs with the SDK's HMAC-SHA256 (src/echo.js imports
// sdk/js/hmac-sha256.js), so its checks against node:crypto are the SDK's:
// importing the SDK's test module runs them here.
import '../../../sdk/js/test/hmac-sha256.test.mjs';
