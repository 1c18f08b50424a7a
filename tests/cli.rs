//! The `forest` command line against a real single node: what operators type, what they get
//! back, and the clear refusals of bad input (nothing stored half-way).

mod common;

use common::*;
use forest::pb::kv::PutRequest;

#[tokio::test]
async fn put_get_delete_and_leases_through_the_cli() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let run = |args: &[&str]| ok_json_at(&ep, args);

    let put = run(&["kv", "put", "/cli/a", "1"]);
    let rev = put["revision"].as_i64().unwrap();
    run(&["kv", "put", "/cli/b", "2"]);
    let got = run(&["kv", "get", "/cli/", "--prefix"]);
    assert_eq!(got["count"], 2);
    assert_eq!(got["kvs"][0]["key"], "/cli/a");
    assert_eq!(got["kvs"][1]["value"], "2");

    let old = run(&["kv", "get", "/cli/b", "--rev", &rev.to_string()]);
    assert_eq!(
        old["count"], 0,
        "at the first put's revision /cli/b did not exist yet"
    );

    let limited = run(&["kv", "get", "/cli/", "--prefix", "--limit", "1"]);
    assert_eq!(limited["kvs"].as_array().unwrap().len(), 1);
    assert_eq!(limited["more"], true);

    let lease = run(&["lease", "grant", "60"])["id"].as_i64().unwrap();
    let lease_s = lease.to_string();
    run(&["kv", "put", "/cli/leased", "x", "--lease", &lease_s]);
    let ttl = run(&["lease", "ttl", &lease_s]);
    assert_eq!(ttl["granted_ttl"], 60);
    assert_eq!(ttl["keys"][0], "/cli/leased");
    assert_eq!(run(&["lease", "keepalive", &lease_s, "--once"])["ttl"], 60);
    run(&["lease", "revoke", &lease_s]);
    assert_eq!(
        run(&["kv", "get", "/cli/leased"])["count"],
        0,
        "revoking deletes the key"
    );

    let del = run(&["kv", "del", "/cli/", "--prefix"]);
    assert_eq!(del["deleted"], 2);

    let status = run(&["cluster", "status"]);
    assert_eq!(status["leader"], 1);
    assert_eq!(status["members"][0]["role"], "leader");
    assert!(status["members"][0]["applied_index"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason_and_store_nothing() {
    let cluster = Cluster::start(1, &["--retain-revisions", "1000000"]).await;
    let ep = cluster.endpoint(1);
    let long_key = format!("/cli/{}", "k".repeat(1600));

    let err = refused(&["kv", "put", &long_key, "v", "--endpoints", &ep]);
    assert!(
        err.contains("key is 1605 bytes; the limit is 1536"),
        "{err}"
    );
    let err = refused(&[
        "kv",
        "put",
        "/cli/x",
        "v",
        "--lease",
        "12345",
        "--endpoints",
        &ep,
    ]);
    assert!(err.contains("lease 12345 not found"), "{err}");

    let mut c = kv(&ep).await;
    let too_big = c
        .put(PutRequest {
            key: "/cli/huge".into(),
            value: vec![b'x'; 1536 * 1024 + 1],
            ..Default::default()
        })
        .await
        .expect_err("a value over 1.5 MiB is refused");
    assert_eq!(too_big.code(), tonic::Code::InvalidArgument);

    let nothing = read_prefix(&ep, "/cli/").await;
    assert_eq!(nothing.count, 0, "refused writes stored nothing");

    // History before a compaction point is gone, and saying so is the answer.
    for i in 0..5 {
        c.put(put_req("/cli/h", &i.to_string())).await.unwrap();
    }
    let now = put_at_revision(&mut c, "/cli/h", "last").await;
    let compacted = cli(&["kv", "compact", &(now - 1).to_string(), "--endpoints", &ep]);
    assert!(compacted.status.success());
    let err = refused(&[
        "kv",
        "get",
        "/cli/h",
        "--rev",
        &(now - 3).to_string(),
        "--endpoints",
        &ep,
    ]);
    assert!(err.contains("compacted"), "{err}");
    let err = refused(&[
        "kv",
        "get",
        "/cli/h",
        "--rev",
        &(now + 100).to_string(),
        "--endpoints",
        &ep,
    ]);
    assert!(err.contains("future revision"), "{err}");
}

#[test]
fn serve_refuses_bad_configuration_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data = data.to_str().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let serve = |extra: &[&str]| -> String {
        let mut args = vec!["serve", "--data-dir", data, "--http-addr", &http];
        if !extra.contains(&"--grpc-addr") {
            args.extend(["--grpc-addr", &grpc]);
        }
        args.extend_from_slice(extra);
        refused(&args)
    };
    assert!(serve(&["--peers", "127.0.0.1:7071"]).contains("not of the form ID=HOST:PORT"));
    assert!(serve(&["--peers", "1=127.0.0.1:7071,1=127.0.0.1:7072"]).contains("listed twice"));
    assert!(serve(&["--id", "4", "--peers", "1=127.0.0.1:7071"]).contains("not in --peers"));
    let open = serve(&["--grpc-addr", "0.0.0.0:0"]);
    assert!(open.contains("not a loopback address"), "{open}");
    assert!(
        !std::path::Path::new(data).exists(),
        "no data directory was created"
    );
}

// Multi-threaded: the runtime must close this test's connections while it waits for the
// node to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_belongs_to_one_node_and_survives_kill_and_sigterm() {
    let mut cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    kv(&ep)
        .await
        .put(put_req("/cli/durable", "acked"))
        .await
        .unwrap();

    // kill -9 right after the acknowledgement: the write is on disk.
    cluster.node(1).kill();
    cluster.node(1).start();
    cluster.wait_for_leader(&[1]).await;
    assert_eq!(
        local_value(&ep, "/cli/durable").await.as_deref(),
        Some("acked")
    );

    // SIGTERM is a clean exit, and the data is still there after it.
    kv(&ep)
        .await
        .put(put_req("/cli/durable", "again"))
        .await
        .unwrap();
    assert!(cluster.node(1).terminate(), "SIGTERM exits with status 0");
    cluster.node(1).start();
    cluster.wait_for_leader(&[1]).await;
    assert_eq!(
        local_value(&ep, "/cli/durable").await.as_deref(),
        Some("again")
    );
    assert!(cluster.node(1).terminate());

    // The same directory under another node id is refused.
    let data = cluster.node(1).data_dir.display().to_string();
    let (g, h) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let err = refused(&[
        "serve",
        "--id",
        "2",
        "--data-dir",
        &data,
        "--grpc-addr",
        &g,
        "--http-addr",
        &h,
    ]);
    assert!(err.contains("belongs to node 1"), "{err}");
}
