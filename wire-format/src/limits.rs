//! Hard bounds on every variable-length field. Decoders check them before they
//! allocate, so a hostile length field costs nothing.

/// Default maximum frame body: large enough for a 1,000-entry dirsync chunk or
/// a 25 MiB mail with its envelope (a mail travels in one frame), small
/// enough that one connection cannot exhaust memory. Only an authenticated
/// peer may send one this big (see [`MAX_HANDSHAKE_FRAME_BODY`]).
pub const DEFAULT_MAX_FRAME_BODY: usize = 26 * 1024 * 1024;
/// Maximum frame body before a peer has authenticated: a Hello, a
/// Challenge or an Authenticate is well under 200 bytes, so an unknown peer
/// cannot make a listener hold megabytes for it (250 such peers announcing
/// 4 MiB Hellos once cost a router 680 MiB).
pub const MAX_HANDSHAKE_FRAME_BODY: usize = 4 * 1024;
/// Names: network, post office, mailbox, node and folder names.
pub const MAX_NAME_LEN: usize = 32;
/// Free text in directory entries: display names and attribute values.
pub const MAX_TEXT_LEN: usize = 256;
/// Attributes per directory entry.
pub const MAX_ATTRIBUTES: usize = 16;
/// Human-readable detail in error frames and admin replies.
pub const MAX_DETAIL_LEN: usize = 4096;
/// Passwords carried by admin user messages.
pub const MAX_PASSWORD_LEN: usize = 256;
/// Host:port strings.
pub const MAX_ENDPOINT_LEN: usize = 255;
/// Entries in one dirsync, replication or GAL chunk.
pub const MAX_CHUNK_ITEMS: usize = 65_536;
/// Servers in an up-to-dateness vector.
pub const MAX_VECTOR_LEN: usize = 1024;
/// Recipients of one mail.
pub const MAX_RECIPIENTS: usize = 1000;
/// Items in a status report.
pub const MAX_STATUS_ITEMS: usize = 4096;
/// Status keys and text values.
pub const MAX_STATUS_TEXT_LEN: usize = 1024;
/// Post offices in a GAL summary.
pub const MAX_SUMMARY_POST_OFFICES: usize = 65_536;
/// Events in one run-history page: a process keeps at most this many.
pub const MAX_HISTORY_EVENTS: usize = 1000;
/// A run-history event's error text.
pub const MAX_HISTORY_TEXT_LEN: usize = 1024;
