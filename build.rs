//! Compiles the gRPC services. The kv messages come from forest-storage (the same types are the
//! Raft commands), so only the service code is generated for them here. protox parses the
//! files in pure Rust: no `protoc` on the build machine.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/kv.proto", "proto/raft.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .extern_path(".forest.kv.v1", "::forest_storage::pb")
        .compile_fds(fds)?;
    Ok(())
}
