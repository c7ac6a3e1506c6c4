//! Routing decisions as plain functions: where a message for a post office
//! goes from this node, how a message is split per destination post office,
//! and who may hand over whose mail (reports are built in `crate::report`).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use wire_format::{Address, Name};

use crate::config::Mode;

/// What this node does with mail for one post office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Into a local mailbox (a post office's own users).
    Local,
    /// Hand it to this router.
    Forward(Name),
    /// No route: return it to the sender.
    Unroutable,
}

/// The routing rule. A post office keeps its own mail and sends the rest to
/// its hub unless a route says otherwise; hubs and the gateway route only by
/// their table.
///
/// A post office's route entry for its own name is its hub: that is how a
/// migration moves it to another hub at run time (`SetRoute{POC, H2}` sent to
/// POC), without a second kind of administration message.
pub fn route(
    node: Name,
    mode: Mode,
    hub: Option<Name>,
    routes: &BTreeMap<Name, Name>,
    post_office: &Name,
) -> Disposition {
    if mode == Mode::PostOffice && *post_office == node {
        return Disposition::Local;
    }
    match routes.get(post_office) {
        Some(hop) if *hop == node => Disposition::Unroutable,
        Some(hop) => Disposition::Forward(*hop),
        None => match (mode, effective_hub(node, mode, hub, routes)) {
            (Mode::PostOffice, Some(hub)) => Disposition::Forward(hub),
            _ => Disposition::Unroutable,
        },
    }
}

/// A post office's hub: a run-time override (its own name in the route
/// table) or the configured one.
pub fn effective_hub(
    node: Name,
    mode: Mode,
    hub: Option<Name>,
    routes: &BTreeMap<Name, Name>,
) -> Option<Name> {
    match mode {
        Mode::PostOffice => routes.get(&node).copied().or(hub),
        Mode::Hub | Mode::Gateway => None,
    }
}

/// Whether `peer`, an authenticated mail router, may hand this router mail
/// sent by `from`.
///
/// A post office originates mail only from its own users (its SMTP takes
/// no other sender, and its reports come from its own POSTMASTER), so a
/// post office that hands over mail from anyone else is forging it: with
/// its key alone it could otherwise put words in any user's mouth. Hubs and
/// the gateway relay everyone's mail and may hand over any.
///
/// Which peers are post offices: the names this router routes mail *to*
/// (the keys of its route table), since only post offices have mailboxes.
/// A hub's and the gateway's tables name every post office they carry mail
/// for, and a migration changes only where a key points, never the keys;
/// a post office's peers are hubs, never keys of its table.
pub fn may_hand_over(
    peer: &Name,
    network: &Name,
    routes: &BTreeMap<Name, Name>,
    from: &Address,
) -> bool {
    !routes.contains_key(peer) || (from.post_office == *peer && from.network == *network)
}

/// Recipients grouped by their post office.
pub fn split_by_post_office(recipients: &[Address]) -> BTreeMap<Name, Vec<Address>> {
    let mut out: BTreeMap<Name, Vec<Address>> = BTreeMap::new();
    for r in recipients {
        let group = out.entry(r.post_office).or_default();
        if !group.contains(r) {
            group.push(r.clone());
        }
    }
    out
}

/// The id of the copy of message `id` bound for `post_office`: derived, not
/// random, so a router that splits the same message again after a crash
/// makes the same copies, and the next hop stores each once.
pub fn copy_id(id: &[u8; 16], post_office: &Name) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(id);
    h.update(post_office.as_str().as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// The mailbox every post office has for `postmaster`: the sender of its
/// non-delivery reports, and where mail to `<postmaster>` goes (RFC 5321
/// 4.5.1: it MUST be accepted, with or without a domain).
pub const POSTMASTER: &str = "POSTMASTER";

pub fn postmaster() -> Name {
    Name::new(POSTMASTER).expect("POSTMASTER is a valid name")
}

/// `ACME/POA/JSMITH` is `jsmith@poa.acme`.
pub fn smtp_address(a: &Address) -> String {
    format!("{}@{}.{}", a.mailbox, a.post_office, a.network).to_ascii_lowercase()
}

/// Reads `mailbox@postoffice.network` (any case, angle brackets allowed).
pub fn parse_smtp_address(raw: &str) -> Option<Address> {
    let s = raw.trim().trim_start_matches('<').trim_end_matches('>');
    let (mailbox, domain) = s.split_once('@')?;
    let (post_office, network) = domain.split_once('.')?;
    Some(Address::new(
        Name::new(network).ok()?,
        Name::new(post_office).ok()?,
        Name::new(mailbox).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn post_offices_keep_their_own_and_send_the_rest_to_the_hub() {
        let routes = BTreeMap::new();
        assert_eq!(
            route(n("POA"), Mode::PostOffice, Some(n("H")), &routes, &n("POA")),
            Disposition::Local
        );
        assert_eq!(
            route(n("POA"), Mode::PostOffice, Some(n("H")), &routes, &n("POD")),
            Disposition::Forward(n("H"))
        );
    }

    #[test]
    fn a_post_office_moves_to_another_hub_by_a_route_for_itself() {
        let routes = BTreeMap::from([(n("POC"), n("H2"))]);
        let hub = Some(n("H"));
        assert_eq!(
            route(n("POC"), Mode::PostOffice, hub, &routes, &n("POA")),
            Disposition::Forward(n("H2"))
        );
        assert_eq!(
            route(n("POC"), Mode::PostOffice, hub, &routes, &n("POC")),
            Disposition::Local
        );
        assert_eq!(
            effective_hub(n("POC"), Mode::PostOffice, hub, &routes),
            Some(n("H2"))
        );
        // On a hub the same entry is an ordinary route.
        assert_eq!(
            route(n("H"), Mode::Hub, None, &routes, &n("POC")),
            Disposition::Forward(n("H2"))
        );
    }

    #[test]
    fn hubs_route_by_table_only() {
        let routes = BTreeMap::from([(n("POA"), n("POA")), (n("POD"), n("H3"))]);
        assert_eq!(
            route(n("H"), Mode::Hub, None, &routes, &n("POD")),
            Disposition::Forward(n("H3"))
        );
        assert_eq!(
            route(n("H"), Mode::Hub, None, &routes, &n("POZ")),
            Disposition::Unroutable
        );
        let looped = BTreeMap::from([(n("POA"), n("H"))]);
        assert_eq!(
            route(n("H"), Mode::Hub, None, &looped, &n("POA")),
            Disposition::Unroutable
        );
    }

    #[test]
    fn a_post_office_hands_over_only_its_own_users_mail_and_hubs_relay_any() {
        let routes = BTreeMap::from([(n("POA"), n("POA")), (n("POD"), n("H3"))]);
        let may = |peer: &str, from: &str| {
            let from: Address = from.parse().unwrap();
            may_hand_over(&n(peer), &n("ACME"), &routes, &from)
        };
        assert!(may("POA", "ACME/POA/JSMITH"));
        assert!(may("POA", "ACME/POA/POSTMASTER"));
        assert!(!may("POA", "ACME/POD/AJONES"));
        assert!(!may("POA", "OTHER/POA/JSMITH"));
        // A post office routed elsewhere (migrated) is still a post office.
        assert!(!may("POD", "ACME/POA/JSMITH"));
        // The gateway, not a destination, relays anyone's mail.
        assert!(may("H3", "ACME/POD/AJONES"));
    }

    #[test]
    fn copies_have_stable_distinct_ids() {
        let id = [7u8; 16];
        assert_eq!(copy_id(&id, &n("POA")), copy_id(&id, &n("POA")));
        assert_ne!(copy_id(&id, &n("POA")), copy_id(&id, &n("POB")));
    }

    #[test]
    fn smtp_addresses_round_trip() {
        let a: Address = "ACME/POA/JSMITH".parse().unwrap();
        assert_eq!(smtp_address(&a), "jsmith@poa.acme");
        assert_eq!(parse_smtp_address("<JSmith@POA.acme>"), Some(a));
        assert_eq!(parse_smtp_address("someone@example.com.evil"), None);
        assert_eq!(parse_smtp_address("no-at-sign"), None);
    }
}
