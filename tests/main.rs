//! All integration tests, as one test binary: one link instead of one per file.
//! Each file beside this one is a module; the support modules are shared by them.

mod common;
mod ddm_fixture;
mod mdm_support;
mod policy_support;
mod process;
mod push_support;
mod schema;

mod admin_cli;
mod admin_csrf;
mod admin_input;
mod admin_login;
mod admin_roles;
mod admin_setup;
mod backup_restore;
mod browser_admin;
mod catalog_fetch;
mod catalog_import;
mod catalog_schedule;
mod command_schemas;
mod ddm_schema;
mod ddm_service_status;
mod ddm_service_sync;
mod ddm_settings;
mod ddm_status;
mod ddm_tokens;
mod device_channel;
mod enroll;
mod foundation;
mod identity;
mod mdm_checkin;
mod mdm_http;
mod mdm_queue;
mod mdm_store_plan;
mod packaging;
mod policy_plan;
mod policy_security;
mod policy_validate;
mod push_certificate;
mod push_delivery;
mod request_context;
mod scep;
mod serve_process;
mod ui_devices;
