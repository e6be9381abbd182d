//! Push outcomes written in groups. A change that reaches thousands of devices ends thousands of
//! pushes within the same second; written one transaction each, they queue on SQLite's single
//! writer in front of the policy engine and every other write. Here each outcome waits for the
//! next group commit instead: the writer takes every outcome already waiting and writes them in
//! one transaction, so a burst costs a few transactions and a lone push still costs one.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::push::PushError;
use crate::store::Store;
use crate::store::devices;

/// Most outcomes written in one transaction.
const GROUP: usize = 1_000;

struct Pending {
    udid: String,
    result: String,
    at: DateTime<Utc>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The writer of push outcomes (`devices.last_push_at`, `last_push_result`).
pub(super) struct PushRecords {
    queue: mpsc::UnboundedSender<Pending>,
}

impl PushRecords {
    /// Starts the writer on the current Tokio runtime; it stops when this is dropped.
    pub(super) fn start(store: Store) -> Result<PushRecords, PushError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| PushError::Client("push records need a Tokio runtime".into()))?;
        let (queue, mut waiting) = mpsc::unbounded_channel::<Pending>();
        runtime.spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match waiting.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                let rows: Vec<(String, String, DateTime<Utc>)> = group
                    .iter()
                    .map(|p| (p.udid.clone(), p.result.clone(), p.at))
                    .collect();
                let written = store
                    .write(move |conn| {
                        let tx = conn.transaction()?;
                        for (udid, result, at) in &rows {
                            devices::record_push(&tx, udid, result, *at)?;
                        }
                        tx.commit()?;
                        Ok(())
                    })
                    .await
                    .map_err(|e| e.to_string());
                for p in group {
                    let _ = p.done.send(written.clone());
                }
            }
        });
        Ok(PushRecords { queue })
    }

    /// Records one outcome; returns once it is written (with the group it joined).
    pub(super) async fn record(&self, udid: &str, result: String, at: DateTime<Utc>) -> Result<(), String> {
        let (done, written) = oneshot::channel();
        self.queue
            .send(Pending {
                udid: udid.to_string(),
                result,
                at,
                done,
            })
            .map_err(|_| "the push record writer has stopped".to_string())?;
        written
            .await
            .map_err(|_| "the push record writer has stopped".to_string())?
    }
}
