//! `netctl dashboard`.

use std::path::Path;

use crate::NetctlError;

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {}

pub fn run(_data_dir: &Path, _json: bool, _args: &DashboardArgs) -> Result<(), NetctlError> {
    Err(NetctlError::Migration(
        "`netctl dashboard` is being built".into(),
    ))
}
