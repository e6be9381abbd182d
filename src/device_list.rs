//! The devices list as a service, for the UI page, the API and the CSV export: a view of the
//! fleet (filter, sort, page) is checked against the groups and rings that exist, then read.
//! Parsing the URL's parameters into a view is the web layer's (`web::device_filter`).

use crate::store::device_list::{self as list_store, DeviceFilter, DeviceRow, SortKey};
use crate::store::membership::{self, GroupChoice};
use crate::store::{Store, StoreError};

/// A parsed view of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceListView {
    pub filter: DeviceFilter,
    pub sort: SortKey,
    pub descending: bool,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
}

impl DeviceListView {
    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// Why a view cannot be shown, by the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterProblem {
    pub field: &'static str,
    pub message: String,
}

impl FilterProblem {
    fn new(field: &'static str, message: String) -> FilterProblem {
        FilterProblem { field, message }
    }
}

/// One page of the list and how many devices match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub rows: Vec<DeviceRow>,
    pub total: usize,
}

/// Reads the devices list. Cheap to clone.
#[derive(Clone)]
pub struct DeviceListService {
    store: Store,
}

impl DeviceListService {
    pub fn new(store: Store) -> DeviceListService {
        DeviceListService { store }
    }

    /// `view` when the group and ring it filters on exist (a ring: a group with a ring order),
    /// else every problem with them.
    pub async fn check(
        &self,
        view: DeviceListView,
    ) -> Result<Result<DeviceListView, Vec<FilterProblem>>, StoreError> {
        let (group, ring) = (view.filter.group, view.filter.ring);
        if group.is_none() && ring.is_none() {
            return Ok(Ok(view));
        }
        let (group, ring) = self
            .store
            .read(move |c| {
                let found = |id: Option<i64>| {
                    id.map(|id| membership::choice(c, id).map(|g| (id, g)))
                        .transpose()
                };
                Ok((found(group)?, found(ring)?))
            })
            .await?;
        let mut problems = Vec::new();
        if let Some((id, None)) = group {
            problems.push(FilterProblem::new(
                "group",
                format!("there is no group with id {id}"),
            ));
        }
        match ring {
            Some((id, None)) => problems.push(FilterProblem::new(
                "ring",
                format!("there is no ring with id {id}"),
            )),
            Some((id, Some(g))) if g.ring_order.is_none() => problems.push(FilterProblem::new(
                "ring",
                format!("group {id} ({}) is not a ring", g.name),
            )),
            _ => {}
        }
        Ok(if problems.is_empty() {
            Ok(view)
        } else {
            Err(problems)
        })
    }

    /// The page `view` asks for, and the count of every device it matches.
    pub async fn page(&self, view: &DeviceListView) -> Result<ListPage, StoreError> {
        let view = view.clone();
        self.store
            .read(move |c| {
                let rows = list_store::page(
                    c,
                    &view.filter,
                    view.sort,
                    view.descending,
                    view.per_page,
                    view.offset(),
                )?;
                Ok(ListPage {
                    rows,
                    total: list_store::count(c, &view.filter)?,
                })
            })
            .await
    }

    /// Every device `view` matches in its order, paging ignored, at most `limit` (the export).
    pub async fn all_rows(&self, view: &DeviceListView, limit: usize) -> Result<Vec<DeviceRow>, StoreError> {
        let view = view.clone();
        self.store
            .read(move |c| list_store::page(c, &view.filter, view.sort, view.descending, limit, 0))
            .await
    }

    /// Every group as a filter choice: rings first in order, then the others by name.
    pub async fn group_choices(&self) -> Result<Vec<GroupChoice>, StoreError> {
        self.store.read(membership::choices).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::groups::{self as group_store, GroupFields};

    fn view(group: Option<i64>, ring: Option<i64>) -> DeviceListView {
        DeviceListView {
            filter: DeviceFilter {
                group,
                ring,
                ..DeviceFilter::default()
            },
            sort: SortKey::default(),
            descending: false,
            page: 1,
            per_page: 50,
        }
    }

    #[tokio::test]
    async fn every_unknown_group_and_ring_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let (ring, lab) = store
            .write_blocking(|c| {
                let fields = GroupFields::static_group;
                Ok((
                    group_store::insert(c, &fields("Pilot", Some(1)), Utc::now())?,
                    group_store::insert(c, &fields("Lab", None), Utc::now())?,
                ))
            })
            .unwrap();
        let service = DeviceListService::new(store);
        let ok = view(Some(lab), Some(ring));
        assert_eq!(service.check(ok.clone()).await.unwrap(), Ok(ok));
        let problems = service
            .check(view(Some(999), Some(lab)))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            problems,
            [
                FilterProblem::new("group", "there is no group with id 999".into()),
                FilterProblem::new("ring", format!("group {lab} (Lab) is not a ring")),
            ]
        );
        let problems = service.check(view(None, Some(999))).await.unwrap().unwrap_err();
        assert_eq!(
            problems,
            [FilterProblem::new("ring", "there is no ring with id 999".into())]
        );
    }
}
