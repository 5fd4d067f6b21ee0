//! Start-up and shutdown of `modelgate serve`: data dir, master key, store, first-start
//! bootstrap, declared providers, the listener; then, on shutdown, readiness off, stop
//! accepting, drain in-flight requests (streams get `shutdown_grace`), flush usage.

use crate::config::FileConfig;
use anyhow::Context;
use modelgate_core::Clock;
use modelgate_gateway::bootstrap::{Bootstrap, bootstrap};
use modelgate_gateway::{Gateway, Settings};
use modelgate_server::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

/// Everything `serve` needs, after flags, environment and file are merged.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: Option<String>,
    pub master_key: Option<String>,
    pub bootstrap_admin_key: Option<String>,
    pub shutdown_grace: Duration,
    pub settings: Settings,
    pub file: Option<Arc<FileConfig>>,
    /// PEM certificate chain and private key: serve HTTPS.
    pub tls: Option<TlsFiles>,
    /// How other replicas reach this one (tunnels held here are forwarded to it);
    /// default: the listening address.
    pub advertise_url: Option<String>,
    /// The clock the gateway reads time from (`settings.clock`); `None`: the system's.
    /// Tests pass a `ManualClock`'s and advance it instead of sleeping.
    pub clock: Option<Clock>,
}

/// Where the gateway's TLS certificate chain and key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// A TLS acceptor over these files (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn acceptor(&self) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("cannot read the TLS certificate {}", self.cert.display()))?;
        if certs.is_empty() {
            anyhow::bail!("{} holds no PEM certificate", self.cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("cannot read the TLS private key {}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("the TLS certificate and key do not go together")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl ServeOptions {
    /// Defaults for a data dir; tests and the CLI start from here.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            database: None,
            master_key: None,
            bootstrap_admin_key: None,
            shutdown_grace: Duration::from_secs(30),
            settings: Settings::default(),
            file: None,
            tls: None,
            advertise_url: None,
            clock: None,
        }
    }
}

/// A running gateway.
pub struct Running {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    /// The random admin key of a first start (`None` if the operator gave one, or the
    /// store was already initialised).
    pub generated_admin_key: Option<String>,
    /// Whether it serves HTTPS.
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Begins graceful shutdown and waits for it to complete.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.done).await.context("the server task panicked")?
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.done).await.context("the server task panicked")?
    }

    /// A sender that triggers graceful shutdown (for signal handlers).
    pub fn take_stop(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

/// Starts the gateway and returns once it is listening.
pub async fn start(opts: ServeOptions) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create data dir {}", opts.data_dir.display()))?;
    restrict_dir(&opts.data_dir);
    let master = crate::master_key::load(opts.master_key.as_deref(), &opts.data_dir)?;
    let url = match &opts.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", opts.data_dir.join("modelgate.db").display()),
    };
    let store = modelgate_store::open(&url)
        .await
        .with_context(|| format!("cannot open the store at {}", redact_url(&url)))?;
    let generated_admin_key = match bootstrap(&*store, opts.bootstrap_admin_key.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
    {
        Bootstrap::CreatedWithRandomKey(k) => Some(k),
        Bootstrap::CreatedWithGivenKey | Bootstrap::AlreadyInitialised => None,
    };
    let mut settings = opts.settings.clone();
    if let Some(clock) = &opts.clock {
        settings.clock = clock.clone();
    }
    // Usage records are journaled here before their requests are answered.
    settings
        .journal_dir
        .get_or_insert_with(|| opts.data_dir.join("usage-journal"));
    let (gateway, usage_writer) = Gateway::start(store.clone(), master, settings)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    if let Some(file) = &opts.file {
        gateway
            .org
            .apply_declared_org(&file.users, &file.groups, &file.allocations)
            .await
            .map_err(|e| anyhow::anyhow!("in the config file: {}", e.message))?;
        for v in &file.virtual_models {
            gateway.org.put_virtual_model(v).await.map_err(|e| {
                anyhow::anyhow!(
                    "virtual model '{}' in the config file: {}",
                    v.name,
                    e.message
                )
            })?;
        }
    }
    if let Some(file) = &opts.file
        && !file.providers.is_empty()
    {
        let admin = store
            .user_by_name("admin")
            .await
            .map_err(|e| anyhow::anyhow!(e))?
            .context("declared providers need the admin user, which is missing")?;
        for spec in &file.providers {
            gateway
                .providers
                .apply_declared_provider(&admin.id, spec)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("provider '{}' in the config file: {}", spec.name, e.message)
                })?;
        }
        gateway
            .providers
            .reload_providers()
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    let refresher = gateway.providers.spawn_model_refresher();

    let tls = opts.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
    let serves_tls = tls.is_some();
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if opts.advertise_url.is_none()
        && addr.ip().is_unspecified()
        && opts.settings.redis_url.is_some()
    {
        tracing::warn!(
            "listening on {addr} with --redis but no --advertise-url: other replicas cannot forward tunnel requests here"
        );
    }
    gateway.providers.tunnels.set_advertised_url(
        opts.advertise_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}")),
    );
    let ready = Arc::new(AtomicBool::new(true));
    let app = modelgate_server::router(AppState {
        gateway: gateway.clone(),
        metrics: modelgate_server::telemetry::install(),
        ready: ready.clone(),
    });

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (drain_tx, drain_rx) = oneshot::channel::<()>();
    let grace = opts.shutdown_grace;
    let server = tokio::spawn(modelgate_server::serve(
        listener,
        app,
        async move {
            let _ = drain_rx.await;
        },
        grace,
        tls,
    ));
    let gw = gateway.clone();
    let done = tokio::spawn(async move {
        let _ = stop_rx.await;
        ready.store(false, Ordering::Relaxed);
        let _ = drain_tx.send(());
        let mut server = server;
        match tokio::time::timeout(grace, &mut server).await {
            Ok(joined) => joined.context("the server task panicked")??,
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "in-flight requests outlived the shutdown grace period; closing them"
                );
                server.abort();
                let _ = server.await;
            }
        }
        refresher.abort();
        gw.usage.flush().await;
        drop(gw);
        drop(usage_writer);
        Ok(())
    });
    Ok(Running {
        addr,
        gateway,
        generated_admin_key,
        tls: serves_tls,
        stop: Some(stop_tx),
        done,
    })
}

fn restrict_dir(dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!(error = %e, "could not restrict the data dir to its owner");
        }
    }
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
