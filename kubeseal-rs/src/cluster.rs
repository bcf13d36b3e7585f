//! Reaching the sealed-secrets controller through the API server's service proxy (SPEC §4.3):
//! look up the controller's Service for its first port name, then GET `/v1/cert.pem` or POST
//! `/v1/verify` / `/v1/rotate` under
//! `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/`.
//!
//! Additions (see `discovery.rs`): when the named Service does not exist, a Service labelled as
//! the controller's in `--controller-namespace` is used; when the proxy cannot reach the
//! controller, the certificate comes from the ConfigMap the controller publishes it in. A failure
//! lists every step tried and its answer.
//!
//! Discovery never leaves `--controller-namespace` on its own: anyone who may create a Service
//! or ConfigMap in some namespace could label it as the controller's and have users seal for
//! their key. Other namespaces are searched only with `--discover-all-namespaces`, or when the
//! repository config pins fingerprints, and then a certificate found outside is used only if
//! its fingerprint is pinned (and the controller found there is never sent SealedSecrets).
//!
//! This is the only module that talks to a cluster; offline modes never reach it, so they
//! need neither a kubeconfig nor the network.

pub mod client;
pub mod discovery;
pub mod kube_api;
pub mod kubeconfig;
mod paths;
mod reach;
pub mod timeout;

use std::time::Duration;

use client::{ApiClient, ConnectError, Response, SetupError, TransportError};
use discovery::{Attempt, Choice, ServiceRef};
use kubeconfig::{KubeconfigError, Overrides};
pub(crate) use paths::answer_text;
use paths::{proxy_base, segment, service_path};
use reach::{Reach, admit_cert, pinned_fingerprints};
use sealed_secrets_core::public_cert::{
    DEFAULT_CONFIGMAP_NAME, SERVICE_SELECTOR, configmap_selector,
};

/// How often a request the controller answered 429 is sent again, and how long apart.
const RATE_LIMIT_RETRIES: u64 = 30;
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// Longest part of a server's answer quoted in an error.
pub(crate) const MAX_QUOTED: usize = 200;

/// A failure to talk to the controller. One line, naming what failed; never a credential.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Config(#[from] KubeconfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Every way of finding the controller (or its certificate) failed: each step tried and
    /// its answer, in order, on one line; with `hint` when no Service was found.
    #[error(
        "{}{}",
        discovery::describe(attempts),
        if *hint { "; use --controller-name and --controller-namespace to name the sealed secrets controller's Service (or --discover-all-namespaces to search every namespace)" } else { "" }
    )]
    Tried { attempts: Vec<Attempt>, hint: bool },
    /// A certificate found outside `--controller-namespace` whose fingerprint is not pinned.
    #[error(
        "the certificate found in {from} is outside --controller-namespace {namespace} and its fingerprint {fingerprint} is not pinned in the repository config; name the controller with --controller-namespace, or pass --discover-all-namespaces to trust it"
    )]
    NotPinned {
        from: String,
        namespace: String,
        fingerprint: String,
    },
    /// A controller found outside `--controller-namespace` without `--discover-all-namespaces`
    /// is only asked for its certificate, never sent a SealedSecret.
    #[error(
        "the controller service {found} is outside --controller-namespace {namespace}; name it with --controller-namespace, or pass --discover-all-namespaces"
    )]
    Outside { found: String, namespace: String },
    #[error(
        "the controller service {namespace}/{name} is not reachable through the API server's service proxy: {answer}"
    )]
    Unreachable {
        namespace: String,
        name: String,
        answer: String,
    },
    #[error("controller {namespace}/{name}: {method} {path} answered {answer}")]
    Status {
        namespace: String,
        name: String,
        method: &'static str,
        path: String,
        answer: String,
    },
}

impl From<ConnectError> for ClusterError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(e) => ClusterError::Config(e),
            ConnectError::Setup(e) => ClusterError::Setup(e),
        }
    }
}

/// The answer of `/v1/verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 200: the controller can unseal it.
    Valid,
    /// 409 Conflict: the controller cannot unseal it.
    Invalid,
}

/// How to reach the controller: the kubeconfig and kubectl's override flags, and which
/// controller. Resolved from the command line in `mode.rs`; nothing here is read or sent
/// before [`Controller::connect`].
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `--kubeconfig`.
    pub kubeconfig: Option<std::path::PathBuf>,
    pub overrides: Overrides,
    pub controller_namespace: String,
    pub controller_name: String,
    pub discover_all_namespaces: bool,
    /// `--config`, the repository config whose pins widen discovery.
    pub config: Option<std::path::PathBuf>,
}

/// The Service the controller is reached through, once found.
#[derive(Clone, Debug)]
struct Target {
    namespace: String,
    name: String,
    proxy_base: String,
}

impl Target {
    fn new(service: &ServiceRef) -> Self {
        Self {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
            proxy_base: proxy_base(&service.namespace, &service.name, &service.port_name),
        }
    }
}

/// The controller, reached through one API server.
#[derive(Debug)]
pub struct Controller {
    client: ApiClient,
    namespace: String,
    name: String,
    target: Option<Target>,
    /// Everything tried so far that failed, for the error line.
    attempts: Vec<Attempt>,
    reach: Reach,
}

impl Controller {
    /// Resolves the kubeconfig (or in-cluster configuration) and sets up the client. Nothing
    /// is sent yet.
    ///
    /// # Errors
    /// The kubeconfig is missing or unusable, or the exec plugin failed.
    pub fn connect(args: &Access) -> Result<Self, ClusterError> {
        let client = ApiClient::connect(args.kubeconfig.as_deref(), &args.overrides)?;
        Ok(Self {
            client,
            namespace: args.controller_namespace.clone(),
            name: args.controller_name.clone(),
            target: None,
            attempts: Vec::new(),
            reach: Reach {
                all_namespaces: args.discover_all_namespaces,
                pins: if args.discover_all_namespaces {
                    Vec::new()
                } else {
                    pinned_fingerprints(args.config.as_deref())
                },
            },
        })
    }

    fn get(&self, path: &str) -> Result<Response, ClusterError> {
        Ok(self.client.request("GET", path, "application/json", None)?)
    }

    /// The items of the list at `path`; `None` (and the answer recorded as the attempt `what`)
    /// when the API server does not give one.
    fn list(
        &mut self,
        path: &str,
        what: &str,
    ) -> Result<Option<Vec<serde_json::Value>>, ClusterError> {
        let response = self.get(path)?;
        let items = (response.status == 200)
            .then(|| discovery::list_items(&response.body))
            .flatten();
        if items.is_none() {
            self.attempts
                .push(Attempt::new(what, answer_text(&response)));
        }
        Ok(items)
    }

    fn tried(&self, hint: bool) -> ClusterError {
        ClusterError::Tried {
            attempts: self.attempts.clone(),
            hint,
        }
    }

    /// The Service to go through: the named one, as upstream, else one found by label (looking
    /// up its port name once).
    fn target(&mut self) -> Result<Target, ClusterError> {
        if let Some(target) = &self.target {
            return Ok(target.clone());
        }
        let response = self.get(&service_path(&self.namespace, &self.name))?;
        let what = format!(
            "cannot get sealed secret service {}/{}",
            self.namespace, self.name
        );
        if response.status == 200 {
            let service: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
            let Some(service) = service else {
                self.attempts
                    .push(Attempt::new(what, "the answer is not a Service"));
                return Err(self.tried(true));
            };
            let Some(port_name) = discovery::first_port_name(&service) else {
                self.attempts
                    .push(Attempt::new(what, "the Service has no ports"));
                return Err(self.tried(true));
            };
            let target = Target::new(&ServiceRef {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                port_name,
            });
            self.target = Some(target.clone());
            return Ok(target);
        }
        self.attempts
            .push(Attempt::new(what, answer_text(&response)));
        // Not there, or not ours to see: the controller may live elsewhere.
        if matches!(response.status, 403 | 404)
            && let Some(service) = self.find_labelled_service()?
        {
            eprintln!(
                "note: service {}/{} not found; using {}/{}, labelled as a sealed secrets controller",
                self.namespace, self.name, service.namespace, service.name
            );
            let target = Target::new(&service);
            self.target = Some(target.clone());
            return Ok(target);
        }
        Err(self.tried(true))
    }

    /// A Service labelled as the controller's in `--controller-namespace`; when the reach goes
    /// beyond it, in any namespace first (or, when listing every namespace is forbidden, in
    /// `--controller-namespace`).
    fn find_labelled_service(&mut self) -> Result<Option<ServiceRef>, ClusterError> {
        let selector = discovery::query_value(SERVICE_SELECTOR);
        let mut scopes = Vec::new();
        if self.reach.beyond() {
            scopes.push((
                format!("/api/v1/services?labelSelector={selector}"),
                "any namespace".to_owned(),
            ));
        }
        scopes.push((
            format!(
                "/api/v1/namespaces/{}/services?labelSelector={selector}",
                segment(&self.namespace)
            ),
            self.namespace.clone(),
        ));
        for (path, scope) in scopes {
            let what = format!("services labelled {SERVICE_SELECTOR} in {scope}");
            let Some(items) = self.list(&path, &what)? else {
                continue;
            };
            let found = discovery::services(&items);
            return Ok(
                match discovery::choose(
                    &found,
                    &self.namespace,
                    |s| s.namespace.clone(),
                    |s| format!("{}/{}", s.namespace, s.name),
                ) {
                    Choice::One(service) => Some(service),
                    Choice::None => {
                        self.attempts.push(Attempt::new(what, "none"));
                        None
                    }
                    Choice::Several(names) => {
                        self.attempts.push(Attempt::new(
                            what,
                            format!("several ({}), name one", names.join(", ")),
                        ));
                        None
                    }
                },
            );
        }
        Ok(None)
    }

    fn call(
        &mut self,
        method: &'static str,
        endpoint: &str,
        accept: &str,
        body: Option<&[u8]>,
    ) -> Result<(Target, Response), ClusterError> {
        let target = self.target()?;
        if target.namespace != self.namespace && !self.reach.all_namespaces {
            return Err(ClusterError::Outside {
                found: format!("{}/{}", target.namespace, target.name),
                namespace: self.namespace.clone(),
            });
        }
        let path = format!("{}{endpoint}", target.proxy_base);
        let mut response = self.client.request(method, &path, accept, body)?;
        // The controller limits /v1/verify and /v1/rotate per client (2/s, burst 2 by
        // default; upstream v0.40 limits both too): a file of many documents waits its turn.
        for attempt in 0..RATE_LIMIT_RETRIES {
            if response.status != 429 {
                break;
            }
            if attempt == 0 {
                eprintln!(
                    "note: the controller is rate-limiting {endpoint}; waiting for it (at most {} s)",
                    RATE_LIMIT_RETRIES * RATE_LIMIT_WAIT.as_secs()
                );
            }
            std::thread::sleep(RATE_LIMIT_WAIT);
            response = self.client.request(method, &path, accept, body)?;
        }
        match response.status {
            // The API server's proxy could not reach a backend (no endpoints, dial failure).
            502..=504 => Err(ClusterError::Unreachable {
                namespace: target.namespace,
                name: target.name,
                answer: answer_text(&response),
            }),
            _ => Ok((target, response)),
        }
    }

    fn unexpected(
        target: &Target,
        method: &'static str,
        endpoint: &str,
        response: &Response,
    ) -> ClusterError {
        ClusterError::Status {
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            method,
            path: endpoint.to_owned(),
            answer: answer_text(response),
        }
    }

    /// The controller's current certificate, as served (PEM bytes unchanged): through the
    /// service proxy like upstream; when the proxy cannot reach the controller, or no Service
    /// can be found, from the ConfigMap the controller publishes it in.
    ///
    /// # Errors
    /// Nothing worked (the error lists every step and its answer), or the controller answered
    /// something else than 200.
    pub fn cert_pem(&mut self) -> Result<Vec<u8>, ClusterError> {
        let endpoint = "/v1/cert.pem";
        let target = match self.target() {
            Ok(target) => Some(target),
            Err(ClusterError::Tried { .. }) => None,
            Err(other) => return Err(other),
        };
        if let Some(target) = &target {
            let path = format!("{}{endpoint}", target.proxy_base);
            let response =
                self.client
                    .request("GET", &path, "application/x-pem-file, */*", None)?;
            if response.status == 200 {
                admit_cert(
                    &self.reach,
                    &self.namespace,
                    &target.namespace,
                    &format!("service {}/{}", target.namespace, target.name),
                    &response.body,
                )?;
                return Ok(response.body);
            }
            if !discovery::proxy_failed(&response) {
                // The controller itself answered.
                return Err(Self::unexpected(target, "GET", endpoint, &response));
            }
            let what = if (502..=504).contains(&response.status) {
                format!(
                    "the controller service {}/{} is not reachable through the API server's service proxy",
                    target.namespace, target.name
                )
            } else {
                format!(
                    "GET {endpoint} through the service proxy of {}/{}",
                    target.namespace, target.name
                )
            };
            self.attempts
                .push(Attempt::new(what, answer_text(&response)));
        }
        let namespace = target
            .as_ref()
            .map_or_else(|| self.namespace.clone(), |t| t.namespace.clone());
        let anywhere = target.is_none() && self.reach.beyond();
        match self.published_cert(&namespace, anywhere)? {
            Some((pem, from)) => {
                let found_namespace = from.split_once('/').map_or("", |(ns, _)| ns);
                admit_cert(
                    &self.reach,
                    &self.namespace,
                    found_namespace,
                    &format!("configmap {from}"),
                    &pem,
                )?;
                let why = if target.is_some() {
                    "the service proxy cannot reach the controller"
                } else {
                    "no controller service found"
                };
                eprintln!("note: {why}; using the certificate it published in configmap {from}");
                Ok(pem)
            }
            None => Err(self.tried(target.is_none())),
        }
    }

    /// The certificate the controller published in its ConfigMap: the default name in
    /// `namespace`, else one labelled as the controller's there, else (with `anywhere`) in any
    /// namespace. Returns it with the ConfigMap's `namespace/name`.
    fn published_cert(
        &mut self,
        namespace: &str,
        anywhere: bool,
    ) -> Result<Option<(Vec<u8>, String)>, ClusterError> {
        let by_name = format!(
            "/api/v1/namespaces/{}/configmaps/{}",
            segment(namespace),
            segment(DEFAULT_CONFIGMAP_NAME)
        );
        let what = format!("configmap {namespace}/{DEFAULT_CONFIGMAP_NAME}");
        let response = self.get(&by_name)?;
        if response.status == 200 {
            let object = serde_json::from_slice::<serde_json::Value>(&response.body)
                .map_err(|_| "the answer is not a ConfigMap".to_owned())
                .and_then(|o| discovery::configmap_cert(&o));
            match object {
                Ok(pem) => return Ok(Some((pem, format!("{namespace}/{DEFAULT_CONFIGMAP_NAME}")))),
                Err(why) => self.attempts.push(Attempt::new(what, why)),
            }
        } else {
            self.attempts
                .push(Attempt::new(what, answer_text(&response)));
        }
        let selector = configmap_selector();
        let mut scopes = vec![(
            format!(
                "/api/v1/namespaces/{}/configmaps?labelSelector={}",
                segment(namespace),
                discovery::query_value(&selector)
            ),
            namespace.to_owned(),
        )];
        if anywhere {
            scopes.push((
                format!(
                    "/api/v1/configmaps?labelSelector={}",
                    discovery::query_value(&selector)
                ),
                "any namespace".to_owned(),
            ));
        }
        for (path, scope) in scopes {
            let what = format!("configmaps labelled {selector} in {scope}");
            let Some(items) = self.list(&path, &what)? else {
                continue;
            };
            let usable: Vec<serde_json::Value> = items
                .into_iter()
                .filter(|o| discovery::configmap_cert(o).is_ok())
                .collect();
            match discovery::choose(
                &usable,
                namespace,
                |o| {
                    o.pointer("/metadata/namespace")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                },
                discovery::object_ref,
            ) {
                Choice::One(object) => {
                    let from = discovery::object_ref(&object);
                    if let Ok(pem) = discovery::configmap_cert(&object) {
                        return Ok(Some((pem, from)));
                    }
                }
                Choice::None => self.attempts.push(Attempt::new(what, "none")),
                Choice::Several(names) => self.attempts.push(Attempt::new(
                    what,
                    format!("several ({}), name the controller", names.join(", ")),
                )),
            }
        }
        Ok(None)
    }

    /// Asks the controller whether it can unseal `sealed_json`.
    ///
    /// # Errors
    /// The controller cannot be reached or answers neither 200 nor 409.
    pub fn verify(&mut self, sealed_json: &[u8]) -> Result<Verdict, ClusterError> {
        let endpoint = "/v1/verify";
        let (target, response) =
            self.call("POST", endpoint, "application/json, */*", Some(sealed_json))?;
        match response.status {
            200 => Ok(Verdict::Valid),
            409 => Ok(Verdict::Invalid),
            _ => Err(Self::unexpected(&target, "POST", endpoint, &response)),
        }
    }

    /// Has the controller re-encrypt `sealed_json` with its newest key; returns its answer
    /// (JSON of the new SealedSecret). `Ok(None)` is a 409 Conflict.
    ///
    /// # Errors
    /// The controller cannot be reached or answers another non-200 status.
    pub fn rotate(&mut self, sealed_json: &[u8]) -> Result<Option<Vec<u8>>, ClusterError> {
        let endpoint = "/v1/rotate";
        let (target, response) =
            self.call("POST", endpoint, "application/json, */*", Some(sealed_json))?;
        match response.status {
            200 => Ok(Some(response.body)),
            409 => Ok(None),
            _ => Err(Self::unexpected(&target, "POST", endpoint, &response)),
        }
    }
}

/// `--request-timeout`: `0` (the default) is no timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

/// Parses `--request-timeout` (a clap value parser).
///
/// # Errors
/// Not an integer number of seconds nor a duration with a unit.
pub fn parse_request_timeout(text: &str) -> Result<RequestTimeout, String> {
    timeout::parse_timeout(text).map(RequestTimeout)
}
