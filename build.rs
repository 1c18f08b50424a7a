//! Compiles the gRPC services. The kv messages come from forest-storage (the same types are the
//! Raft commands), so only the service code is generated for them here; forest.v1 is compiled
//! by forest-sdk, which owns it. protox parses the
//! files in pure Rust: no `protoc` on the build machine. `proto/etcd/rpc.proto` declares etcd's
//! KV service over the same messages (for `forest bench kv --target etcd`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/kv.proto", "proto/raft.proto", "proto/etcd/rpc.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    // The UI's files are embedded (src/http/ui.rs); a file added to web/ must rebuild too.
    println!("cargo:rerun-if-changed=web");
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .extern_path(".forest.kv.v1", "::forest_storage::pb")
        .compile_fds(fds)?;
    Ok(())
}
