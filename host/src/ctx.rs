//! Per-store state ([`HttpCtx`]), the configuration it shares with its siblings, and the
//! builder that makes both.

use crate::audit::{
    Audit, Callback, Denials, Event, JsonLinesLog, Labels, LogSender, Observer, Record,
};
use crate::client::{Call, Client, Response};
use crate::config::{
    self, ConfigError, DEFAULT_ASYNC_WORKERS, DEFAULT_MAX_CONCURRENT_REQUESTS, Limits, PoolConfig,
    Timeouts,
};
use crate::control::{Controls, Interrupt};
use crate::credentials::{Injections, Secret};
use crate::error_code::ErrorCode;
use crate::policy::{AddressPolicy, AllowList};
use crate::pool::Pool;
use crate::quota::{Quota, QuotaLimits, Quotas};
use crate::transport::{self, Dialer, ProxySettings, Resolver, Roots};
#[cfg(feature = "async")]
use crate::workers::Workers;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Store ids: one counter for the process, so no two live contexts share one.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// The per-store state of the `wasi_experimental_http` functions: open responses by handle,
/// and a reference to the shared configuration and connection pool.
///
/// Put one in each store's data and hand [`add_to_linker`](crate::add_to_linker) an accessor
/// to it.
///
/// ```no_run
/// use wasi_experimental_http_host::HttpCtx;
/// let ctx = HttpCtx::new(Some(vec!["https://api.example.com".into()]), Some(8))?;
/// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
/// ```
pub struct HttpCtx {
    client: Arc<Client>,
    /// The interrupt that ends every network wait of this store when set
    /// (`interrupt_handle`), and the embedder's cap on every request's overall deadline
    /// (`set_deadline`).
    controls: Controls,
    /// Unique in the process: the owner of connections that carried this store's bodies.
    store_id: u64,
    /// A body buffer reused by async `body_read` calls (lent to the worker during a read).
    #[cfg(feature = "async")]
    scratch: Vec<u8>,
    /// The open responses, by handle.
    handles: Handles,
    /// The embedder's labels on this store's audit events.
    labels: Labels,
    /// This store's denials, repeats coalesced.
    denials: Denials,
    /// Quotas added to this store (the per-context one first, if the builder set one).
    own_quotas: Vec<Quota>,
    /// The builder's quotas, then `own_quotas`: what a request is charged to.
    quotas: Quotas,
}

/// The open responses of one store by handle (`abi.md`, "Handles"): numbers from 1, never
/// reused while the store lives, at most `max` open at once.
pub(crate) struct Handles {
    open: HashMap<u32, Response>,
    next: u64,
    max: u32,
}

impl Handles {
    fn new(max: u32) -> Handles {
        Handles {
            open: HashMap::new(),
            next: 1,
            max,
        }
    }

    /// Stores a response under a fresh handle; `None` once all 2^32 - 1 numbers were issued.
    pub(crate) fn insert(&mut self, response: Response) -> Option<u32> {
        let handle = u32::try_from(self.next).ok()?;
        self.next += 1;
        self.open.insert(handle, response);
        Some(handle)
    }

    /// Whether a handle number is left for another response.
    pub(crate) fn has_numbers(&self) -> bool {
        self.next <= u64::from(u32::MAX)
    }

    /// Whether another response may be opened (the concurrency limit).
    pub(crate) fn has_capacity(&self) -> bool {
        self.open.len() < self.max as usize
    }

    /// The open response of `handle`.
    pub(crate) fn get(&self, handle: u32) -> Option<&Response> {
        self.open.get(&handle)
    }

    /// The open response of `handle`, to read its body.
    pub(crate) fn get_mut(&mut self, handle: u32) -> Option<&mut Response> {
        self.open.get_mut(&handle)
    }

    /// Closes `handle`: its response is dropped (emitting its audit event).
    pub(crate) fn remove(&mut self, handle: u32) -> Option<Response> {
        self.open.remove(&handle)
    }

    /// Responses open now.
    fn len(&self) -> usize {
        self.open.len()
    }
}

impl fmt::Debug for HttpCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCtx")
            .field("open_responses", &self.handles.len())
            .field("allow_list", &self.client.allow_list)
            .finish_non_exhaustive()
    }
}

impl HttpCtx {
    /// The constructor of the 0.10 host: `None` or an empty list denies every destination;
    /// `None` for the limit means [`DEFAULT_MAX_CONCURRENT_REQUESTS`]. Everything else takes
    /// its default (see [`HttpCtx::builder`]).
    pub fn new(
        allowed_hosts: Option<Vec<String>>,
        max_concurrent_requests: Option<u32>,
    ) -> Result<HttpCtx, ConfigError> {
        let mut b = HttpCtx::builder().allowed_hosts(allowed_hosts.unwrap_or_default());
        if let Some(n) = max_concurrent_requests {
            b = b.max_concurrent_requests(n);
        }
        b.build()
    }

    /// A builder for every option.
    pub fn builder() -> HttpCtxBuilder {
        HttpCtxBuilder::default()
    }

    /// A new per-store context sharing this one's configuration and connection pool, with no
    /// open responses. Use one per store; connections are reused across all of them.
    pub fn new_sibling(&self) -> HttpCtx {
        HttpCtx::from_shared(self.client.clone(), self.handles.max)
    }

    /// Number of responses open in this store (what the concurrency limit counts).
    pub fn open_responses(&self) -> usize {
        self.handles.len()
    }

    /// A handle that interrupts this store's network activity from any thread: a `req` or
    /// `body_read` blocked on the network returns `interrupted` (36) within 50 ms (name
    /// resolution and, outside Linux, the TCP connect are noticed when they return), and every
    /// later one returns it at once, until [`InterruptHandle::clear`] or
    /// [`HttpCtx::clear_interrupt`]. `close`, `header_get` and `headers_get_all` keep working.
    /// Siblings are not affected. See `abi.md`, "Interrupts and the embedder's deadline".
    ///
    /// ```no_run
    /// # let ctx = wasi_experimental_http_host::HttpCtx::new(None, None)?;
    /// let handle = ctx.interrupt_handle();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_secs(1));
    ///     handle.interrupt(); // the guest's pending HTTP call returns 36
    /// });
    /// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
    /// ```
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.controls.interrupt.clone())
    }

    /// Clears an interrupt: later calls proceed normally. Responses whose body read was
    /// interrupted stay failed.
    pub fn clear_interrupt(&self) {
        self.controls.interrupt.clear();
    }

    /// Caps every network wait of this store, of requests already open too, at `deadline`
    /// (`None` removes the cap); reaching it is `deadline_exceeded` (23). With
    /// `Store::set_epoch_deadline` for guest code, one wall-clock budget covers the whole
    /// invocation (see the README, "Embedding").
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.controls.deadline = deadline;
    }

    /// The cap set by [`HttpCtx::set_deadline`].
    pub fn deadline(&self) -> Option<Instant> {
        self.controls.deadline
    }

    /// Number of idle keep-alive connections in the shared pool.
    pub fn idle_connections(&self) -> usize {
        self.client.pool.idle_count()
    }

    /// Sets a label on this store's audit events (e.g. `tenant`), replacing a label of the same
    /// key; labels keep the order they were first set in. Requests already open keep the
    /// labels they started with. Labels are the embedder's: they are escaped in JSON like
    /// every other string, but not otherwise checked.
    pub fn set_label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        let mut labels: Vec<(String, String)> = self.labels.to_vec();
        match labels.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => labels.push((key, value)),
        }
        self.labels = labels.into();
    }

    /// This store's labels, in order.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// Charges this store's later requests to `quota` as well (in addition to the builder's
    /// quotas and any added before). Add the same `Quota` (or a clone) to several stores to
    /// cap them together. See `abi.md`, "Quotas".
    pub fn add_quota(&mut self, quota: Quota) {
        self.own_quotas.push(quota);
        self.quotas = Quotas::new(&self.client.quotas, &self.own_quotas);
    }

    /// Every quota this store's requests are charged to: the builder's, then this store's own
    /// (the per-context one first).
    pub fn quotas(&self) -> Vec<Quota> {
        self.client
            .quotas
            .iter()
            .chain(&self.own_quotas)
            .cloned()
            .collect()
    }

    /// Audit events the [`on_event`](HttpCtxBuilder::on_event) callback missed because it
    /// panicked, for every context of the builder (an attached
    /// [`audit_log`](HttpCtxBuilder::audit_log) still got them).
    pub fn lost_events(&self) -> u64 {
        self.client.observer.as_ref().map_or(0, |o| o.lost())
    }

    fn from_shared(client: Arc<Client>, max_concurrent: u32) -> HttpCtx {
        // Checked when the builder was built.
        let own_quotas: Vec<Quota> = client
            .per_context_quota
            .map(Quota::valid)
            .into_iter()
            .collect();
        let quotas = Quotas::new(&client.quotas, &own_quotas);
        let denials = Denials::new(client.observer.clone());
        HttpCtx {
            client,
            controls: Controls::default(),
            store_id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            #[cfg(feature = "async")]
            scratch: Vec::new(),
            handles: Handles::new(max_concurrent),
            labels: Labels::from(Vec::new()),
            denials,
            own_quotas,
            quotas,
        }
    }

    /// What a request of this store runs under, for a call beginning now.
    pub(crate) fn call(&self) -> Call {
        Call {
            controls: self.controls.clone(),
            store: self.store_id,
            started: Instant::now(),
            quotas: self.quotas.clone(),
        }
    }

    /// The audit record of a request beginning now, if the builder has an observer.
    pub(crate) fn audit(&self) -> Option<Audit> {
        let observer = self.client.observer.as_ref()?;
        Some(Audit::begin(
            observer,
            &self.labels,
            self.client.audit_query,
            &self.controls,
        ))
    }

    /// Records a refused request's denial (repeats coalesced). `Err` with `interrupted` or
    /// `deadline_exceeded` when this store's controls ended a wait for room in the audit log's
    /// queue: the code `req` then returns.
    pub(crate) fn audit_denial(&mut self, record: Record) -> Result<(), ErrorCode> {
        self.denials.push(record, &self.controls)
    }

    /// Something other than a denial happened in this store (a request admitted, a response
    /// closed): pending repeats of a denial are emitted first, and the next denial is news.
    pub(crate) fn audit_other(&mut self) {
        // The call goes on: a give-up only ends the wait (the event is then queued beyond the
        // bound, or counted as lost), and the call meets the same interrupt or deadline next.
        let _ = self.denials.end_run(&self.controls);
    }

    /// The controls a body read of this store runs under, for a call beginning now (the
    /// store's current interrupt and deadline).
    pub(crate) fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Whether the embedder interrupted this store.
    pub(crate) fn interrupted(&self) -> bool {
        self.controls.interrupt.is_set()
    }

    /// The shared configuration, pool and workers.
    pub(crate) fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The quotas a request of this store is charged to.
    pub(crate) fn request_quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// The open responses by handle.
    pub(crate) fn handles(&self) -> &Handles {
        &self.handles
    }

    /// The open responses by handle, to add, read or close one.
    pub(crate) fn handles_mut(&mut self) -> &mut Handles {
        &mut self.handles
    }

    /// Lends the async body buffer out for a read (give it back with
    /// [`HttpCtx::return_scratch`]).
    #[cfg(feature = "async")]
    pub(crate) fn take_scratch(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.scratch)
    }

    /// Takes the async body buffer back after a read.
    #[cfg(feature = "async")]
    pub(crate) fn return_scratch(&mut self, buf: Vec<u8>) {
        self.scratch = buf;
    }
}

impl Drop for HttpCtx {
    /// Pending repeats of a denial are emitted: no call goes uncounted.
    fn drop(&mut self) {
        let _ = self.denials.flush(&self.controls);
    }
}

/// Interrupts one store's network activity; see [`HttpCtx::interrupt_handle`]. Cheap to clone,
/// `Send + Sync`.
#[derive(Clone, Debug)]
pub struct InterruptHandle(Interrupt);

impl InterruptHandle {
    /// Interrupts: blocked waits end within 50 ms with `interrupted` (36), later calls fail
    /// at once, until cleared.
    pub fn interrupt(&self) {
        self.0.set();
    }

    /// Clears the interrupt.
    pub fn clear(&self) {
        self.0.clear();
    }

    /// Whether the store is interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.0.is_set()
    }
}

/// Builds an [`HttpCtx`]. Every option has a documented default (see [`Limits`],
/// [`Timeouts`], [`PoolConfig`], [`AddressPolicy`]).
///
/// ```no_run
/// use std::time::Duration;
/// use wasi_experimental_http_host::{HttpCtx, Timeouts};
/// let ctx = HttpCtx::builder()
///     .allowed_hosts(["https://*.example.com", "!https://admin.example.com"])
///     .max_concurrent_requests(4)
///     .timeouts(Timeouts { total: Duration::from_secs(10), ..Timeouts::default() })
///     .build()?;
/// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
/// ```
pub struct HttpCtxBuilder {
    allowed_hosts: Vec<String>,
    max_concurrent: u32,
    timeouts: Timeouts,
    limits: Limits,
    roots: Roots,
    address_policy: AddressPolicy,
    resolver: Option<Box<Resolver>>,
    pool: PoolConfig,
    async_workers: usize,
    on_event: Option<Callback>,
    audit_log: Option<LogSender>,
    audit_query: bool,
    quotas: Vec<Quota>,
    per_context_quota: Option<QuotaLimits>,
    injections: Vec<(String, String, Secret)>,
    identities: Vec<(String, Vec<u8>, Secret)>,
    proxy: ProxySettings,
    #[cfg(feature = "fault-injection")]
    panic_at: Option<&'static str>,
}

impl Default for HttpCtxBuilder {
    fn default() -> Self {
        HttpCtxBuilder {
            allowed_hosts: Vec::new(),
            max_concurrent: DEFAULT_MAX_CONCURRENT_REQUESTS,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            roots: Roots::default(),
            address_policy: AddressPolicy::default(),
            resolver: None,
            pool: PoolConfig::default(),
            async_workers: DEFAULT_ASYNC_WORKERS,
            on_event: None,
            audit_log: None,
            audit_query: false,
            quotas: Vec::new(),
            per_context_quota: None,
            injections: Vec::new(),
            identities: Vec::new(),
            proxy: ProxySettings::default(),
            #[cfg(feature = "fault-injection")]
            panic_at: None,
        }
    }
}

impl fmt::Debug for HttpCtxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCtxBuilder")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("max_concurrent", &self.max_concurrent)
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .field("address_policy", &self.address_policy)
            .field("on_event", &self.on_event.is_some())
            .field("audit_log", &self.audit_log.is_some())
            .field("quotas", &self.quotas)
            .field("per_context_quota", &self.per_context_quota)
            // Values and keys are `Secret`s: redacted.
            .field("injected_headers", &self.injections)
            .field(
                "client_certificates",
                &self
                    .identities
                    .iter()
                    .map(|(pattern, _, key)| (pattern, key))
                    .collect::<Vec<_>>(),
            )
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HttpCtxBuilder {
    /// Origins guests may reach (`abi.md`, "Allow-list"); appended to any given before.
    /// Empty (the default) denies everything.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Responses one store may hold open at once. Default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`].
    pub fn max_concurrent_requests(mut self, n: u32) -> Self {
        self.max_concurrent = n;
        self
    }

    /// Time budgets.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Size limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds trusted root certificates from a PEM bundle (one or more `CERTIFICATE` blocks).
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        self.roots.add_pem(pem)?;
        Ok(self)
    }

    /// Trusts only the added roots, not the built-in Mozilla roots (webpki-roots).
    pub fn only_custom_roots(mut self, yes: bool) -> Self {
        self.roots.only_custom = yes;
        self
    }

    /// Which resolved addresses may be connected to. Default [`AddressPolicy::PublicOnly`].
    pub fn address_policy(mut self, policy: AddressPolicy) -> Self {
        self.address_policy = policy;
        self
    }

    /// Replaces name resolution (default: the system resolver through
    /// `std::net::ToSocketAddrs`, whose time is bounded only by the system's resolver
    /// configuration). Useful for a caching resolver, or for tests.
    pub fn resolver(
        mut self,
        f: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Box::new(f));
        self
    }

    /// Keep-alive pool bounds.
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// Most worker threads for the blocking calls of async guests (see
    /// [`add_to_linker_async`](crate::add_to_linker_async)); default
    /// [`DEFAULT_ASYNC_WORKERS`]. Threads start on demand, so a sync embedder never has any.
    pub fn async_workers(mut self, n: usize) -> Self {
        self.async_workers = n;
        self
    }

    /// Calls `f` with an audit [`Event`] for every `req` of every context made from this
    /// builder: `Denied` when refused before anything was sent, `Completed` when the response
    /// ends (see the `audit` module and `abi.md`, "Audit events"); identical denials of a
    /// store in a row are one `Denied` event with their [`count`](crate::Denied::count).
    /// [`Event::to_json`] gives the CLI's JSON Lines record.
    ///
    /// `f` runs on the thread of the call it reports (for async guests, sometimes a worker
    /// thread), with no host lock held, before the call returns to the guest: a slow observer
    /// delays that guest's call and no other. A panic in `f` is caught and logged; `f` misses
    /// the event ([`HttpCtx::lost_events`] counts them; an attached
    /// [`audit_log`](HttpCtxBuilder::audit_log) still gets it) and the request carries on as
    /// if `f` had returned. For heavy work, send the event to a channel.
    ///
    /// ```
    /// use wasi_experimental_http_host::HttpCtx;
    /// let ctx = HttpCtx::builder()
    ///     .allowed_hosts(["https://api.example.com"])
    ///     .on_event(|event| eprintln!("{}", event.to_json()))
    ///     .build()?;
    /// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
    /// ```
    pub fn on_event(mut self, f: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }

    /// Writes every audit [`Event`] of every context made from this builder to `log`, one
    /// JSON line each: the CLI's `--audit-log`. Unlike
    /// [`on_event(log.observer())`](JsonLinesLog::observer), nothing is copied or formatted on
    /// the guest's thread: the request's record moves to the log's writer thread, which
    /// formats it. Works alongside [`HttpCtxBuilder::on_event`] (the callback sees each event
    /// first).
    ///
    /// The log's queue is bounded (see [`JsonLinesLog`]): if its sink stays slower than the
    /// requests, a call that ends a request waits for room, until the store's interrupt or
    /// deadline ends the wait (`req` then returns `interrupted` or `deadline_exceeded`; the
    /// event is kept, `abi.md`, "Audit events"). Point the log at a local file or pipe that
    /// keeps up.
    ///
    /// ```no_run
    /// use wasi_experimental_http_host::{HttpCtx, JsonLinesLog};
    /// let log = JsonLinesLog::new(std::io::stderr())?;
    /// let ctx = HttpCtx::builder().audit_log(&log).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit_log(mut self, log: &JsonLinesLog) -> Self {
        self.audit_log = Some(log.sender());
        self
    }

    /// Whether audit events show URL query strings (default `false`: queries often carry
    /// tokens, so events show the path alone).
    pub fn audit_query(mut self, yes: bool) -> Self {
        self.audit_query = yes;
        self
    }

    /// Charges every context made from this builder (siblings included) to `quota`, one set
    /// of counters for all of them. Repeatable. See [`Quota`] and `abi.md`, "Quotas".
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quotas.push(quota);
        self
    }

    /// Gives each context made from this builder (each sibling too) a quota of its own with
    /// these limits.
    pub fn quota_per_context(mut self, limits: QuotaLimits) -> Self {
        self.per_context_quota = Some(limits);
        self
    }

    /// Adds the header field `name: value` to every request the allow-list admitted for an
    /// origin matching `pattern` (the allow-list's syntax: `https://api.example.com`,
    /// `https://*.example.com:8443`), so that the guest never holds the credential
    /// (`abi.md`, "Injected headers"). For a matching origin the guest cannot send `name`
    /// itself, in any case or `_` spelling (`forbidden_header`, 34); other origins never see
    /// it. The value is wiped from memory when the context's last sibling is dropped, and is
    /// never in `Debug` output, error strings, logs or audit events. Checked by
    /// [`HttpCtxBuilder::build`]: the pattern, a token name that is not a header the host owns
    /// (`Host`, `Content-Length`, hop-by-hop, `Proxy-*`), a value without control characters
    /// or edge whitespace. Repeatable; several fields for one origin are sent in the order
    /// given.
    ///
    /// ```
    /// use wasi_experimental_http_host::HttpCtx;
    /// let token = std::env::var("API_TOKEN").unwrap_or_default();
    /// let ctx = HttpCtx::builder()
    ///     .allowed_hosts(["https://api.example.com"])
    ///     .inject_header("https://api.example.com", "authorization", format!("Bearer {token}"))
    ///     .build();
    /// ```
    pub fn inject_header(
        mut self,
        pattern: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> Self {
        self.injections
            .push((pattern.into(), name.into(), Secret::new(value.into())));
        self
    }

    /// Presents the client certificate `cert_chain_pem` (leaf first) with its private key
    /// `key_pem` (PKCS#8, PKCS#1 or SEC1) when an `https` origin matching `pattern` (the
    /// allow-list's syntax) asks for one (mutual TLS), and to no other origin. The first
    /// matching pattern wins. The key's PEM copy is wiped from memory when dropped. Checked by
    /// [`HttpCtxBuilder::build`].
    pub fn client_certificate(
        mut self,
        pattern: impl Into<String>,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.identities.push((
            pattern.into(),
            cert_chain_pem.into(),
            Secret::new(key_pem.into()),
        ));
        self
    }

    // --- The egress proxy (`abi.md`, "Egress proxy") ---

    /// Sends every request, `http` and `https`, through the HTTP proxy at `url`:
    /// `http://[user[:password]@]host:port` (the port is required; user and password
    /// percent-encoded; an `https://` proxy URL, TLS to the proxy itself, is refused at
    /// [`build`](HttpCtxBuilder::build)). `https` targets go through a `CONNECT` tunnel with
    /// TLS end to end to the origin; `http` targets are sent to the proxy in absolute-form.
    /// Credentials become `Proxy-Authorization: Basic` on every request to the proxy; they are
    /// zeroed when the context is dropped and never shown in `Debug`, errors, logs or audit
    /// events. The allow-list still decides on the target, before the proxy hears of it.
    ///
    /// The proxy's own address is subject to the [`AddressPolicy`]: a proxy named by an IP
    /// literal (or `localhost`) may have that (loopback) address; a proxy named otherwise
    /// needs [`proxy_allow_internal`](HttpCtxBuilder::proxy_allow_internal) to resolve to a
    /// non-public one.
    ///
    /// ```
    /// use wasi_experimental_http_host::HttpCtx;
    /// let ctx = HttpCtx::builder()
    ///     .allowed_hosts(["https://api.example.com"])
    ///     .proxy("http://egress:secret@proxy.corp.example:3128")
    ///     .proxy_allow_internal(true)
    ///     .no_proxy(["corp.example", "10.0.0.0/8"])
    ///     .build()?;
    /// # Ok::<(), wasi_experimental_http_host::ConfigError>(())
    /// ```
    pub fn proxy(self, url: impl Into<String>) -> Self {
        let url = zeroize::Zeroizing::new(url.into());
        self.http_proxy(url.as_str()).https_proxy(url.as_str())
    }

    /// Like [`proxy`](HttpCtxBuilder::proxy), for `http` targets only (replacing an earlier
    /// setting for them).
    pub fn http_proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy.http = Some(zeroize::Zeroizing::new(url.into()));
        self
    }

    /// Like [`proxy`](HttpCtxBuilder::proxy), for `https` targets only (replacing an earlier
    /// setting for them).
    pub fn https_proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy.https = Some(zeroize::Zeroizing::new(url.into()));
        self
    }

    /// Targets that bypass the proxy and are connected to directly, with curl's `NO_PROXY`
    /// rules, matched on the URL's host (never on what it resolves to; schemes and ports play
    /// no part); appended to any given before:
    /// - `*`: every target;
    /// - a name, `example.com`: that name and every name below it (`a.example.com`, not
    ///   `notexample.com`); a leading `.` or `*.` changes nothing;
    /// - an IP address, `10.0.0.1` or `::1` (brackets optional), or a range in CIDR notation,
    ///   `10.0.0.0/8`: URLs whose host is an IP literal in it.
    ///
    /// An entry is taken as is (no whitespace, no port, no scheme); a malformed one is a
    /// [`ConfigError`] at [`build`](HttpCtxBuilder::build), as is a no-proxy list without a
    /// proxy.
    pub fn no_proxy<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.proxy
            .no_proxy
            .extend(entries.into_iter().map(Into::into));
        self
    }

    /// Lets the proxy's name resolve to a loopback, private or otherwise non-public address
    /// (default `false`; a proxy URL naming its IP address literally needs no opt-in). Opens
    /// nothing for the targets.
    pub fn proxy_allow_internal(mut self, yes: bool) -> Self {
        self.proxy.allow_internal = yes;
        self
    }

    /// Makes the host panic at `point` (`"prepare"`: in every `req`; `"body_read"`: in every
    /// body read), to test the panic guard. Feature `fault-injection`; never for production.
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn inject_panic(mut self, point: &'static str) -> Self {
        self.panic_at = Some(point);
        self
    }

    /// Checks the configuration and builds the context: each setting checks itself (in this
    /// order, the first error returned), and the context is assembled from them.
    pub fn build(self) -> Result<HttpCtx, ConfigError> {
        let allow_list = AllowList::parse(&self.allowed_hosts)?;
        #[cfg_attr(
            not(feature = "async"),
            allow(unused_variables, reason = "sizes the async entry points' pool")
        )]
        let async_workers = config::check_async_workers(self.async_workers)?;
        self.roots.check()?;
        self.timeouts.check()?;
        let per_context_quota = self
            .per_context_quota
            .map(QuotaLimits::checked)
            .transpose()?;
        let injections = Injections::parse(self.injections)?;
        let identities = self.roots.identities(
            self.identities
                .iter()
                .map(|(pattern, chain, key)| (pattern.as_str(), chain.as_slice(), key.expose())),
        )?;
        let dialer = Dialer {
            resolver: self
                .resolver
                .unwrap_or_else(|| Box::new(transport::system_resolver)),
            address_policy: self.address_policy,
            tls: self.roots.client_config(None)?,
            identities,
            connect_timeout: self.timeouts.connect,
            proxies: self.proxy.build(&self.limits)?,
        };
        let client = Client {
            allow_list,
            timeouts: self.timeouts,
            limits: self.limits,
            dialer,
            pool: Pool::new(self.pool),
            injections,
            observer: Observer::new(self.on_event, self.audit_log).map(Arc::new),
            audit_query: self.audit_query,
            quotas: self.quotas,
            per_context_quota,
            #[cfg(feature = "fault-injection")]
            panic_at: self.panic_at,
            #[cfg(feature = "async")]
            workers: Workers::new(async_workers),
        };
        Ok(HttpCtx::from_shared(Arc::new(client), self.max_concurrent))
    }
}
