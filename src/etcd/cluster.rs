//! etcd's Cluster service: MemberList, from Raft's membership. Peer URLs are the members' Raft
//! addresses; client URLs are the etcd endpoints each member advertises under
//! `/forest/server/etcd/<name>`, so clients that sync their endpoint list from the cluster
//! (clientv3's auto-sync) find every node. Membership changes go through Forest's own API.

use std::collections::{BTreeSet, HashMap};

use tonic::{Request, Response, Status};

use super::convert::header;
use super::error::status;
use super::EtcdService;
use crate::kv::ops;
use crate::model::keys;
use crate::pb::etcd::etcdserverpb::{self as etcd, cluster_server};

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl cluster_server::Cluster for EtcdService {
    async fn member_list(
        &self,
        req: Request<etcd::MemberListRequest>,
    ) -> Reply<etcd::MemberListResponse> {
        let mut urls = self.client_urls(req.into_inner().linearizable).await?;
        let cluster = self.kv.cluster();
        urls.insert(cluster.name().to_string(), self.config.client_url.clone());
        let metrics = cluster.metrics();
        let membership = metrics.membership_config.membership();
        let learners: BTreeSet<u64> = membership.learner_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| etcd::Member {
                id: *id,
                name: node.name.clone(),
                peer_ur_ls: vec![format!("http://{}", node.addr)],
                client_ur_ls: urls.get(&node.name).cloned().into_iter().collect(),
                is_learner: learners.contains(id),
            })
            .collect();
        // etcd's MemberList header names no revision.
        Ok(Response::new(etcd::MemberListResponse {
            header: header(self.kv.header(0)),
            members,
        }))
    }
}

impl EtcdService {
    /// Node name → etcd client URL, as the nodes advertise them.
    async fn client_urls(&self, linearizable: bool) -> Result<HashMap<String, String>, Status> {
        let range = crate::pb::kv::RangeRequest {
            serializable: !linearizable,
            ..ops::prefix_range(keys::ETCD_PREFIX)
        };
        let found = self.kv.range(range).await.map_err(status)?;
        Ok(found
            .kvs
            .into_iter()
            .filter_map(|kv| {
                let name = kv.key.strip_prefix(keys::ETCD_PREFIX.as_bytes())?;
                Some((
                    String::from_utf8(name.to_vec()).ok()?,
                    String::from_utf8(kv.value).ok()?,
                ))
            })
            .collect())
    }
}
