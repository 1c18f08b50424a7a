//! Compiles `proto/forest.proto` (client and server): the SDK's client is generated from the
//! same file the nodes serve, and the `forest` crate reuses these types. protox parses in pure
//! Rust, so no `protoc` is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = "../proto/forest.proto";
    println!("cargo:rerun-if-changed={file}");
    let fds = protox::compile([file], ["../proto"])?;
    // No transport constructors: the worker rpc is named `Connect`, which would clash with the
    // generated `connect(dst)`; clients are built with `new(channel)`.
    tonic_prost_build::configure()
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
