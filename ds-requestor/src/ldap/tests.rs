//! The address book's core without sockets: requests in, responses out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::*;
use role_runtime::Secret;
use tokio_util::codec::{Decoder, Encoder};
use wire_format::{Address, Entry, EntryVersion, Name};

use super::codec::{Bounded, MAX_FRAME};
use super::config::BindPolicy;
use super::core::{Action, Policy, Reply, Session};
use super::directory::Directory;
use super::dn::Dn;

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn user(po: &str, mailbox: &str, display: &str) -> Entry {
    Entry {
        address: Address::new(n("ACME"), n(po), n(mailbox)),
        display_name: display.into(),
        attributes: Vec::new(),
        owner: n(po),
        folder: None,
        origin: n(po),
        version: EntryVersion::default(),
        tombstone: false,
    }
}

fn gal() -> Arc<Directory> {
    let mut gone = user("POA", "GONE", "Deleted User");
    gone.tombstone = true;
    Arc::new(Directory::build(
        n("ACME"),
        vec![
            user("POA", "JSMITH", "John Smith"),
            user("POA", "JOANNA", "Joanna  van Dyke"),
            user("POA", "ALICE", "Alice Martin"),
            user("POB", "BOB", "Bob Jones"),
            user("POD", "MARY", "Mary"),
            gone,
        ],
    ))
}

fn policy() -> Policy {
    Policy {
        bind: BindPolicy {
            anonymous: true,
            account: None,
        },
        size_limit: 500,
        time_limit: Duration::from_secs(10),
        starttls: false,
    }
}

fn search(base: &str, scope: LdapSearchScope, filter: &str) -> LdapSearchRequest {
    LdapSearchRequest {
        base: base.into(),
        scope,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter: ldap3_proto::parse_ldap_filter_str(filter).unwrap(),
        attrs: vec![],
    }
}

fn ask(session: &mut Session, policy: &Policy, op: LdapOp) -> Reply {
    ask_with(session, policy, op, vec![])
}

fn ask_with(session: &mut Session, policy: &Policy, op: LdapOp, ctrl: Vec<LdapControl>) -> Reply {
    let request = LdapMsg { msgid: 7, op, ctrl };
    session.handle(request, &gal(), policy, Instant::now())
}

/// The DNs found, and the SearchResultDone's code.
fn found(reply: &Reply) -> (Vec<String>, LdapResultCode) {
    let mut dns = Vec::new();
    let mut code = None;
    for m in &reply.messages {
        assert_eq!(m.msgid, 7);
        match &m.op {
            LdapOp::SearchResultEntry(e) => dns.push(e.dn.clone()),
            LdapOp::SearchResultDone(r) => code = Some(r.code.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }
    (dns, code.expect("a SearchResultDone"))
}

fn run(req: LdapSearchRequest) -> (Vec<String>, LdapResultCode) {
    found(&ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(req),
    ))
}

fn sub(filter: &str) -> Vec<String> {
    let (dns, code) = run(search("o=ACME", LdapSearchScope::Subtree, filter));
    assert_eq!(code, LdapResultCode::Success);
    dns
}

#[test]
fn thunderbird_autocomplete_filter_matches_substrings_case_insensitively_rfc4511_4_5_1_7_2() {
    assert_eq!(
        sub("(|(cn=*jo*)(mail=*jo*)(sn=*jo*)(givenName=*jo*))"),
        [
            "uid=JOANNA,ou=POA,o=ACME",
            "uid=JSMITH,ou=POA,o=ACME",
            "uid=BOB,ou=POB,o=ACME"
        ]
    );
    assert_eq!(sub("(cn=J*SMITH)"), ["uid=JSMITH,ou=POA,o=ACME"]);
    assert_eq!(sub("(cn=*dyke)"), ["uid=JOANNA,ou=POA,o=ACME"]);
    // Inner runs of spaces count as one (caseIgnoreMatch, RFC 4518).
    let mut spaced = search("o=ACME", LdapSearchScope::Subtree, "(cn=x)");
    spaced.filter = LdapFilter::Equality("cn".into(), " joanna van   dyke".into());
    assert_eq!(run(spaced).0, ["uid=JOANNA,ou=POA,o=ACME"]);
    assert!(sub("(cn=*jo*smith*xx)").is_empty());
}

#[test]
fn equality_presence_and_boolean_filters_rfc4511_4_5_1_7() {
    assert_eq!(sub("(mail=JSMITH@poa.acme)"), ["uid=JSMITH,ou=POA,o=ACME"]);
    assert_eq!(sub("(uid=alice)"), ["uid=ALICE,ou=POA,o=ACME"]);
    assert_eq!(
        sub("(proxyAddresses=ms:acme/pob/bob)"),
        ["uid=BOB,ou=POB,o=ACME"]
    );
    // sn is the last word, givenName the rest; a one-word name has no givenName.
    assert_eq!(
        sub("(&(sn=smith)(givenName=john))"),
        ["uid=JSMITH,ou=POA,o=ACME"]
    );
    assert_eq!(
        sub("(&(objectClass=inetOrgPerson)(!(givenName=*)))"),
        ["uid=MARY,ou=POD,o=ACME"]
    );
    assert_eq!(sub("(surname=Jones)"), ["uid=BOB,ou=POB,o=ACME"]);
    assert_eq!(sub("(cn~=mary)"), ["uid=MARY,ou=POD,o=ACME"]);
    assert_eq!(
        sub("(&(objectClass=person)(ou=pod))"),
        ["uid=MARY,ou=POD,o=ACME"]
    );
    assert_eq!(
        sub("(objectClass=*)").len(),
        1 + 3 + 5,
        "the org, 3 units, 5 people; no tombstone"
    );
    assert_eq!(sub("(objectClass=organizationalUnit)").len(), 3);
    // An unknown type is Undefined, and NOT keeps it Undefined: no match.
    assert!(sub("(nosuchattr=x)").is_empty());
    assert!(sub("(!(nosuchattr=x))").is_empty());
    assert_eq!(sub("(|(nosuchattr=x)(uid=bob))"), ["uid=BOB,ou=POB,o=ACME"]);
}

#[test]
fn scopes_base_one_and_sub_rfc4511_4_5_1_2() {
    let one = |base: &str, scope| run(search(base, scope, "(objectClass=*)"));
    let (dns, _) = one("ou=POA,o=ACME", LdapSearchScope::OneLevel);
    assert_eq!(dns.len(), 3);
    let (dns, _) = one("ou=poa, o=acme", LdapSearchScope::Base);
    assert_eq!(dns, ["ou=POA,o=ACME"]);
    let (dns, _) = one("o=ACME", LdapSearchScope::OneLevel);
    assert_eq!(dns, ["ou=POA,o=ACME", "ou=POB,o=ACME", "ou=POD,o=ACME"]);
    let (dns, _) = one("uid=bob,ou=POB,o=ACME", LdapSearchScope::Subtree);
    assert_eq!(dns, ["uid=BOB,ou=POB,o=ACME"]);
    let (dns, _) = one("uid=bob,ou=POB,o=ACME", LdapSearchScope::OneLevel);
    assert!(dns.is_empty());
    // RFC 4511 4.1.9: noSuchObject names the deepest entry that exists.
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(search(
            "uid=NOBODY,ou=POB,o=ACME",
            LdapSearchScope::Base,
            "(objectClass=*)",
        )),
    );
    match &reply.messages[0].op {
        LdapOp::SearchResultDone(r) => {
            assert_eq!(r.code, LdapResultCode::NoSuchObject);
            assert_eq!(r.matcheddn, "ou=POB,o=ACME");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_entry_is_an_inet_org_person_with_its_addresses() {
    let mut req = search(
        "uid=JSMITH,ou=POA,o=ACME",
        LdapSearchScope::Base,
        "(objectClass=*)",
    );
    req.attrs = vec!["*".into()];
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(req),
    );
    let LdapOp::SearchResultEntry(e) = &reply.messages[0].op else {
        panic!("an entry")
    };
    let get = |name: &str| -> Vec<String> {
        e.attributes
            .iter()
            .filter(|a| a.atype == name)
            .flat_map(|a| a.vals.iter().map(|v| String::from_utf8(v.clone()).unwrap()))
            .collect()
    };
    assert_eq!(
        get("objectClass"),
        ["top", "person", "organizationalPerson", "inetOrgPerson"]
    );
    assert_eq!(get("cn"), ["John Smith"]);
    assert_eq!(get("displayName"), ["John Smith"]);
    assert_eq!(get("sn"), ["Smith"]);
    assert_eq!(get("givenName"), ["John"]);
    assert_eq!(get("uid"), ["JSMITH"]);
    assert_eq!(get("mail"), ["jsmith@poa.acme"]);
    assert_eq!(
        get("proxyAddresses"),
        ["SMTP:jsmith@poa.acme", "MS:ACME/POA/JSMITH"]
    );
    assert_eq!(get("o"), ["ACME"]);
    assert_eq!(get("ou"), ["POA"]);
    // Only what is asked for ("1.1": no attributes, RFC 4511 4.5.1.8).
    let mut req = search(
        "uid=JSMITH,ou=POA,o=ACME",
        LdapSearchScope::Base,
        "(objectClass=*)",
    );
    req.attrs = vec!["MAIL".into(), "commonName".into()];
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(req),
    );
    let LdapOp::SearchResultEntry(e) = &reply.messages[0].op else {
        panic!()
    };
    let names: Vec<_> = e.attributes.iter().map(|a| a.atype.as_str()).collect();
    assert_eq!(names, ["cn", "mail"]);
    let mut req = search("o=ACME", LdapSearchScope::Base, "(objectClass=*)");
    req.attrs = vec!["1.1".into()];
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(req),
    );
    let LdapOp::SearchResultEntry(e) = &reply.messages[0].op else {
        panic!()
    };
    assert!(e.attributes.is_empty());
}

#[test]
fn the_size_limit_returns_the_entries_up_to_it_and_code_4_rfc4511_4_5_1_4() {
    let mut req = search("o=ACME", LdapSearchScope::Subtree, "(objectClass=person)");
    req.sizelimit = 2;
    let (dns, code) = run(req.clone());
    assert_eq!(dns.len(), 2);
    assert_eq!(code, LdapResultCode::SizeLimitExceeded);
    // The server's own limit applies to a client asking for none.
    req.sizelimit = 0;
    let tight = Policy {
        size_limit: 3,
        ..policy()
    };
    let reply = ask(
        &mut Session::new(false),
        &tight,
        LdapOp::SearchRequest(req.clone()),
    );
    let (dns, code) = found(&reply);
    assert_eq!((dns.len(), code), (3, LdapResultCode::SizeLimitExceeded));
    // Exactly the limit is not over it.
    req.sizelimit = 5;
    let (dns, code) = run(req);
    assert_eq!((dns.len(), code), (5, LdapResultCode::Success));
}

#[test]
fn the_time_limit_ends_a_search_with_code_3_rfc4511_4_5_1_5() {
    let many: Vec<Entry> = (0..10_000)
        .map(|i| user("POA", &format!("U{i}"), "Some One"))
        .collect();
    let dir = Arc::new(Directory::build(n("ACME"), many));
    let req = search("o=ACME", LdapSearchScope::Subtree, "(cn=*nobody*)");
    let long_ago = Instant::now() - Duration::from_secs(3600);
    let request = LdapMsg {
        msgid: 7,
        op: LdapOp::SearchRequest(req),
        ctrl: vec![],
    };
    let reply = Session::new(false).handle(request, &dir, &policy(), long_ago);
    assert_eq!(found(&reply).1, LdapResultCode::TimeLimitExceeded);
}

#[test]
fn paged_results_hand_out_pages_until_the_cookie_is_empty_rfc2696() {
    let mut session = Session::new(false);
    let req = search("o=ACME", LdapSearchScope::Subtree, "(objectClass=person)");
    let mut cookie = Vec::new();
    let mut all = Vec::new();
    for _ in 0..10 {
        let ctrl = vec![LdapControl::SimplePagedResults {
            size: 2,
            cookie: cookie.clone(),
        }];
        let reply = ask_with(
            &mut session,
            &policy(),
            LdapOp::SearchRequest(req.clone()),
            ctrl,
        );
        let (dns, code) = found(&reply);
        assert_eq!(code, LdapResultCode::Success);
        assert!(dns.len() <= 2);
        all.extend(dns);
        let done = reply.messages.last().unwrap();
        let Some(LdapControl::SimplePagedResults { cookie: next, .. }) = done.ctrl.first() else {
            panic!("a paged results control in the response")
        };
        cookie = next.clone();
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!(all.len(), 5);
    assert!(cookie.is_empty());
    // A cookie from nowhere is refused.
    let ctrl = vec![LdapControl::SimplePagedResults {
        size: 2,
        cookie: b"bogus".to_vec(),
    }];
    let reply = ask_with(&mut session, &policy(), LdapOp::SearchRequest(req), ctrl);
    assert_eq!(found(&reply).1, LdapResultCode::UnwillingToPerform);
}

#[test]
fn the_root_dse_publishes_the_naming_context_rfc4512_5_1() {
    let mut req = search("", LdapSearchScope::Base, "(objectClass=*)");
    req.attrs = vec![
        "namingContexts".into(),
        "supportedLDAPVersion".into(),
        "supportedExtension".into(),
        "supportedControl".into(),
    ];
    let starttls = Policy {
        starttls: true,
        ..policy()
    };
    let reply = ask(
        &mut Session::new(false),
        &starttls,
        LdapOp::SearchRequest(req),
    );
    let LdapOp::SearchResultEntry(e) = &reply.messages[0].op else {
        panic!()
    };
    assert_eq!(e.dn, "");
    let text: Vec<(String, Vec<String>)> = e
        .attributes
        .iter()
        .map(|a| {
            (
                a.atype.clone(),
                a.vals
                    .iter()
                    .map(|v| String::from_utf8(v.clone()).unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(text[0], ("namingContexts".into(), vec!["o=ACME".into()]));
    assert_eq!(text[1], ("supportedLDAPVersion".into(), vec!["3".into()]));
    assert!(text[2].1.contains(&"1.3.6.1.4.1.1466.20037".to_owned()));
    assert_eq!(text[3].1, ["1.2.840.113556.1.4.319"]);
    // Operational attributes stay out of a plain request.
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::SearchRequest(search("", LdapSearchScope::Base, "(objectClass=*)")),
    );
    let LdapOp::SearchResultEntry(e) = &reply.messages[0].op else {
        panic!()
    };
    assert!(e.attributes.iter().all(|a| a.atype == "objectClass"));
    // A subtree search from the root does not return the root DSE.
    let (dns, _) = run(search("", LdapSearchScope::Subtree, "(objectClass=*)"));
    assert!(!dns.contains(&String::new()) && dns.len() == 9);
}

#[test]
fn updates_are_refused_with_unwilling_to_perform_rfc4511_4_6_to_4_9() {
    let mut session = Session::new(false);
    let refused = |reply: Reply| match &reply.messages[0].op {
        LdapOp::AddResponse(r)
        | LdapOp::ModifyResponse(r)
        | LdapOp::DelResponse(r)
        | LdapOp::ModifyDNResponse(r) => r.code.clone(),
        other => panic!("{other:?}"),
    };
    let p = policy();
    let add = LdapOp::AddRequest(LdapAddRequest {
        dn: "uid=X,ou=POA,o=ACME".into(),
        attributes: vec![],
    });
    assert_eq!(
        refused(ask(&mut session, &p, add)),
        LdapResultCode::UnwillingToPerform
    );
    let del = LdapOp::DelRequest("uid=JSMITH,ou=POA,o=ACME".into());
    assert_eq!(
        refused(ask(&mut session, &p, del)),
        LdapResultCode::UnwillingToPerform
    );
    let modify = LdapOp::ModifyRequest(LdapModifyRequest {
        dn: "uid=JSMITH,ou=POA,o=ACME".into(),
        changes: vec![],
    });
    assert_eq!(
        refused(ask(&mut session, &p, modify)),
        LdapResultCode::UnwillingToPerform
    );
    let moddn = LdapOp::ModifyDNRequest(LdapModifyDNRequest {
        dn: "uid=JSMITH,ou=POA,o=ACME".into(),
        newrdn: "uid=J".into(),
        deleteoldrdn: true,
        new_superior: None,
    });
    assert_eq!(
        refused(ask(&mut session, &p, moddn)),
        LdapResultCode::UnwillingToPerform
    );
    // The GAL did not change: JSMITH is still there.
    assert_eq!(sub("(uid=jsmith)").len(), 1);
}

#[test]
fn compare_and_unknown_extended_operations_rfc4511_4_10_and_4_12() {
    let mut session = Session::new(false);
    let compare = |attr: &str, val: &str| {
        LdapOp::CompareRequest(LdapCompareRequest {
            dn: "uid=JSMITH,ou=POA,o=ACME".into(),
            atype: attr.into(),
            val: val.as_bytes().to_vec(),
        })
    };
    let code = |reply: Reply| match &reply.messages[0].op {
        LdapOp::CompareResult(r) => r.code.clone(),
        LdapOp::ExtendedResponse(r) => r.res.code.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(ask(
            &mut session,
            &policy(),
            compare("mail", "JSMITH@POA.ACME")
        )),
        LdapResultCode::CompareTrue
    );
    assert_eq!(
        code(ask(&mut session, &policy(), compare("sn", "Jones"))),
        LdapResultCode::CompareFalse
    );
    let unknown = LdapOp::ExtendedRequest(LdapExtendedRequest {
        name: "1.2.3.4".into(),
        value: None,
    });
    let reply = ask(&mut session, &policy(), unknown);
    assert_eq!(reply.action, Action::Continue);
    assert_eq!(code(reply), LdapResultCode::ProtocolError);
    // StartTLS where TLS is not offered is an unknown operation too.
    let starttls = LdapOp::ExtendedRequest(LdapExtendedRequest {
        name: "1.3.6.1.4.1.1466.20037".into(),
        value: None,
    });
    assert_eq!(
        code(ask(&mut session, &policy(), starttls.clone())),
        LdapResultCode::ProtocolError
    );
    let offered = Policy {
        starttls: true,
        ..policy()
    };
    let reply = ask(&mut session, &offered, starttls.clone());
    assert_eq!(reply.action, Action::StartTls);
    session.tls_started();
    assert_eq!(
        code(ask(&mut session, &offered, starttls)),
        LdapResultCode::OperationsError
    );
}

fn bind(dn: &str, password: &str) -> LdapOp {
    LdapOp::BindRequest(LdapBindRequest {
        dn: dn.into(),
        cred: LdapBindCred::Simple(password.into()),
    })
}

fn bind_code(reply: Reply) -> LdapResultCode {
    match &reply.messages[0].op {
        LdapOp::BindResponse(r) => r.res.code.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bind_policy_anonymous_off_needs_the_account_rfc4513_5() {
    let closed = Policy {
        bind: BindPolicy {
            anonymous: false,
            account: Some((
                Dn::parse("cn=reader,o=ACME").unwrap(),
                Secret::new("s3cret".into()),
            )),
        },
        ..policy()
    };
    let mut session = Session::new(false);
    let req = || LdapOp::SearchRequest(search("o=ACME", LdapSearchScope::Subtree, "(uid=bob)"));
    assert_eq!(
        found(&ask(&mut session, &closed, req())).1,
        LdapResultCode::InsufficentAccessRights
    );
    // The root DSE stays open (RFC 4512 5.1).
    let root = LdapOp::SearchRequest(search("", LdapSearchScope::Base, "(objectClass=*)"));
    assert_eq!(found(&ask(&mut session, &closed, root)).0, [""]);
    assert_eq!(
        bind_code(ask(&mut session, &closed, bind("", ""))),
        LdapResultCode::InappropriateAuthentication
    );
    assert_eq!(
        bind_code(ask(&mut session, &closed, bind("cn=reader,o=ACME", ""))),
        LdapResultCode::UnwillingToPerform
    );
    assert_eq!(
        bind_code(ask(
            &mut session,
            &closed,
            bind("cn=reader,o=ACME", "wrong")
        )),
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        bind_code(ask(
            &mut session,
            &closed,
            bind("CN=Reader, O=acme", "s3cret")
        )),
        LdapResultCode::Success
    );
    assert_eq!(
        found(&ask(&mut session, &closed, req())).0,
        ["uid=BOB,ou=POB,o=ACME"]
    );
    // A failed bind leaves the session anonymous again (RFC 4511 4.2.1).
    assert_eq!(
        bind_code(ask(&mut session, &closed, bind("cn=reader,o=ACME", "nope"))),
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        found(&ask(&mut session, &closed, req())).1,
        LdapResultCode::InsufficentAccessRights
    );
    // Anonymous allowed: an anonymous bind succeeds, SASL is not offered.
    let mut open = Session::new(false);
    assert_eq!(
        bind_code(ask(&mut open, &policy(), bind("", ""))),
        LdapResultCode::Success
    );
    let sasl = LdapOp::BindRequest(LdapBindRequest {
        dn: String::new(),
        cred: LdapBindCred::SASL(SaslCredentials {
            mechanism: "EXTERNAL".into(),
            credentials: vec![],
        }),
    });
    assert_eq!(
        bind_code(ask(&mut open, &policy(), sasl)),
        LdapResultCode::AuthMethodNotSupported
    );
}

#[test]
fn a_response_from_a_client_ends_the_session_with_a_notice_rfc4511_4_1_1() {
    let reply = ask(
        &mut Session::new(false),
        &policy(),
        LdapOp::DelResponse(LdapResult {
            code: LdapResultCode::Success,
            matcheddn: String::new(),
            message: String::new(),
            referral: vec![],
        }),
    );
    assert_eq!(reply.action, Action::Close);
    assert_eq!(reply.messages[0].msgid, 0);
    let LdapOp::ExtendedResponse(r) = &reply.messages[0].op else {
        panic!()
    };
    assert_eq!(r.res.code, LdapResultCode::ProtocolError);
    assert_eq!(r.name.as_deref(), Some("1.3.6.1.4.1.1466.20036"));
}

#[test]
fn a_frame_longer_than_the_bound_is_refused_before_it_is_whole() {
    // A SEQUENCE announcing 1 GiB: refused once the buffer passes the bound.
    let mut buf = BytesMut::from(&[0x30u8, 0x84, 0x40, 0, 0, 0][..]);
    let mut codec = Bounded::default();
    assert!(
        codec.decode(&mut buf).unwrap().is_none(),
        "incomplete so far"
    );
    buf.extend_from_slice(&vec![0u8; MAX_FRAME]);
    assert!(codec.decode(&mut buf).is_err());
    // A message within the bound, followed by more, decodes.
    let mut buf = BytesMut::new();
    let unbind = LdapMsg {
        msgid: 1,
        op: LdapOp::UnbindRequest,
        ctrl: vec![],
    };
    codec.encode(unbind.clone(), &mut buf).unwrap();
    buf.extend_from_slice(&vec![0x04u8; MAX_FRAME * 2]);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(unbind));
}

#[test]
fn the_deepest_nesting_a_frame_can_hold_decodes_on_a_small_stack() {
    // Nested constructed tags filling the whole bound: the recursion of
    // the BER parser must fit a 2 MiB thread (Tokio's worker stack).
    // Each level as short as BER allows, so the frame holds the most.
    let mut inner: Vec<u8> = Vec::new();
    loop {
        let len = inner.len();
        let mut tag = vec![0xa0u8];
        match len {
            0..=127 => tag.push(len as u8),
            128..=255 => tag.extend([0x81, len as u8]),
            _ => tag.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        if len + tag.len() > MAX_FRAME {
            break;
        }
        tag.extend(inner);
        inner = tag;
    }
    let decoded = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let mut buf = BytesMut::from(&inner[..]);
            // Not an LDAP message, but parsed as BER all the same.
            Bounded::default().decode(&mut buf).is_err()
        })
        .unwrap()
        .join();
    assert_eq!(decoded.ok(), Some(true), "refused, not a stack overflow");
}

#[test]
fn a_real_filter_nested_within_the_bound_still_decodes() {
    let mut filter = LdapFilter::Equality("cn".into(), "x".into());
    for _ in 0..40 {
        filter = LdapFilter::Not(Box::new(filter));
    }
    let mut req = search("o=ACME", LdapSearchScope::Subtree, "(cn=*jo*)");
    req.filter = filter;
    let message = LdapMsg {
        msgid: 3,
        op: LdapOp::SearchRequest(req),
        ctrl: vec![],
    };
    let mut buf = BytesMut::new();
    let mut codec = Bounded::default();
    codec.encode(message.clone(), &mut buf).unwrap();
    assert!(!super::codec::too_deep(&buf, super::codec::MAX_DEPTH));
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(message));
}
