pub mod down;
pub mod migrate;
pub mod status;
pub mod up;
pub mod users;
