//! Daemons started in the background and found again by a later
//! invocation: a process is known by its pid and its start time (from
//! `/proc`), so a pid the kernel handed to another program is not taken
//! for ours.

use std::{
    fs::OpenOptions,
    io,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rustix::process::{Pid, Signal, kill_process};
use serde::{Deserialize, Serialize};

/// A process we started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handle {
    pub pid: u32,
    /// Clock ticks after boot when it started (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
}

/// How to start one daemon.
#[derive(Clone, Debug)]
pub struct Launch {
    pub binary: PathBuf,
    pub args: Vec<String>,
    /// Output of the daemon, appended.
    pub log: PathBuf,
}

impl Handle {
    /// Starts `launch` in its own process group (a Ctrl-C at the CLI must
    /// not reach it), detached from the CLI's terminal.
    pub fn spawn(launch: &Launch) -> io::Result<Handle> {
        if let Some(dir) = launch.log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)?;
        let mut child = Command::new(&launch.binary)
            .args(&launch.args)
            .env_remove("RINGSIDE_CONF_DIR")
            .env_remove("RINGSIDE_COORDINATOR")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let pid = child.id();
        // Reap it should it exit while this CLI still runs; once the CLI
        // exits, the daemon is re-parented and reaped by init.
        std::thread::spawn(move || child.wait());
        let start_ticks = start_ticks(pid)?.ok_or_else(|| {
            io::Error::other(format!("process {pid} exited as soon as it started"))
        })?;
        Ok(Handle { pid, start_ticks })
    }

    /// Whether the process still runs (and is the one we started).
    pub fn alive(&self) -> bool {
        matches!(start_ticks(self.pid), Ok(Some(t)) if t == self.start_ticks)
    }

    /// Asks it to stop (SIGTERM), waits `grace`, then kills it (SIGKILL).
    /// Returns whether it stopped within the grace period.
    pub async fn stop(&self, grace: Duration) -> io::Result<bool> {
        if !self.alive() {
            return Ok(true);
        }
        self.signal(Signal::TERM)?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.alive() {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.signal(Signal::KILL)?;
        while self.alive() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(false)
    }

    fn signal(&self, signal: Signal) -> io::Result<()> {
        let pid = Pid::from_raw(self.pid as i32)
            .ok_or_else(|| io::Error::other(format!("pid {} is not a process id", self.pid)))?;
        match kill_process(pid, signal) {
            Ok(()) => Ok(()),
            // Gone between the check and the signal: stopped all the same.
            Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The start time of process `pid`, or none when it no longer runs (a
/// zombie counts as gone: it is dead, only not yet reaped).
fn start_ticks(pid: u32) -> io::Result<Option<u64>> {
    let stat = match std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
    {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse_stat(&stat))
}

/// Fields after the command name (which may hold spaces and parentheses)
/// start at its last `)`: state is field 3, start time field 22.
fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line =
            "4242 (ringside (w) 1) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 4 0 987654 0 0";
        assert_eq!(parse_stat(line), Some(987654));
        let zombie =
            "4242 (ringside) Z 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 4 0 987654 0 0";
        assert_eq!(parse_stat(zombie), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[tokio::test]
    async fn a_started_process_is_found_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let launch = Launch {
            binary: "sleep".into(),
            args: vec!["30".into()],
            log: dir.path().join("sleep.log"),
        };
        let handle = Handle::spawn(&launch).unwrap();
        assert!(handle.alive());
        let impostor = Handle {
            start_ticks: handle.start_ticks + 1,
            ..handle.clone()
        };
        assert!(!impostor.alive(), "another start time is another process");
        assert!(handle.stop(Duration::from_secs(5)).await.unwrap());
        assert!(!handle.alive());
        // Stopping what is gone is a no-op.
        assert!(handle.stop(Duration::from_secs(1)).await.unwrap());
    }
}
