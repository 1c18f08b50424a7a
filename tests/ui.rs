//! The web UI in a real headless Chromium, driven over WebDriver (chromedriver), against a real
//! `forest serve` node and a real `forest worker`: what a person does in the browser, checked
//! in the page and, where it changes something, through the API.
//!
//! Needs `FOREST_TEST_CHROMEDRIVER` (the path of chromedriver; `.ci/browser.sh` installs it and
//! prints the line to export); without it the test prints SKIPPED and passes. Each page's
//! screenshot is saved under `<target dir>/ui-screenshots/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long the page may take to show what a step waits for.
const DEADLINE: Duration = Duration::from_secs(20);

/// chromedriver, the Chromium it starts, and the WebDriver session.
struct Browser {
    client: Client,
    driver: Child,
    /// chromedriver's address, where a new session is asked for.
    url: String,
    shots: PathBuf,
}

impl Drop for Browser {
    /// chromedriver runs in a process group of its own with its Chromium: the whole group goes.
    fn drop(&mut self) {
        let pgid = self.driver.id() as i32;
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver on a free port and opens a headless session, or says SKIPPED.
async fn browser(log_dir: &std::path::Path) -> Option<Browser> {
    let Ok(chromedriver) = std::env::var("FOREST_TEST_CHROMEDRIVER") else {
        println!("SKIPPED: FOREST_TEST_CHROMEDRIVER is not set (run .ci/browser.sh)");
        return None;
    };
    let port = free_port();
    let log = std::fs::File::create(log_dir.join("chromedriver.log")).expect("a log file");
    let driver = {
        use std::os::unix::process::CommandExt;
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{chromedriver} starts: {e}"))
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = session(&url).await;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shots = target.join("ui-screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshot directory");
    Some(Browser {
        client,
        driver,
        url,
        shots,
    })
}

/// A new headless Chromium session (a fresh profile: nothing kept from another) from the
/// chromedriver at `url`, waiting for it to listen.
async fn session(url: &str) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--disable-dev-shm-usage", "--lang=en-US"]}),
    );
    let builder = {
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps);
        b
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        match builder.connect(url).await {
            Ok(c) => return c,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session from {url}: {e}"),
        }
    }
}

impl Browser {
    /// Closes the browser and opens another, as a person does between two visits.
    async fn restart(&mut self) {
        self.client
            .clone()
            .close()
            .await
            .expect("the session closes");
        self.client = session(&self.url).await;
    }

    async fn open(&self, base: &str, hash: &str) {
        self.client
            .goto(&format!("{base}/#/{hash}"))
            .await
            .expect("the page opens");
    }

    /// Runs `script` (a function body that returns a value) in the page until it returns
    /// something other than null, false or ""; returns that.
    async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            if !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") {
                return v;
            }
            if Instant::now() > deadline {
                self.shot("failed").await;
                let error = self.text_of("[data-test=error]").await;
                panic!("not within {DEADLINE:?}: {what} (the page's error banner: {error:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css`.
    async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.until(
                &format!("an element {css}"),
                &format!("return document.querySelector({css:?}) !== null"),
            )
            .await;
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => return el,
                // Redrawn between the two looks.
                Err(e) if e.is_no_such_element() && Instant::now() < deadline => {}
                Err(e) => panic!("the element {css}: {e}"),
            }
        }
    }

    /// Does `act` to the element `css`, again if it was redrawn meanwhile: a live page is drawn
    /// anew on events and when its event stream opens.
    async fn on<F, Fut>(&self, css: &str, act: F)
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<(), CmdError>>,
    {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match act(self.find(css).await).await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("the element {css}: {e}"),
            }
        }
    }

    async fn click(&self, css: &str) {
        self.on(css, |el| async move { el.click().await }).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.on(css, |el| async move {
            el.clear().await?;
            el.send_keys(text).await
        })
        .await;
    }

    async fn select(&self, css: &str, value: &str) {
        self.on(css, |el| async move { el.select_by_value(value).await })
            .await;
    }

    /// The visible text of `css`, or "" if there is none.
    async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Confirms the open confirmation dialog.
    async fn confirm(&self) {
        self.until(
            "the confirmation dialog",
            "return document.getElementById('confirm').open",
        )
        .await;
        self.click("[data-test=confirm-ok]").await;
    }

    async fn shot(&self, page: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{page}.png")), png).expect("write the screenshot");
    }
}

/// The REST API, as the test's own setup and cross-check.
struct Api {
    http: reqwest::Client,
    base: String,
    /// The bearer token, for a node run with `--auth`.
    token: Option<String>,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("the API answers");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("a body");
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

#[tokio::test]
async fn a_person_runs_forest_from_the_browser() {
    let cluster = Cluster::start(1, &[]).await;
    let Some(b) = browser(cluster.dir.path()).await else {
        return;
    };
    let base = format!("http://{}", cluster.nodes[0].http);
    let api = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: None,
    };
    api.post("/groups", json!({"name": "ops", "remark": "operations"}))
        .await;
    let _worker = worker_process(cluster.dir.path(), &cluster.endpoints(), "ops", "w1");

    // Without --auth nobody signs in or out, and there are no tokens to manage.
    b.open(&base, "dashboard").await;
    b.find("[data-test=card-health]").await;
    b.until(
        "no sign-in, sign-out or tokens page",
        "return document.getElementById('sign-in').hidden && document.querySelector('[data-test=sign-out]').hidden && document.querySelector('#nav a[data-page=tokens]').hidden",
    )
    .await;

    // A job made in the form, its fire times previewed as the expression is typed.
    b.open(&base, "job-form").await;
    b.type_into("[data-test=field-name]", "hello").await;
    b.select("[data-test=field-group]", "ops").await;
    b.type_into("[data-test=field-cron]", "*/2 * * * * *").await;
    b.until(
        "five fire times in the preview",
        "return document.querySelectorAll('[data-test=cron-preview] li').length === 5",
    )
    .await;
    b.type_into("[data-test=field-target]", "shell").await;
    b.type_into("[data-test=field-params]", "echo hi").await;
    b.shot("job-form").await;
    b.click("[data-test=job-form] [data-test=submit]").await;
    let id = b
        .until(
            "the new job's page",
            "return document.querySelector('[data-test=page-job]') && location.hash.split('/')[2]",
        )
        .await;
    let id = id.as_str().expect("an id in the address").to_string();
    let job = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(
        (job["cron"].as_str(), job["params"].as_str()),
        (Some("*/2 * * * * *"), Some("echo hi"))
    );

    // Its runs appear in the executions list as they happen, without reloading the page: one
    // not listed when the page was first shown.
    b.open(&base, &format!("executions?jobId={id}")).await;
    let shown = b
        .until(
            "the executions list",
            "const t = document.querySelector('[data-test=executions]'); return t && JSON.stringify([...t.querySelectorAll('tr[data-id]')].map(r => r.dataset.id))",
        )
        .await;
    b.until(
        "a new successful run listed live",
        &format!(
            "const shown = {}; return [...document.querySelectorAll('[data-test=executions] tr[data-id]')].some(r => !shown.includes(r.dataset.id) && r.querySelector('[data-status=\"2\"]'))",
            shown.as_str().expect("ids as JSON")
        ),
    )
    .await;
    b.shot("executions").await;

    // Paused from the list: the page and the API say so.
    b.open(&base, "jobs").await;
    b.click(&format!("tr[data-id=\"{id}\"] [data-test=pause]"))
        .await;
    b.until(
        "the job shown paused",
        &format!("return document.querySelector('tr[data-id=\"{id}\"] [data-test=status] [data-status=\"2\"]') !== null"),
    )
    .await;
    assert_eq!(api.get(&format!("/jobs/{id}")).await["status"], 2);
    b.shot("jobs").await;

    // Run now (paused or not): its execution runs, and its page follows it to the end.
    b.click(&format!("tr[data-id=\"{id}\"] [data-test=run]"))
        .await;
    b.confirm().await;
    b.click("[data-test=notice] a").await;
    b.find("[data-test=page-execution]").await;
    b.until(
        "the manual run's output",
        "const o = document.querySelector('[data-test=output]'); return o && o.textContent.includes('hi') && document.querySelector('[data-test=execution] [data-status=\"2\"]') !== null",
    )
    .await;
    b.shot("execution").await;

    // The job's own page: its settings, statistics, next fire times and runs.
    b.open(&base, &format!("jobs/{id}")).await;
    b.find("[data-test=job-runs] tr[data-id]").await;
    b.shot("job").await;

    // Edited in the form: the whole job goes back at the version it was read at.
    b.open(&base, &format!("job-form/{id}")).await;
    b.type_into("[data-test=field-remark]", "says hi").await;
    b.click("[data-test=job-form] [data-test=submit]").await;
    b.find("[data-test=page-job]").await;
    let job = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(job["remark"], "says hi", "{job}");
    assert_eq!(job["version"], 3, "one edit after the pause: {job}");
    assert_eq!(
        (&job["status"], &job["params"]),
        (&json!(2), &json!("echo hi")),
        "the rest is kept: {job}"
    );

    // A group added in its form; a run for it, which has no worker, waits in the pending
    // list until it is deleted.
    b.open(&base, "groups").await;
    b.type_into("[data-test=group-form] [data-test=field-name]", "idle")
        .await;
    b.type_into(
        "[data-test=group-form] [data-test=field-remark]",
        "no worker",
    )
    .await;
    b.click("[data-test=group-form] [data-test=submit]").await;
    b.find("[data-test=groups] tr[data-id=idle]").await;
    let idle = api
        .post(
            "/jobs",
            json!({"name": "stuck", "group": "idle", "cron": "0 0 0 1 1 *", "status": 2, "target": "shell", "params": "true"}),
        )
        .await;
    let idle_id = idle["id"].as_str().unwrap();
    let waiting = api.post(&format!("/jobs/{idle_id}/run"), json!({})).await["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    b.open(&base, "snapshots").await;
    let row = format!("tr[data-id=\"{waiting}\"]");
    b.find(&row).await;
    b.shot("snapshots").await;
    b.click(&format!("{row} [data-test=delete]")).await;
    b.confirm().await;
    b.until(
        "the deleted snapshot gone from the list",
        &format!("return document.querySelector('[data-test=snapshots]') !== null && document.querySelector('{row}') === null"),
    )
    .await;
    let left = api.get("/snapshots?group=idle").await;
    assert!(
        left["items"].as_array().unwrap().is_empty(),
        "the snapshot is gone: {left}"
    );

    // Found by searching; deleted from the list, once confirmed.
    b.open(&base, "jobs").await;
    b.type_into("[data-test=filters] [data-test=field-q]", "stu")
        .await;
    b.until(
        "only the matching job listed",
        &format!("const ids = [...document.querySelectorAll('[data-test=jobs] tr[data-id]')].map(r => r.dataset.id); return ids.length === 1 && ids[0] === '{idle_id}'"),
    )
    .await;
    b.open(&base, "jobs").await;
    b.click(&format!("tr[data-id=\"{idle_id}\"] [data-test=delete]"))
        .await;
    b.find("dialog[open]").await;
    b.shot("confirm").await;
    b.confirm().await;
    b.until(
        "the deleted job gone from the list",
        &format!("return document.querySelector('[data-test=jobs] tr[data-id=\"{id}\"]') !== null && document.querySelector('tr[data-id=\"{idle_id}\"]') === null"),
    )
    .await;
    let jobs = api.get("/jobs").await;
    assert_eq!(jobs["total"], 1, "only the first job is left: {jobs}");

    // The other pages show what the cluster has.
    for (page, ready) in [
        ("groups", "[data-test=groups] tr[data-id=ops]"),
        ("workers", "[data-test=workers] tr[data-id=\"ops/w1\"]"),
        ("cluster", "[data-test=members] [data-test=role]"),
        ("dashboard", "[data-test=card-health]"),
    ] {
        b.open(&base, page).await;
        b.find(ready).await;
        b.shot(page).await;
    }

    // An API error is shown as the server's message: a cron expression with a field too many.
    b.open(&base, "job-form").await;
    b.type_into("[data-test=field-name]", "broken").await;
    b.type_into("[data-test=field-cron]", "0 0 25 * * * *")
        .await;
    b.type_into("[data-test=field-target]", "shell").await;
    b.until(
        "the preview saying why",
        "const p = document.querySelector('[data-test=cron-preview]'); return p.classList.contains('invalid') && p.textContent",
    )
    .await;
    b.click("[data-test=job-form] [data-test=submit]").await;
    let error = b
        .until(
            "the server's reason under the form",
            "const e = document.querySelector('[data-test=form-error]'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(
        error.as_str().unwrap().contains("cron"),
        "the reason names the field: {error}"
    );
    b.shot("job-form-error").await;

    // Chinese, chosen once, stays chosen.
    b.click("[data-test=lang]").await;
    b.open(&base, "jobs").await;
    b.client.refresh().await.expect("reload");
    b.until(
        "the Chinese labels",
        "return document.querySelector('#nav a[data-page=jobs]').textContent === '任务配置' && document.querySelector('[data-test=page-jobs] h1').textContent === '任务配置'",
    )
    .await;
    b.find(&format!("tr[data-id=\"{id}\"]")).await;
    b.shot("jobs-zh").await;

    // On a phone the menu folds away and rows become cards.
    b.client
        .set_window_size(390, 844)
        .await
        .expect("a phone-sized window");
    b.shot("jobs-phone").await;
    b.open(&base, "job-form").await;
    b.find("[data-test=cron-preview]").await;
    b.shot("job-form-phone").await;
    b.open(&base, "jobs").await;
    b.click("[data-test=menu-toggle]").await;
    b.until(
        "the menu unfolded",
        "return getComputedStyle(document.getElementById('nav')).display !== 'none'",
    )
    .await;
    b.shot("menu-phone").await;
}

/// The sign-in page's form, its token typed in and sent.
async fn sign_in(b: &Browser, token: &str) {
    b.type_into("[data-test=sign-in-form] [data-test=field-token]", token)
        .await;
    b.click("[data-test=sign-in-form] [data-test=submit]").await;
}

#[tokio::test]
async fn a_person_signs_in_with_a_token_and_makes_another() {
    let cluster = Cluster::start(1, &["--auth"]).await;
    let Some(mut b) = browser(cluster.dir.path()).await else {
        return;
    };
    let node = &cluster.nodes[0];
    let base = format!("http://{}", node.http);
    let admin_token = node.admin_token().await;
    let admin = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: Some(admin_token.clone()),
    };
    admin
        .post("/groups", json!({"name": "ops", "remark": ""}))
        .await;
    let job = admin
        .post(
            "/jobs",
            json!({"name": "nightly", "group": "ops", "cron": "0 0 3 * * *", "status": 2, "target": "shell", "params": "true"}),
        )
        .await;
    let job_row = format!(
        "[data-test=jobs] tr[data-id=\"{}\"]",
        job["id"].as_str().unwrap()
    );

    // Without a token the UI asks for one, in the app's stead.
    b.open(&base, "jobs").await;
    b.find("[data-test=page-sign-in]").await;
    b.until(
        "the menu and the page hidden",
        "return getComputedStyle(document.getElementById('nav')).display === 'none' && getComputedStyle(document.querySelector('main')).display === 'none'",
    )
    .await;

    // A wrong token is refused in the server's words.
    sign_in(&b, "fst_0000_wrong").await;
    let refusal = b
        .until(
            "the refusal under the form",
            "const e = document.querySelector('[data-test=sign-in-form] [data-test=form-error]'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(
        refusal.as_str().unwrap().contains("not valid"),
        "the server's reason: {refusal}"
    );
    b.shot("sign-in").await;

    // The administrator's token opens the page that was asked for, and the event stream.
    sign_in(&b, &admin_token).await;
    b.find(&job_row).await;
    b.find("[data-test=live][data-state=on]").await;
    let kept = b
        .client
        .execute(
            "const t = arguments[0]; return [sessionStorage.getItem('forest.token') === t, location.href.includes(t), Object.values(localStorage).some(v => v.includes(t))]",
            vec![json!(admin_token)],
        )
        .await
        .expect("the storage read");
    assert_eq!(
        kept,
        json!([true, false, false]),
        "the token is in the tab's session storage only"
    );

    // A viewer token made on the tokens page, shown once with a way to copy it.
    b.click("#nav a[data-page=tokens]").await;
    b.type_into("[data-test=token-form] [data-test=field-name]", "reader")
        .await;
    b.select("[data-test=token-form] [data-test=field-role]", "viewer")
        .await;
    b.click("[data-test=token-form] [data-test=submit]").await;
    let viewer_token = b
        .until(
            "the new token shown",
            "const i = document.querySelector('[data-test=new-token-text]'); return i && i.value",
        )
        .await;
    let viewer_token = viewer_token.as_str().unwrap().to_string();
    b.click("[data-test=new-token] [data-test=copy]").await;
    b.until(
        "the copy confirmed",
        "const n = document.querySelector('[data-test=notice]'); return !n.hidden && n.textContent",
    )
    .await;
    let listed = admin.get("/tokens").await;
    let reader = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "reader")
        .unwrap_or_else(|| panic!("the new token is listed: {listed}"));
    assert_eq!(reader["role"], "viewer");
    assert!(
        viewer_token.starts_with(&format!("fst_{}_", reader["id"].as_str().unwrap())),
        "the token shown is the one listed: {viewer_token} {reader}"
    );
    b.find(&format!(
        "[data-test=tokens] tr[data-id=\"{}\"] [data-test=role]",
        reader["id"].as_str().unwrap()
    ))
    .await;
    b.shot("tokens").await;

    // Signed out: the sign-in page again, the token gone from the tab.
    b.click("[data-test=sign-out]").await;
    b.find("[data-test=page-sign-in]").await;
    assert_eq!(
        b.client
            .execute("return sessionStorage.length", vec![])
            .await
            .unwrap(),
        json!(0)
    );

    // The viewer reads, has no tokens page, and is refused a delete and a new group in the
    // server's words, where each was asked for, still signed in.
    b.open(&base, "jobs").await;
    sign_in(&b, &viewer_token).await;
    b.find(&job_row).await;
    b.until(
        "no tokens page in the menu",
        "return document.querySelector('#nav a[data-page=tokens]').hidden",
    )
    .await;
    b.click(&format!("{job_row} [data-test=delete]")).await;
    b.confirm().await;
    let refused = b
        .until(
            "the refusal in the banner",
            "const e = document.querySelector('[data-test=error]'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(
        refused.as_str().unwrap().contains("may not"),
        "the server's reason: {refused}"
    );
    b.find(&job_row).await;
    b.open(&base, "groups").await;
    b.type_into("[data-test=group-form] [data-test=field-name]", "mine")
        .await;
    b.click("[data-test=group-form] [data-test=submit]").await;
    let refused = b
        .until(
            "the refusal under the form",
            "const e = document.querySelector('[data-test=group-form] [data-test=form-error]'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(
        refused.as_str().unwrap().contains("may not"),
        "the server's reason: {refused}"
    );
    assert_eq!(
        b.text_of("[data-test=sign-in]").await,
        "",
        "still signed in"
    );
    b.shot("refused").await;

    // A reload keeps the session.
    b.open(&base, "jobs").await;
    b.client.refresh().await.expect("reload");
    b.find(&job_row).await;

    // A token revoked meanwhile: the next request is refused and the sign-in page says why.
    admin
        .call(
            reqwest::Method::DELETE,
            &format!("/tokens/{}", reader["id"].as_str().unwrap()),
            None,
        )
        .await;
    b.click("[data-test=page-jobs] .actions button").await;
    let why = b
        .until(
            "the reason on the sign-in page",
            "const e = document.querySelector('[data-test=sign-in-reason]'); return e && e.textContent",
        )
        .await;
    assert!(
        why.as_str().unwrap().contains("not valid"),
        "the server's reason: {why}"
    );

    // A new browser session starts signed out.
    sign_in(&b, &admin_token).await;
    b.find(&job_row).await;
    b.restart().await;
    b.open(&base, "jobs").await;
    b.find("[data-test=page-sign-in]").await;

    // In Chinese too.
    b.click("[data-test=lang]").await;
    b.until(
        "the Chinese sign-in page",
        "return document.querySelector('[data-test=page-sign-in] h1').textContent === '登录'",
    )
    .await;
    b.shot("sign-in-zh").await;
}
