//! The history store's behaviour, one suite run against every backend: SQLite always (a temp
//! dir), MySQL/MariaDB and PostgreSQL when `FOREST_TEST_MYSQL_URL` / `FOREST_TEST_POSTGRES_URL`
//! name a database (`.ci/databases.sh` starts both). The suite drops and recreates its tables
//! there, so give it a database of its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use forest_storage::history::{
    status, Dialect, History, HistoryError, Query, Record, SCHEMA_VERSION,
};
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// Where the suite runs, and how to get an empty database there.
struct Backend {
    url: Option<String>,
    dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// A URL to an empty database: a new file for SQLite, dropped tables elsewhere.
    async fn fresh(&self, name: &str) -> String {
        if let Some(dir) = &self.dir {
            return format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("{name}.db")).display()
            );
        }
        let url = self.url.clone().expect("a url or a dir");
        let pool = raw(&url).await;
        for table in ["job_execute_snapshot", "forest_meta"] {
            exec(&pool, &format!("DROP TABLE IF EXISTS {table}")).await;
        }
        pool.close().await;
        url
    }
}

async fn raw(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await.expect("connect for raw SQL")
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A finished run of `job` at `at` (epoch ms).
fn run(id: &str, job: &str, at: i64, status: i32) -> Record {
    Record {
        id: id.into(),
        job_id: job.into(),
        name: format!("name of {job}"),
        group: "trade".into(),
        cron: "0 * * * * ?".into(),
        target: "com.example.Echo".into(),
        ip: "10.0.0.1".into(),
        status,
        create_time: "2026-11-24 10:00:00".into(),
        start_time: "2026-11-24 10:00:00".into(),
        finish_time: "2026-11-24 10:00:01".into(),
        times: 1,
        result: "ok".into(),
        created_at: at - 500,
        scheduled_at: Some(at - 1000),
        finished_at: Some(at),
        worker: "w1".into(),
        node: "n1".into(),
        duration_ms: Some(500),
        output: "hello\n".into(),
        ..Record::default()
    }
}

async fn suite(b: Backend) {
    migrations_are_idempotent(&b).await;
    concurrent_opens_migrate_once(&b).await;
    newer_schema_is_refused(&b).await;
    same_run_twice_is_one_row(&b).await;
    records_and_applied_commit_together(&b).await;
    filters_order_and_pages(&b).await;
    job_stats(&b).await;
    runs_per_minute(&b).await;
    prune_by_age_and_count(&b).await;
    original_table_is_adopted(&b).await;
}

async fn migrations_are_idempotent(b: &Backend) {
    let url = b.fresh("migrations").await;
    let h = History::open(&url).await.expect("first open");
    h.record(&[run("r1", "j1", now_ms(), status::SUCCESS)], 5)
        .await
        .expect("record");
    h.close().await;
    let h = History::open(&url).await.expect("second open");
    let h2 = History::open(&url)
        .await
        .expect("third open, while the second is open");
    assert_eq!(h.applied().await.expect("applied"), 5);
    assert_eq!(
        h2.list(&Query {
            limit: 10,
            ..Query::default()
        })
        .await
        .expect("list")
        .total,
        1
    );
    let pool = raw(&url).await;
    let version: i64 = sqlx::query("SELECT value FROM forest_meta WHERE name = 'schema_version'")
        .fetch_one(&pool)
        .await
        .and_then(|r| r.try_get("value"))
        .expect("version row");
    assert_eq!(version, SCHEMA_VERSION);
}

/// Nodes sharing a server database start together: one migrates, the others wait for its lock
/// and find the work done. (A SQLite file belongs to one node; nothing to race.)
async fn concurrent_opens_migrate_once(b: &Backend) {
    if b.dir.is_some() {
        return;
    }
    let url = b.fresh("concurrent").await;
    let (one, two, three) = tokio::join!(
        History::open(&url),
        History::open(&url),
        History::open(&url)
    );
    for h in [one, two, three] {
        h.expect("every concurrent open succeeds").close().await;
    }
    let pool = raw(&url).await;
    let version: i64 = sqlx::query("SELECT value FROM forest_meta WHERE name = 'schema_version'")
        .fetch_one(&pool)
        .await
        .and_then(|r| r.try_get("value"))
        .expect("version row");
    assert_eq!(version, SCHEMA_VERSION);
}

async fn newer_schema_is_refused(b: &Backend) {
    let url = b.fresh("newer").await;
    History::open(&url).await.expect("open").close().await;
    let pool = raw(&url).await;
    exec(
        &pool,
        "UPDATE forest_meta SET value = 99 WHERE name = 'schema_version'",
    )
    .await;
    match History::open(&url).await {
        Err(e @ HistoryError::SchemaTooNew { found: 99, known }) if known == SCHEMA_VERSION => {
            let text = e.to_string();
            assert!(
                text.contains("schema version 99 is newer than this forest binary"),
                "{text}"
            );
        }
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

async fn same_run_twice_is_one_row(b: &Backend) {
    let url = b.fresh("upsert").await;
    let h = History::open(&url).await.expect("open");
    let at = now_ms();
    let mut running = run("r1", "j1", at, status::RUNNING);
    running.finished_at = None;
    let done = Record {
        output: "done\n".into(),
        ..run("r1", "j1", at, status::SUCCESS)
    };
    h.record(&[running.clone()], 1).await.expect("running");
    h.record(std::slice::from_ref(&done), 2)
        .await
        .expect("finished");
    // A replayed batch, and the same id twice in one batch: still one row, last write wins.
    h.record(&[running, done.clone()], 2).await.expect("replay");
    let page = h
        .list(&Query {
            limit: 10,
            ..Query::default()
        })
        .await
        .expect("list");
    assert_eq!(page.total, 1);
    assert_eq!(h.get("r1").await.expect("get"), Some(done));
    assert_eq!(h.applied().await.expect("applied"), 2);
    h.record(&[], 1).await.expect("older revision");
    assert_eq!(
        h.applied().await.expect("applied"),
        2,
        "applied never moves back"
    );
}

async fn records_and_applied_commit_together(b: &Backend) {
    let url = b.fresh("atomic").await;
    let h = History::open(&url).await.expect("open");
    // Make the second half of the transaction fail: the rows must not stay behind.
    let pool = raw(&url).await;
    exec(&pool, "DROP TABLE forest_meta").await;
    let batch: Vec<Record> = (0..700)
        .map(|i| run(&format!("r{i}"), "j1", now_ms(), status::SUCCESS))
        .collect();
    let err = h
        .record(&batch, 9)
        .await
        .expect_err("no forest_meta, no commit");
    assert!(matches!(err, HistoryError::Db { .. }), "{err}");
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM job_execute_snapshot")
        .fetch_one(&pool)
        .await
        .and_then(|r| r.try_get("n"))
        .expect("count");
    assert_eq!(n, 0, "rows committed without their revision");
}

async fn filters_order_and_pages(b: &Backend) {
    let url = b.fresh("filters").await;
    let h = History::open(&url).await.expect("open");
    let base = now_ms() - 100_000;
    let records: Vec<Record> = (0..30)
        .map(|i| {
            let mut r = run(
                &format!("r{i:02}"),
                &format!("j{}", i % 3),
                base + i * 1000,
                if i % 5 == 0 {
                    status::ERROR
                } else {
                    status::SUCCESS
                },
            );
            r.name = if i % 3 == 0 {
                "50%_off report".into()
            } else {
                format!("job {}", i % 3)
            };
            r.group = if i % 2 == 0 {
                "even".into()
            } else {
                "odd".into()
            };
            r.worker = format!("w{}", i % 4);
            r.ip = format!("10.0.0.{}", i % 4);
            r
        })
        .collect();
    h.record(&records, 1).await.expect("record");
    let list = |q: Query| {
        let h = h.clone();
        async move { h.list(&Query { limit: 100, ..q }).await.expect("list") }
    };
    let all = list(Query::default()).await;
    assert_eq!(all.total, 30);
    assert!(!all.total_capped);
    let ids: Vec<&str> = all.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.first(), Some(&"r29"), "newest first");
    assert_eq!(ids.last(), Some(&"r00"));
    assert!(
        all.records.iter().all(|r| r.output.is_empty()),
        "lists leave output out"
    );

    assert_eq!(
        list(Query {
            job_id: Some("j1".into()),
            ..Query::default()
        })
        .await
        .total,
        10
    );
    assert_eq!(
        list(Query {
            group: Some("odd".into()),
            ..Query::default()
        })
        .await
        .total,
        15
    );
    assert_eq!(
        list(Query {
            worker: Some("w2".into()),
            ..Query::default()
        })
        .await
        .total,
        7
    );
    assert_eq!(
        list(Query {
            ip: Some("10.0.0.3".into()),
            ..Query::default()
        })
        .await
        .total,
        7
    );
    assert_eq!(
        list(Query {
            status: Some(status::ERROR),
            ..Query::default()
        })
        .await
        .total,
        6
    );
    assert_eq!(
        list(Query {
            name: Some("0%_o".into()),
            ..Query::default()
        })
        .await
        .total,
        10
    );
    assert_eq!(
        list(Query {
            name: Some("b %".into()),
            ..Query::default()
        })
        .await
        .total,
        0,
        "% is literal"
    );
    let window = list(Query {
        from_ms: Some(base + 10_000),
        to_ms: Some(base + 20_000),
        ..Query::default()
    })
    .await;
    assert_eq!(window.total, 10);
    assert_eq!(window.records.first().map(|r| r.id.as_str()), Some("r19"));
    let both = list(Query {
        job_id: Some("j0".into()),
        status: Some(status::SUCCESS),
        group: Some("even".into()),
        ..Query::default()
    })
    .await;
    assert_eq!(
        both.records
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["r24", "r18", "r12", "r06"]
    );

    let mut paged = Vec::new();
    for page in 0..4 {
        let p = h
            .list(&Query {
                offset: page * 8,
                limit: 8,
                ..Query::default()
            })
            .await
            .expect("page");
        assert_eq!(p.total, 30, "every page carries the total");
        paged.extend(p.records.into_iter().map(|r| r.id));
    }
    assert_eq!(paged, ids);
    let job_and_status = Query {
        job_id: Some("j0".into()),
        status: Some(status::SUCCESS),
        limit: 20,
        ..Query::default()
    };
    let plan = h.plan(&job_and_status).await.expect("plan");
    assert!(!plan.is_empty());
    if b.dir.is_some() {
        // The count reads the job+status index alone, the page walks it in order: no table
        // rows for the count, no sort for the page.
        assert!(
            plan.iter()
                .any(|l| l.starts_with("count:") && l.contains("COVERING INDEX fx_job_status_sort")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .all(|l| !l.starts_with("page:") || !l.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }

    let count_only = h
        .list(&Query {
            job_id: Some("j2".into()),
            ..Query::default()
        })
        .await
        .expect("count");
    assert_eq!((count_only.total, count_only.records.len()), (10, 0));
}

async fn job_stats(b: &Backend) {
    let url = b.fresh("stats").await;
    let h = History::open(&url).await.expect("open");
    let base = now_ms() - 1_000_000;
    let mut records: Vec<Record> = (1..=100)
        .map(|i| {
            let st = match i % 10 {
                0 => status::ERROR,
                5 => status::TIMEOUT,
                _ => status::SUCCESS,
            };
            Record {
                duration_ms: Some(101 - i),
                ..run(&format!("s{i}"), "job", base + i * 1000, st)
            }
        })
        .collect();
    let mut cancelled = run("c", "job", base, status::CANCELLED);
    cancelled.duration_ms = None;
    let mut running = run("r", "job", base, status::RUNNING);
    (running.finished_at, running.duration_ms) = (None, None);
    records.extend([
        cancelled,
        running,
        run("other", "other", base, status::ERROR),
    ]);
    h.record(&records, 1).await.expect("record");
    let s = h.stats("job").await.expect("stats");
    assert_eq!((s.runs, s.successes, s.failures), (102, 80, 20));
    assert_eq!((s.p50_duration_ms, s.p95_duration_ms), (Some(50), Some(95)));
    assert_eq!(s.last_success_ms, Some(base + 99_000));
    assert_eq!(s.last_failure_ms, Some(base + 100_000));
    let none = h.stats("nobody").await.expect("stats of nothing");
    assert_eq!(
        (none.runs, none.p50_duration_ms, none.last_success_ms),
        (0, None, None)
    );
}

async fn runs_per_minute(b: &Backend) {
    let url = b.fresh("per_minute").await;
    let h = History::open(&url).await.expect("open");
    let minute = (now_ms() / 60_000 - 10) * 60_000;
    let mut running = run("running", "j", minute + 1000, status::RUNNING);
    running.finished_at = None;
    h.record(
        &[
            run("a", "j", minute + 1000, status::SUCCESS),
            run("b", "j", minute + 59_999, status::ERROR),
            run("c", "j", minute + 2 * 60_000, status::SUCCESS),
            run("d", "j", minute + 2 * 60_000 + 5, status::SUCCESS),
            run("late", "j", minute + 3 * 60_000, status::SUCCESS),
            running,
        ],
        1,
    )
    .await
    .expect("record");
    let counts = h
        .runs_per_minute(minute, minute + 3 * 60_000)
        .await
        .expect("per minute");
    let got: Vec<(i64, i64, i64)> = counts
        .iter()
        .map(|c| (c.minute_ms - minute, c.successes, c.failures))
        .collect();
    assert_eq!(got, [(0, 1, 1), (120_000, 2, 0)]);
}

async fn prune_by_age_and_count(b: &Backend) {
    let url = b.fresh("prune").await;
    let h = History::open(&url).await.expect("open");
    let now = now_ms();
    let day = 86_400_000;
    let mut records: Vec<Record> = (0..1500)
        .map(|i| run(&format!("old{i}"), "a", now - 10 * day - i, status::SUCCESS))
        .collect();
    records.extend((0..2500).map(|i| run(&format!("new{i:04}"), "b", now - i, status::SUCCESS)));
    records.extend((0..5).map(|i| run(&format!("few{i}"), "c", now - i, status::SUCCESS)));
    h.record(&records, 1).await.expect("record");
    let by_age = h
        .prune(Some(Duration::from_secs(86_400)), None)
        .await
        .expect("prune by age");
    assert_eq!(by_age, 1500);
    let by_count = h.prune(None, Some(10)).await.expect("prune by count");
    assert_eq!(by_count, 2490);
    let kept = h
        .list(&Query {
            job_id: Some("b".into()),
            limit: 100,
            ..Query::default()
        })
        .await
        .expect("list");
    let ids: Vec<String> = kept.records.into_iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        (0..10).map(|i| format!("new{i:04}")).collect::<Vec<_>>(),
        "the newest stay"
    );
    assert_eq!(h.list(&Query::default()).await.expect("all").total, 15);
    assert_eq!(
        h.prune(Some(Duration::from_secs(86_400)), Some(10))
            .await
            .expect("again"),
        0
    );
}

/// The original forest's DDL, exactly (forest-compat §2.4).
const ORIGINAL_MYSQL_DDL: &str = "CREATE TABLE `job_execute_snapshot` (
  `id` varchar(64) NOT NULL COMMENT '主键',
  `job_id` varchar(32) NOT NULL COMMENT '任务定义id',
  `name` varchar(32) NOT NULL COMMENT '任务名称',
  `group` varchar(32) NOT NULL COMMENT '任务集群',
  `cron` varchar(32) NOT NULL COMMENT 'cron表达式',
  `target` varchar(255) NOT NULL COMMENT '目标任务',
  `params` varchar(255) DEFAULT NULL COMMENT '参数',
  `ip` varchar(32) NOT NULL COMMENT 'ip',
  `status` tinyint(4) NOT NULL COMMENT '状态 1-执行中 2-完成  3-未知  4-错误',
  `mobile` varchar(32) DEFAULT NULL COMMENT '手机号码',
  `remark` varchar(255) DEFAULT NULL COMMENT '备注',
  `create_time` varchar(32) NOT NULL COMMENT '创建时间',
  `start_time` varchar(255) DEFAULT NULL COMMENT '开始时间',
  `finish_time` varchar(32) DEFAULT NULL COMMENT '结束时间',
  `times` bigint(20) DEFAULT '0' COMMENT '耗时',
  `result` varchar(255) DEFAULT NULL COMMENT '返回结果',
  PRIMARY KEY (`id`), KEY `ip` (`ip`), KEY `job_id` (`job_id`), KEY `status` (`status`), KEY `group` (`group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COMMENT='任务作业执行快照'";

/// The same table in standard SQL, for SQLite and PostgreSQL.
const ORIGINAL_STANDARD_DDL: &str = "CREATE TABLE job_execute_snapshot (
  id varchar(64) NOT NULL PRIMARY KEY, job_id varchar(32) NOT NULL, name varchar(32) NOT NULL,
  \"group\" varchar(32) NOT NULL, cron varchar(32) NOT NULL, target varchar(255) NOT NULL,
  params varchar(255) DEFAULT NULL, ip varchar(32) NOT NULL, status smallint NOT NULL,
  mobile varchar(32) DEFAULT NULL, remark varchar(255) DEFAULT NULL,
  create_time varchar(32) NOT NULL, start_time varchar(255) DEFAULT NULL,
  finish_time varchar(32) DEFAULT NULL, times bigint DEFAULT 0, result varchar(255) DEFAULT NULL)";

/// What an old user's own query sees: `SELECT id, job_id, status, result … ORDER BY create_time
/// DESC`, through the database's own driver (sqlx's `Any` cannot read MySQL's `tinyint`).
async fn old_user_query(url: &str) -> Vec<(String, String, i64, Option<String>)> {
    const SQL: &str =
        "SELECT id, job_id, status, result FROM job_execute_snapshot ORDER BY create_time DESC";
    if Dialect::of_url(url).ok() == Some(Dialect::MySql) {
        let pool = sqlx::MySqlPool::connect(url).await.expect("mysql connect");
        let rows = sqlx::query(SQL).fetch_all(&pool).await.expect("old query");
        rows.iter()
            .map(|r| {
                (
                    r.get("id"),
                    r.get("job_id"),
                    i64::from(r.get::<i8, _>("status")),
                    r.get("result"),
                )
            })
            .collect()
    } else {
        let pool = raw(url).await;
        let rows = sqlx::query(SQL).fetch_all(&pool).await.expect("old query");
        rows.iter()
            .map(|r| {
                (
                    r.get("id"),
                    r.get("job_id"),
                    r.get::<i64, _>("status"),
                    r.get("result"),
                )
            })
            .collect()
    }
}

async fn original_table_is_adopted(b: &Backend) {
    let url = b.fresh("original").await;
    let pool = raw(&url).await;
    let is_mysql = Dialect::of_url(&url).ok() == Some(Dialect::MySql);
    exec(
        &pool,
        if is_mysql {
            ORIGINAL_MYSQL_DDL
        } else {
            ORIGINAL_STANDARD_DDL
        },
    )
    .await;
    // A row the original forest wrote, before Forest ever saw the table.
    let insert = "INSERT INTO job_execute_snapshot (id, job_id, name, \"group\", cron, target, params, ip, status, mobile, remark, create_time, start_time, finish_time, times, result) \
         VALUES ('old', 'j-old', 'legacy', 'trade', '0 * * * * ?', 'com.busgo.Echo', '', '10.0.0.9', 2, '', '', '2019-12-24 17:43:04', '2019-12-24 17:43:04', '2019-12-24 17:43:05', 1, 'fine')";
    // And one whose time is not in the original's format: it must not stop the migration.
    let odd = insert
        .replace("'old'", "'odd'")
        .replace("'2019-12-24 17:43:04', '2019", "'yesterday', '2019");
    for sql in [insert.to_string(), odd] {
        exec(&pool, &if is_mysql { sql.replace('"', "`") } else { sql }).await;
    }

    let h = History::open(&url).await.expect("adopt the original table");
    History::open(&url).await.expect("and again").close().await;
    let mut long = run("new-long", "j-new", now_ms(), status::ERROR);
    long.create_time = "2026-11-24 10:00:00".into();
    long.result = "x".repeat(300);
    long.name = "名字🎉 and a name far longer than thirty-two characters".into();
    let mut timeout = run("new-timeout", "j-new", now_ms(), status::TIMEOUT);
    timeout.create_time = "2026-11-24 09:00:00".into();
    h.record(&[long.clone(), timeout], 1)
        .await
        .expect("record into the original table");

    let seen = old_user_query(&url).await;
    let expected = vec![
        (
            "new-long".to_string(),
            "j-new".to_string(),
            -1,
            Some("x".repeat(255)),
        ),
        ("new-timeout".into(), "j-new".into(), -2, Some("ok".into())),
        ("old".into(), "j-old".into(), 2, Some("fine".into())),
    ];
    let seen = seen
        .into_iter()
        .filter(|(id, ..)| id != "odd")
        .collect::<Vec<_>>();
    assert_eq!(seen, expected);
    let full = h.get("new-long").await.expect("get").expect("row");
    assert_eq!(full.result.len(), 300, "the full result is kept");
    let old = h.get("old").await.expect("get").expect("old row");
    assert_eq!(
        (old.status, old.result.as_str(), old.finished_at),
        (2, "fine", None)
    );
    // Its create_time, read as UTC, is now its place in time.
    assert_eq!(old.created_at, 1_577_209_384_000);
    let odd = h.get("odd").await.expect("get").expect("odd row");
    assert_eq!(odd.created_at, 0, "unreadable times stay 0");
    let listed = h
        .list(&Query {
            limit: 10,
            ..Query::default()
        })
        .await
        .expect("list");
    let ids: Vec<&str> = listed.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[2..], ["old", "odd"], "old rows sort by their time");
    let in_2019 = h
        .list(&Query {
            from_ms: Some(1_577_209_384_000),
            to_ms: Some(1_577_209_385_000),
            limit: 10,
            ..Query::default()
        })
        .await
        .expect("time filter");
    assert_eq!(in_2019.records.len(), 1, "time filters find old rows");
}

#[tokio::test]
async fn history_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    suite(Backend {
        url: None,
        dir: Some(dir),
    })
    .await;
}

async fn on_server(what: &str, var: &str) {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => {
            suite(Backend {
                url: Some(url),
                dir: None,
            })
            .await
        }
        _ => println!("SKIPPED: history {what} ({var} not set)"),
    }
}

#[tokio::test]
async fn history_mysql() {
    on_server("mysql", "FOREST_TEST_MYSQL_URL").await;
}

#[tokio::test]
async fn history_postgres() {
    on_server("postgres", "FOREST_TEST_POSTGRES_URL").await;
}

/// Not a test: the history benchmark on a SQLite file, for a quick figure without the binary
/// (`FOREST_BENCH_ROWS=1000000 cargo test --release -p forest-storage --test history -- --ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn bench_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = std::env::var("FOREST_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let config = forest_storage::history::bench::BenchConfig {
        url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        rows,
        batch: 1000,
        jobs: 1000,
        queries: 1000,
    };
    let report = forest_storage::history::bench::run(&config)
        .await
        .expect("bench");
    println!("{report:?}");
}
