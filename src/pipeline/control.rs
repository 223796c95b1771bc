//! Operator control of connectors (the management API's pause, resume and restart).
//!
//! Each connector's supervisor holds a receiver of its [`ControlState`]; the API changes the
//! state through [`Controls`]. Invariant: a pause or restart stops the running attempt the
//! way a shutdown does (in-flight events drained, positions acknowledged), so nothing is
//! lost or skipped; a paused connector resumes from its last acknowledged position.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

pub use crate::source::incremental::{SnapshotCommand, SnapshotInbox};

/// What the operator asked of one connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlState {
    /// Stop the connector until resumed.
    pub paused: bool,
    /// Incremented by each restart request.
    pub restarts: u64,
}

/// The control handles of every connector of the process; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    inner: Arc<Mutex<BTreeMap<String, watch::Sender<ControlState>>>>,
    inboxes: Arc<Mutex<BTreeMap<String, SnapshotInbox>>>,
}

/// What a connector's supervisor and source receive from the operator.
#[derive(Debug)]
pub struct Control {
    /// Pause, resume and restart.
    pub state: watch::Receiver<ControlState>,
    /// Snapshot requests (and where the source shows their progress).
    pub snapshots: SnapshotInbox,
}

/// An operator's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop until resumed.
    Pause,
    /// Run again after a pause.
    Resume,
    /// Stop and start again (also a failed connector).
    Restart,
}

impl Controls {
    /// Register a connector; its supervisor watches the receiver.
    pub fn register(&self, name: &str) -> Control {
        let (tx, rx) = watch::channel(ControlState::default());
        if let Ok(mut m) = self.inner.lock() {
            m.insert(name.to_string(), tx);
        }
        let snapshots = SnapshotInbox::default();
        if let Ok(mut m) = self.inboxes.lock() {
            m.insert(name.to_string(), snapshots.clone());
        }
        Control {
            state: rx,
            snapshots,
        }
    }

    /// The snapshot inbox of `name`, if registered.
    pub fn snapshots(&self, name: &str) -> Option<SnapshotInbox> {
        self.inboxes.lock().ok().and_then(|m| m.get(name).cloned())
    }

    /// Apply `action` to `name`; `false` when no such connector is registered.
    pub fn apply(&self, name: &str, action: Action) -> bool {
        let Ok(m) = self.inner.lock() else {
            return false;
        };
        let Some(tx) = m.get(name) else {
            return false;
        };
        tx.send_modify(|s| match action {
            Action::Pause => s.paused = true,
            Action::Resume => s.paused = false,
            Action::Restart => {
                s.paused = false;
                s.restarts += 1;
            }
        });
        true
    }

    /// Whether an operator paused `name`.
    pub fn is_paused(&self, name: &str) -> bool {
        self.inner
            .lock()
            .ok()
            .and_then(|m| m.get(name).map(|tx| tx.borrow().paused))
            .unwrap_or(false)
    }

    /// The registered connector names.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests reach the registered connector only.
    #[test]
    fn apply_requests() {
        let c = Controls::default();
        let rx = c.register("a").state;
        assert!(c.apply("a", Action::Pause));
        assert!(rx.borrow().paused);
        assert!(c.apply("a", Action::Restart));
        assert_eq!(
            *rx.borrow(),
            ControlState {
                paused: false,
                restarts: 1
            }
        );
        assert!(!c.apply("b", Action::Pause));
        assert_eq!(c.names(), vec!["a".to_string()]);
    }
}
