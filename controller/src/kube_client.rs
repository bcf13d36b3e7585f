//! Connecting to the API server: which configuration to use, the controller's own namespace, and
//! client-side throttling (`--kubeclient-qps`, `--kubeclient-burst`, like client-go's limiter).
//!
//! Configuration order: `--kubeconfig`, then `KUBECONFIG`, then the in-cluster service account,
//! then `~/.kube/config`. Upstream supports only the in-cluster configuration.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::{Layer, Service};

/// The service-account namespace file of a pod.
pub const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error(
        "cannot find a cluster configuration (no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config): {0}"
    )]
    Infer(String),
    #[error("cannot build the Kubernetes client: {0}")]
    Build(String),
}

/// Loads the cluster configuration (see the module docs for the order).
///
/// # Errors
/// See [`ClientError`].
pub async fn load_config(kubeconfig: Option<&Path>) -> Result<Config, ClientError> {
    if let Some(path) = kubeconfig {
        let kc = Kubeconfig::read_from(path).map_err(|e| ClientError::Kubeconfig {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        return Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| ClientError::Kubeconfig {
                path: path.display().to_string(),
                message: e.to_string(),
            });
    }
    if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
        return Config::from_kubeconfig(&KubeConfigOptions::default())
            .await
            .map_err(|e| ClientError::Kubeconfig {
                path: "$KUBECONFIG".to_owned(),
                message: e.to_string(),
            });
    }
    if let Ok(config) = Config::incluster() {
        return Ok(config);
    }
    Config::infer()
        .await
        .map_err(|e| ClientError::Infer(e.to_string()))
}

/// Builds a client from `config`, throttled to `qps`/`burst` unless `qps` is negative.
///
/// # Errors
/// The client stack could not be built.
pub fn build_client(config: Config, qps: f32, burst: u32) -> Result<Client, ClientError> {
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| ClientError::Build(e.to_string()))?;
    if qps < 0.0 || !qps.is_finite() {
        return Ok(builder.build());
    }
    Ok(builder
        .with_layer(&ThrottleLayer::new(f64::from(qps), burst))
        .build())
}

/// The controller's own namespace: `POD_NAMESPACE`, else the service-account namespace file,
/// else `default`.
#[must_use]
pub fn own_namespace() -> String {
    if let Ok(ns) = std::env::var("POD_NAMESPACE")
        && !ns.is_empty()
    {
        return ns;
    }
    std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// A token bucket: `rate` tokens per second, at most `burst` stored.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    #[must_use]
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token at `now`; returns how long the caller must wait for it.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if self.rate <= 0.0 {
            // qps 0: client-go treats it as "use the default"; never block forever.
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// Tower layer that delays requests to respect a [`TokenBucket`].
#[derive(Debug, Clone)]
pub struct ThrottleLayer {
    bucket: Arc<Mutex<TokenBucket>>,
}

impl ThrottleLayer {
    #[must_use]
    pub fn new(qps: f64, burst: u32) -> Self {
        Self {
            bucket: Arc::new(Mutex::new(TokenBucket::new(qps, burst))),
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            bucket: Arc::clone(&self.bucket),
        }
    }
}

/// See [`ThrottleLayer`].
#[derive(Debug, Clone)]
pub struct Throttle<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
}

impl<S, R> Service<R> for Throttle<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let delay = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reserve(Instant::now());
        // The inner future is lazy (hyper sends nothing until it is polled).
        let future = self.inner.call(request);
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            future.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let mut b = TokenBucket::new(5.0, 10);
        let now = b.last;
        for _ in 0..10 {
            assert_eq!(b.reserve(now), Duration::ZERO);
        }
        let wait = b.reserve(now);
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-9, "{wait:?}");
        // One second later five more tokens are back (minus the one borrowed).
        let later = now + Duration::from_secs(1);
        for _ in 0..4 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert!(b.reserve(later) > Duration::ZERO);
    }
}
