//! The original forest's HTTP routes (forest-compat §3) against a real node, called as duck
//! calls them (`POST`, `Content-Type: application/json;charset=utf-8`, CORS preflights) and
//! as the original's scripts did: the envelope byte for byte, the Chinese messages in the
//! original's order, `null` against `[]`, pagination, and the original's bugs that duck meets,
//! fixed.

mod common;

use std::time::Duration;

use chrono::{DateTime, Datelike, Local, Timelike};
use common::*;
use forest::model::keys;
use forest::pb::kv::{LeaseGrantRequest, PutRequest};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The header duck's axios sends with every call.
const DUCK_JSON: &str = "application/json;charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";
/// The misspelt message of most lists.
const LISTED: &str = "查询成成功";

/// A client of one node's HTTP listener.
struct Legacy {
    base: String,
    http: reqwest::Client,
}

impl Legacy {
    fn new(cluster: &Cluster) -> Legacy {
        Legacy {
            base: format!("http://{}", cluster.nodes[0].http),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// POSTs `body` with `content_type` (none: no header).
    async fn post(&self, path: &str, content_type: Option<&str>, body: &str) -> reqwest::Response {
        let mut req = self.request(Method::POST, path).body(body.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("the node answers")
    }

    /// POSTs `body` as duck does and returns the envelope, after checking that it came as
    /// Echo sent it.
    async fn call(&self, path: &str, body: &str, content_type: &str) -> Value {
        envelope(self.post(path, Some(content_type), body).await).await
    }

    /// A call that must succeed with `message`; returns its `data`.
    async fn ok(&self, path: &str, body: Value, message: &str) -> Value {
        let answer = self.call(path, &body.to_string(), DUCK_JSON).await;
        assert_eq!(answer["code"], 0, "{path} {body}: {answer}");
        assert_eq!(answer["message"], message, "{path} {body}");
        answer["data"].clone()
    }

    /// A call that must be refused; returns the reason.
    async fn refusal(&self, path: &str, body: &str) -> String {
        let answer = self.call(path, body, DUCK_JSON).await;
        assert_eq!(answer["code"], -1, "{path} {body}: {answer}");
        assert_eq!(answer["data"], Value::Null, "{path} {body}");
        answer["message"].as_str().expect("a message").to_string()
    }
}

/// The body of an answer Echo would have sent: HTTP 200, its content type, a trailing
/// newline, and exactly `code`, `data` and `message`.
async fn envelope(resp: reqwest::Response) -> Value {
    let text = body_of(resp).await;
    let answer: Value = serde_json::from_str(&text).expect("an envelope is JSON");
    let mut fields: Vec<&String> = answer.as_object().expect("an object").keys().collect();
    fields.sort();
    assert_eq!(fields, ["code", "data", "message"], "{text}");
    answer
}

/// The text of a handled answer, checked as [`envelope`] checks it.
async fn body_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let text = resp.text().await.expect("a body");
    assert!(
        text.ends_with("}\n"),
        "json.Encoder ends with a newline: {text:?}"
    );
    text
}

/// `fields` appear in `json` in this order (Go writes struct fields in declaration order).
fn assert_in_order(json: &str, fields: &[&str]) {
    let at: Vec<usize> = fields
        .iter()
        .map(|f| {
            json.find(&format!("\"{f}\":"))
                .unwrap_or_else(|| panic!("{f} missing from {json}"))
        })
        .collect();
    assert!(at.is_sorted(), "fields out of order {fields:?} in {json}");
}

fn as_list(data: &Value) -> &Vec<Value> {
    data.as_array()
        .unwrap_or_else(|| panic!("a list, not {data}"))
}

#[tokio::test]
async fn answers_cors_and_routing_are_echos() {
    let cluster = Cluster::start(1, &[]).await;
    let api = Legacy::new(&cluster);

    // A route that does not bind takes no body and no content type; an empty list is null.
    let text = body_of(api.post("/group/list", None, "").await).await;
    assert_eq!(
        text,
        "{\"code\":0,\"data\":null,\"message\":\"查询成成功\"}\n"
    );
    let text = body_of(api.post("/group/add", Some(DUCK_JSON), "").await).await;
    assert_eq!(
        text,
        "{\"code\":-1,\"data\":null,\"message\":\"请求参数不能为空\"}\n"
    );

    // Go's encoding, HTML characters escaped; `?pretty` indents as Echo did.
    api.ok(
        "/group/add",
        json!({"name": "web", "remark": "<b>&</b>"}),
        "添加成功",
    )
    .await;
    let text = body_of(api.post("/group/list", Some(DUCK_JSON), "{}").await).await;
    assert_eq!(
        text,
        r#"{"code":0,"data":[{"name":"web","remark":"\u003cb\u003e\u0026\u003c/b\u003e"}],"message":"查询成成功"}"#.to_string() + "\n"
    );
    let text = body_of(api.post("/group/list?pretty", None, "").await).await;
    assert_eq!(
        text,
        r#"{
  "code": 0,
  "data": [
    {
      "name": "web",
      "remark": "\u003cb\u003e\u0026\u003c/b\u003e"
    }
  ],
  "message": "查询成成功"
}
"#
    );

    // duck's calls are preflighted: 204, any origin, its method and header allowed.
    let resp = api
        .request(Method::OPTIONS, "/job/add")
        .header("origin", "http://duck.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("the node answers");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert!(header("access-control-allow-methods").contains("post"));
    assert!(header("access-control-allow-headers").contains("content-type"));

    let resp = api
        .request(Method::POST, "/node/list")
        .header("origin", "http://duck.example")
        .send()
        .await
        .expect("the node answers");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    // Only the original's routes are open to other origins.
    for path in ["/api/v1/groups", "/healthz"] {
        let resp = api
            .request(Method::GET, path)
            .header("origin", "http://duck.example")
            .send()
            .await
            .expect("the node answers");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }

    // Every route is POST only; other paths are not found.
    for path in ["/job/list", "/snapshot/delete", "/execute/snapshot/list"] {
        let resp = api
            .request(Method::GET, path)
            .send()
            .await
            .expect("the node answers");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(
            resp.text().await.expect("a body"),
            "{\"message\":\"Method Not Allowed\"}\n"
        );
    }
    let resp = api.post("/job/nope", Some(DUCK_JSON), "{}").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.text().await.expect("a body"),
        "{\"message\":\"Not Found\"}\n"
    );
}

#[tokio::test]
async fn groups_and_jobs_as_duck_manages_them() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let api = Legacy::new(&cluster);

    // Groups: each check in the original's order, then the group, then no second one.
    assert_eq!(api.refusal("/group/add", "").await, "请求参数不能为空");
    assert_eq!(
        api.refusal("/group/add", "{}").await,
        "任务集群名称不能为空"
    );
    assert_eq!(
        api.refusal("/group/add", r#"{"name":"trade"}"#).await,
        "任务集群描述"
    );
    let group = json!({"name": "trade", "remark": "交易"});
    assert_eq!(api.ok("/group/add", group.clone(), "添加成功").await, group);
    assert_eq!(
        api.refusal("/group/add", &group.to_string()).await,
        "此任务集群已存在"
    );
    api.ok(
        "/group/add",
        json!({"name": "pay", "remark": "支付"}),
        "添加成功",
    )
    .await;
    assert_eq!(
        api.ok("/group/list", json!({}), LISTED).await,
        json!([{"name": "pay", "remark": "支付"}, group])
    );

    // Jobs: duck's form filled in one field at a time meets each check in the original's
    // order, and nothing is stored.
    assert_eq!(
        api.ok("/job/list", json!({"name": ""}), LISTED).await,
        Value::Null
    );
    assert_eq!(api.refusal("/job/add", "").await, "请求参数不能为空");
    let text_plain = api.post("/job/add", Some("text/plain"), "{}").await;
    assert_eq!(envelope(text_plain).await["message"], "请求参数不能为空");
    let mut job = json!({});
    for (field, value, refusal) in [
        ("name", json!("首次交易订单"), "任务名称不能为空"),
        ("group", json!("trade"), "任务分组不能为空"),
        ("cron", json!("0 0 25 * * ?"), "任务Cron表达式不能为空"),
        ("cron", json!("0 0 0 1 1 ?"), "非法的Cron表达式"),
        ("target", json!("FirstTrade"), "任务Target不能为空"),
        ("status", json!(1), "任务状态不能为空"),
    ] {
        assert_eq!(api.refusal("/job/add", &job.to_string()).await, refusal);
        job[field] = value;
    }
    job["group"] = json!("nope");
    assert_eq!(
        api.refusal("/job/add", &job.to_string()).await,
        "任务集群不存在"
    );
    job["group"] = json!("trade");
    job["status"] = json!(3);
    let why = api.refusal("/job/add", &job.to_string()).await;
    assert!(
        why.contains("status"),
        "Forest's own check, in its words: {why}"
    );
    assert_eq!(api.ok("/job/list", json!({}), LISTED).await, Value::Null);
    assert!(read_prefix(&ep, keys::CONF_PREFIX).await.kvs.is_empty());
    assert!(read_prefix(&ep, keys::PLAN_PREFIX).await.kvs.is_empty());

    // The id and version are the server's; fields read in any case; forms are accepted.
    job["status"] = json!(1);
    for (field, value) in [
        ("params", ""),
        ("mobile", ""),
        ("remark", ""),
        ("id", "mine"),
    ] {
        job[field] = json!(value);
    }
    let first = api.ok("/job/add", job.clone(), "创建成功").await;
    let id = first["id"].as_str().expect("an id").to_string();
    assert_eq!(id.len(), 20, "the original's serial number: {id}");
    let mut want = job.clone();
    want["id"] = json!(id);
    want["version"] = json!(1);
    assert_eq!(first, want);
    let shouted = api
        .ok(
            "/job/add",
            json!({"NAME": "b", "Group": "trade", "CRON": "@daily", "Status": 2, "TARGET": "t"}),
            "创建成功",
        )
        .await;
    assert_eq!(
        (&shouted["name"], &shouted["status"]),
        (&json!("b"), &json!(2))
    );
    let form = api
        .call(
            "/job/add",
            "name=form&Group=trade&cron=%40hourly&status=2&target=t",
            FORM,
        )
        .await;
    assert_eq!(
        (&form["code"], &form["data"]["name"]),
        (&json!(0), &json!("form"))
    );
    let jobs = api.ok("/job/list", json!({"name": ""}), LISTED).await;
    let mut names: Vec<&str> = as_list(&jobs)
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "form", "首次交易订单"]);

    // Edit takes the whole row duck shows, with whatever else the row carries; its version
    // is the one the edit applies to.
    let mut row = as_list(&jobs)
        .iter()
        .find(|j| j["id"] == json!(id))
        .expect("the first job is listed")
        .clone();
    row["name"] = json!("改名");
    row["rowKey"] = json!(7);
    let edited = api.ok("/job/edit", row.clone(), "修改成功").await;
    assert_eq!(
        (&edited["name"], &edited["version"]),
        (&json!("改名"), &json!(2))
    );
    assert_eq!(
        api.refusal("/job/edit", &row.to_string()).await,
        "修改失败,请重试！",
        "the row was read at version 1"
    );
    let mut no_version = row.clone();
    no_version.as_object_mut().expect("a row").remove("version");
    no_version["group"] = json!("pay");
    let moved = api.ok("/job/edit", no_version, "修改成功").await;
    assert_eq!(
        (&moved["group"], &moved["version"]),
        (&json!("pay"), &json!(3))
    );
    assert_eq!(api.refusal("/job/edit", "").await, "请求参数不能为空");
    assert_eq!(api.refusal("/job/edit", "{}").await, "此任务记录不存在");
    assert_eq!(
        api.refusal("/job/edit", &json!({"id": id}).to_string())
            .await,
        "任务名称不能为空"
    );
    let mut elsewhere = row.clone();
    elsewhere["group"] = json!("nope");
    elsewhere["id"] = json!("nope");
    assert_eq!(
        api.refusal("/job/edit", &elsewhere.to_string()).await,
        "任务集群不存在",
        "the group is checked before the job"
    );
    elsewhere["group"] = json!("trade");
    assert_eq!(
        api.refusal("/job/edit", &elsewhere.to_string()).await,
        "此任务配置记录不存在"
    );

    // Delete answers with the request as bound.
    assert_eq!(api.refusal("/job/delete", "").await, "请求参数不能为空");
    assert_eq!(api.refusal("/job/delete", "{}").await, "此任务记录不存在");
    assert_eq!(
        api.refusal("/job/delete", r#"{"id":"nope"}"#).await,
        "此任务配置记录不存在"
    );
    let deleted = api.ok("/job/delete", json!({"id": id}), "删除成功").await;
    assert_eq!((&deleted["id"], &deleted["name"]), (&json!(id), &json!("")));
    assert_eq!(
        as_list(&api.ok("/job/list", json!({}), LISTED).await).len(),
        2
    );
    assert!(local_value(&ep, &keys::job_conf(&id)).await.is_none());

    assert_eq!(api.refusal("/job/execute", "").await, "非法的参数");
    assert_eq!(api.refusal("/job/execute", "{}").await, "此任务配置不存在");
    assert_eq!(
        api.refusal("/job/execute", &json!({"id": id}).to_string())
            .await,
        "此任务配置内容为空"
    );
}

/// Grants a lease of `ttl` seconds and registers `/forest/client/<group>/clients/<ip>` under
/// it, as the original's SDKs register.
async fn legacy_client(ep: &str, group: &str, ip: &str) {
    let lease = lease(ep)
        .await
        .lease_grant(LeaseGrantRequest { ttl: 60, id: 0 })
        .await
        .expect("a lease")
        .into_inner()
        .id;
    kv(ep)
        .await
        .put(PutRequest {
            key: keys::client(group, ip).into_bytes(),
            value: ip.as_bytes().to_vec(),
            lease,
            ..Default::default()
        })
        .await
        .expect("registered");
}

#[tokio::test]
async fn waiting_and_dispatched_snapshots_are_found_and_deleted() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let api = Legacy::new(&cluster);
    for name in ["trade", "idle"] {
        api.ok(
            "/group/add",
            json!({"name": name, "remark": name}),
            "添加成功",
        )
        .await;
    }
    let job = api
        .ok(
            "/job/add",
            json!({"name": "n", "group": "trade", "cron": "0 0 0 1 1 ?", "status": 2, "target": "t"}),
            "创建成功",
        )
        .await;
    let run = json!({"id": job["id"]});
    assert_eq!(api.ok("/snapshot/list", json!({}), LISTED).await, json!([]));

    // With no worker online the run waits for one, with no ip; a second one waits too.
    assert_eq!(
        api.ok("/job/execute", run.clone(), "手动执行任务请求已提交")
            .await,
        Value::Null
    );
    let listed = api
        .ok(
            "/snapshot/list",
            json!({"group": "", "id": "", "ip": ""}),
            LISTED,
        )
        .await;
    let waiting = as_list(&listed)[0].clone();
    assert_eq!(as_list(&listed).len(), 1, "{listed}");
    assert_eq!(
        (&waiting["jobId"], &waiting["group"], &waiting["ip"]),
        (&job["id"], &json!("trade"), &json!(""))
    );
    let sid = waiting["id"].as_str().expect("an id").to_string();
    assert_eq!(sid.len(), 40, "serial number and job id: {sid}");
    assert!(local_value(&ep, &keys::pending("trade", &sid))
        .await
        .is_some());
    for filter in [
        json!({"group": "trade"}),
        json!({"group": "trade", "id": sid}),
    ] {
        assert_eq!(
            api.ok("/snapshot/list", filter, LISTED).await,
            json!([waiting])
        );
    }
    for filter in [
        json!({"group": "idle"}),
        json!({"group": "trade", "ip": "10.0.0.7"}),
        json!({"group": "trade", "id": "nope"}),
    ] {
        assert_eq!(api.ok("/snapshot/list", filter, LISTED).await, json!([]));
    }
    api.ok("/job/execute", run.clone(), "手动执行任务请求已提交")
        .await;
    assert_eq!(
        as_list(
            &api.ok("/snapshot/list", json!({"group": "trade"}), LISTED)
                .await
        )
        .len(),
        2
    );

    // duck deletes the whole row; the run is gone, and a second delete says so.
    for bad in [
        "",
        "{}",
        r#"{"group":"trade"}"#,
        r#"{"group":"trade","id":"a/b"}"#,
    ] {
        assert_eq!(api.refusal("/snapshot/delete", bad).await, "非法的请求参数");
    }
    assert_eq!(
        api.ok("/snapshot/delete", waiting.clone(), "删除成功")
            .await,
        Value::Null
    );
    assert!(local_value(&ep, &keys::pending("trade", &sid))
        .await
        .is_none());
    assert_eq!(
        api.refusal("/snapshot/delete", &waiting.to_string()).await,
        "此任务快照不存在"
    );

    // A client of the original's SDKs comes online: the other run is dispatched to it, and
    // found and deleted by group, ip and id (the original's double slash found nothing).
    assert_eq!(api.refusal("/client/list", "").await, "请选择任务集群");
    assert_eq!(
        api.refusal("/client/list", r#"{"group":""}"#).await,
        "请选择任务集群"
    );
    assert_eq!(
        api.refusal("/client/list", r#"{"group":"nope"}"#).await,
        "此任务集群不存在"
    );
    assert_eq!(
        api.ok("/client/list", json!({"group": "trade"}), LISTED)
            .await,
        json!([])
    );
    legacy_client(&ep, "trade", "10.0.0.7").await;
    assert_eq!(
        api.ok("/client/list", json!({"group": "trade"}), LISTED)
            .await,
        json!([{"name": "10.0.0.7", "path": "/forest/client/trade/clients/10.0.0.7", "group": "trade"}])
    );
    let on_client = json!({"group": "trade", "ip": "10.0.0.7"});
    eventually("the waiting run is dispatched to the client", || async {
        as_list(&api.ok("/snapshot/list", on_client.clone(), LISTED).await).len() == 1
    })
    .await;
    let dispatched = as_list(&api.ok("/snapshot/list", on_client, LISTED).await)[0].clone();
    assert_eq!(dispatched["ip"], "10.0.0.7");
    let did = dispatched["id"].as_str().expect("an id").to_string();
    assert_eq!(
        api.ok(
            "/snapshot/list",
            json!({"group": "trade", "ip": "10.0.0.7", "id": did}),
            LISTED
        )
        .await,
        json!([dispatched])
    );
    assert_eq!(
        api.ok("/snapshot/list", json!({"group": "trade"}), LISTED)
            .await,
        json!([dispatched]),
        "dispatched, no longer waiting"
    );
    api.ok("/snapshot/delete", dispatched.clone(), "删除成功")
        .await;
    assert!(local_value(&ep, &keys::snapshot("trade", "10.0.0.7", &did))
        .await
        .is_none());
    assert_eq!(api.ok("/snapshot/list", json!({}), LISTED).await, json!([]));
}

#[tokio::test]
async fn nodes_and_plans() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let api = Legacy::new(&cluster);

    eventually("the node mirrors its leadership", || async {
        local_value(&ep, keys::ELECT_LEADER).await.is_some()
    })
    .await;
    let name = local_value(&ep, keys::ELECT_LEADER)
        .await
        .expect("a leader");
    assert_eq!(
        api.ok("/node/list", json!({}), LISTED).await,
        json!([{"name": name, "state": 1}])
    );

    let text = body_of(api.post("/plan/list", None, "").await).await;
    assert_eq!(text, "{\"code\":0,\"data\":null,\"message\":\"\"}\n");
    api.ok(
        "/group/add",
        json!({"name": "g", "remark": "g"}),
        "添加成功",
    )
    .await;
    let before = chrono::Utc::now();
    let yearly = api
        .ok(
            "/job/add",
            json!({"name": "yearly", "group": "g", "cron": "0 0 0 1 1 ?", "status": 1, "target": "t", "params": "p"}),
            "创建成功",
        )
        .await;
    api.ok(
        "/job/add",
        json!({"name": "stopped", "group": "g", "cron": "@daily", "status": 2, "target": "t"}),
        "创建成功",
    )
    .await;

    // Only jobs that fire have a plan; the original's fields, in its order.
    let text = body_of(api.post("/plan/list", Some(DUCK_JSON), "{}").await).await;
    assert_in_order(
        &text,
        &[
            "id",
            "name",
            "group",
            "cron",
            "status",
            "target",
            "params",
            "mobile",
            "remark",
            "nextTime",
            "beforeTime",
            "version",
        ],
    );
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["message"], "");
    let plans = as_list(&answer["data"]);
    assert_eq!(plans.len(), 1, "{text}");
    let plan = &plans[0];
    for field in ["id", "name", "group", "cron", "target", "params", "version"] {
        assert_eq!(plan[field], yearly[field], "{field}");
    }
    assert_eq!(plan["status"], 1, "filled, where the original left 0");
    let time = |field: &str| {
        DateTime::parse_from_rfc3339(plan[field].as_str().expect("a time"))
            .unwrap_or_else(|e| panic!("{field} is RFC 3339: {e}"))
    };
    let next = time("nextTime").with_timezone(&Local);
    assert!(next > chrono::Utc::now());
    assert_eq!(
        (
            next.month(),
            next.day(),
            next.hour(),
            next.minute(),
            next.second()
        ),
        (1, 1, 0, 0, 0),
        "{next}"
    );
    let last = time("beforeTime");
    assert!(
        last >= before - chrono::Duration::seconds(1) && last <= chrono::Utc::now(),
        "the cursor starts when the job is created: {last}"
    );
}

#[tokio::test]
async fn execution_history_pages_and_filters_like_the_original() {
    let cluster = Cluster::start(1, &[]).await;
    let api = &Legacy::new(&cluster);
    api.ok(
        "/group/add",
        json!({"name": "ops", "remark": "ops"}),
        "添加成功",
    )
    .await;
    let _worker = worker_process(cluster.dir.path(), &cluster.endpoints(), "ops", "w1");
    let add = |name: &'static str, command: &'static str| {
        let job = json!({"name": name, "group": "ops", "cron": "0 0 0 1 1 ?", "status": 2,
                         "target": "shell", "params": command});
        async move { api.ok("/job/add", job, "创建成功").await["id"].clone() }
    };
    // One run each: two manual runs of one job in the same second share an id once the
    // first has left the queue (the job service's run_now).
    let (alpha, beta) = (add("echo-a", "echo a").await, add("fail", "exit 3").await);
    let gamma = add("echo-b", "echo b").await;
    for id in [&alpha, &beta, &gamma] {
        api.ok("/job/execute", json!({"id": id}), "手动执行任务请求已提交")
            .await;
    }

    // duck's request, its status select cleared.
    let duck = json!({"pageNo": 1, "pageSize": 20, "id": "", "group": "", "ip": "", "status": ""});
    eventually("the three runs are in the history", || async {
        api.ok("/execute/snapshot/list", duck.clone(), LISTED).await["totalCount"] == 3
    })
    .await;
    let text = body_of(
        api.post("/execute/snapshot/list", Some(DUCK_JSON), &duck.to_string())
            .await,
    )
    .await;
    assert_in_order(&text, &["totalPage", "totalCount", "list"]);
    assert_in_order(
        &text,
        &[
            "id",
            "jobId",
            "name",
            "ip",
            "group",
            "cron",
            "target",
            "params",
            "mobile",
            "remark",
            "createTime",
            "startTime",
            "finishTime",
            "times",
            "status",
            "result",
        ],
    );
    let page: Value = serde_json::from_str(&text).expect("JSON");
    let runs = as_list(&page["data"]["list"]);
    assert_eq!((runs.len(), &page["data"]["totalPage"]), (3, &json!(1)));
    for run in runs {
        assert_eq!((&run["ip"], &run["group"]), (&json!("w1"), &json!("ops")));
        assert_ne!(run["finishTime"], "", "{run}");
    }

    let list = |query: Value| async move { api.ok("/execute/snapshot/list", query, LISTED).await };
    let shape = |page: &Value| {
        (
            page["totalPage"].as_u64().expect("totalPage"),
            page["totalCount"].as_u64().expect("totalCount"),
            as_list(&page["list"]).len(),
        )
    };
    // Pages: 10 a page by default, a page below 1 is the first, past the end is empty.
    assert_eq!(shape(&list(json!({})).await), (1, 3, 3));
    assert_eq!(
        shape(&list(json!({"pageNo": 0, "pageSize": -5})).await),
        (1, 3, 3)
    );
    assert_eq!(shape(&list(json!({"pageSize": 2})).await), (2, 3, 2));
    assert_eq!(
        shape(&list(json!({"pageSize": 2, "pageNo": 2})).await),
        (2, 3, 1)
    );
    assert_eq!(
        shape(&list(json!({"pageSize": 2, "pageNo": 3})).await),
        (2, 3, 0)
    );

    // Filters, `jobId` included (the original ignored it).
    let failed = list(json!({"status": -1})).await;
    assert_eq!(shape(&failed), (1, 1, 1));
    let failed = &failed["list"][0];
    assert_eq!(failed["jobId"], beta);
    for (query, count) in [
        (json!({"status": 2}), 2),
        (json!({"status": "2"}), 2),
        (json!({"jobId": alpha}), 1),
        (json!({"jobId": beta, "status": 2}), 0),
        (json!({"name": "echo"}), 2),
        (json!({"name": "echo-b", "status": 2}), 1),
        (json!({"ip": "w1", "group": "ops"}), 3),
        (json!({"ip": "w2"}), 0),
        (json!({"group": "nope"}), 0),
        (json!({"id": failed["id"]}), 1),
        (json!({"id": failed["id"], "group": "nope"}), 0),
        (json!({"id": "nope"}), 0),
    ] {
        let page = list(query.clone()).await;
        assert_eq!(page["totalCount"], count, "{query}: {page}");
        assert_eq!(as_list(&page["list"]).len(), count as usize, "{query}");
    }
    assert_eq!(list(json!({"id": failed["id"]})).await["list"][0], *failed);
    assert_eq!(
        list(json!({"group": "nope"})).await,
        json!({"totalPage": 0, "totalCount": 0, "list": []})
    );
    assert_eq!(
        shape(&list(json!({"id": failed["id"], "pageNo": 2})).await),
        (1, 1, 0)
    );
    let form = api
        .call("/execute/snapshot/list", "pageSize=1&STATUS=&jobid=", FORM)
        .await;
    assert_eq!(shape(&form["data"]), (3, 3, 1));

    for bad in ["", r#"{"status":"x"}"#, r#"{"pageNo":1.5}"#, "[]"] {
        assert_eq!(
            api.refusal("/execute/snapshot/list", bad).await,
            "非法的请求参数",
            "{bad}"
        );
    }
}
