//! The patent's bridge topology as real processes on 127.0.0.1: the old hub
//! H (DS server) with post offices POA and POB; the new hub H2 (site
//! replicator and a DS server in site mode) with POD; the bridge H3 (site
//! replicator and a DS requestor of H in site mode). H2 and H3 replicate
//! all folders; F1 holds the old network, FS-POD holds POD's users.
//!
//! Every process is first started on port 0; its announced port is then
//! written into its config, so a restart listens where its peers point.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use wire_format::{Message, Name, Repoint, StatusValue};

use crate::RoleProcess;
use crate::dirsync::{NETWORK, OPERATOR_SECRET, READY, requestor_secret, view};
use crate::operator::Operator;
use crate::site::pair_secret;

/// The key of a node's DS role on its own site replicator.
pub fn client_secret(node: &str) -> String {
    crate::keys::key(&format!("site-client-{node}"))
}

/// One role process and what it takes to restart it.
pub struct Proc {
    pub process: RoleProcess,
    config: PathBuf,
    bin: &'static str,
    label: String,
    dir: PathBuf,
}

impl Proc {
    pub fn start(label: &str, bin: &'static str, dir: &Path, config_text: &str) -> Proc {
        std::fs::create_dir_all(dir).expect("process directory");
        let config = dir.join("config.toml");
        std::fs::write(&config, config_text).expect("write config");
        let process = Self::launch(label, bin, dir, &config);
        let addr = process.endpoint("wire");
        let pinned =
            config_text.replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
        std::fs::write(&config, pinned).expect("rewrite config");
        Proc {
            process,
            config,
            bin,
            label: label.to_owned(),
            dir: dir.to_path_buf(),
        }
    }

    fn launch(label: &str, bin: &'static str, dir: &Path, config: &Path) -> RoleProcess {
        let config = config.to_string_lossy().into_owned();
        RoleProcess::start(
            label,
            bin,
            &["--config", &config],
            &dir.join("log.txt"),
            READY,
        )
    }

    pub fn endpoint(&self) -> SocketAddr {
        self.process.endpoint("wire")
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGKILL (if running), then start again on the same data and port.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Self::launch(&self.label, self.bin, &self.dir, &self.config);
    }

    pub fn operator(&self) -> Operator {
        Operator::connect(self.endpoint(), OPERATOR_SECRET).expect("operator connects")
    }

    /// The status report; empty if the process cannot answer right now.
    pub fn status(&self) -> BTreeMap<String, StatusValue> {
        Operator::connect(self.endpoint(), OPERATOR_SECRET)
            .and_then(|mut c| c.status())
            .map(BTreeMap::from_iter)
            .unwrap_or_default()
    }

    /// A count from the status report (0 when absent).
    pub fn count(&self, key: &str) -> u64 {
        match self.status().get(key) {
            Some(StatusValue::Count(n)) => *n,
            _ => 0,
        }
    }

    /// The GAL as sorted `address|display name` lines; empty if unreadable.
    pub fn gal(&self) -> Vec<String> {
        match Operator::connect(self.endpoint(), OPERATOR_SECRET).and_then(|mut c| c.list_gal(None))
        {
            Ok(entries) => view(&entries),
            Err(_) => Vec::new(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }
}

fn header(node: &str, dir: &Path) -> String {
    format!(
        "node = \"{node}\"\nnetwork = \"{NETWORK}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\n\
         operator_secret = \"{OPERATOR_SECRET}\"\n",
        dir.join("data").display()
    )
}

fn site_replicator(root: &Path, node: &str, peer: &str, folders: &str) -> Proc {
    let dir = root.join(format!("{node}-site"));
    let text = format!(
        "{}pull_interval_ms = 1000\nmax_chunk = 10000\n\n[[peers]]\nname = \"{peer}\"\nsecret = \"{}\"\n\n\
         [[clients]]\nname = \"{node}\"\nsecret = \"{}\"\nfolders = [\"{folders}\"]\n",
        header(node, &dir),
        pair_secret(node, peer),
        client_secret(node)
    );
    Proc::start(
        &format!("site-replicator {node}"),
        "site-replicator",
        &dir,
        &text,
    )
}

fn point(site: &Proc, peer: &str, at: &Proc) {
    let repoint = Repoint {
        server: Name::new(peer).expect("peer name"),
        endpoint: at.endpoint().to_string(),
    };
    match site.operator().request(repoint) {
        Ok(Message::AdminOk(_)) => {}
        other => panic!("repoint {} -> {peer} failed: {other:?}", site.label),
    }
}

fn requestor(root: &Path, po: &str, server: &str, at: SocketAddr, interval_ms: u64) -> Proc {
    let dir = root.join(po);
    let text = format!(
        "{}server = \"{server}\"\ninterval_ms = {interval_ms}\n\n[[servers]]\nname = \"{server}\"\n\
         endpoint = \"{at}\"\nsecret = \"{}\"\n",
        header(po, &dir),
        requestor_secret(po)
    );
    Proc::start(&format!("ds-requestor {po}"), "ds-requestor", &dir, &text)
}

fn registered(pos: &[&str]) -> String {
    pos.iter()
        .map(|po| {
            format!(
                "\n[[requestors]]\nname = \"{po}\"\nsecret = \"{}\"\n",
                requestor_secret(po)
            )
        })
        .collect()
}

/// The old hub's DS server: `own` post offices, and the bridge H3.
pub fn start_h(root: &Path, own: &[&str]) -> Proc {
    let dir = root.join("H");
    let text = format!(
        "{}{}\n[[requestors]]\nname = \"H3\"\nsecret = \"{}\"\npost_offices = []\nbridge = true\n",
        header("H", &dir),
        registered(own),
        requestor_secret("H3")
    );
    Proc::start("ds-server H", "ds-server", &dir, &text)
}

/// The whole topology.
pub struct Bridge {
    pub h: Proc,
    pub h2_site: Proc,
    pub h3_site: Proc,
    pub h2: Proc,
    pub h3: Proc,
    pub poa: Proc,
    pub pob: Proc,
    pub pod: Proc,
}

impl Bridge {
    /// Starts everything under `root`; requestors run a scheduled cycle
    /// every `interval_ms` (notifications drive them sooner).
    pub fn start(root: &Path, interval_ms: u64) -> Bridge {
        let h = start_h(root, &["POA", "POB", "POC"]);
        let h2_site = site_replicator(root, "H2", "H3", "FS*");
        let h3_site = site_replicator(root, "H3", "H2", "F1");
        point(&h2_site, "H3", &h3_site);
        point(&h3_site, "H2", &h2_site);
        let h2_dir = root.join("H2");
        let h2_text = format!(
            "{}\n[site]\nendpoint = \"{}\"\nsecret = \"{}\"\n{}",
            header("H2", &h2_dir),
            h2_site.endpoint(),
            client_secret("H2"),
            registered(&["POA", "POB", "POC", "POD"])
        );
        let h2 = Proc::start("ds-server H2", "ds-server", &h2_dir, &h2_text);
        let h3_dir = root.join("H3");
        let h3_text = format!(
            "{}server = \"H\"\ninterval_ms = {interval_ms}\npost_offices = []\n\n[[servers]]\n\
             name = \"H\"\nendpoint = \"{}\"\nsecret = \"{}\"\n\n[site]\nendpoint = \"{}\"\n\
             secret = \"{}\"\nimport_folder = \"F1\"\nexport = [\"FS*\"]\n",
            header("H3", &h3_dir),
            h.endpoint(),
            requestor_secret("H3"),
            h3_site.endpoint(),
            client_secret("H3")
        );
        let h3 = Proc::start("ds-requestor H3", "ds-requestor", &h3_dir, &h3_text);
        let poa = requestor(root, "POA", "H", h.endpoint(), interval_ms);
        let pob = requestor(root, "POB", "H", h.endpoint(), interval_ms);
        let pod = requestor(root, "POD", "H2", h2.endpoint(), interval_ms);
        Bridge {
            h,
            h2_site,
            h3_site,
            h2,
            h3,
            poa,
            pob,
            pod,
        }
    }

    /// Every process's log, for a failing test's message.
    pub fn logs(&self) -> String {
        [
            &self.h,
            &self.h2_site,
            &self.h3_site,
            &self.h2,
            &self.h3,
            &self.poa,
            &self.pob,
            &self.pod,
        ]
        .iter()
        .map(|p| format!("==== {}\n{}", p.label, p.log_text()))
        .collect()
    }
}
