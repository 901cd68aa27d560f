//! Body extractors whose rejections are [`ApiError`]s, so even malformed
//! input gets the one error shape.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// A raw body (e.g. a `.wasm` upload).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) if bytes.is_empty() => Err(ApiError::BadRequest("the request body is empty".into())),
            Ok(bytes) => Ok(Self(bytes)),
            Err(e @ BytesRejection::FailedToBufferBody(_)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// An optional JSON body: none when the request has no body at all.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::PayloadTooLarge),
            Err(e) => return Err(ApiError::BadRequest(e.body_text())),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        serde_json::from_slice(&bytes)
            .map(|value| Self(Some(value)))
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// Rails' coercion of request fields, which Chatwoot's clients rely on: an
/// id may come as `2`, `"2"` or `2.0` (the Python client types ids as
/// strings). Anything that is not a whole number still fails to parse, so a
/// real type error is still a 400.
pub mod lenient {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    fn whole(value: &Value) -> Option<Option<i64>> {
        match value {
            Value::Null => Some(None),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| whole_float(*f)).map(|f| f as i64))
                .map(Some),
            Value::String(s) if s.trim().is_empty() => Some(None),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| {
                        s.parse::<f64>()
                            .ok()
                            .filter(|f| whole_float(*f))
                            .map(|f| f as i64)
                    })
                    .map(Some)
            }
            _ => None,
        }
    }

    /// A float that is exactly a whole number (beyond 2^53 floats skip integers).
    fn whole_float(f: f64) -> bool {
        f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0
    }

    fn invalid<E: Error>(value: &Value) -> E {
        E::custom(format!("expected an integer id, found {value}"))
    }

    /// An id written as text (a query string or a form field): `2`, `2.0`
    /// and ` 2 ` are 2, as Rails reads them.
    pub fn id_text(text: &str) -> Option<i64> {
        whole(&Value::String(text.to_owned())).flatten()
    }

    /// A required id.
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let value = Value::deserialize(d)?;
        whole(&value).flatten().ok_or_else(|| invalid(&value))
    }

    /// An optional id (`null` or `""` is none).
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let value = Value::deserialize(d)?;
        whole(&value).ok_or_else(|| invalid(&value))
    }

    /// An id whose presence matters: absent is `None` (with `#[serde(default)]`),
    /// `null` is `Some(None)`.
    pub fn present_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        opt_id(d).map(Some)
    }

    /// A list of ids.
    pub fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        let values = Vec::<Value>::deserialize(d)?;
        values
            .iter()
            .map(|v| whole(v).flatten().ok_or_else(|| invalid(v)))
            .collect()
    }

    /// A boolean, also as Rails' `"true"`/`"false"`/`"1"`/`"0"`.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(b),
            Value::Null => Ok(false),
            Value::String(s) if ["true", "1"].contains(&s.as_str()) => Ok(true),
            Value::String(s) if ["false", "0", ""].contains(&s.as_str()) => Ok(false),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
            other => Err(D::Error::custom(format!("expected a boolean, found {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lenient;

    #[derive(serde::Deserialize)]
    struct Ids {
        #[serde(deserialize_with = "lenient::ids")]
        ids: Vec<i64>,
    }

    #[test]
    fn whole_floats_are_ids_to_the_last_digit() {
        // Near 2^52 a float's last bit is a half: the JSON parser must read
        // the text exactly (serde_json's `float_roundtrip`), or a whole
        // number turns into x.5 and is refused.
        let parsed: Ids = serde_json::from_str(r#"{"ids": [-3944000501420150.0, 2.0, "3", 4]}"#).unwrap();
        assert_eq!(parsed.ids, [-3944000501420150, 2, 3, 4]);
        assert_eq!(lenient::id_text(" 7.0 "), Some(7));
        assert_eq!(lenient::id_text("7.5"), None);
    }
}
