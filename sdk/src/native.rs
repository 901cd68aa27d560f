//! What the host's imports do in a native build (unit tests): there is no
//! host, so calls go to a fake installed on the current thread
//! (`testing::FakeHost`, cargo feature `testing`). Without one, HTTP panics
//! with instructions, the clock is the system's and logs go to stderr.
//!
//! The generated bindings' native stubs abort the process (a panic inside an
//! `extern "C"` function), so nothing here changes what worked before.

#![cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]

use std::cell::RefCell;
use std::rc::Rc;

use crate::log::Level;
use crate::types::{HttpError, HttpRequest, HttpResponse, KeyValue};

/// The host's imports, as a fake provides them.
pub(crate) trait NativeHost {
    /// `http-client.send`.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
    /// `clock.now-ms`, when the fake sets the time.
    fn now_ms(&self) -> Option<u64>;
    /// `log.write`.
    fn log(&self, level: Level, message: &str, fields: &[KeyValue]);
}

thread_local! {
    static HOST: RefCell<Option<Rc<dyn NativeHost>>> = const { RefCell::new(None) };
}

/// Installs `host` for the current thread; false if one is installed already.
pub(crate) fn install(host: Rc<dyn NativeHost>) -> bool {
    HOST.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_some() {
            return false;
        }
        *slot = Some(host);
        true
    })
}

/// Removes the current thread's fake host.
pub(crate) fn uninstall() {
    HOST.with(|slot| slot.borrow_mut().take());
}

fn current() -> Option<Rc<dyn NativeHost>> {
    HOST.with(|slot| slot.borrow().clone())
}

pub(crate) fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    match current() {
        Some(host) => host.send(request),
        None => panic!(
            "switchboard_sdk::http::send({} {}) outside a component: in native unit tests install a \
             fake host (`switchboard_sdk::testing::FakeHost::install()`, cargo feature `testing`) or \
             pass a `testing::FakeTransport` as the `Transport`",
            request.method, request.url
        ),
    }
}

pub(crate) fn now_ms() -> u64 {
    current().and_then(|host| host.now_ms()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    })
}

pub(crate) fn log(level: Level, message: &str, fields: &[KeyValue]) {
    match current() {
        Some(host) => host.log(level, message, fields),
        None => {
            let fields: Vec<String> = fields
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            eprintln!("[{level:?}] {message} {}", fields.join(" "));
        }
    }
}
