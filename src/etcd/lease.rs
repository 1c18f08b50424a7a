//! etcd's Lease service. Keepalives come as a stream, one renewal per message, each answered in
//! turn; a lease that is gone is answered with TTL 0 rather than an error (clients read it as
//! "expired"), as etcd does.

use futures::StreamExt;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::header;
use super::error::status;
use super::EtcdService;
use crate::kv::Kv;
use crate::pb::etcd::etcdserverpb::{self as etcd, lease_server};

type Reply<T> = Result<Response<T>, Status>;

/// etcd grants at least its minimum TTL instead of refusing a shorter one; Forest's clocks
/// need no more than a second (a new leader restarts every lease's clock).
const MIN_TTL: i64 = 1;

#[tonic::async_trait]
impl lease_server::Lease for EtcdService {
    async fn lease_grant(
        &self,
        req: Request<etcd::LeaseGrantRequest>,
    ) -> Reply<etcd::LeaseGrantResponse> {
        let r = req.into_inner();
        let resp = self.kv.lease_grant(r.ttl.max(MIN_TTL), r.id).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn lease_revoke(
        &self,
        req: Request<etcd::LeaseRevokeRequest>,
    ) -> Reply<etcd::LeaseRevokeResponse> {
        let resp = self.kv.lease_revoke(req.into_inner().id).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<etcd::LeaseKeepAliveRequest>>,
    ) -> Reply<BoxStream<etcd::LeaseKeepAliveResponse>> {
        let kv = self.kv.clone();
        // The first error ends the stream (tonic sends it as the stream's status).
        let answers = req.into_inner().then(move |msg| {
            let kv = kv.clone();
            async move { renew(&kv, msg?.id).await }
        });
        Ok(Response::new(Box::pin(answers)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<etcd::LeaseTimeToLiveRequest>,
    ) -> Reply<etcd::LeaseTimeToLiveResponse> {
        let resp = self.kv.lease_time_to_live(req.into_inner().into()).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn lease_leases(
        &self,
        _: Request<etcd::LeaseLeasesRequest>,
    ) -> Reply<etcd::LeaseLeasesResponse> {
        let (h, ids) = self.kv.lease_ids().await.map_err(status)?;
        Ok(Response::new(etcd::LeaseLeasesResponse {
            header: header(h),
            leases: ids.into_iter().map(|id| etcd::LeaseStatus { id }).collect(),
        }))
    }
}

async fn renew(kv: &Kv, id: i64) -> Result<etcd::LeaseKeepAliveResponse, Status> {
    match kv.lease_keep_alive(id).await {
        Ok(resp) => Ok(resp.into()),
        Err(e) if e.is_not_found() => {
            tracing::debug!(lease = id, "etcd keepalive of a lease that is gone");
            Ok(etcd::LeaseKeepAliveResponse {
                header: header(kv.header_now().await),
                id,
                ttl: 0,
            })
        }
        Err(e) => Err(status(e)),
    }
}
