//! See `ds_requestor::DsRequestor` for what the binary does.
fn main() -> std::process::ExitCode {
    role_runtime::main::<ds_requestor::DsRequestor>()
}
