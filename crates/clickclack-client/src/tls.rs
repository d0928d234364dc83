//! TLS trust for every connection to the server: one root store and one
//! configuration per set of [`TlsSettings`] in the process, shared by every
//! [`Client`](crate::Client) built with them, their REST connections and the
//! realtime WebSocket.

use std::fmt;
use std::io::Read as _;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::{Error, ErrorKind};
use crate::transport::TlsRoots;

/// The largest PEM file [`TlsSettings::add_pem_file`] reads (1 MiB).
const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// Which certificates a client trusts: a base set ([`TlsRoots`]) plus any
/// extra CA certificates (a private or corporate CA).
///
/// The client builds one root store from it; its REST connections and the
/// realtime WebSocket (`clickclack-realtime`) both verify against it.
///
/// ```
/// use clickclack_client::{TlsRoots, TlsSettings};
///
/// let pem = "-----BEGIN CERTIFICATE-----\n..."; // your CA, e.g. from a file
/// # let _ = pem;
/// let tls = TlsSettings::new(TlsRoots::WebPki);
/// // let tls = tls.add_pem_file("/etc/clickclack/ca.pem")?;
/// let client = clickclack_client::Client::builder("https://chat.example.com")
///     .tls(tls)
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Default)]
pub struct TlsSettings {
    roots: TlsRoots,
    /// Shared by clones: a CA bundle can be hundreds of KiB, and every client
    /// of a many-account process keeps its settings.
    extra: Arc<Vec<CertificateDer<'static>>>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots)
            .field("extra_certificates", &self.extra.len())
            .finish()
    }
}

fn tls_error(detail: String) -> Error {
    Error::new(ErrorKind::Transport).with_detail(detail)
}

impl TlsSettings {
    /// Trusts `roots` and nothing else (yet).
    pub fn new(roots: TlsRoots) -> Self {
        Self {
            roots,
            extra: Arc::default(),
        }
    }

    /// The base root set.
    pub fn roots(&self) -> TlsRoots {
        self.roots
    }

    /// Replaces the base root set, keeping the extra certificates.
    pub fn with_roots(mut self, roots: TlsRoots) -> Self {
        self.roots = roots;
        self
    }

    /// How many extra CA certificates were added.
    pub fn extra_certificates(&self) -> usize {
        self.extra.len()
    }

    /// Also trusts the CA certificate `der` (DER-encoded).
    pub fn add_root_certificate(mut self, der: impl Into<CertificateDer<'static>>) -> Self {
        Arc::make_mut(&mut self.extra).push(der.into());
        self
    }

    /// Also trusts every `CERTIFICATE` block of `pem`.
    ///
    /// # Errors
    ///
    /// A `Transport` error when a block is malformed or there is none.
    pub fn add_pem_certificates(self, pem: &[u8]) -> Result<Self, Error> {
        self.add_pem(pem, "the PEM data")
    }

    /// Also trusts every `CERTIFICATE` block of the file at `path` (read
    /// with a 1 MiB cap).
    ///
    /// # Errors
    ///
    /// A `Transport` error naming the file when it cannot be read, is too
    /// large, or holds no valid certificate.
    pub fn add_pem_file(self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let read = || -> std::io::Result<Vec<u8>> {
            let mut raw = Vec::new();
            std::fs::File::open(path)?
                .take(MAX_PEM_FILE_BYTES + 1)
                .read_to_end(&mut raw)?;
            Ok(raw)
        };
        let raw = read().map_err(|e| {
            tls_error(format!(
                "cannot read CA certificate file {}: {e}",
                path.display()
            ))
        })?;
        if raw.len() as u64 > MAX_PEM_FILE_BYTES {
            return Err(tls_error(format!(
                "CA certificate file {} is larger than {MAX_PEM_FILE_BYTES} bytes",
                path.display()
            )));
        }
        self.add_pem(&raw, &format!("CA certificate file {}", path.display()))
    }

    fn add_pem(mut self, pem: &[u8], what: &str) -> Result<Self, Error> {
        let before = self.extra.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| tls_error(format!("{what} holds a malformed certificate: {e}")))?;
            Arc::make_mut(&mut self.extra).push(cert);
        }
        if self.extra.len() == before {
            return Err(tls_error(format!(
                "{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )));
        }
        Ok(self)
    }

    /// The root store: the base set plus the extra certificates.
    ///
    /// # Errors
    ///
    /// A `Transport` error when the operating system's store cannot be
    /// loaded ([`TlsRoots::Native`]) or an extra certificate is not a usable CA.
    pub fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        match self.roots {
            TlsRoots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            TlsRoots::Native => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() && !found.errors.is_empty() {
                    let first = found
                        .errors
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    return Err(tls_error(format!(
                        "could not load the system's root certificates: {first}"
                    )));
                }
                store.add_parsable_certificates(found.certs);
            }
        }
        for (i, cert) in self.extra.iter().enumerate() {
            store.add(cert.clone()).map_err(|e| {
                tls_error(format!(
                    "extra CA certificate #{} cannot be used: {e}",
                    i + 1
                ))
            })?;
        }
        Ok(store)
    }

    /// The process-wide configuration for these settings: built once and
    /// shared (root store, session cache) by every client with equal
    /// settings while any of them is alive.
    ///
    /// # Errors
    ///
    /// As [`root_store`](Self::root_store).
    pub(crate) fn shared_client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        static SHARED: Mutex<Vec<(TlsSettings, Weak<rustls::ClientConfig>)>> =
            Mutex::new(Vec::new());
        let lock = || SHARED.lock().unwrap_or_else(|p| p.into_inner());
        let found = lock()
            .iter()
            .filter(|(settings, _)| self.same_as(settings))
            .find_map(|(_, config)| config.upgrade());
        if let Some(config) = found {
            return Ok(config);
        }
        // Built outside the lock (loading the system's roots can be slow).
        let built = Arc::new(self.client_config()?);
        let mut shared = lock();
        shared.retain(|(_, config)| config.strong_count() > 0);
        if let Some(config) = shared
            .iter()
            .filter(|(settings, _)| self.same_as(settings))
            .find_map(|(_, config)| config.upgrade())
        {
            return Ok(config);
        }
        shared.push((self.clone(), Arc::downgrade(&built)));
        Ok(built)
    }

    fn same_as(&self, other: &TlsSettings) -> bool {
        self.roots == other.roots && self.extra == other.extra
    }

    /// A rustls client configuration (ring provider, safe protocol versions,
    /// no ALPN; callers set the protocols they speak) over one root store.
    ///
    /// # Errors
    ///
    /// As [`root_store`](Self::root_store).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        let roots = Arc::new(self.root_store()?);
        Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("could not set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = include_str!("../../clickclack-realtime/tests/fixtures/tls/ca.pem");

    #[test]
    fn extra_pem_certificates_join_the_base_roots() {
        let base = TlsSettings::new(TlsRoots::WebPki)
            .root_store()
            .expect("store")
            .len();
        let tls = TlsSettings::new(TlsRoots::WebPki)
            .add_pem_certificates(CA.as_bytes())
            .expect("pem");
        assert_eq!(tls.extra_certificates(), 1);
        assert_eq!(tls.root_store().expect("store").len(), base + 1);
        assert!(tls.client_config().is_ok());
        assert!(format!("{tls:?}").contains("extra_certificates: 1"));
    }

    #[test]
    fn equal_settings_share_one_configuration_while_it_is_in_use() {
        let a = TlsSettings::new(TlsRoots::WebPki)
            .shared_client_config()
            .expect("config");
        let b = TlsSettings::new(TlsRoots::WebPki)
            .shared_client_config()
            .expect("config");
        assert!(Arc::ptr_eq(&a, &b));
        let other = TlsSettings::new(TlsRoots::WebPki)
            .add_pem_certificates(CA.as_bytes())
            .expect("pem")
            .shared_client_config()
            .expect("config");
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn bad_pem_input_says_what_and_where() {
        let err = TlsSettings::default()
            .add_pem_certificates(b"not a certificate")
            .expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("ca.pem");
        let err = TlsSettings::default()
            .add_pem_file(&missing)
            .expect_err("missing");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
        std::fs::write(&missing, vec![b'A'; 2 << 20]).expect("write");
        let err = TlsSettings::default()
            .add_pem_file(&missing)
            .expect_err("too large");
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
