//! The gRPC side of authentication: one tower layer in front of every service on the gRPC
//! listener, deciding by the method's path who may call it.
//!
//! - Raft and forwarded writes (`forest.raft.v1.Raft`) only from peers: with a cluster secret
//!   each request must carry it in [`PEER_HEADER`]; a stranger cannot vote, append or join.
//! - Workers (`forest.v1.WorkerService`) need a worker (or admin) token; the stream then
//!   checks the group the worker names against the token's groups ([`Principal`] rides in the
//!   request's extensions).
//! - The KV, job and history APIs need a token with the role the method calls for; the raw KV
//!   spans every group, so a group-scoped token is refused there. `forest.kv.v1.Cluster` also
//!   answers peers, which ask each other for their state.
//!
//! Without `--auth` tokens are not asked for (the node is on loopback, or `--insecure`), and
//! without a cluster secret the Raft service trusts its callers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use subtle::ConstantTimeEq;
use tonic::Status;

use super::tokens::Tokens;
use super::{AuthError, Need, Principal, Role, Secret};

/// The request header a peer puts its cluster secret in.
pub const PEER_HEADER: &str = "x-forest-peer";

/// Who may call what on the gRPC listener.
#[derive(Clone, Default)]
pub struct GrpcAuth {
    pub tokens: Option<Tokens>,
    pub peer_secret: Option<Secret>,
}

/// What a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Peer,
    Worker,
    Api(Need),
    PeerOrApi(Need),
}

fn gate(path: &str) -> Gate {
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""));
    match service {
        "forest.raft.v1.Raft" => Gate::Peer,
        "forest.v1.WorkerService" => Gate::Worker,
        "forest.kv.v1.Cluster" => Gate::PeerOrApi(Need::Read),
        "forest.kv.v1.Kv" if method == "Range" => Gate::Api(Need::Read),
        "forest.kv.v1.Watch" | "forest.v1.History" => Gate::Api(Need::Read),
        "forest.v1.Jobs" => Gate::Api(match method {
            "ListGroups" | "ListJobs" | "GetJob" | "NextFireTimes" => Need::Read,
            "PauseJob" | "ResumeJob" | "RunJob" => Need::Operate,
            _ => Need::Admin,
        }),
        _ => Gate::Api(Need::Admin),
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn denied(e: AuthError) -> Status {
    match e {
        AuthError::Missing | AuthError::Invalid => Status::unauthenticated(e.to_string()),
        AuthError::Kv(e) => e.into(),
        other => Status::permission_denied(other.to_string()),
    }
}

impl GrpcAuth {
    fn is_peer(&self, headers: &http::HeaderMap) -> bool {
        let Some(secret) = &self.peer_secret else {
            return true;
        };
        headers
            .get(PEER_HEADER)
            .is_some_and(|v| v.as_bytes().ct_eq(secret.expose().as_bytes()).into())
    }

    /// The caller of `path`, or why it may not call it.
    async fn check(&self, path: &str, headers: &http::HeaderMap) -> Result<Principal, Status> {
        let need = match gate(path) {
            Gate::Peer if self.is_peer(headers) => return Ok(Principal::local()),
            Gate::Peer => {
                return Err(Status::unauthenticated(
                    "not a member of this cluster (wrong or missing cluster secret)",
                ))
            }
            Gate::PeerOrApi(_) if self.peer_secret.is_some() && self.is_peer(headers) => {
                return Ok(Principal::local())
            }
            Gate::PeerOrApi(need) | Gate::Api(need) => Some(need),
            Gate::Worker => None,
        };
        let Some(tokens) = &self.tokens else {
            return Ok(Principal::local());
        };
        let token = bearer(headers).ok_or_else(|| denied(AuthError::Missing))?;
        let who = match tokens.verify(token).await {
            Ok(p) => p,
            Err(e) => {
                metrics::counter!(crate::http::auth::AUTH_FAILURES).increment(1);
                tokio::time::sleep(crate::http::auth::FAILURE_DELAY).await;
                return Err(denied(e));
            }
        };
        match need {
            None if who.role == Role::Worker || who.role == Role::Admin => Ok(who),
            None => Err(denied(AuthError::Forbidden {
                role: who.role,
                need: Need::Admin,
            })),
            Some(need) if !who.role.allows(need) => Err(denied(AuthError::Forbidden {
                role: who.role,
                need,
            })),
            Some(_) if who.is_scoped() => Err(Status::permission_denied(
                "a token limited to some groups may use the HTTP API and the worker stream only",
            )),
            Some(_) => Ok(who),
        }
    }
}

/// The tower layer: `Server::builder().layer(GrpcAuthLayer(auth))`.
#[derive(Clone)]
pub struct GrpcAuthLayer(pub GrpcAuth);

impl<S> tower::Layer<S> for GrpcAuthLayer {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            auth: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    auth: GrpcAuth,
}

impl<S, B> tower::Service<http::Request<B>> for Gated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The ready service goes with this call; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match auth.check(req.uri().path(), req.headers()).await {
                Ok(who) => {
                    req.extensions_mut().insert(who);
                    inner.call(req).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_is_gated_by_what_it_touches() {
        assert_eq!(gate("/forest.raft.v1.Raft/Call"), Gate::Peer);
        assert_eq!(gate("/forest.v1.WorkerService/Connect"), Gate::Worker);
        assert_eq!(gate("/forest.kv.v1.Kv/Range"), Gate::Api(Need::Read));
        assert_eq!(gate("/forest.kv.v1.Kv/Put"), Gate::Api(Need::Admin));
        assert_eq!(gate("/forest.v1.Jobs/RunJob"), Gate::Api(Need::Operate));
        assert_eq!(gate("/forest.v1.Jobs/AddJob"), Gate::Api(Need::Admin));
        assert_eq!(
            gate("/forest.kv.v1.Cluster/Member"),
            Gate::PeerOrApi(Need::Read)
        );
        assert_eq!(gate("/grpc.reflection/Anything"), Gate::Api(Need::Admin));
    }
}
