//! The enrolled fleet as the catalog sees it: each device's inventory turned into a
//! [`DeviceQuery`], and how many of them the catalog can answer. Pure.

use super::applicability::{Applicability, DeviceQuery, UnknownReason};
use super::gdmf::OsFamily;
use super::index::CatalogIndex;
use super::version::{Build, OsVersion, parse_extra};
use crate::store::devices::FleetDevice;

/// One device's inventory, parsed; [`FleetEntry::query`] borrows from it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetEntry {
    pub family: OsFamily,
    pub device_id: Option<String>,
    pub model: Option<String>,
    pub version: OsVersion,
    pub build: Option<Build>,
    pub supervised: bool,
}

impl FleetEntry {
    pub fn query(&self) -> DeviceQuery<'_> {
        DeviceQuery {
            family: self.family,
            device_id: self.device_id.as_deref(),
            model: self.model.as_deref(),
            version: self.version,
            build: self.build.as_ref(),
            supervised: self.supervised,
        }
    }
}

/// The platform of a model identifier (`iPhone14,2`, `iPad13,18`, `AppleTV14,1`, `Mac14,9`):
/// the managed platforms as the protocol layer knows them (iPad folded into iOS, as gdmf lists
/// it), plus the two families only the catalog meets.
pub fn family_of_model(model: &str) -> OsFamily {
    use crate::protocol::ddm::Platform;
    match Platform::of_model_identifier(model) {
        Some(Platform::Ios | Platform::IpadOs) => OsFamily::Ios,
        Some(Platform::TvOs) => OsFamily::TvOs,
        Some(Platform::MacOs) => OsFamily::MacOs,
        Some(Platform::VisionOs) => OsFamily::VisionOs,
        None if model.starts_with("Watch") => OsFamily::WatchOs,
        None if model.starts_with("AudioAccessory") => OsFamily::AudioOs,
        None => OsFamily::Other,
    }
}

/// The parsed entry of a device, or `None` when it has not reported a readable OS version
/// (it cannot be matched against releases).
pub fn entry(device: &FleetDevice) -> Option<FleetEntry> {
    let base: OsVersion = device.os_version.as_deref()?.parse().ok()?;
    let extra = device
        .supplemental_os_version_extra
        .as_deref()
        .and_then(|e| parse_extra(e).ok())
        .flatten();
    let model = device
        .product_name
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| device.model.clone().filter(|m| !m.is_empty()));
    Some(FleetEntry {
        family: model.as_deref().map(family_of_model).unwrap_or(OsFamily::Other),
        device_id: device.software_update_device_id.clone().filter(|d| !d.is_empty()),
        model,
        version: base.with_extra(extra),
        build: device.build_version.as_deref().and_then(|b| b.parse().ok()),
        supervised: device.is_supervised.unwrap_or(false),
    })
}

/// How much of the fleet the catalog can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FleetCoverage {
    /// Enrolled devices.
    pub enrolled: usize,
    /// Devices that have not reported a readable OS version yet.
    pub without_version: usize,
    /// Devices whose model the loaded catalog does not list (all of them when none is loaded).
    pub unknown_model: usize,
}

/// The entries of `devices` (those that can be asked) and the coverage of the fleet by `index`.
pub fn survey(devices: &[FleetDevice], index: &CatalogIndex) -> (Vec<FleetEntry>, FleetCoverage) {
    let entries: Vec<FleetEntry> = devices.iter().filter_map(entry).collect();
    let unknown_model = entries
        .iter()
        .filter(|e| {
            matches!(
                index.applicability(&e.query()),
                Applicability::Unknown(UnknownReason::UnknownModel | UnknownReason::NoCatalog)
            )
        })
        .count();
    let coverage = FleetCoverage {
        enrolled: devices.len(),
        without_version: devices.len() - entries.len(),
        unknown_model,
    };
    (entries, coverage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(product: &str, version: &str) -> FleetDevice {
        FleetDevice {
            product_name: Some(product.into()),
            os_version: Some(version.into()),
            build_version: Some("23D8133".into()),
            supplemental_os_version_extra: Some("(a)".into()),
            is_supervised: Some(true),
            ..FleetDevice::default()
        }
    }

    #[test]
    fn inventory_becomes_a_query_and_devices_without_a_version_are_counted_apart() {
        let e = entry(&device("iPad13,18", "17.4")).unwrap();
        assert_eq!(e.family, OsFamily::Ios);
        assert_eq!(e.version, OsVersion::new(17, 4, 0).with_extra(Some('a')));
        assert_eq!(e.query().model, Some("iPad13,18"));
        assert!(e.query().supervised);
        assert_eq!(family_of_model("Mac14,9"), OsFamily::MacOs);
        assert_eq!(family_of_model("AppleTV14,1"), OsFamily::TvOs);
        assert_eq!(family_of_model("Something1,1"), OsFamily::Other);

        let mut silent = device("iPhone14,2", "x");
        silent.os_version = None;
        let (entries, coverage) = survey(&[device("iPhone14,2", "17.4"), silent], &CatalogIndex::default());
        assert_eq!(entries.len(), 1);
        assert_eq!(
            coverage,
            FleetCoverage {
                enrolled: 2,
                without_version: 1,
                unknown_model: 1
            }
        );
    }
}
