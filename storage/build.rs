//! Compiles `proto/kv.proto` into the message types the state machine applies. protox parses
//! the file in pure Rust, so no `protoc` is needed on the build machine.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../proto/kv.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["../proto"])?;
    prost_build::Config::new()
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .compile_fds(fds)?;
    Ok(())
}
