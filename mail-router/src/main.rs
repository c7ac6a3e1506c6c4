//! See `mail_router::MailRouter` for what the binary does.
fn main() -> std::process::ExitCode {
    role_runtime::main::<mail_router::MailRouter>()
}
