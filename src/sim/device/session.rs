//! The command loop: `Idle` to the server URL, then one answer per command until the server
//! answers with an empty body. `DeclarativeManagement` goes to a pluggable hook.

use std::future::Future;
use std::pin::Pin;

use plist::{Dictionary, Value};

use super::commands::{Answer, ReceivedCommand};
use super::transport::{self, CONNECT_CONTENT_TYPE, Reply};
use super::{SimDevice, SimError};
use crate::protocol::dict;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a device does with a `DeclarativeManagement` command. The DDM simulator implements
/// this to run the declarative sync (tokens, declaration-items, declarations, status) through
/// [`DeclarativeChannel`]; the answer it returns is reported for the command.
pub trait DeclarativeHook: Send + Sync {
    fn handle<'a>(
        &'a self,
        channel: DeclarativeChannel<'a>,
        data: Option<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Answer, SimError>>;
}

/// The default hook: acknowledge and do nothing more.
pub struct AcknowledgeDeclarative;

impl DeclarativeHook for AcknowledgeDeclarative {
    fn handle<'a>(
        &'a self,
        _channel: DeclarativeChannel<'a>,
        _data: Option<Vec<u8>>,
    ) -> BoxFuture<'a, Result<Answer, SimError>> {
        Box::pin(async { Ok(Answer::Acknowledged(Dictionary::new())) })
    }
}

/// What a declarative hook may do on behalf of the device: signed `DeclarativeManagement`
/// check-ins to the device's check-in URL.
pub struct DeclarativeChannel<'a> {
    device: &'a SimDevice,
}

impl DeclarativeChannel<'_> {
    pub fn udid(&self) -> &str {
        self.device.udid()
    }

    /// A `DeclarativeManagement` check-in for `endpoint` (`tokens`, `declaration-items`,
    /// `status`, `declaration/…`) with optional JSON `data`; any status is returned.
    pub async fn checkin(&self, endpoint: &str, data: Option<&[u8]>) -> Result<Reply, SimError> {
        let mut d = Dictionary::new();
        d.insert(
            "MessageType".into(),
            Value::String("DeclarativeManagement".into()),
        );
        d.insert("UDID".into(), Value::String(self.device.udid().into()));
        d.insert("Endpoint".into(), Value::String(endpoint.into()));
        if let Some(data) = data {
            d.insert("Data".into(), Value::Data(data.to_vec()));
        }
        self.device.checkin_raw(dict::to_xml(d)).await
    }
}

/// A guard against a server that never stops sending commands.
const MAX_COMMANDS_PER_LOOP: usize = 1_000;

/// One command the device handled in a loop, and how it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandledCommand {
    pub uuid: String,
    pub request_type: String,
    /// `Acknowledged`, `Error` or `NotNow`.
    pub status: String,
}

impl SimDevice {
    /// `PUT`s `body` to the server URL, signed with the device identity; any status.
    pub async fn connect_raw(&self, body: Vec<u8>) -> Result<Reply, SimError> {
        let enrolled = self.enrolled()?;
        let signature = enrolled.identity.sign(&body, self.signature_digest)?;
        transport::put(
            &self.client,
            &enrolled.server_url,
            CONNECT_CONTENT_TYPE,
            body,
            Some(&signature),
        )
        .await
    }

    /// The `Idle` body of this device.
    pub fn idle_body(&self) -> Vec<u8> {
        let mut d = Dictionary::new();
        d.insert("UDID".into(), Value::String(self.udid().into()));
        d.insert("Status".into(), Value::String("Idle".into()));
        dict::to_xml(d)
    }

    /// Sends a body to the server URL and reads the command it answers with, if any.
    async fn exchange(&self, body: Vec<u8>) -> Result<Option<ReceivedCommand>, SimError> {
        let url = self.enrolled()?.server_url.clone();
        let reply = self.connect_raw(body).await?.success(&url)?;
        if reply.body.is_empty() {
            return Ok(None);
        }
        ReceivedCommand::parse(&reply.body).map(Some)
    }

    /// Sends `Idle` and returns the command the server answered with (without answering it).
    pub async fn idle(&self) -> Result<Option<ReceivedCommand>, SimError> {
        self.exchange(self.idle_body()).await
    }

    /// Reports `answer` for `command` and returns the next command, if any.
    pub async fn report(
        &self,
        command: &ReceivedCommand,
        answer: &Answer,
    ) -> Result<Option<ReceivedCommand>, SimError> {
        self.exchange(answer.result_body(self.udid(), &command.uuid))
            .await
    }

    /// How the device answers `command` (asking the declarative hook when needed).
    pub async fn answer(&mut self, command: &ReceivedCommand) -> Result<Answer, SimError> {
        let answer = self.state.answer(&self.profile, command);
        match answer {
            Answer::Declarative(data) => {
                let hook = self.declarative.clone();
                hook.handle(DeclarativeChannel { device: self }, data).await
            }
            other => Ok(other),
        }
    }

    /// One connection as a device makes it after a push: `Idle`, then an answer to each
    /// command until the server has nothing more. A command answered `NotNow` is not expected
    /// again in the same loop; if the server sends it anyway the loop stops with an error.
    pub async fn run_command_loop(&mut self) -> Result<Vec<HandledCommand>, SimError> {
        let mut handled: Vec<HandledCommand> = Vec::new();
        let mut next = self.idle().await?;
        while let Some(command) = next {
            if handled.len() >= MAX_COMMANDS_PER_LOOP {
                return Err(SimError::Protocol(format!(
                    "the server sent more than {MAX_COMMANDS_PER_LOOP} commands in one connection"
                )));
            }
            let deferred = handled
                .iter()
                .any(|h| h.uuid == command.uuid && h.status == "NotNow");
            if deferred {
                return Err(SimError::Protocol(format!(
                    "command {} was sent again in the connection that answered NotNow",
                    command.uuid
                )));
            }
            let answer = self.answer(&command).await?;
            handled.push(HandledCommand {
                uuid: command.uuid.clone(),
                request_type: command.request_type.clone(),
                status: answer.status().to_string(),
            });
            next = self.report(&command, &answer).await?;
        }
        Ok(handled)
    }
}
