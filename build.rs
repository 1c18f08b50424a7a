//! Compiles the gRPC services. The kv messages come from forest-storage (the same types are the
//! Raft commands), so only the service code is generated for them here; forest.v1 is compiled
//! by forest-sdk, which owns it. protox parses the files in pure Rust: no `protoc` on the build
//! machine.
//!
//! etcd's v3 API (`proto/etcd/`, etcd's own packages) is generated apart, with default stubs:
//! every method the adapter does not implement answers Unimplemented, as etcd answers what
//! it does not know, instead of a wrong answer.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forest = ["proto/kv.proto", "proto/raft.proto"];
    let etcd = [
        "proto/etcd/etcdserverpb/rpc.proto",
        "proto/etcd/mvccpb/kv.proto",
        "proto/etcd/authpb/auth.proto",
    ];
    for f in forest.iter().chain(&etcd) {
        println!("cargo:rerun-if-changed={f}");
    }
    // The UI's files are embedded (src/http/ui.rs); a file added to web/ must rebuild too.
    println!("cargo:rerun-if-changed=web");
    tonic_prost_build::configure()
        .extern_path(".forest.kv.v1", "::forest_storage::pb")
        .compile_fds(protox::compile(forest, ["proto"])?)?;
    tonic_prost_build::configure()
        .generate_default_stubs(true)
        .compile_fds(protox::compile(etcd, ["proto/etcd"])?)?;
    Ok(())
}
