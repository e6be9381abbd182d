//! A device's own declaration set, built in one place: the status subscription that makes it
//! report its OS and update state, the policy engine's configurations for it (enforcement,
//! settings), and one activation whose `StandardConfigurations` lists them all. Enrollment calls
//! it with no policy configurations; the policy engine calls it with the device's plan.

use crate::protocol::ddm::management::{SimpleActivation, StatusSubscriptions};
use crate::protocol::ddm::{Declaration, DeclarationError, DeclarationIdentifier, DeviceTarget};

/// The status subscription every DDM device gets from enrollment on.
pub const STATUS_SUBSCRIPTION_ID: &str = "com.orchard.status-subscriptions";
/// The activation of the device's own configurations (the name predates the policy ones).
pub const STATUS_ACTIVATION_ID: &str = "com.orchard.activation.status-subscriptions";

fn identifier(text: &str) -> Result<DeclarationIdentifier, DeclarationError> {
    DeclarationIdentifier::parse(text).map_err(|reason| DeclarationError::Identifier {
        path: "Identifier",
        reason,
    })
}

/// The device's whole own set: status subscription, `configurations`, and the activation that
/// applies every one of them. Non-configuration declarations in `configurations` (assets) are
/// kept in the set but not activated.
pub fn device_own_set(
    target: &DeviceTarget,
    configurations: Vec<Declaration>,
) -> Result<Vec<Declaration>, DeclarationError> {
    let subscription_id = identifier(STATUS_SUBSCRIPTION_ID)?;
    let subscription = Declaration::new(
        subscription_id.clone(),
        &StatusSubscriptions::for_update_management(target),
    )?;
    let mut activated = vec![subscription_id];
    activated.extend(
        configurations
            .iter()
            .filter(|d| d.class() == crate::protocol::ddm::DeclarationClass::Configuration)
            .map(|d| d.identifier().clone()),
    );
    let activation = Declaration::new(
        identifier(STATUS_ACTIVATION_ID)?,
        &SimpleActivation::new(activated)?,
    )?;
    let mut set = Vec::with_capacity(configurations.len() + 2);
    set.push(subscription);
    set.extend(configurations);
    set.push(activation);
    Ok(set)
}
