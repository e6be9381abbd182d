//! Apple's message types. Pure: no actix, rusqlite, askama or I/O.

pub mod ddm;
