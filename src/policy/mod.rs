//! Update policies: the pure heart of OS-update management.
//!
//! A [`Policy`] ("Managed OS" item) says how versions are enforced ([`Enforcement`]), whether
//! Background Security Improvements are ([`BsiPolicy`]), which update settings devices get, and
//! how far major upgrades may go ([`MajorPolicy`]). [`validate`] reports every problem of a
//! policy at once; [`resolve`] picks a device's effective policy per platform; [`plan`] turns
//! (device, catalog, policy, ring, now) into the device's [`Plan`]: target, deadline,
//! visible-from, path, settings, and the sentence that explains them. [`book`] holds every
//! policy, group and assignment in memory and answers, per device, which policies reach it and
//! what it gets; [`groups`] is group membership. Nothing in those files does I/O or reads the
//! clock.
//!
//! The exception is [`service`]: the [`PolicyService`] (storage, audit, validation against the
//! live catalog, preview, the device page's "why", the re-evaluation queue), which does I/O
//! through the store and takes the clock.

pub mod book;
mod bsi;
pub mod delivery;
pub mod engine;
pub mod groups;
mod membership;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod precedence;
pub mod rings;
mod select;
pub mod service;
pub mod sla;
pub mod validate;

pub use delivery::{LegacyDeferrals, SettingsPlan, declared_settings};
pub use engine::{EngineError, EngineReport, PhaseTimes, PolicyEngine};
pub use model::{
    AutomaticLatest, BsiPolicy, DEFAULT_GRACE_DAYS, DeferralPeriods, Enforcement, MajorPolicy, NewestMajor,
    Policy, RollingWindow, SecuritySla,
};
pub use outcome::{BsiEnforce, Deadline, Enforce, EnforcementPath, NoAction, Target, Unknown, Upcoming};
pub use plan::{DeviceView, Plan, family_of, plan};
pub use precedence::{Conflict, resolve};
pub use rings::{DefaultRing, MaintenanceWindow, RingAssignment, RingSchedule, default_rings};
pub use service::{PolicyError, PolicyService};
pub use validate::{Problem, Severity, ValidationContext, acceptable, validate, validate_schedule};
