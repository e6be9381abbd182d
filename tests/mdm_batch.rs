//! Many commands to many devices in one MDM transaction with the caller's records
//! (`MdmService::enqueue_batch_with`): devices not enrolled are skipped, devices told the same
//! thing share one written plist, and a failing record takes the whole batch back.

use crate::mdm_support::*;

use orchard::mdm::BatchCommand;
use orchard::protocol::CommandUuid;
use orchard::protocol::commands::{Command, CommandRequest};
use orchard::store::devices;

/// The payload stored for the command `uuid`, and its device.
fn stored(f: &Fixture, uuid: &str) -> Option<(String, Vec<u8>)> {
    let uuid = uuid.to_string();
    f.store
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT udid, payload FROM commands WHERE uuid = ?1",
                [&uuid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok())
        })
        .unwrap()
}

fn profile_recorded(f: &Fixture, udid: &str) -> Option<String> {
    let udid = udid.to_string();
    f.store
        .read_blocking(move |c| orchard::store::policies::plans::legacy_profile(c, &udid))
        .unwrap()
        .map(|(_, fingerprint)| fingerprint)
}

#[test]
fn a_batch_queues_each_enrolled_devices_commands_with_their_records_and_skips_the_others() {
    let f = fixture();
    for name in ["BATCH-A", "BATCH-B", "BATCH-C"] {
        enroll(&f, name, &identity(name));
    }
    let now = start();
    f.store
        .write_blocking(move |c| devices::mark_unenrolled(c, "BATCH-C", now))
        .unwrap();
    let (a, b, c) = (udid("BATCH-A"), udid("BATCH-B"), udid("BATCH-C"));
    let profile = CommandRequest::InstallProfile {
        payload: b"<plist><dict/></plist>".to_vec(),
    };
    let status = CommandRequest::OsUpdateStatus;
    let batch = [
        BatchCommand {
            udid: &a,
            request: &profile,
            priority: 5,
        },
        BatchCommand {
            udid: &a,
            request: &status,
            priority: 4,
        },
        BatchCommand {
            udid: &b,
            request: &profile,
            priority: 5,
        },
        BatchCommand {
            udid: &c,
            request: &profile,
            priority: 5,
        },
    ];
    let pushes_before = f.push.calls().len();
    let uuids = f
        .mdm
        .enqueue_batch_with(&batch, |tx, uuids| {
            for (command, uuid) in batch.iter().zip(uuids) {
                if let (Some(uuid), CommandRequest::InstallProfile { .. }) = (uuid, command.request) {
                    orchard::store::policies::plans::set_legacy_profile(
                        tx,
                        command.udid.as_str(),
                        "profile",
                        "fp",
                        uuid.as_str(),
                        now,
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        uuids[..3].iter().all(Option::is_some) && uuids[3].is_none(),
        "{uuids:?}"
    );
    for (command, uuid) in batch.iter().zip(&uuids).take(3) {
        let uuid: &CommandUuid = uuid.as_ref().unwrap();
        let (device, payload) = stored(&f, uuid.as_str()).unwrap();
        assert_eq!(device, command.udid.as_str());
        let alone = Command {
            uuid: uuid.clone(),
            request: command.request.clone(),
        };
        assert_eq!(
            payload,
            alone.to_plist(),
            "a shared plist is the command written alone"
        );
    }
    assert_eq!(profile_recorded(&f, "BATCH-A").as_deref(), Some("fp"));
    assert_eq!(profile_recorded(&f, "BATCH-B").as_deref(), Some("fp"));
    assert_eq!(profile_recorded(&f, "BATCH-C"), None, "not enrolled: skipped");
    assert_eq!(
        f.push.calls()[pushes_before..],
        [a.clone(), b.clone()],
        "one push per device that got commands"
    );

    // A record that cannot be written takes the whole batch back: no command, no record, no push.
    let before = dump(&f.store);
    let pushes_before = f.push.calls().len();
    let failed = f.mdm.enqueue_batch_with(&batch[2..3], |tx, uuids| {
        use orchard::store::policies::plans::{self, ScheduledUpdate};
        plans::clear_legacy_profile(tx, "BATCH-A")?;
        let uuid = uuids[0].as_ref().map(CommandUuid::as_str).unwrap_or_default();
        let record = ScheduledUpdate {
            udid: "BATCH-B",
            target_version: "26.4.1",
            target_build: None,
            deadline_utc: now,
            command_uuid: uuid,
            status_uuid: None,
        };
        plans::record_scheduled_update(tx, &record, now)?;
        // The same record again: the primary key refuses it.
        plans::record_scheduled_update(tx, &record, now)
    });
    assert!(failed.is_err());
    assert_eq!(dump(&f.store), before, "nothing was written");
    assert_eq!(profile_recorded(&f, "BATCH-A").as_deref(), Some("fp"));
    let scheduled = f
        .store
        .read_blocking(|c| orchard::store::policies::plans::scheduled_update_sent(c, "BATCH-B", "26.4.1"))
        .unwrap();
    assert!(!scheduled, "the record written before the failure is gone too");
    assert_eq!(f.push.calls().len(), pushes_before);
}
