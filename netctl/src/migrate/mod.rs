//! The staged migration of post offices between the old hub and the new one
//! (patent US 6,298,375, steps A-G), as `netctl migrate` and `netctl
//! rollback` run it.
//!
//! * [`plan`]: the steps as data (actions and checks), no I/O;
//! * [`journal`]: the wave in progress on disk, so a killed `netctl` resumes;
//! * [`run`]: the executor against the live network;
//! * [`verify`]: complete GALs and a test mail each way at the end;
//! * [`history`]: every wave's steps, the ended ones kept in a bounded record;
//! * [`progress`]: how far the wave in progress has got, per post office;
//! * [`owner`]: whether a netctl still runs the journaled wave;
//! * [`display`]: the wave's progress on the terminal or as plain lines;
//! * [`follow`]: what changed between two looks, for `netctl watch`.

pub mod display;
pub mod follow;
pub mod history;
pub mod journal;
pub mod owner;
pub mod plan;
pub mod progress;
pub mod run;
pub mod verify;
