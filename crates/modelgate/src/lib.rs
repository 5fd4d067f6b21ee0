//! The modelgate binary's library half: configuration ([`config`]), start-up wiring and
//! graceful shutdown ([`run`]), and the `modelgate admin` API client ([`admin_cli`]).
//! `main.rs` only parses the command line; black-box tests start the same
//! [`run::start`] in-process.

pub mod admin_cli;
pub mod config;
pub mod master_key;
pub mod run;
