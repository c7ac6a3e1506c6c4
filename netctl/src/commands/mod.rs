pub mod dashboard;
pub mod down;
pub mod history;
pub mod migrate;
pub mod status;
pub mod up;
pub mod users;
pub mod watch;
