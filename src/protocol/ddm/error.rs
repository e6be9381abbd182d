//! Why Orchard refuses to build a declaration: each variant names the key path it is about and
//! says what a person can change.

use super::platform::{DeviceTarget, Unavailable};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("{path}: {value} is outside the allowed range {min}–{max}")]
    OutOfRange {
        path: &'static str,
        value: i64,
        min: i64,
        max: i64,
    },

    #[error("{path}: must not be empty")]
    Empty { path: &'static str },

    #[error("{path}: {value:?} is not valid ({expected})")]
    Malformed {
        path: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error(
        "AutomaticActions.InstallOSUpdates: installation is forced, but downloading is not guaranteed \
         (InstallOSUpdates is AlwaysOn, Download is Allowed): set Download to AlwaysOn"
    )]
    ForcedInstallWithoutGuaranteedDownload,

    #[error(
        "AutomaticActions.InstallOSUpdates: users can install updates the device is not permitted to \
         download (Download is AlwaysOff, InstallOSUpdates is Allowed): set InstallOSUpdates to AlwaysOff, \
         or allow downloads"
    )]
    UserInstallWithoutDownload,

    #[error(
        "AutomaticActions.InstallOSUpdates: installation cannot be forced when downloading is disabled \
         (Download is AlwaysOff): set Download to AlwaysOn, or stop forcing installation"
    )]
    ForcedInstallWithDownloadDisabled,

    #[error(
        "Beta.OfferPrograms: programs can only be offered when ProgramEnrollment is Allowed or AlwaysOn, \
         not AlwaysOff: remove the offered programs or allow enrollment"
    )]
    OfferedProgramsWithEnrollmentOff,

    #[error(
        "Beta.OfferPrograms: must not be present together with RequireProgram: either require one \
         program or offer a choice"
    )]
    OfferedAndRequiredProgram,

    #[error(
        "Beta.RequireProgram: a program can only be required when ProgramEnrollment is AlwaysOn: set \
         ProgramEnrollment to AlwaysOn"
    )]
    RequiredProgramWithoutAlwaysOn,

    #[error("{declaration} cannot be sent to {target}: {why}")]
    NotSupported {
        declaration: &'static str,
        target: DeviceTarget,
        why: Unavailable,
    },

    #[error(
        "TargetOSVersion: {target_version} is not newer than the {installed} installed on the device; \
         the device would report an error"
    )]
    TargetNotNewer {
        target_version: String,
        installed: String,
    },

    #[error("{path}: {reason}")]
    Identifier {
        path: &'static str,
        reason: IdentifierProblem,
    },

    #[error("Identifier: {identifier:?} is used by more than one declaration of this device")]
    DuplicateIdentifier { identifier: String },

    #[error(
        "Type: {0:?} is not a declaration type Orchard knows (activation, configuration, asset, management)"
    )]
    UnknownType(String),

    #[error("ServerToken: the stored token does not match the declaration's content")]
    TokenMismatch,

    #[error("Payload: could not be encoded as JSON: {0}")]
    Encoding(String),
}

impl DeclarationError {
    /// The key path (dotted, from the declaration's `Payload`, or an envelope key) the error is about,
    /// for the UI to point at the right field.
    pub fn path(&self) -> &'static str {
        use DeclarationError::*;
        match self {
            OutOfRange { path, .. }
            | Empty { path, .. }
            | Malformed { path, .. }
            | Identifier { path, .. } => path,
            ForcedInstallWithoutGuaranteedDownload
            | UserInstallWithoutDownload
            | ForcedInstallWithDownloadDisabled => "AutomaticActions.InstallOSUpdates",
            OfferedProgramsWithEnrollmentOff | OfferedAndRequiredProgram => "Beta.OfferPrograms",
            RequiredProgramWithoutAlwaysOn => "Beta.RequireProgram",
            NotSupported { .. } => "Type",
            TargetNotNewer { .. } => "TargetOSVersion",
            DuplicateIdentifier { .. } => "Identifier",
            UnknownType(_) => "Type",
            TokenMismatch => "ServerToken",
            Encoding(_) => "Payload",
        }
    }
}

/// What is wrong with an identifier (of a declaration, or in a `declaration/<class>/<id>` path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierProblem {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 64 octets")]
    TooLong,
    #[error("may only hold letters, digits, '.', '-' and '_'")]
    Characters,
    #[error("must not contain '..'")]
    DotDot,
}
