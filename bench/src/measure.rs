//! Measuring: order statistics, resident memory (high-water marks from `/proc`, reset
//! between setup and the timed part), CPU time of this process and of the emulator.

use serde::{Deserialize, Serialize};

/// Min / median / max of a set of samples (milliseconds or any other unit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Smallest sample.
    pub min: f64,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// The samples in trial order.
    pub samples: Vec<f64>,
}

impl Stats {
    /// Statistics of `samples` (all zero when empty).
    pub fn of(samples: &[f64]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            min: sorted[0],
            median,
            max: sorted[n - 1],
            mean: sorted.iter().sum::<f64>() / n as f64,
            samples: samples.iter().map(|v| round2(*v)).collect(),
        }
    }
}

/// Round to two decimals (for stable, readable JSON).
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn status_field_kib(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Current resident set of this process, KiB.
pub fn rss_kib() -> u64 {
    status_field_kib("self", "VmRSS:").unwrap_or(0)
}

/// Peak resident set of this process since start or the last [`reset_peak`], KiB.
pub fn peak_kib() -> u64 {
    status_field_kib("self", "VmHWM:").unwrap_or(0)
}

/// Give freed heap back to the kernel, then reset the high-water mark to the current
/// resident set (`/proc/self/clear_refs` = 5, Linux ≥ 4.0), so the next [`peak_kib`]
/// covers only what runs from here. Returns the resident set at the reset and whether
/// the reset worked (if not, the peak includes everything before).
pub fn reset_peak() -> (u64, bool) {
    // SAFETY: malloc_trim only releases free memory of glibc's allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    let ok = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    (rss_kib(), ok)
}

/// CPU time (user + system) of this process so far, milliseconds.
pub fn self_cpu_ms() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    if rc != 0 {
        return 0.0;
    }
    tv_ms(u.ru_utime) + tv_ms(u.ru_stime)
}

fn tv_ms(t: libc::timeval) -> f64 {
    t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0
}

/// CPU time (user + system) of another process so far, milliseconds (clock-tick
/// resolution, usually 10 ms); `None` when it cannot be read.
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields start after the closing parenthesis.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 overall, so utime (14) and stime (15) sit at 11, 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) * 1000.0 / ticks)
}

/// Wait for a child and return its exit status and peak resident set (KiB) from
/// `wait4`'s resource usage.
pub fn wait_child(pid: u32) -> std::io::Result<(i32, u64)> {
    let u = wait_child_usage(pid)?;
    Ok((u.code, u.peak_kib))
}

/// What `wait4` says about a child that ended.
#[derive(Debug, Clone, Copy)]
pub struct ChildUsage {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Peak resident set, KiB.
    pub peak_kib: u64,
    /// CPU time (user + system), ms.
    pub cpu_ms: f64,
}

/// Wait for a child and return its exit status, peak resident set and CPU time.
pub fn wait_child_usage(pid: u32) -> std::io::Result<ChildUsage> {
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 writes into the zeroed struct and the status integer we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if rc == pid as libc::pid_t {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(ChildUsage {
        code,
        // ru_maxrss is in KiB on Linux.
        peak_kib: usage.ru_maxrss.max(0) as u64,
        cpu_ms: tv_ms(usage.ru_utime) + tv_ms(usage.ru_stime),
    })
}

/// Machine facts for the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// CPU model name.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Read `/proc`.
    pub fn detect() -> Machine {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |k| k / 1024);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_string())
            })
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpus,
            memory_mib,
            cpu_model,
            kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        let s = Stats::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        let s = Stats::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.median, 2.5);
        assert_eq!(s.samples, vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!(Stats::of(&[]).max, 0.0);
    }

    #[test]
    fn own_process_is_readable() {
        // The resident size is read first: other test threads may allocate between the two
        // reads, and the peak never goes down.
        let rss = rss_kib();
        assert!(rss > 0);
        assert!(peak_kib() >= rss);
        assert!(process_cpu_ms(std::process::id()).is_some());
    }
}
