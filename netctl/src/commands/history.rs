//! `netctl history`.

use std::path::Path;

use crate::NetctlError;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {}

pub fn run(_data_dir: &Path, _json: bool, _args: &HistoryArgs) -> Result<(), NetctlError> {
    Err(NetctlError::Migration(
        "`netctl history` is being built".into(),
    ))
}
