//! Running a child to its end and reading what the kernel accounted for
//! it: wall time and peak resident set size (`wait4`'s `ru_maxrss`), which
//! polling `/proc` could miss at the very end of the run.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// What one run cost.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss: u64,
    /// How it exited.
    pub status: ExitStatus,
}

/// Waits for `child`, which was spawned at `started`, with `wait4`.
///
/// # Errors
/// If `wait4` fails (the child was already reaped, for one).
pub fn wait_measured(child: Child, started: Instant) -> anyhow::Result<Measured> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data the kernel fills in; zeroed is a valid
    // value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the duration of the
    // call, and pid is our own unreaped child.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if got != pid {
        return Err(std::io::Error::last_os_error()).context("wait4");
    }
    // The Child must not try to reap the pid again (it could be reused).
    std::mem::forget(child);
    Ok(Measured {
        wall,
        // Linux reports ru_maxrss in KiB.
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        status: ExitStatus::from_raw(status),
    })
}
