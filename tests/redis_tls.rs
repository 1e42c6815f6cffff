//! `rediss://` against a real TLS server: a `redis-server` with `--tls-port` (and `--port 0`)
//! and a certificate made for the test, signed by a CA made for the test. The server certificate
//! is verified by default; the CA comes from [`RedisOptions::tls_ca`].

#![cfg(feature = "redis-tls")]

#[path = "support/redis.rs"]
mod redis_server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memokit::{Cache, CacheError, RedisBackend, RedisOptions};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use redis_server::RedisServer;

/// A CA made for one test: its certificate (PEM) and what it takes to sign server certificates.
struct Ca {
    pem: String,
    params: CertificateParams,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        Self { pem, params, key }
    }

    /// Writes a server certificate for `names` signed by this CA, its key and the CA to `dir`:
    /// the paths of the three files.
    fn files(&self, dir: &std::path::Path, names: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "memokit test server");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let files = (
            dir.join("server.pem"),
            dir.join("server.key"),
            dir.join("ca.pem"),
        );
        std::fs::write(&files.0, cert.pem()).unwrap();
        std::fs::write(&files.1, key.serialize_pem()).unwrap();
        std::fs::write(&files.2, &self.pem).unwrap();
        files
    }

    /// Starts a TLS-only server with a certificate for `names` signed by this CA, its files in a
    /// new directory (returned, for removal).
    fn serve(&self, names: &[&str]) -> Option<(RedisServer, PathBuf)> {
        static DIRS: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "memokit-tls-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_file, key_file, ca_file) = self.files(&dir, names);
        let server = RedisServer::start_tls(&cert_file, &key_file, &ca_file)?;
        Some((server, dir))
    }
}

/// The server's directory of certificates, removed at the end.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tls_cache(name: &str, url: &str, ca: Option<&str>) -> Cache<u32, String, RedisBackend> {
    let mut options = RedisOptions::new()
        .url(url)
        .timeout(Duration::from_secs(2))
        .retry_interval(Duration::ZERO);
    if let Some(ca) = ca {
        options = options.tls_ca(ca);
    }
    Cache::builder(name)
        .backend_options(options)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_serves_hits_sync_and_async_with_the_users_ca() {
    let ca = Ca::new("memokit test CA");
    let Some((server, dir)) = ca.serve(&["localhost", "127.0.0.1"]) else {
        return;
    };
    let _scratch = Scratch(dir);
    let port = server.port();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("rediss://{host}:{port}/2");
        let cache = tls_cache(&format!("tls-{host}"), &url, Some(&ca.pem));
        cache.insert(1, "one".into()).unwrap();
        assert_eq!(cache.get(&1).unwrap().as_deref(), Some("one"));
        cache.insert_async(2, "two".into()).await.unwrap();
        assert_eq!(cache.get_async(&2).await.unwrap().as_deref(), Some("two"));
        assert_eq!(cache.get(&2).unwrap().as_deref(), Some("two"));
        assert_eq!(cache.backend().unwrap().count().unwrap(), 2);
    }

    // Loads through the cache: the second of each is a hit.
    let cache = tls_cache(
        "tls-loads",
        &format!("rediss://127.0.0.1:{port}"),
        Some(&ca.pem),
    );
    let loads = AtomicU32::new(0);
    let load = || {
        loads.fetch_add(1, Ordering::SeqCst);
        "loaded".to_string()
    };
    for _ in 0..2 {
        assert_eq!(cache.get_or_insert_with(7, load).unwrap(), "loaded");
        let v = cache.get_or_insert_with_async(8, async { load() }).await;
        assert_eq!(v.unwrap(), "loaded");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

/// The error of a read from `cache`, which must be the backend's (not a value, not a fallback).
fn failure(cache: &Cache<u32, String, RedisBackend>) -> String {
    match cache.get(&1) {
        Err(e @ CacheError::Backend { .. }) => e.to_string(),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_server_certificate_is_verified() {
    let ca = Ca::new("memokit test CA");
    let Some((server, dir)) = ca.serve(&["cache.invalid"]) else {
        return;
    };
    let _scratch = Scratch(dir);
    let url = format!("rediss://127.0.0.1:{}", server.port());

    // A certificate for another host name, from the right CA.
    let wrong_host = tls_cache("tls-wrong-host", &url, Some(&ca.pem));
    let e = failure(&wrong_host);
    assert!(
        e.contains("tls-wrong-host") && e.contains("certificate"),
        "{e}"
    );
    match wrong_host.get_async(&1).await {
        Err(e @ CacheError::Backend { .. }) => {
            let e = e.to_string();
            assert!(
                e.contains("tls-wrong-host") && e.contains("certificate"),
                "{e}"
            );
        }
        other => panic!("expected a backend error, got {other:?}"),
    }

    // Another CA, and the system's roots, which know neither.
    let other = Ca::new("another CA");
    let e = failure(&tls_cache("tls-wrong-ca", &url, Some(&other.pem)));
    assert!(
        e.contains("tls-wrong-ca") && e.contains("certificate"),
        "{e}"
    );
    let e = failure(&tls_cache("tls-system-roots", &url, None));
    assert!(
        e.contains("tls-system-roots") && e.contains("certificate"),
        "{e}"
    );

    // Plain TCP to the TLS port is not an answer either.
    let plain = format!("redis://127.0.0.1:{}", server.port());
    failure(&tls_cache("tls-plain", &plain, None));
}

#[test]
fn a_ca_needs_a_tls_url_and_a_readable_pem() {
    let build = |url: &str, pem: &str| {
        Cache::<u32, String, RedisBackend>::builder("tls-config")
            .backend_options(RedisOptions::new().url(url).tls_ca(pem))
            .build()
            .unwrap_err()
    };
    let ca = Ca::new("memokit test CA");
    for e in [
        build("redis://127.0.0.1:6379", &ca.pem),
        build("rediss://127.0.0.1:6379", "not a certificate"),
    ] {
        assert!(
            matches!(
                e,
                CacheError::Config {
                    setting: "tls_ca",
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[cfg(feature = "redis-cluster")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_works_on_a_cluster() {
    let ca = Ca::new("memokit test CA");
    let dir = std::env::temp_dir().join(format!("memokit-tls-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _scratch = Scratch(dir.clone());
    let (cert_file, key_file, ca_file) = ca.files(&dir, &["localhost", "127.0.0.1"]);
    let Some(server) = RedisServer::start_tls_cluster(&cert_file, &key_file, &ca_file) else {
        return;
    };
    let cache: Cache<u32, String, RedisBackend> = Cache::builder("tls-cluster")
        .backend_options(
            RedisOptions::new()
                .url(format!("rediss://127.0.0.1:{}", server.port()))
                .cluster(true)
                .tls_ca(ca.pem.as_str())
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    for i in 0..20 {
        cache.insert(i, format!("v{i}")).unwrap();
    }
    assert_eq!(cache.get(&3).unwrap().as_deref(), Some("v3"));
    assert_eq!(cache.get_async(&4).await.unwrap().as_deref(), Some("v4"));
    cache.insert_async(30, "v30".into()).await.unwrap();
    assert_eq!(cache.backend().unwrap().count_async().await.unwrap(), 21);
    cache.clear().unwrap();
    assert_eq!(cache.backend().unwrap().count().unwrap(), 0);
}
