//! Update policies: the pure heart of OS-update management.
//!
//! A [`Policy`] ("Managed OS" item) says how versions are enforced ([`Enforcement`]), whether
//! Background Security Improvements are ([`BsiPolicy`]), which update settings devices get, and
//! how far major upgrades may go ([`MajorPolicy`]). [`validate`] reports every problem of a
//! policy at once; [`resolve`] picks a device's effective policy per platform; [`plan`] turns
//! (device, catalog, policy, ring, now) into the device's [`Plan`]: target, deadline,
//! visible-from, path, settings, and the sentence that explains them. Nothing here does I/O or
//! reads the clock.

mod bsi;
pub mod delivery;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod precedence;
pub mod rings;
mod select;
pub mod sla;
pub mod validate;

pub use delivery::{LegacyDeferrals, SettingsPlan, declared_settings};
pub use model::{
    AutomaticLatest, BsiPolicy, DEFAULT_GRACE_DAYS, DeferralPeriods, Enforcement, MajorPolicy, NewestMajor,
    Policy, RollingWindow, SecuritySla,
};
pub use outcome::{BsiEnforce, Deadline, Enforce, EnforcementPath, NoAction, Target, Unknown, Upcoming};
pub use plan::{DeviceView, Plan, family_of, plan};
pub use precedence::{Conflict, resolve};
pub use rings::{DefaultRing, MaintenanceWindow, RingAssignment, RingSchedule, default_rings};
pub use validate::{Problem, Severity, ValidationContext, acceptable, validate, validate_schedule};
