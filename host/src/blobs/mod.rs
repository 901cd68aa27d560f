//! Where bytes that are not rows live: attachments (uploaded by agents, or
//! downloaded from a provider) and anything else a row points to by key.
//! The only module that knows `object_store`. A local folder by default
//! (one node), any S3-compatible store for several nodes, chosen by one
//! setting (`SWITCHBOARD_BLOBS`).
//!
//! Keys are content addresses (`<kind>/<sha256 prefix>/<sha256>`): writing
//! the same bytes twice writes one object, a write that is repeated after a
//! crash changes nothing, and a row can name its object before it is
//! committed (the object is written first, so a committed row never points
//! at nothing). Keys never leave the server; who may read an object is the
//! row's business (an attachment's account and inbox).

use std::path::Path;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};

/// The folder of attachments' bytes (messages' files, uploaded or fetched
/// from a provider).
pub const ATTACHMENTS: &str = "attachments";
/// The folder of contacts' uploaded pictures.
pub const AVATARS: &str = "avatars";

/// What a blob operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// `SWITCHBOARD_BLOBS` names no store this server can use.
    #[error("SWITCHBOARD_BLOBS {0}")]
    Config(String),
    /// A key a row names has no object: the store lost it, or is not the
    /// store the row was written to.
    #[error("blob {0} is missing from the blob store")]
    Missing(String),
    /// The store did not answer, or refused.
    #[error("blob store: {0}")]
    Store(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => Self::Missing(path),
            other => Self::Store(other.to_string()),
        }
    }
}

/// A handle on the blob store; cheap to clone.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for messages (`file:///…`, `s3://bucket/prefix`).
    location: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("location", &self.location).finish()
    }
}

impl Blobs {
    /// The store a setting names: `file:///PATH` (a folder, created if
    /// needed) or `s3://BUCKET[/PREFIX]` (credentials, region and endpoint
    /// from the usual `AWS_*` variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for a store
    /// that is not Amazon's, `AWS_ALLOW_HTTP=true` for one without TLS).
    /// Without a setting, the folder `blobs` under `data_dir`.
    pub fn from_setting(setting: Option<&str>, data_dir: &Path) -> Result<Self, BlobError> {
        let Some(setting) = setting.filter(|s| !s.is_empty()) else {
            return Self::folder(&data_dir.join("blobs"));
        };
        let url = url::Url::parse(setting)
            .map_err(|e| BlobError::Config(format!("{setting:?} is not a URL: {e}")))?;
        match url.scheme() {
            "file" => {
                let path = url.to_file_path().map_err(|()| {
                    BlobError::Config(format!("{setting:?}: a file:// URL needs an absolute path"))
                })?;
                Self::folder(&path)
            }
            "s3" | "s3a" => {
                let bucket = url
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| BlobError::Config(format!("{setting:?} names no bucket")))?;
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| BlobError::Config(format!("{setting:?}: {e}")))?;
                let prefix = url.path().trim_matches('/');
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
                };
                Ok(Self {
                    store,
                    location: setting.to_owned(),
                })
            }
            other => Err(BlobError::Config(format!(
                "{setting:?}: unknown scheme {other:?}; use file:///PATH or s3://BUCKET"
            ))),
        }
    }

    /// A local folder.
    pub fn folder(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BlobError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| BlobError::Config(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            store: Arc::new(store),
            location: format!("file://{}", dir.display()),
        })
    }

    /// Where the store is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Stores `bytes` under their content address in `kind` (a folder name
    /// such as `attachments` or `avatars`) and returns the key for the row.
    pub async fn save(&self, kind: &str, bytes: &[u8]) -> Result<String, BlobError> {
        let key = key_of(kind, bytes);
        self.store
            .put(&ObjectPath::from(key.as_str()), bytes.to_vec().into())
            .await?;
        Ok(key)
    }

    /// The bytes stored under `key`.
    pub async fn load(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let found = self.store.get(&ObjectPath::from(key)).await?;
        Ok(found.bytes().await?.to_vec())
    }

    /// The keys in `kind` with when each was last written (unix ms), as
    /// the store lists them, a page at a time.
    pub fn list(&self, kind: &str) -> BoxStream<'_, Result<(String, i64), BlobError>> {
        let prefix = ObjectPath::from(kind);
        self.store
            .list(Some(&prefix))
            .map(|meta| {
                let meta = meta?;
                Ok((meta.location.to_string(), meta.last_modified.timestamp_millis()))
            })
            .boxed()
    }

    /// The bytes under `key` and when they were last written (unix ms).
    pub async fn load_with_time(&self, key: &str) -> Result<(Vec<u8>, i64), BlobError> {
        let found = self.store.get(&ObjectPath::from(key)).await?;
        let written = found.meta.last_modified.timestamp_millis();
        Ok((found.bytes().await?.to_vec(), written))
    }

    /// Removes the object under `key`; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` back under `key` (a key from [`Blobs::save`]).
    pub async fn restore(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        self.store
            .put(&ObjectPath::from(key), bytes.to_vec().into())
            .await?;
        Ok(())
    }

    /// Whether the store answers: writes and reads back a small object.
    pub async fn probe(&self) -> Result<(), BlobError> {
        let key = self.save("probe", b"switchboard").await?;
        self.load(&key).await.map(drop)
    }
}

/// `<kind>/<first two hex digits>/<sha256>`: the prefix folder keeps a local
/// folder's directories small.
fn key_of(kind: &str, bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    format!("{kind}/{}/{digest}", &digest[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_folder_round_trips_by_content_address() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::from_setting(None, dir.path()).unwrap();
        let key = blobs.save("attachments", b"hello").await.unwrap();
        assert_eq!(
            key,
            "attachments/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(dir.path().join("blobs").join(&key).is_file());
        assert_eq!(blobs.load(&key).await.unwrap(), b"hello");
        // The same bytes again: the same key, one object.
        assert_eq!(blobs.save("attachments", b"hello").await.unwrap(), key);
        assert!(matches!(
            blobs.load("attachments/00/none").await,
            Err(BlobError::Missing(_))
        ));
        blobs.save("avatars", b"face").await.unwrap();
        let listed: Vec<_> = blobs.list("attachments").collect().await;
        let keys: Vec<_> = listed.into_iter().map(|r| r.unwrap().0).collect();
        assert_eq!(keys, vec![key.clone()], "only the kind asked for");
        let (bytes, written) = blobs.load_with_time(&key).await.unwrap();
        assert_eq!((bytes.as_slice(), written > 0), (&b"hello"[..], true));
        blobs.delete(&key).await.unwrap();
        blobs.delete(&key).await.unwrap();
        assert!(matches!(blobs.load(&key).await, Err(BlobError::Missing(_))));
        blobs.restore(&key, b"hello").await.unwrap();
        assert_eq!(blobs.load(&key).await.unwrap(), b"hello");
    }

    #[test]
    fn settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("elsewhere").display());
        let blobs = Blobs::from_setting(Some(&url), dir.path()).unwrap();
        assert!(dir.path().join("elsewhere").is_dir());
        assert_eq!(blobs.location(), url);
        for bad in ["ftp://host/x", "not a url", "s3:///prefix"] {
            assert!(
                matches!(
                    Blobs::from_setting(Some(bad), dir.path()),
                    Err(BlobError::Config(_))
                ),
                "{bad} was accepted"
            );
        }
    }
}
