//! Restart policies (`--restart`): what happens when a container's process exits by itself,
//! and at berthd's start, as dockerd's restart manager does it.

use super::Engine;
use crate::error::{EngineError, Result};
use crate::model::{RestartPolicy, Status};
use berth_core::id::ObjectId;
use std::sync::Arc;
use std::time::Duration;

/// The first delay before a restart; it doubles with each restart up to `MAX_DELAY`, and
/// starts over once the container ran for `STEADY` (dockerd's values).
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const STEADY: Duration = Duration::from_secs(10);

/// When a policy is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occasion {
    /// The process just exited while berthd watched it.
    Exit,
    /// berthd starts and finds the container not running.
    DaemonStart,
}

impl RestartPolicy {
    /// The policy from the API's `Name` and `MaximumRetryCount`, checked as dockerd checks it.
    pub fn parse(name: &str, max: i64, auto_remove: bool) -> Result<RestartPolicy> {
        let invalid = |m: String| EngineError::Invalid(format!("invalid restart policy: {m}"));
        match name {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(invalid(format!(
                    "unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or \
                     'unless-stopped'"
                )))
            }
        }
        if max < 0 {
            return Err(invalid(
                "maximum retry count must be a positive integer".into(),
            ));
        }
        if max > 0 && name != "on-failure" {
            return Err(invalid(format!(
                "maximum retry count can only be used with 'on-failure' (not '{name}')"
            )));
        }
        let max =
            u32::try_from(max).map_err(|_| invalid(format!("retry count {max} too large")))?;
        let policy = RestartPolicy {
            name: if name == "no" {
                String::new()
            } else {
                name.into()
            },
            maximum_retry_count: max,
        };
        if auto_remove && !policy.is_none() {
            return Err(EngineError::Invalid(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
        Ok(policy)
    }

    pub fn is_none(&self) -> bool {
        self.name.is_empty() || self.name == "no"
    }

    /// The name inspect shows ("no" for none).
    pub fn shown(&self) -> &str {
        if self.is_none() {
            "no"
        } else {
            &self.name
        }
    }

    /// Whether a container that exited with `exit_code`, restarted `restarts` times so far,
    /// and stopped by a user (`manually_stopped`: stop or kill) or not, is started again.
    /// A stop or kill cancels restarts while berthd runs; at berthd's start, `always` starts
    /// it anyway and `on-failure` looks at the exit code only, as in dockerd.
    pub fn should_restart(
        &self,
        exit_code: i32,
        restarts: u32,
        manually_stopped: bool,
        at: Occasion,
    ) -> bool {
        if at == Occasion::Exit && manually_stopped {
            return false;
        }
        let max = self.maximum_retry_count;
        match self.name.as_str() {
            "always" => true,
            "unless-stopped" => !manually_stopped,
            "on-failure" => exit_code != 0 && (max == 0 || restarts < max),
            _ => false,
        }
    }
}

/// The delay before the next restart: doubled from `previous` (none: the first), or the
/// first again after a run of `STEADY` or more.
pub fn next_delay(previous: Option<Duration>, ran: Duration) -> Duration {
    match previous {
        Some(d) if ran < STEADY => (d * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

impl Engine {
    /// After `delay`, starts `id` again if it is still exited and nobody stopped it since.
    pub(super) fn restart_after(self: &Arc<Self>, id: ObjectId, delay: Duration) {
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let e = engine.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let due =
                    e.lock().containers.get(&id).is_some_and(|c| {
                        c.state.status == Status::Exited && !c.state.manually_stopped
                    });
                if due {
                    if let Err(err) = e.start_container_as(id.as_str(), true) {
                        tracing::warn!("restarting container {id}: {err}");
                    }
                }
            })
            .await;
        });
    }

    /// At berthd's start: starts the exited containers whose policy says so (a host reboot
    /// or a container that died while berthd was down).
    pub fn restart_on_daemon_start(self: &Arc<Self>) {
        let due: Vec<ObjectId> = self
            .lock()
            .containers
            .values()
            .filter(|c| {
                c.state.status == Status::Exited
                    && c.host_config.restart_policy.should_restart(
                        c.state.exit_code,
                        c.state.restart_count,
                        c.state.manually_stopped,
                        Occasion::DaemonStart,
                    )
            })
            .map(|c| c.id.clone())
            .collect();
        for id in due {
            if let Err(e) = self.start_container_as(id.as_str(), true) {
                tracing::warn!("starting container {id} for its restart policy: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, max: i64) -> RestartPolicy {
        RestartPolicy::parse(name, max, false).unwrap()
    }

    #[test]
    fn policies_are_checked_as_dockerd_checks_them() {
        assert!(policy("no", 0).is_none());
        assert!(policy("", 0).is_none());
        assert_eq!(policy("on-failure", 3).maximum_retry_count, 3);
        let err =
            |n: &str, m: i64, rm: bool| RestartPolicy::parse(n, m, rm).unwrap_err().to_string();
        assert!(err("sometimes", 0, false).contains("unknown policy 'sometimes'"));
        assert!(err("on-failure", -1, false).contains("positive integer"));
        assert!(err("always", 2, false).contains("only be used with 'on-failure'"));
        assert!(err("always", 0, true).contains("AutoRemove"));
        assert!(RestartPolicy::parse("no", 0, true).is_ok());
    }

    #[test]
    fn who_restarts_when() {
        use Occasion::*;
        let always = policy("always", 0);
        let unless = policy("unless-stopped", 0);
        let failure = policy("on-failure", 2);
        let none = policy("no", 0);
        for p in [&always, &unless] {
            assert!(p.should_restart(0, 5, false, Exit));
            assert!(!p.should_restart(1, 5, true, Exit), "a stop cancels");
        }
        assert!(always.should_restart(0, 0, true, DaemonStart));
        assert!(!unless.should_restart(0, 0, true, DaemonStart));
        assert!(unless.should_restart(0, 0, false, DaemonStart));
        assert!(failure.should_restart(1, 1, false, Exit));
        assert!(!failure.should_restart(1, 2, false, Exit), "at most 2");
        assert!(!failure.should_restart(0, 0, false, Exit));
        assert!(!none.should_restart(1, 0, false, Exit));
        assert!(!none.should_restart(1, 0, false, DaemonStart));
        assert!(
            policy("on-failure", 0).should_restart(3, 1000, false, Exit),
            "0: no limit"
        );
    }

    #[test]
    fn delays_double_up_to_a_minute_and_start_over_after_a_steady_run() {
        let short = Duration::from_secs(1);
        let mut d = next_delay(None, short);
        assert_eq!(d, FIRST_DELAY);
        d = next_delay(Some(d), short);
        assert_eq!(d, Duration::from_millis(200));
        for _ in 0..20 {
            d = next_delay(Some(d), short);
        }
        assert_eq!(d, MAX_DELAY);
        assert_eq!(next_delay(Some(d), STEADY), FIRST_DELAY);
    }
}
