//! What a simulated device is: platform, model, OS and identifiers, with realistic defaults per
//! platform. Every field is public so tests and the load generator can set what they need.

use rand::Rng as _;

/// The Apple platform a simulated device plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Iphone,
    Ipad,
    AppleTv,
    Mac,
}

impl Platform {
    pub fn parse(name: &str) -> Option<Platform> {
        match name.to_ascii_lowercase().as_str() {
            "iphone" | "ios" => Some(Platform::Iphone),
            "ipad" | "ipados" => Some(Platform::Ipad),
            "appletv" | "apple-tv" | "tvos" => Some(Platform::AppleTv),
            "mac" | "macos" => Some(Platform::Mac),
            _ => None,
        }
    }

    pub fn is_mac(self) -> bool {
        self == Platform::Mac
    }
}

/// A simulated device's identity and inventory, answered in check-ins and `DeviceInformation`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceProfile {
    pub platform: Platform,
    /// `ProductName`, e.g. `iPhone17,3`.
    pub product_name: String,
    /// `ModelName`, e.g. `iPhone`, `MacBook Air`.
    pub model_name: String,
    /// `Model`, e.g. `MYE73LL/A`.
    pub model: String,
    /// `ModelNumber`, e.g. `MYE73`.
    pub model_number: String,
    pub os_version: String,
    pub build_version: String,
    /// Rapid Security Response build and suffix, when one is installed.
    pub supplemental_build_version: Option<String>,
    pub supplemental_os_version_extra: Option<String>,
    pub serial_number: String,
    pub udid: String,
    pub software_update_device_id: String,
    pub device_name: String,
    pub supervised: bool,
    pub passcode_set: bool,
    pub apple_silicon: bool,
    /// GB.
    pub device_capacity: f64,
    pub available_device_capacity: f64,
    /// 0.0–1.0; `None` for devices without a battery (Apple TV, desktop Macs).
    pub battery_level: Option<f64>,
}

impl DeviceProfile {
    /// The default device of `platform`.
    pub fn for_platform(platform: Platform) -> DeviceProfile {
        match platform {
            Platform::Iphone => DeviceProfile::iphone(),
            Platform::Ipad => DeviceProfile::ipad(),
            Platform::AppleTv => DeviceProfile::apple_tv(),
            Platform::Mac => DeviceProfile::mac(),
        }
    }

    /// An iPhone 16 on iOS 18.1.
    pub fn iphone() -> DeviceProfile {
        DeviceProfile {
            platform: Platform::Iphone,
            product_name: "iPhone17,3".into(),
            model_name: "iPhone".into(),
            model: "MYE73LL/A".into(),
            model_number: "MYE73".into(),
            os_version: "18.1".into(),
            build_version: "22B83".into(),
            supplemental_build_version: None,
            supplemental_os_version_extra: None,
            serial_number: random_serial(),
            udid: ios_udid(),
            software_update_device_id: "D47AP".into(),
            device_name: "iPhone".into(),
            supervised: true,
            passcode_set: true,
            apple_silicon: false,
            device_capacity: 128.0,
            available_device_capacity: 87.3,
            battery_level: Some(0.82),
        }
    }

    /// An iPad Pro 11-inch (M4) on iPadOS 18.1.
    pub fn ipad() -> DeviceProfile {
        DeviceProfile {
            platform: Platform::Ipad,
            product_name: "iPad16,3".into(),
            model_name: "iPad Pro".into(),
            model: "MVV83LL/A".into(),
            model_number: "MVV83".into(),
            os_version: "18.1".into(),
            build_version: "22B83".into(),
            supplemental_build_version: None,
            supplemental_os_version_extra: None,
            serial_number: random_serial(),
            udid: ios_udid(),
            software_update_device_id: "J717AP".into(),
            device_name: "iPad".into(),
            supervised: true,
            passcode_set: true,
            apple_silicon: false,
            device_capacity: 256.0,
            available_device_capacity: 201.5,
            battery_level: Some(0.64),
        }
    }

    /// An Apple TV 4K (3rd generation) on tvOS 18.1.
    pub fn apple_tv() -> DeviceProfile {
        DeviceProfile {
            platform: Platform::AppleTv,
            product_name: "AppleTV14,1".into(),
            model_name: "Apple TV".into(),
            model: "MN893LL/A".into(),
            model_number: "MN893".into(),
            os_version: "18.1".into(),
            build_version: "22J580".into(),
            supplemental_build_version: None,
            supplemental_os_version_extra: None,
            serial_number: random_serial(),
            udid: ios_udid(),
            software_update_device_id: "J255AP".into(),
            device_name: "Conference Room".into(),
            supervised: true,
            passcode_set: false,
            apple_silicon: false,
            device_capacity: 128.0,
            available_device_capacity: 119.8,
            battery_level: None,
        }
    }

    /// A MacBook Air 13-inch (M3) on macOS 15.1.
    pub fn mac() -> DeviceProfile {
        DeviceProfile {
            platform: Platform::Mac,
            product_name: "Mac15,12".into(),
            model_name: "MacBook Air".into(),
            model: "MRXN3LL/A".into(),
            model_number: "MRXN3".into(),
            os_version: "15.1".into(),
            build_version: "24B83".into(),
            supplemental_build_version: None,
            supplemental_os_version_extra: None,
            serial_number: random_serial(),
            udid: uuid::Uuid::new_v4().to_string().to_uppercase(),
            software_update_device_id: "J613AP".into(),
            device_name: "MacBook Air".into(),
            supervised: true,
            passcode_set: true,
            apple_silicon: true,
            device_capacity: 494.38,
            available_device_capacity: 301.2,
            battery_level: Some(0.91),
        }
    }

    /// A 16-inch MacBook Pro (2019, Intel with a T2 chip) on macOS 14.7.1.
    pub fn intel_mac() -> DeviceProfile {
        DeviceProfile {
            product_name: "MacBookPro16,1".into(),
            model_name: "MacBook Pro".into(),
            model: "MVVJ2LL/A".into(),
            model_number: "MVVJ2".into(),
            os_version: "14.7.1".into(),
            build_version: "23H222".into(),
            software_update_device_id: "J152FAP".into(),
            device_name: "MacBook Pro".into(),
            apple_silicon: false,
            ..DeviceProfile::mac()
        }
    }

    /// The same device with another `ProductName` and `SoftwareUpdateDeviceID`.
    pub fn with_product(mut self, product_name: &str, software_update_device_id: &str) -> DeviceProfile {
        self.product_name = product_name.into();
        self.software_update_device_id = software_update_device_id.into();
        self
    }

    /// The same device on another OS version and build.
    pub fn with_os(mut self, os_version: &str, build_version: &str) -> DeviceProfile {
        self.os_version = os_version.into();
        self.build_version = build_version.into();
        self
    }
}

const SERIAL_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXYZ0123456789";

/// A 10-character serial number in the randomized style Apple uses since 2021.
fn random_serial() -> String {
    let mut rng = rand::rng();
    (0..10)
        .map(|_| SERIAL_ALPHABET[rng.random_range(0..SERIAL_ALPHABET.len())] as char)
        .collect()
}

/// A UDID in the form of devices with an A12 or later: `00008120-001A2B3C4D5E601E`.
fn ios_udid() -> String {
    let mut rng = rand::rng();
    format!("00008120-{:016X}", rng.random::<u64>() >> 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Udid;

    #[test]
    fn every_platform_has_a_distinct_valid_identity() {
        let all = [
            DeviceProfile::iphone(),
            DeviceProfile::ipad(),
            DeviceProfile::apple_tv(),
            DeviceProfile::mac(),
            DeviceProfile::intel_mac(),
        ];
        for device in &all {
            Udid::parse(&device.udid).unwrap();
            assert_eq!(device.serial_number.len(), 10);
            assert!(!device.software_update_device_id.is_empty());
        }
        assert_eq!(all[0].product_name, "iPhone17,3");
        assert_eq!(all[0].udid.len(), 25);
        assert!(all[3].apple_silicon && !all[4].apple_silicon);
        assert_eq!(all[4].platform, Platform::Mac);
        assert_ne!(DeviceProfile::iphone().udid, DeviceProfile::iphone().udid);
    }
}
