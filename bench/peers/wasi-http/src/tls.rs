//! An HTTPS sender trusting a given CA.
//!
//! wasmtime-wasi-http 48 has no option for extra roots: its `default_send_request` builds a
//! rustls config from the webpki roots for every request. [`CaSender::send_request`] does what
//! that function does, step for step and with the same timeouts, except that the root store
//! holds the given CA. Like the default, it builds a fresh `ClientConfig` (so a fresh TLS session
//! cache) and opens a new connection for every request: there is no session resumption and no
//! connection reuse, as with the stock sender.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::Incoming;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The default sender's timeout when the guest sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What the sender's future resolves to: the response and the connection's remaining I/O.
type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

/// Sends HTTPS requests trusting the CA certificates of a PEM file.
pub(crate) struct CaSender {
    roots: Arc<Vec<CertificateDer<'static>>>,
}

impl CaSender {
    /// Reads the CA certificates from `path`.
    pub(crate) fn from_pem_file(path: &str) -> Result<CaSender, String> {
        let roots = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("reading CA file {path}: {e}"))?;
        if roots.is_empty() {
            return Err(format!("no certificate in CA file {path}"));
        }
        Ok(CaSender {
            roots: Arc::new(roots),
        })
    }

    /// A client config trusting only the CA, built as the default sender builds its own.
    fn config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut store = rustls::RootCertStore::empty();
        for cert in self.roots.iter() {
            store
                .add(cert.clone())
                .map_err(|e| Error::Tls(std::io::Error::other(e)))?;
        }
        Ok(rustls::ClientConfig::builder()
            .with_root_certificates(store)
            .with_no_client_auth())
    }

    /// The `WasiHttpHooks::send_request` of this sender.
    pub(crate) fn send_request(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let config = self.config();
        Box::new(async move {
            let (response, io) = send(config?, request, options).await?;
            Ok((
                response.map(http_body_util::BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

/// One request on a new TLS connection.
async fn send(
    config: rustls::ClientConfig,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<TimedBody>,
        impl Future<Output = Result<(), Error>> + Send,
    ),
    Error,
> {
    let uri = request.uri();
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    if uri.scheme() != Some(&http::uri::Scheme::HTTPS) {
        return Err(Error::HttpProtocolError);
    }
    let authority = match authority.port() {
        Some(_) => authority.to_string(),
        None => format!("{authority}:443"),
    };
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let between_bytes_timeout = options
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
        .max(Duration::from_nanos(1));

    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(&authority))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = connector
        .connect(server_name(&authority)?, tcp)
        .await
        .map_err(Error::Tls)?;
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // Origin form on the wire: the request carries scheme and authority until here.
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    let response = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut timeout = tokio::time::interval(between_bytes_timeout);
        timeout.reset();
        Ok::<_, Error>(response.map(|incoming| TimedBody { incoming, timeout }))
    };
    // Drive the connection while waiting for the response head; what remains of the
    // connection's I/O is returned for the caller to run.
    let mut response = pin!(response);
    let mut conn = Some(conn);
    let response = poll_fn(|cx| {
        if let Poll::Ready(r) = response.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        let Some(c) = conn.as_mut() else {
            return Poll::Pending;
        };
        let done = ready!(Pin::new(c).poll(cx));
        conn = None;
        match done {
            Ok(()) => response.as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(Error::from(e))),
        }
    })
    .await?;
    Ok((response, async move {
        match conn {
            None => Ok(()),
            Some(c) => c.await.map_err(|e| {
                if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::from(e)
                }
            }),
        }
    }))
}

/// The rustls name to verify: an IP address or the host part of `host:port`.
fn server_name(authority: &str) -> Result<ServerName<'static>, Error> {
    if let Ok(addr) = authority.parse::<std::net::SocketAddr>() {
        return Ok(ServerName::from(addr.ip()));
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    Ok(ServerName::try_from(host)?.to_owned())
}

/// A response body failing when no frame arrives within the between-bytes timeout, as the
/// default sender's is.
pub(crate) struct TimedBody {
    incoming: Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}
