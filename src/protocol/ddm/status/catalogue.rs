//! The status items Apple's schemas define (declarative/status/*.yaml), their shape and where each
//! is available. tvOS 18.4 and visionOS 26 for `softwareupdate.*` (all but `beta-enrollment`) come
//! from the newer schema versions the facts file cites (§4).

use crate::protocol::ddm::platform::{Availability, NOT_MAC, OsVersion};

/// The JSON shape of a status item's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemShape {
    String,
    Dictionary,
    /// An array of dictionaries keyed by `identifier`; incremental reports carry only the changed
    /// elements, full reports all of them.
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownStatusItem {
    /// Dotted name as it appears (nested by segment) in a report.
    pub name: &'static str,
    pub shape: ItemShape,
    /// The name to put in a status subscription (the arrays are subscribed as their parent).
    pub subscription: &'static str,
    pub availability: Availability,
}

const fn v(major: u32, minor: u32) -> Option<OsVersion> {
    Some(OsVersion::new(major, minor, 0))
}

const fn avail(
    ios: Option<OsVersion>,
    macos: Option<OsVersion>,
    tvos: Option<OsVersion>,
    visionos: Option<OsVersion>,
    user_enrollment: bool,
) -> Availability {
    // Device enrollment everywhere but the Mac; User Enrollment (iOS, macOS, visionOS) only for the
    // device and management items, not the software-update ones.
    let user_enrollment: &'static [&'static str] = if user_enrollment { USER_PLATFORMS } else { &[] };
    Availability {
        ios,
        macos,
        tvos,
        visionos,
        device_enrollment: NOT_MAC,
        user_enrollment,
    }
}

const USER_PLATFORMS: &[&str] = &["iOS", "macOS", "visionOS"];

const DEVICE: Availability = avail(v(15, 0), v(13, 0), v(16, 0), v(1, 1), true);
const IDENTIFIER: Availability = Availability {
    ios: v(16, 0),
    macos: v(13, 0),
    tvos: v(16, 0),
    visionos: v(1, 1),
    device_enrollment: NOT_MAC,
    user_enrollment: &[],
};
const SUPPLEMENTAL: Availability = avail(v(16, 1), v(13, 0), v(16, 1), v(1, 1), true);
const MODEL_NUMBER: Availability = avail(v(17, 0), v(14, 0), v(17, 0), v(1, 1), true);
const UPDATE: Availability = avail(v(17, 0), v(14, 0), v(18, 4), v(26, 0), false);
const UPDATE_18: Availability = avail(v(18, 0), v(15, 0), v(18, 4), v(26, 0), false);
const BETA: Availability = avail(v(18, 0), v(15, 0), None, None, false);

const fn item(name: &'static str, shape: ItemShape, availability: Availability) -> KnownStatusItem {
    KnownStatusItem {
        name,
        shape,
        subscription: name,
        availability,
    }
}

const fn declarations(name: &'static str) -> KnownStatusItem {
    KnownStatusItem {
        name,
        shape: ItemShape::Array,
        subscription: "management.declarations",
        availability: DEVICE,
    }
}

use ItemShape::{Dictionary, String as Text};

pub const KNOWN_STATUS_ITEMS: &[KnownStatusItem] = &[
    item("device.identifier.serial-number", Text, IDENTIFIER),
    item("device.identifier.udid", Text, IDENTIFIER),
    item("device.model.family", Text, DEVICE),
    item("device.model.identifier", Text, DEVICE),
    item("device.model.marketing-name", Text, DEVICE),
    item("device.model.number", Text, MODEL_NUMBER),
    item("device.operating-system.build-version", Text, DEVICE),
    item("device.operating-system.family", Text, DEVICE),
    item("device.operating-system.marketing-name", Text, DEVICE),
    item(
        "device.operating-system.supplemental.build-version",
        Text,
        SUPPLEMENTAL,
    ),
    item(
        "device.operating-system.supplemental.extra-version",
        Text,
        SUPPLEMENTAL,
    ),
    item("device.operating-system.version", Text, DEVICE),
    item("management.client-capabilities", Dictionary, DEVICE),
    declarations("management.declarations.activations"),
    declarations("management.declarations.configurations"),
    declarations("management.declarations.assets"),
    declarations("management.declarations.management"),
    item("softwareupdate.beta-enrollment", Text, BETA),
    item("softwareupdate.device-id", Text, UPDATE_18),
    item("softwareupdate.failure-reason", Dictionary, UPDATE),
    item("softwareupdate.install-reason", Dictionary, UPDATE),
    item("softwareupdate.install-state", Text, UPDATE),
    item("softwareupdate.pending-version", Dictionary, UPDATE),
];

pub fn known_item(name: &str) -> Option<&'static KnownStatusItem> {
    KNOWN_STATUS_ITEMS.iter().find(|item| item.name == name)
}

/// Whether `prefix` (dotted) leads to at least one known item below it.
pub fn is_known_prefix(prefix: &str) -> bool {
    KNOWN_STATUS_ITEMS.iter().any(|item| {
        item.name.len() > prefix.len()
            && item.name.starts_with(prefix)
            && item.name.as_bytes()[prefix.len()] == b'.'
    })
}
