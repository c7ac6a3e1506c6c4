//! How tests reach a role process's wire listener: netctl's blocking
//! client (as `OPERATOR`, or as a named peer via `Operator::connect_as`), and
//! a dump for comparing directories.

pub use netctl::client::Operator;
use wire_format::Entry;

/// A canonical, sorted, one-line-per-entry dump of a directory, for comparing
/// servers byte for byte (replication metadata included).
pub fn dump(entries: &[Entry]) -> String {
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                e.address,
                e.folder.map(|f| f.to_string()).unwrap_or_default(),
                e.display_name,
                e.owner,
                e.origin,
                e.version.version,
                e.version.changed_at_ms,
                e.version.origin_seq,
                e.tombstone
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}
