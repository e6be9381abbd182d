//! Which release a policy's enforcement mode targets for one device, and its wanted deadline
//! (before the ring's offset and calendar are applied).

use chrono::{Days, NaiveDate, NaiveDateTime};

use super::model::{AutomaticLatest, Enforcement, NewestMajor, Policy};
use super::outcome::{NoAction, Upcoming};
use super::plan::DeviceView;
use crate::catalog::applicability::Answer;
use crate::catalog::gdmf::{Audience, Release};
use crate::catalog::{CatalogIndex, OsFamily, OsVersion};
use crate::protocol::ddm::{Enrollment, Platform};

pub(super) struct Context<'a> {
    pub device: &'a DeviceView,
    pub platform: Platform,
    pub family: OsFamily,
    pub catalog: &'a CatalogIndex,
    pub answer: &'a Answer<'a>,
    pub policy: &'a Policy,
    /// The device's local date now.
    pub today: NaiveDate,
    /// The ring schedule's common release date, if any.
    pub base_date: Option<NaiveDate>,
}

/// The release chosen and when it is wanted.
pub(super) struct Choice<'a> {
    pub release: &'a Release,
    pub wanted_deadline: NaiveDateTime,
    pub visible_from: NaiveDate,
    /// Why this deadline, for the explanation ("enforced within 1 week of its release").
    pub basis: String,
}

pub(super) enum Selection<'a> {
    NoAction(NoAction),
    Enforce {
        choice: Choice<'a>,
        upcoming: Option<Upcoming>,
    },
    /// Something newer exists, but no candidate has finished its deferral.
    Deferred {
        reason: NoAction,
        upcoming: Upcoming,
    },
}

pub(super) fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(days.into())).unwrap_or(date)
}

/// The major line as people write it: `26`, `10.15`.
fn line_name(line: (u32, u32)) -> String {
    if line.0 == 10 {
        format!("10.{}", line.1)
    } else {
        line.0.to_string()
    }
}

impl<'a> Context<'a> {
    pub fn current(&self) -> OsVersion {
        self.device.os_version
    }

    /// When a release's rollout clock starts: its posting date, or the ring schedule's base date
    /// when that is later.
    pub fn anchor(&self, posted: NaiveDate) -> NaiveDate {
        match self.base_date {
            Some(base) if base > posted => base,
            _ => posted,
        }
    }

    fn is_major_upgrade(&self, r: &Release) -> bool {
        r.version.major_line() > self.current().major_line()
    }

    /// The newest major line the policy allows for this platform (N or N-1 of what Apple ships).
    fn major_ceiling(&self) -> (u32, u32) {
        let current = self.current().major_line();
        let mut lines = self
            .catalog
            .releases()
            .iter()
            .filter(|r| r.family == self.family)
            .map(|r| r.version.major_line());
        let Some(n) = lines.next() else {
            return current;
        };
        match self.policy.majors.newest_major {
            NewestMajor::N => n,
            NewestMajor::NMinusOne => lines.find(|l| *l < n).unwrap_or(current),
        }
    }

    /// Why `r` may not be enforced on this device, or `None`.
    pub fn refusal(&self, r: &Release) -> Option<NoAction> {
        if self.is_major_upgrade(r) {
            if !self.policy.majors.allow_major {
                return Some(NoAction::MajorNotAllowed { version: r.version });
            }
            let ceiling = self.major_ceiling();
            if r.version.major_line() > ceiling {
                return Some(NoAction::BeyondNewestMajor {
                    version: r.version,
                    newest_allowed: line_name(ceiling),
                });
            }
        }
        if r.expiration_date < self.today {
            return Some(NoAction::ReleaseExpired {
                version: r.version,
                expired_on: r.expiration_date,
            });
        }
        None
    }

    /// Installable releases the policy allows, newest first, and the first refusal met.
    fn candidates(&self) -> (Vec<&'a Release>, Option<NoAction>) {
        let mut allowed = Vec::new();
        let mut refused = None;
        for &r in &self.answer.installable {
            match self.refusal(r) {
                None => allowed.push(r),
                Some(why) => {
                    refused.get_or_insert(why);
                }
            }
        }
        (allowed, refused)
    }

    fn up_to_date(&self, refused: Option<NoAction>) -> NoAction {
        refused.unwrap_or(NoAction::UpToDate {
            version: self.device.version(),
        })
    }
}

pub(super) fn select<'a>(ctx: &Context<'a>) -> Selection<'a> {
    match &ctx.policy.enforcement {
        Enforcement::DoNotManage => Selection::NoAction(NoAction::NotManaged),
        Enforcement::Rolling { within, at } => newest(ctx, |r| Choice {
            release: r,
            wanted_deadline: within.after(ctx.anchor(r.posting_date)).and_time(*at),
            visible_from: r.posting_date,
            basis: format!("enforced within {} of {}", within.describe(), since(ctx, r)),
        }),
        Enforcement::SecuritySla(sla) => newest(ctx, |r| {
            let (date, basis) = super::sla::sla_deadline(ctx, r, sla);
            Choice {
                release: r,
                wanted_deadline: date.and_time(sla.at),
                visible_from: r.posting_date,
                basis,
            }
        }),
        Enforcement::AutomaticLatest(auto) => automatic_latest(ctx, auto),
        Enforcement::Minimum { version, deadline } => {
            if ctx.current().base() >= version.base() {
                return Selection::NoAction(NoAction::AtOrAboveMinimum { minimum: *version });
            }
            let mut offered = ctx
                .answer
                .installable
                .iter()
                .rev()
                .filter(|r| r.version.base() >= version.base())
                .peekable();
            if offered.peek().is_none() {
                return Selection::NoAction(NoAction::NotOffered { version: *version });
            }
            let mut refused = None;
            for &r in offered {
                match ctx.refusal(r) {
                    None => {
                        return fixed(
                            r,
                            *deadline,
                            format!(
                                "minimum version {version} by {}",
                                deadline.format("%Y-%m-%d %H:%M")
                            ),
                        );
                    }
                    Some(why) => {
                        refused.get_or_insert(why);
                    }
                }
            }
            Selection::NoAction(ctx.up_to_date(refused))
        }
        Enforcement::Specific {
            version,
            build,
            deadline,
        } => {
            if ctx.current().base() >= version.base() {
                return Selection::NoAction(NoAction::AtOrAboveTarget { target: *version });
            }
            let supervised = ctx.device.enrollment == Enrollment::Supervised;
            let found = match build {
                Some(b) => ctx.catalog.releases().iter().find(|r| {
                    r.family == ctx.family
                        && r.version == *version
                        && r.build == *b
                        && (supervised || r.audience == Audience::Public)
                        && r.devices.iter().any(|d| d == ctx.answer.catalog_id)
                }),
                None => ctx
                    .answer
                    .installable
                    .iter()
                    .copied()
                    .find(|r| r.version == *version),
            };
            let Some(r) = found else {
                return Selection::NoAction(NoAction::NotOffered { version: *version });
            };
            match ctx.refusal(r) {
                Some(why) => Selection::NoAction(why),
                None => fixed(
                    r,
                    *deadline,
                    format!(
                        "specific version {version} by {}",
                        deadline.format("%Y-%m-%d %H:%M")
                    ),
                ),
            }
        }
    }
}

fn since(ctx: &Context<'_>, r: &Release) -> String {
    match ctx.base_date {
        Some(base) if base > r.posting_date => format!("the ring base date {base}"),
        _ => "its release".to_string(),
    }
}

fn fixed<'a>(r: &'a Release, deadline: NaiveDateTime, basis: String) -> Selection<'a> {
    Selection::Enforce {
        choice: Choice {
            release: r,
            wanted_deadline: deadline,
            visible_from: r.posting_date,
            basis,
        },
        upcoming: None,
    }
}

fn newest<'a>(ctx: &Context<'a>, choose: impl FnOnce(&'a Release) -> Choice<'a>) -> Selection<'a> {
    let (allowed, refused) = ctx.candidates();
    match allowed.first() {
        Some(r) => Selection::Enforce {
            choice: choose(r),
            upcoming: None,
        },
        None => Selection::NoAction(ctx.up_to_date(refused)),
    }
}

/// The newest allowed release whose deferral has ended; a newer one still deferred is `upcoming`.
fn automatic_latest<'a>(ctx: &Context<'a>, auto: &AutomaticLatest) -> Selection<'a> {
    let (allowed, refused) = ctx.candidates();
    let mut upcoming: Option<Upcoming> = None;
    for r in allowed {
        let deferral = auto.deferral.for_release(ctx.platform, ctx.is_major_upgrade(r));
        let visible_from = add_days(r.posting_date, deferral);
        let start = ctx.anchor(visible_from);
        let deadline = add_days(start, auto.grace_days).and_time(auto.at);
        if visible_from > ctx.today {
            upcoming.get_or_insert(Upcoming {
                version: r.version,
                visible_from,
                deadline,
            });
            continue;
        }
        let basis = format!(
            "deferred {deferral} days (visible from {visible_from}), + {} days of grace{}",
            auto.grace_days,
            if start > visible_from {
                format!(" from the ring base date {start}")
            } else {
                String::new()
            }
        );
        return Selection::Enforce {
            choice: Choice {
                release: r,
                wanted_deadline: deadline,
                visible_from,
                basis,
            },
            upcoming,
        };
    }
    match upcoming {
        Some(u) => Selection::Deferred {
            reason: NoAction::Deferred {
                version: u.version,
                visible_from: u.visible_from,
            },
            upcoming: u,
        },
        None => Selection::NoAction(ctx.up_to_date(refused)),
    }
}
