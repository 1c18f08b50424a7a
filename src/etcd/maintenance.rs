//! etcd's Maintenance service: Status (what `etcdctl endpoint status` shows, and what clients
//! that check the server's version read) and the alarm list (`etcdctl endpoint health` and
//! `alarm list` read it; Forest raises no alarms).

use openraft::ServerState;
use tonic::{Request, Response, Status};

use super::convert::header;
use super::error::{status, NO_LEADER};
use super::{EtcdService, VERSION};
use crate::pb::etcd::etcdserverpb::{self as etcd, alarm_request::AlarmAction, maintenance_server};

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl maintenance_server::Maintenance for EtcdService {
    async fn status(&self, _: Request<etcd::StatusRequest>) -> Reply<etcd::StatusResponse> {
        let metrics = self.kv.cluster().metrics();
        let db_size = self.kv.size_on_disk().map_err(status)? as i64;
        let errors = match metrics.current_leader {
            Some(_) => Vec::new(),
            None => vec![NO_LEADER.to_string()],
        };
        Ok(Response::new(etcd::StatusResponse {
            header: header(self.kv.header_now().await),
            version: VERSION.to_string(),
            db_size,
            leader: metrics.current_leader.unwrap_or(0),
            raft_index: metrics.last_log_index.unwrap_or(0),
            raft_term: metrics.current_term,
            raft_applied_index: metrics.last_applied.map_or(0, |l| l.index),
            errors,
            db_size_in_use: db_size,
            is_learner: metrics.state == ServerState::Learner,
        }))
    }

    async fn alarm(&self, req: Request<etcd::AlarmRequest>) -> Reply<etcd::AlarmResponse> {
        match AlarmAction::try_from(req.into_inner().action) {
            Ok(AlarmAction::Get) => Ok(Response::new(etcd::AlarmResponse {
                header: header(self.kv.header_now().await),
                alarms: Vec::new(),
            })),
            _ => Err(Status::unimplemented(
                "Forest raises no alarms: there are none to set or clear",
            )),
        }
    }
}
