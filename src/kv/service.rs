//! The public gRPC face of [`Kv`]: the `forest.kv.v1` Kv, Lease, Watch and Cluster services.

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::Kv;
use crate::pb::kv::{
    self as pb, cluster_client::ClusterClient, cluster_server, kv_server, lease_server,
    watch_server,
};

/// The largest request a client may send: a maximal key and value with room to spare.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

type Reply<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct KvService {
    kv: Kv,
}

impl KvService {
    pub fn new(kv: Kv) -> Self {
        KvService { kv }
    }

    /// The four services, ready to add to a tonic router.
    pub fn routes(self) -> tonic::service::Routes {
        tonic::service::Routes::new(
            kv_server::KvServer::new(self.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(lease_server::LeaseServer::new(self.clone()))
        .add_service(watch_server::WatchServer::new(self.clone()))
        .add_service(cluster_server::ClusterServer::new(self))
    }

    /// Every member as it describes itself (asked over the network, one second each), or as
    /// unreachable; the leader this node knows of.
    pub async fn cluster_status(&self) -> pb::StatusResponse {
        let cluster = self.kv.cluster();
        let metrics = cluster.metrics();
        let mut members = Vec::new();
        for (id, node) in metrics.membership_config.membership().nodes() {
            if *id == cluster.id() {
                members.push(self.member().await);
                continue;
            }
            let asked = async {
                let channel = cluster
                    .peers()
                    .channel(&node.addr)
                    .map_err(|e| e.to_string())?;
                let req = cluster
                    .peers()
                    .request(pb::StatusRequest {}, Duration::from_secs(1));
                ClusterClient::new(channel)
                    .member(req)
                    .await
                    .map_err(|s| s.message().to_string())
            };
            members.push(match asked.await {
                Ok(m) => m.into_inner(),
                Err(error) => pb::Member {
                    id: *id,
                    name: node.name.clone(),
                    addr: node.addr.clone(),
                    role: "unreachable".into(),
                    error,
                    ..Default::default()
                },
            });
        }
        pb::StatusResponse {
            leader_id: metrics.current_leader.unwrap_or(0),
            members,
        }
    }

    async fn member(&self) -> pb::Member {
        let cluster = self.kv.cluster();
        let m = cluster.metrics();
        let role = match m.state {
            openraft::ServerState::Leader => "leader",
            openraft::ServerState::Follower => "follower",
            openraft::ServerState::Candidate => "candidate",
            openraft::ServerState::Learner => "learner",
            openraft::ServerState::Shutdown => "shutdown",
        };
        let addr = m
            .membership_config
            .membership()
            .get_node(&cluster.id())
            .map(|n| n.addr.clone())
            .unwrap_or_default();
        pb::Member {
            id: cluster.id(),
            name: cluster.name().to_string(),
            addr,
            role: role.to_string(),
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map_or(0, |l| l.index),
            revision: cluster.state().applied().await.revision,
            error: String::new(),
        }
    }
}

#[tonic::async_trait]
impl kv_server::Kv for KvService {
    async fn range(&self, req: Request<pb::RangeRequest>) -> Reply<pb::RangeResponse> {
        Ok(Response::new(self.kv.range(req.into_inner()).await?))
    }

    async fn put(&self, req: Request<pb::PutRequest>) -> Reply<pb::PutResponse> {
        Ok(Response::new(self.kv.put(req.into_inner()).await?))
    }

    async fn delete_range(
        &self,
        req: Request<pb::DeleteRangeRequest>,
    ) -> Reply<pb::DeleteRangeResponse> {
        Ok(Response::new(self.kv.delete(req.into_inner()).await?))
    }

    async fn txn(&self, req: Request<pb::TxnRequest>) -> Reply<pb::TxnResponse> {
        Ok(Response::new(self.kv.txn(req.into_inner()).await?))
    }

    async fn compact(&self, req: Request<pb::CompactionRequest>) -> Reply<pb::CompactionResponse> {
        Ok(Response::new(
            self.kv.compact(req.into_inner().revision).await?,
        ))
    }
}

#[tonic::async_trait]
impl lease_server::Lease for KvService {
    async fn lease_grant(
        &self,
        req: Request<pb::LeaseGrantRequest>,
    ) -> Reply<pb::LeaseGrantResponse> {
        let r = req.into_inner();
        Ok(Response::new(self.kv.lease_grant(r.ttl, r.id).await?))
    }

    async fn lease_revoke(
        &self,
        req: Request<pb::LeaseRevokeRequest>,
    ) -> Reply<pb::LeaseRevokeResponse> {
        Ok(Response::new(
            self.kv.lease_revoke(req.into_inner().id).await?,
        ))
    }

    async fn lease_keep_alive(
        &self,
        req: Request<pb::LeaseKeepAliveRequest>,
    ) -> Reply<pb::LeaseKeepAliveResponse> {
        Ok(Response::new(
            self.kv.lease_keep_alive(req.into_inner().id).await?,
        ))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Reply<pb::LeaseTimeToLiveResponse> {
        Ok(Response::new(
            self.kv.lease_time_to_live(req.into_inner()).await?,
        ))
    }
}

#[tonic::async_trait]
impl watch_server::Watch for KvService {
    type WatchStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Reply<Self::WatchStream> {
        use futures::StreamExt;
        let stream = self.kv.watch(req.into_inner())?;
        Ok(Response::new(Box::pin(
            stream.map(|r| r.map_err(Status::from)),
        )))
    }
}

#[tonic::async_trait]
impl cluster_server::Cluster for KvService {
    async fn member(&self, _: Request<pb::StatusRequest>) -> Reply<pb::Member> {
        Ok(Response::new(self.member().await))
    }

    async fn status(&self, _: Request<pb::StatusRequest>) -> Reply<pb::StatusResponse> {
        Ok(Response::new(self.cluster_status().await))
    }
}
