//! Roles and what they permit. The rest of the appliance asks `role.can(Permission::X)`.

use std::fmt;
use std::str::FromStr;

/// What an administrator account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, including accounts and appliance settings.
    Admin,
    /// Update policies, groups, devices, the catalog and the cache; not accounts or settings.
    Manager,
    /// Read-only.
    Viewer,
}

/// An action that needs a role. Reading is open to every role; each change has its permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See pages and data (every role).
    View,
    ManageDevices,
    ManageGroups,
    ManagePolicies,
    /// Catalog refresh and import.
    ManageCatalog,
    /// Cache downloads, imports and exports.
    ManageCache,
    /// Enrollment profiles and tokens.
    ManageEnrollment,
    /// Appliance settings (push certificate, TLS names, ...).
    ManageSettings,
    /// Administrator accounts (the users page).
    ManageUsers,
    /// API tokens.
    ManageApiTokens,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Viewer];

    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                permission,
                View | ManageDevices | ManageGroups | ManagePolicies | ManageCatalog | ManageCache
            ),
            Role::Viewer => matches!(permission, View),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
        }
    }

    /// A one-line description for forms.
    pub fn description(self) -> &'static str {
        match self {
            Role::Admin => "everything, including accounts and settings",
            Role::Manager => "update policies, groups, devices, the catalog and the cache",
            Role::Viewer => "read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected admin, manager or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "viewer" => Ok(Role::Viewer),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Permission::View => "view this page",
            Permission::ManageDevices => "change devices",
            Permission::ManageGroups => "change groups",
            Permission::ManagePolicies => "change update policies",
            Permission::ManageCatalog => "change the catalog",
            Permission::ManageCache => "change the cache",
            Permission::ManageEnrollment => "change enrollment",
            Permission::ManageSettings => "change appliance settings",
            Permission::ManageUsers => "manage administrator accounts",
            Permission::ManageApiTokens => "manage API tokens",
        };
        f.write_str(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_product_promises() {
        use Permission::*;
        for p in [
            View,
            ManageDevices,
            ManageGroups,
            ManagePolicies,
            ManageUsers,
            ManageSettings,
        ] {
            assert!(Role::Admin.can(p), "admin {p:?}");
        }
        for p in [View, ManageDevices, ManageGroups, ManagePolicies, ManageCatalog] {
            assert!(Role::Manager.can(p), "manager {p:?}");
        }
        for p in [ManageUsers, ManageSettings, ManageApiTokens, ManageEnrollment] {
            assert!(!Role::Manager.can(p), "manager {p:?}");
        }
        assert!(Role::Viewer.can(View));
        for p in [
            ManageDevices,
            ManageGroups,
            ManagePolicies,
            ManageUsers,
            ManageSettings,
        ] {
            assert!(!Role::Viewer.can(p), "viewer {p:?}");
        }
    }

    #[test]
    fn role_names_round_trip_and_unknown_is_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!(" Manager ".parse::<Role>().unwrap(), Role::Manager);
        assert!("root".parse::<Role>().is_err());
    }
}
