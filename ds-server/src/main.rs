//! See `ds_server::DsServer` for what the binary does.
fn main() -> std::process::ExitCode {
    role_runtime::main::<ds_server::DsServer>()
}
