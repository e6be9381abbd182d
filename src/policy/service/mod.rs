//! The policy service: stores policies, groups, rings and assignments (every change audited in
//! its own transaction), validates against the live catalog and clock, previews, explains a
//! device's plan, and queues the devices a change affects for re-evaluation. Unlike the rest of
//! `policy/`, this does I/O (through the store) and reads the clock.

mod change;
mod explain;
mod groups;
pub mod loading;
mod membership;
mod policies;
mod rings;
pub mod views;

use std::sync::Arc;

use chrono::{FixedOffset, NaiveDateTime, Offset as _};

use crate::catalog::CatalogService;
use crate::clock::SharedClock;
use crate::config::PolicyConfig;
use crate::policy::validate::{Problem, Severity};
use crate::store::{Store, StoreError};
pub use explain::PlannedTarget;
pub use membership::MembershipReport;
pub use views::*;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Bad input: every problem, each with its field; nothing was saved.
    #[error("{}", describe(.0))]
    Invalid(Vec<Problem>),
    #[error("no {what} named `{name}`")]
    NotFound { what: &'static str, name: String },
    #[error("stored {what} `{name}` cannot be read: {message}")]
    Corrupt {
        what: &'static str,
        name: String,
        message: String,
    },
    #[error("policy configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl PolicyError {
    /// Bad input (a 4xx at the edge); everything else is the appliance's fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, PolicyError::Invalid(_) | PolicyError::NotFound { .. })
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid(vec![Problem {
            field: field.into(),
            severity: Severity::Error,
            message: message.into(),
        }])
    }
}

fn describe(problems: &[Problem]) -> String {
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    if errors.is_empty() {
        "invalid input".into()
    } else {
        errors.join("; ")
    }
}

/// Policies, groups and rings. Cheap to clone.
#[derive(Clone)]
pub struct PolicyService {
    store: Store,
    clock: SharedClock,
    catalog: Arc<CatalogService>,
    /// The site's offset from UTC: deadlines are device-local times.
    utc_offset: FixedOffset,
    /// Wakes the policy engine's worker after a change queued devices.
    queued: Arc<tokio::sync::Notify>,
}

/// Parses `policy.utc_offset` (`+00:00`, `-05:00`, `Z`).
pub fn parse_utc_offset(text: &str) -> Result<FixedOffset, PolicyError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(chrono::Utc.fix());
    }
    t.parse::<FixedOffset>().map_err(|_| {
        PolicyError::Config(format!(
            "policy.utc_offset `{text}` is not an offset such as +01:00 or -05:00"
        ))
    })
}

impl PolicyService {
    pub fn new(
        store: Store,
        clock: SharedClock,
        catalog: Arc<CatalogService>,
        config: &PolicyConfig,
    ) -> Result<PolicyService, PolicyError> {
        Ok(PolicyService {
            store,
            clock,
            catalog,
            utc_offset: parse_utc_offset(&config.utc_offset)?,
            queued: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn utc_offset(&self) -> FixedOffset {
        self.utc_offset
    }

    /// The site's local time now (what deadlines are compared with).
    pub fn now_local(&self) -> NaiveDateTime {
        self.clock.now().with_timezone(&self.utc_offset).naive_local()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Notified whenever a change queued devices for re-evaluation (the engine's worker waits on it).
    pub fn queued_signal(&self) -> Arc<tokio::sync::Notify> {
        self.queued.clone()
    }

    pub(crate) fn notify_queued(&self) {
        self.queued.notify_one();
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The catalog plans are computed against now.
    pub fn catalog_snapshot(&self) -> Arc<crate::catalog::snapshot::Snapshot> {
        self.catalog.snapshot()
    }
}
