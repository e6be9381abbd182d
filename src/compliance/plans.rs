//! Where compliance gets each device's plan: [`PolicyPlans`] evaluates it with the policy
//! engine's own book and pure planner (the same function whose result the engine stores), so a
//! device's compliance and its delivered plan agree; [`NoPlans`] is for appliances without
//! policies (every device "not managed").

use std::collections::HashMap;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::catalog::CatalogService;
use crate::clock::SharedClock;
use crate::policy::Plan;
use crate::policy::service::PolicyService;

/// Plans by UDID; a device missing from the answer (or `None`) has no policy.
pub type Plans = HashMap<String, Option<Plan>>;

pub trait PlanSource: Send + Sync {
    fn plans<'a>(&'a self, udids: &'a [String]) -> BoxFuture<'a, Result<Plans, String>>;
}

/// No policies: every enrolled device is "not managed".
pub struct NoPlans;

impl PlanSource for NoPlans {
    fn plans<'a>(&'a self, _: &'a [String]) -> BoxFuture<'a, Result<Plans, String>> {
        async { Ok(Plans::new()) }.boxed()
    }
}

/// Plans from the policy engine: its book (policies, groups, rings, assignments) and planner.
pub struct PolicyPlans {
    pub policies: PolicyService,
    pub catalog: std::sync::Arc<CatalogService>,
    pub clock: SharedClock,
}

impl PlanSource for PolicyPlans {
    fn plans<'a>(&'a self, udids: &'a [String]) -> BoxFuture<'a, Result<Plans, String>> {
        async move {
            // The book as it concerns these devices only (a page or a batch, not the fleet).
            let (book, devices) = self
                .policies
                .book_for_devices(udids)
                .await
                .map_err(|e| e.to_string())?;
            let snapshot = self.catalog.snapshot();
            let now = self.clock.now();
            let offset = self.policies.utc_offset();
            Ok(devices
                .into_iter()
                .map(|device| {
                    let evaluation = book.evaluate(&device, &snapshot.index, offset, now);
                    (device.udid.clone(), evaluation.plan)
                })
                .collect())
        }
        .boxed()
    }
}
