//! Many commands to many devices in one transaction, with the caller's records of them written
//! in that same transaction: a restart then finds either the commands and their records, or
//! neither, never a command sent without its record (so never sent twice).

use std::collections::HashSet;

use rusqlite::Connection;

use super::{MdmError, MdmService};
use crate::protocol::commands::{CommandBody, CommandRequest};
use crate::protocol::{CommandUuid, Udid};
use crate::store::StoreError;
use crate::store::command_fanout as fanout;

/// One command of a batch: `request` for `udid` at `priority` (higher goes first).
#[derive(Debug, Clone, Copy)]
pub struct BatchCommand<'a> {
    pub udid: &'a Udid,
    pub request: &'a CommandRequest,
    pub priority: i64,
}

impl MdmService {
    /// Queues `commands` in one transaction (in order, so a device's commands keep their order
    /// within a priority), then runs `records` in the same transaction with each command's
    /// identifier, `None` for the commands of devices that are not enrolled (skipped: they get
    /// theirs when they enroll). Commands with equal requests share one written plist. Pushes
    /// are requested once for the batch, after the commit. Any error rolls everything back.
    /// `records` runs even when `commands` is empty. Returns the identifiers given to `records`.
    pub fn enqueue_batch_with(
        &self,
        commands: &[BatchCommand<'_>],
        records: impl FnOnce(&Connection, &[Option<CommandUuid>]) -> Result<(), StoreError>,
    ) -> Result<Vec<Option<CommandUuid>>, MdmError> {
        let (uuids, pushed) = self.in_transaction(|tx| {
            let mut distinct = HashSet::new();
            let udids: Vec<String> = commands
                .iter()
                .filter(|c| distinct.insert(c.udid.as_str()))
                .map(|c| c.udid.as_str().to_string())
                .collect();
            let enrolled = fanout::enrolled_among(tx, &udids)?;
            // A few distinct requests a batch (one profile per set of deferrals, one
            // ScheduleOSUpdate per version): each plist is written once.
            let mut bodies: Vec<(&CommandRequest, Option<CommandBody>)> = Vec::new();
            let mut uuids = Vec::with_capacity(commands.len());
            for command in commands {
                if !enrolled.contains(command.udid.as_str()) {
                    uuids.push(None);
                    continue;
                }
                let at = match bodies
                    .iter()
                    .position(|(r, _)| std::ptr::eq(*r, command.request) || *r == command.request)
                {
                    Some(at) => at,
                    None => {
                        bodies.push((command.request, CommandBody::new(command.request)));
                        bodies.len() - 1
                    }
                };
                let written = self.write_command(
                    tx,
                    command.udid,
                    command.request,
                    bodies[at].1.as_ref(),
                    command.priority,
                )?;
                uuids.push(Some(written.uuid));
            }
            records(tx, &uuids)?;
            let mut pushed = HashSet::new();
            let to_push: Vec<Udid> = commands
                .iter()
                .filter(|c| enrolled.contains(c.udid.as_str()) && pushed.insert(c.udid.as_str()))
                .map(|c| c.udid.clone())
                .collect();
            Ok((uuids, to_push))
        })?;
        self.push.request_pushes(&pushed);
        Ok(uuids)
    }
}
