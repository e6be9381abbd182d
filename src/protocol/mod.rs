//! Apple's message types. Pure: no I/O, no actix, no rusqlite, no askama.

pub mod ddm;
pub mod profile;
