//! duck's 配置中心: `/job/add`, `/job/edit`, `/job/delete`, `/job/list`, `/job/execute`,
//! `/group/add`, `/group/list` over the job service. The original's own checks come first, in
//! its order and with its messages; the job service then checks the rest (lengths,
//! characters, status 1 or 2) and does the writes.

use axum::extract::State;
use axum::routing::Router;

use super::bind::Bound;
use super::envelope::{done, nil_if_empty, refuse, Refusal, Reply, LISTED};
use super::post_only;
use crate::http::AppState;
use crate::jobs::JobError;
use crate::model::{keys, GroupConf, JobConf};

const EMPTY_REQUEST: &str = "请求参数不能为空";
const NO_JOB_ID: &str = "此任务记录不存在";
const NO_SUCH_JOB: &str = "此任务配置记录不存在";
const UNKNOWN_GROUP: &str = "任务集群不存在";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/job/add", post_only(add_job))
        .route("/job/edit", post_only(edit_job))
        .route("/job/delete", post_only(delete_job))
        .route("/job/list", post_only(list_jobs))
        .route("/job/execute", post_only(execute_job))
        .route("/group/add", post_only(add_group))
        .route("/group/list", post_only(list_groups))
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The original's checks of a job's fields, in its order (forest-compat §3.1).
fn check(conf: &JobConf) -> Result<(), Refusal> {
    let missing = [
        (blank(&conf.name), "任务名称不能为空"),
        (blank(&conf.group), "任务分组不能为空"),
        (blank(&conf.cron), "任务Cron表达式不能为空"),
    ];
    if let Some((_, message)) = missing.into_iter().find(|(missing, _)| *missing) {
        return Err(Refusal::new(message));
    }
    if let Err(e) = crate::jobs::schedule(conf) {
        // A zone Forest cannot read (a field the original did not have) is not a bad cron.
        return Err(match crate::jobs::timezone(conf) {
            Ok(_) => Refusal::new("非法的Cron表达式"),
            Err(_) => e.into(),
        });
    }
    if blank(&conf.target) {
        return Err(Refusal::new("任务Target不能为空"));
    }
    if conf.status == 0 {
        return Err(Refusal::new("任务状态不能为空"));
    }
    Ok(())
}

async fn add_job(State(s): State<AppState>, body: Bound<JobConf>) -> Reply<JobConf> {
    let conf = body.or_refuse(EMPTY_REQUEST)?;
    check(&conf)?;
    // The id is the server's, whatever the client sent.
    let conf = JobConf {
        id: String::new(),
        ..conf
    };
    match s.jobs.add(conf).await {
        Ok(job) => done(job, "创建成功"),
        Err(JobError::UnknownGroup(_)) => refuse(UNKNOWN_GROUP),
        Err(JobError::Exists(_)) => refuse("创建失败,请重试！"),
        Err(e) => Err(e.into()),
    }
}

fn edit_refusal(e: JobError) -> Refusal {
    match e {
        JobError::NotFound(_) => Refusal::new(NO_SUCH_JOB),
        JobError::UnknownGroup(_) => Refusal::new(UNKNOWN_GROUP),
        JobError::Conflict { .. } => Refusal::new("修改失败,请重试！"),
        e => e.into(),
    }
}

/// Takes the whole row duck sends back: its `version` is the one the edit applies to (a row
/// edited meanwhile is refused), fields Forest does not know are ignored. A request without a
/// version applies to what is stored, as every edit did in the original.
async fn edit_job(State(s): State<AppState>, body: Bound<JobConf>) -> Reply<JobConf> {
    let mut conf = body.or_refuse(EMPTY_REQUEST)?;
    if blank(&conf.id) {
        return refuse(NO_JOB_ID);
    }
    check(&conf)?;
    // The original checked the group before the job; the job service checks it only when it
    // changes.
    if s.kv.get(&keys::group(&conf.group), false).await?.is_none() {
        return refuse(UNKNOWN_GROUP);
    }
    if conf.version == 0 {
        conf.version = s.jobs.get(&conf.id).await.map_err(edit_refusal)?.version;
    }
    match s.jobs.edit(conf).await {
        Ok(job) => done(job, "修改成功"),
        Err(e) => Err(edit_refusal(e)),
    }
}

/// Answers with the request as bound, as the original did.
async fn delete_job(State(s): State<AppState>, body: Bound<JobConf>) -> Reply<JobConf> {
    let req = body.or_refuse(EMPTY_REQUEST)?;
    if blank(&req.id) {
        return refuse(NO_JOB_ID);
    }
    match s.jobs.delete(&req.id).await {
        Ok(()) => done(req, "删除成功"),
        Err(JobError::NotFound(_)) => refuse(NO_SUCH_JOB),
        Err(e) => Err(e.into()),
    }
}

/// Every job in creation order; the original ignored the body (duck's filter box) and so
/// does this.
async fn list_jobs(State(s): State<AppState>) -> Reply<Option<Vec<JobConf>>> {
    done(nil_if_empty(s.jobs.list(None).await?), LISTED)
}

/// Queues one run, whatever the job's status. With no worker of the group online the run
/// waits for one (until its starting deadline), where the original refused.
async fn execute_job(State(s): State<AppState>, body: Bound<JobConf>) -> Reply<()> {
    let id = body.or_refuse("非法的参数")?.id;
    if blank(&id) {
        return refuse("此任务配置不存在");
    }
    // Read first, as the original did, so each way the job can be unusable keeps its message.
    match s.jobs.get(&id).await {
        Ok(_) => {}
        Err(JobError::NotFound(_)) => return refuse("此任务配置内容为空"),
        Err(JobError::Invalid(_)) => return refuse("非法的任务配置内容"),
        Err(e) => return Err(Refusal::new(format!("查询任务配置出现异常:{e}"))),
    }
    match s.jobs.run_now(&id).await {
        Ok(_) => done((), "手动执行任务请求已提交"),
        Err(JobError::Kv(e)) => Err(e.into()),
        Err(_) => refuse("手动执行任务失败,请重试"),
    }
}

async fn add_group(State(s): State<AppState>, body: Bound<GroupConf>) -> Reply<GroupConf> {
    let group = body.or_refuse(EMPTY_REQUEST)?;
    if blank(&group.name) {
        return refuse("任务集群名称不能为空");
    }
    if blank(&group.remark) {
        return refuse("任务集群描述");
    }
    match s.jobs.add_group(group).await {
        Ok(group) => done(group, "添加成功"),
        Err(JobError::Exists(_)) => refuse("此任务集群已存在"),
        Err(e) => Err(e.into()),
    }
}

/// Every group, by name.
async fn list_groups(State(s): State<AppState>) -> Reply<Option<Vec<GroupConf>>> {
    done(nil_if_empty(s.jobs.groups().await?), LISTED)
}
