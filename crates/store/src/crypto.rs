//! Encryption at rest of access tokens and webhook secrets.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// File name of the generated development key, inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-encryption.key";

/// A value sealed by [`KeyRing::seal`]: the bytes to store and the id of the key used.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// Id of the key that sealed `bytes`.
    pub key_id: String,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

struct Key {
    id: String,
    bytes: Zeroizing<[u8; 32]>,
}

/// The current encryption key plus older keys kept for decryption. Cheap to clone.
///
/// `Debug` shows key ids only.
///
/// # Scheme
///
/// Each value is sealed with AES-256-GCM under a fresh random 96-bit nonce. The stored bytes are
/// `nonce (12 bytes) || ciphertext || tag (16 bytes)`, and the id of the key that sealed them is
/// stored in a column next to them. The AEAD associated data binds the value to its row and
/// purpose (`bcapp/v1/<table>/<purpose>/<row key>`, e.g. the store hash), so a ciphertext copied
/// into another tenant's row, or from the token column into the secret column, fails to decrypt
/// instead of yielding another tenant's secret.
///
/// # Keys and rotation
///
/// * `BCAPP_ENCRYPTION_KEY="k2:BASE64"`: the current key. New values are always sealed with it.
///   `BASE64` is 32 random bytes (e.g. `openssl rand -base64 32`), standard or URL-safe
///   alphabet, padding optional. The id (`k2`) is 1 to 32 characters of `[A-Za-z0-9_-]`; it is
///   stored with every ciphertext, never the key itself. Without `id:` the id is `default`.
/// * `BCAPP_ENCRYPTION_KEYS_OLD="k1:BASE64,k0:BASE64"`: keys that are only used to decrypt.
///
/// To rotate: generate a new key, set it as current under a new id and move the previous one
/// to `BCAPP_ENCRYPTION_KEYS_OLD`. Old rows still decrypt; every value written afterwards
/// (install, secret rotation) uses the new key; [`crate::Store::reencrypt_tenants`] rewrites the
/// remaining old rows, after which the old key can be dropped (the store's
/// `tenants.*_key_id` columns show which keys are still in use).
///
/// # Development key
///
/// With no `BCAPP_ENCRYPTION_KEY`, a random key is generated once into
/// `<data dir>/dev-encryption.key` (mode 0600) and reused on the next start, with a loud
/// warning. Its id is `dev-<random>`, so rows sealed by two different development keys give
/// distinct, recognisable errors. To move such data to production, put the file's content into
/// `BCAPP_ENCRYPTION_KEYS_OLD`.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    current: Key,
    old: Vec<Key>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.inner.current.id)
            .field(
                "old",
                &self
                    .inner
                    .old
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// A ring with one key. `id` must be 1-32 characters of `[A-Za-z0-9_-]`.
    pub fn new(id: &str, key: [u8; 32]) -> Result<Self> {
        validate_id(id)?;
        Ok(Self {
            inner: Arc::new(Inner {
                current: Key {
                    id: id.to_owned(),
                    bytes: Zeroizing::new(key),
                },
                old: Vec::new(),
            }),
        })
    }

    /// A ring with one freshly generated random key (tests, tools).
    pub fn generate(id: &str) -> Result<Self> {
        Self::new(id, random_key())
    }

    /// Adds a decrypt-only key. Ids must be unique within the ring.
    pub fn with_old_key(self, id: &str, key: [u8; 32]) -> Result<Self> {
        validate_id(id)?;
        if self.key_ids().any(|k| k == id) {
            return Err(StoreError::Config(format!(
                "encryption key id `{id}` is defined twice"
            )));
        }
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            current: clone_key(&shared.current),
            old: shared.old.iter().map(clone_key).collect(),
        });
        inner.old.push(Key {
            id: id.to_owned(),
            bytes: Zeroizing::new(key),
        });
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Parses `current` (`id:BASE64`, from `BCAPP_ENCRYPTION_KEY`) and `old` (a comma-separated
    /// list of the same, from `BCAPP_ENCRYPTION_KEYS_OLD`).
    pub fn parse(current: &str, old: Option<&str>) -> Result<Self> {
        let (id, key) = parse_spec(current, "BCAPP_ENCRYPTION_KEY")?;
        Self::new(&id, *key)?.with_old_keys(old)
    }

    /// The key ring from configuration: `current`/`old` as in [`KeyRing::parse`]; with no
    /// current key, the development key in `data_dir` (created on first use, see the module doc).
    pub fn load(current: Option<&str>, old: Option<&str>, data_dir: &Path) -> Result<Self> {
        Self::load_with(current, old, data_dir, true)
    }

    /// Like [`KeyRing::load`], but never creates the development key: without
    /// `BCAPP_ENCRYPTION_KEY` the one in `data_dir` must exist (tools reading an app's data).
    pub fn load_existing(
        current: Option<&str>,
        old: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self> {
        Self::load_with(current, old, data_dir, false)
    }

    fn load_with(
        current: Option<&str>,
        old: Option<&str>,
        data_dir: &Path,
        create: bool,
    ) -> Result<Self> {
        if let Some(current) = current.map(str::trim).filter(|s| !s.is_empty()) {
            return Self::parse(current, old);
        }
        let path = data_dir.join(DEV_KEY_FILE);
        if !create && !path.exists() {
            return Err(StoreError::Config(format!(
                "BCAPP_ENCRYPTION_KEY is not set and there is no development key at {}: set the \
                 key the app uses, or BCAPP_DATA_DIR to the app's data directory",
                path.display()
            )));
        }
        let spec = load_or_create_dev_key(&path)?;
        tracing::warn!(
            path = %path.display(),
            "BCAPP_ENCRYPTION_KEY is not set: access tokens and webhook secrets are encrypted \
             with a DEVELOPMENT key stored next to the data. Do not use this in production: \
             set BCAPP_ENCRYPTION_KEY=\"<id>:<32 bytes base64>\""
        );
        let (id, key) = parse_spec(spec.trim(), &path.display().to_string())?;
        Self::new(&id, *key)?.with_old_keys(old)
    }

    /// Adds the decrypt-only keys of a comma-separated `id:BASE64` list.
    fn with_old_keys(mut self, old: Option<&str>) -> Result<Self> {
        for spec in old.unwrap_or("").split(',').map(str::trim) {
            if spec.is_empty() {
                continue;
            }
            let (id, key) = parse_spec(spec, "BCAPP_ENCRYPTION_KEYS_OLD")?;
            self = self.with_old_key(&id, *key)?;
        }
        Ok(self)
    }

    /// Id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.inner.current.id
    }

    /// All key ids, current first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.inner.current.id.as_str())
            .chain(self.inner.old.iter().map(|k| k.id.as_str()))
    }

    /// Seals `plaintext` with the current key, bound to `aad`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let key = &self.inner.current;
        let cipher = Aes256Gcm::new_from_slice(key.bytes.as_slice())
            .map_err(|_| StoreError::Config("encryption key must be 32 bytes".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            // From an array, not `from_slice`: newer generic-array releases deprecate the
            // latter, and the warning would show in users' builds.
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Only possible for inputs of many gigabytes; treated as a configuration problem.
            .map_err(|_| StoreError::Config("value too large to encrypt".into()))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + ct.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ct);
        Ok(Sealed {
            key_id: key.id.clone(),
            bytes,
        })
    }

    /// Opens a value sealed with key `key_id` and bound to `aad`. `what` names the value in
    /// the error (never its content).
    pub(crate) fn open(
        &self,
        key_id: &str,
        bytes: &[u8],
        aad: &[u8],
        what: &dyn Fn() -> String,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let fail = |reason: &'static str| StoreError::Decrypt {
            what: what(),
            key_id: key_id.to_owned(),
            reason,
        };
        let key = std::iter::once(&self.inner.current)
            .chain(self.inner.old.iter())
            .find(|k| k.id == key_id)
            .ok_or_else(|| {
                fail("this key id is not in the key ring (add it to BCAPP_ENCRYPTION_KEYS_OLD)")
            })?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(fail("ciphertext is truncated"));
        }
        let cipher = Aes256Gcm::new_from_slice(key.bytes.as_slice())
            .map_err(|_| fail("key has the wrong length"))?;
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| fail("ciphertext is truncated"))?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| {
                fail(
                    "authentication failed: the key with this id is not the one that encrypted \
                      the value, or the value was altered or copied from another row",
                )
            })
    }
}

/// Associated data binding a sealed value to its table, purpose and row.
pub(crate) fn aad(table: &str, purpose: &str, row_key: &str) -> Vec<u8> {
    format!("bcapp/v1/{table}/{purpose}/{row_key}").into_bytes()
}

fn clone_key(k: &Key) -> Key {
    Key {
        id: k.id.clone(),
        bytes: Zeroizing::new(*k.bytes),
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "encryption key id `{id}` is invalid: use 1 to 32 characters of [A-Za-z0-9_-]"
        )))
    }
}

/// Parses `id:BASE64` (or bare `BASE64`, id `default`). `source` names where it came from.
/// Errors never include key material.
fn parse_spec(spec: &str, source: &str) -> Result<(String, Zeroizing<[u8; 32]>)> {
    // The base64 alphabets have no ':', so the first ':' separates the id.
    let (id, b64) = match spec.split_once(':') {
        Some((id, b64)) => (id.trim(), b64.trim()),
        None => ("default", spec.trim()),
    };
    validate_id(id).map_err(|e| StoreError::Config(format!("{source}: {e}")))?;
    let decoded =
        Zeroizing::new(decode_b64(b64).ok_or_else(|| {
            StoreError::Config(format!("{source}: key `{id}` is not valid base64"))
        })?);
    let key: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
        StoreError::Config(format!(
            "{source}: key `{id}` must decode to 32 bytes, got {}",
            decoded.len()
        ))
    })?;
    Ok((id.to_owned(), Zeroizing::new(key)))
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
}

/// Reads the development key file, creating it (0600, atomically) if it does not exist.
fn load_or_create_dev_key(path: &Path) -> Result<Zeroizing<String>> {
    let io_err = |what: &str, e: std::io::Error| {
        StoreError::Config(format!("{what} development key {}: {e}", path.display()))
    };
    match std::fs::read_to_string(path) {
        Ok(s) => {
            warn_if_readable_by_others(path);
            return Ok(Zeroizing::new(s));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot read", e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_err("cannot create directory for", e))?;
    }
    let mut suffix = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let id = format!(
        "dev-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let key = Zeroizing::new(random_key());
    let spec = Zeroizing::new(format!(
        "{id}:{}\n",
        base64::engine::general_purpose::STANDARD.encode(key.as_slice())
    ));
    // Write a private temp file, then hard-link it into place: the link fails if another
    // process created the key first, so two processes never end up with different keys.
    let tmp = tmp_path(path);
    write_private(&tmp, spec.as_bytes()).map_err(|e| io_err("cannot write", e))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(spec),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| io_err("cannot read", e)),
        Err(e) => Err(io_err("cannot create", e)),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let name = format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    path.with_file_name(name)
}

fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content)?;
    f.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "development key file is readable by other users; chmod 600 it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(key: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let ring = KeyRing::generate("k1").unwrap();
        let sealed = ring.seal(b"secret", b"row-a").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.bytes.len(), NONCE_LEN + 6 + TAG_LEN);
        let what = || "test value".to_string();
        let plain = ring.open("k1", &sealed.bytes, b"row-a", &what).unwrap();
        assert_eq!(plain.as_slice(), b"secret");
        // Same plaintext twice gives different ciphertexts (random nonce).
        assert_ne!(ring.seal(b"secret", b"row-a").unwrap().bytes, sealed.bytes);
        // Moved to another row: refused.
        let err = ring.open("k1", &sealed.bytes, b"row-b", &what).unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { ref key_id, .. } if key_id == "k1"));
        // Truncated: refused.
        assert!(ring
            .open("k1", &sealed.bytes[..10], b"row-a", &what)
            .is_err());
    }

    #[test]
    fn parse_specs_and_errors() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let ring = KeyRing::parse(
            &format!("k2:{}", b64(&k2)),
            Some(&format!(" k1:{} ,", b64(&k1))),
        )
        .unwrap();
        assert_eq!(ring.current_key_id(), "k2");
        assert_eq!(ring.key_ids().collect::<Vec<_>>(), vec!["k2", "k1"]);
        assert!(!format!("{ring:?}").contains(&b64(&k2)));

        let bare = KeyRing::parse(&b64(&k1), None).unwrap();
        assert_eq!(bare.current_key_id(), "default");

        let short = KeyRing::parse(&format!("k1:{}", b64(&[0u8; 16])), None).unwrap_err();
        assert!(short.to_string().contains("32 bytes"), "{short}");
        let bad = KeyRing::parse("k1:not base64!!", None).unwrap_err();
        assert!(bad.to_string().contains("not valid base64"), "{bad}");
        let dup = KeyRing::parse(
            &format!("k1:{}", b64(&k1)),
            Some(&format!("k1:{}", b64(&k2))),
        )
        .unwrap_err();
        assert!(dup.to_string().contains("twice"), "{dup}");
        let bad_id = KeyRing::parse(&format!("k 1:{}", b64(&k1)), None).unwrap_err();
        assert!(bad_id.to_string().contains("invalid"), "{bad_id}");
    }

    #[test]
    fn dev_key_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeyRing::load(None, None, dir.path()).unwrap();
        assert!(a.current_key_id().starts_with("dev-"));
        let path = dir.path().join(DEV_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = KeyRing::load(None, None, dir.path()).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        let sealed = a.seal(b"x", b"aad").unwrap();
        let what = || "x".to_string();
        assert_eq!(
            b.open(&sealed.key_id, &sealed.bytes, b"aad", &what)
                .unwrap()
                .as_slice(),
            b"x"
        );
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
