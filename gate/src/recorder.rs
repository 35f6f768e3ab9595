//! Writing records to the log. Concurrent calls' records are batched into
//! one `AddEntries` request (the log syncs once per request), a few
//! requests in flight at a time; each record's acknowledgement goes back
//! to the call that waits for it.

use std::sync::Arc;

use causeway_client::{ClientError, LogClient, LogTarget, submit};
use causeway_tlog::merkle::{Hash, leaf_hash};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// The most records one request carries.
const MAX_BATCH: usize = 256;
/// The most requests in flight.
const IN_FLIGHT: usize = 4;
/// How long a request may take before its calls are refused: a log that
/// hangs must not hang the agent (nor let a call through).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the log did not acknowledge a record.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The log refused it (its gRPC status says why).
    #[error("the log refused the record ({code:?}): {message}")]
    Refused {
        /// The gRPC status code.
        code: tonic::Code,
        /// The log's message.
        message: String,
    },
    /// The log could not be reached or did not answer.
    #[error("the log did not answer: {0}")]
    Unreachable(String),
    /// The log acknowledged something else.
    #[error("the log acknowledged leaf {returned}, not the record sent ({sent})")]
    WrongAck {
        /// What it returned.
        returned: Hash,
        /// What was sent.
        sent: Hash,
    },
}

impl From<ClientError> for WriteError {
    fn from(e: ClientError) -> Self {
        match e.code() {
            Some(code) if !e.is_transport() => WriteError::Refused {
                code,
                message: match &e {
                    ClientError::Status(s) => s.message().to_owned(),
                    other => other.to_string(),
                },
            },
            _ => WriteError::Unreachable(e.to_string()),
        }
    }
}

/// An acknowledged record.
#[derive(Clone, Copy, Debug)]
pub struct Ack {
    /// Its index in the log.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

struct Job {
    entry: Vec<u8>,
    reply: oneshot::Sender<Result<Ack, WriteError>>,
}

/// A handle for writing records; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
    background: TaskTracker,
}

impl Recorder {
    /// Connects to the log and starts the batching task.
    ///
    /// # Errors
    /// When the log cannot be reached.
    pub async fn connect(target: LogTarget) -> Result<Recorder, ClientError> {
        let client = target.connect().await?;
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(client, target, rx));
        Ok(Recorder {
            jobs,
            background: TaskTracker::new(),
        })
    }

    /// Writes `entry` and waits until the log has acknowledged it.
    ///
    /// # Errors
    /// The log's refusal, or that it could not be reached.
    pub async fn write(&self, entry: Vec<u8>) -> Result<Ack, WriteError> {
        let (reply, ack) = oneshot::channel();
        self.jobs
            .send(Job { entry, reply })
            .await
            .map_err(|_| WriteError::Unreachable("the gate is shutting down".into()))?;
        ack.await
            .map_err(|_| WriteError::Unreachable("the gate is shutting down".into()))?
    }

    /// Writes `entry` without waiting; a failure is reported on stderr
    /// under `label`. [`Recorder::drain`] waits for every such write.
    pub fn write_later(&self, entry: Vec<u8>, label: String) {
        let this = self.clone();
        self.background.spawn(async move {
            if let Err(e) = this.write(entry).await {
                tracing::error!("{label} was not recorded: {e}");
            }
        });
    }

    /// Waits for every [`Recorder::write_later`] so far.
    pub async fn drain(&self) {
        self.background.close();
        self.background.wait().await;
        self.background.reopen();
    }
}

async fn run(client: LogClient, target: LogTarget, mut rx: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut client = client.clone();
        let target = target.clone();
        tokio::spawn(async move {
            send(&mut client, &target, batch).await;
            drop(slot);
        });
    }
}

/// Sends a batch; when the log refuses it as a whole and it holds more
/// than one record, each is sent alone so that one record's refusal (a
/// revoked delegate's, say) is not another's.
async fn send(client: &mut LogClient, target: &LogTarget, batch: Vec<Job>) {
    let entries: Vec<Vec<u8>> = batch.iter().map(|j| j.entry.clone()).collect();
    let sent = tokio::time::timeout(
        TIMEOUT,
        submit::add_following_leader(client, target, entries, |_, _| {}),
    )
    .await
    .unwrap_or_else(|_| {
        Err(ClientError::Connect(
            target.url.clone(),
            format!("no answer in {TIMEOUT:?}"),
        ))
    });
    match sent {
        Ok(result) if result.entries.len() == batch.len() => {
            for (job, added) in batch.into_iter().zip(result.entries) {
                let sent = leaf_hash(&job.entry);
                let answer = if added.leaf_hash == sent {
                    Ok(Ack {
                        index: added.index,
                        leaf_hash: sent,
                    })
                } else {
                    Err(WriteError::WrongAck {
                        returned: added.leaf_hash,
                        sent,
                    })
                };
                let _ = job.reply.send(answer);
            }
        }
        Ok(result) => {
            let e = WriteError::Unreachable(format!(
                "the log acknowledged {} entries of {} sent",
                result.entries.len(),
                batch.len()
            ));
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            let e = WriteError::from(e);
            if batch.len() > 1 && matches!(e, WriteError::Refused { .. }) {
                for job in batch {
                    Box::pin(send(client, target, vec![job])).await;
                }
            } else {
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
