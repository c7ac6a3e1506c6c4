//! `netctl watch`.

use std::path::Path;

use crate::NetctlError;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {}

pub fn run(_data_dir: &Path, _json: bool, _args: &WatchArgs) -> Result<(), NetctlError> {
    Err(NetctlError::Migration(
        "`netctl watch` is being built".into(),
    ))
}
