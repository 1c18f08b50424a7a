//! The `forest.v1.Jobs` gRPC service over [`Jobs`].

use tonic::{Request, Response, Status};

use super::{JobError, Jobs};
use crate::model::{GroupConf, JobConf, WireJson};
use crate::pb::forest::{self as pb, jobs_server};

impl From<JobError> for Status {
    fn from(e: JobError) -> Status {
        let msg = e.to_string();
        match e {
            JobError::Invalid(_) | JobError::UnknownGroup(_) => Status::invalid_argument(msg),
            JobError::NotFound(_) | JobError::SnapshotNotFound { .. } => Status::not_found(msg),
            JobError::Exists(_) => Status::already_exists(msg),
            JobError::Conflict { .. } => Status::failed_precondition(msg),
            JobError::Kv(e) => e.into(),
        }
    }
}

fn parse<T: WireJson>(json: &str, what: &str) -> Result<T, Status> {
    T::from_json(json.as_bytes())
        .map_err(|e| Status::invalid_argument(format!("{what} is not valid JSON: {e}")))
}

type Reply<T> = Result<Response<T>, Status>;

fn job(conf: JobConf) -> Response<pb::JobJson> {
    Response::new(pb::JobJson {
        json: conf.to_json(),
    })
}

#[tonic::async_trait]
impl jobs_server::Jobs for Jobs {
    async fn add_group(&self, req: Request<pb::GroupJson>) -> Reply<pb::GroupJson> {
        let g: GroupConf = parse(&req.get_ref().json, "the group")?;
        Ok(Response::new(pb::GroupJson {
            json: self.add_group(g).await?.to_json(),
        }))
    }

    async fn list_groups(&self, _: Request<pb::ListGroupsRequest>) -> Reply<pb::GroupList> {
        let groups = self.groups().await?.iter().map(WireJson::to_json).collect();
        Ok(Response::new(pb::GroupList { groups }))
    }

    async fn add_job(&self, req: Request<pb::JobJson>) -> Reply<pb::JobJson> {
        Ok(job(self
            .add(parse(&req.get_ref().json, "the job")?)
            .await?))
    }

    async fn edit_job(&self, req: Request<pb::JobJson>) -> Reply<pb::JobJson> {
        Ok(job(self
            .edit(parse(&req.get_ref().json, "the job")?)
            .await?))
    }

    async fn get_job(&self, req: Request<pb::JobId>) -> Reply<pb::JobJson> {
        Ok(job(self.get(&req.get_ref().id).await?))
    }

    async fn list_jobs(&self, req: Request<pb::ListJobsRequest>) -> Reply<pb::JobList> {
        let group = Some(req.get_ref().group.as_str()).filter(|g| !g.is_empty());
        let jobs = self
            .list(group)
            .await?
            .iter()
            .map(WireJson::to_json)
            .collect();
        Ok(Response::new(pb::JobList { jobs }))
    }

    async fn delete_job(&self, req: Request<pb::JobId>) -> Reply<pb::JobId> {
        self.delete(&req.get_ref().id).await?;
        Ok(Response::new(req.into_inner()))
    }

    async fn pause_job(&self, req: Request<pb::JobId>) -> Reply<pb::JobJson> {
        Ok(job(self.pause(&req.get_ref().id).await?))
    }

    async fn resume_job(&self, req: Request<pb::JobId>) -> Reply<pb::JobJson> {
        Ok(job(self.resume(&req.get_ref().id).await?))
    }

    async fn run_job(&self, req: Request<pb::JobId>) -> Reply<pb::RunResponse> {
        Ok(Response::new(pb::RunResponse {
            snapshot_id: self.run_now(&req.get_ref().id).await?,
        }))
    }

    async fn next_fire_times(&self, req: Request<pb::FireTimesRequest>) -> Reply<pb::FireTimes> {
        let r = req.get_ref();
        let times = self
            .next_fire_times(&r.id, r.count.max(1) as usize)
            .await?
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        Ok(Response::new(pb::FireTimes { times }))
    }
}
