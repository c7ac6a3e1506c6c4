//! See `site_replicator::SiteReplicator` for what the binary does.
fn main() -> std::process::ExitCode {
    role_runtime::main::<site_replicator::SiteReplicator>()
}
