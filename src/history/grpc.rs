//! The `forest.v1.History` gRPC service: queries on this node's history store.

use forest_storage::history::{History, HistoryError, Query};
use tonic::{Request, Response, Status};

use super::record;
use crate::pb::forest::{self as pb, history_server};

/// Largest page a client may ask for.
const MAX_PAGE: u64 = 1000;

pub struct HistoryService {
    store: History,
}

impl HistoryService {
    pub fn new(store: History) -> Self {
        HistoryService { store }
    }
}

fn failed(e: HistoryError) -> Status {
    Status::unavailable(format!("history store: {e}"))
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[tonic::async_trait]
impl history_server::History for HistoryService {
    async fn list_runs(&self, req: Request<pb::RunQuery>) -> Result<Response<pb::RunPage>, Status> {
        let q = req.into_inner();
        if q.limit > MAX_PAGE {
            return Err(Status::invalid_argument(format!(
                "limit {} is over {MAX_PAGE}",
                q.limit
            )));
        }
        let query = Query {
            job_id: some(q.job_id),
            name: some(q.name),
            group: some(q.group),
            worker: some(q.worker),
            ip: None,
            status: q.has_status.then_some(q.status),
            from_ms: (q.from_ms != 0).then_some(q.from_ms),
            to_ms: (q.to_ms != 0).then_some(q.to_ms),
            offset: q.offset,
            limit: q.limit,
        };
        let page = self.store.list(&query).await.map_err(failed)?;
        Ok(Response::new(pb::RunPage {
            total: page.total,
            total_capped: page.total_capped,
            runs: page.records.iter().map(record::to_json).collect(),
        }))
    }

    async fn get_run(&self, req: Request<pb::RunId>) -> Result<Response<pb::RunJson>, Status> {
        let id = req.into_inner().id;
        match self.store.get(&id).await.map_err(failed)? {
            Some(r) => Ok(Response::new(pb::RunJson {
                json: record::to_json(&r),
            })),
            None => Err(Status::not_found(format!("run {id} not found"))),
        }
    }

    async fn job_stats(
        &self,
        req: Request<pb::JobStatsRequest>,
    ) -> Result<Response<pb::JobStatsJson>, Status> {
        let s = self
            .store
            .stats(&req.into_inner().job_id)
            .await
            .map_err(failed)?;
        Ok(Response::new(pb::JobStatsJson {
            json: record::stats_json(&s),
        }))
    }
}
