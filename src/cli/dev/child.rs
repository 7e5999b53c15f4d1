//! One running build of the dev host: a child process that serves on the socket flashc holds
//! and reports readiness on a pipe. Unix only (inherited descriptors, process groups, the
//! parent-death signal).

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;

use super::Event;

/// Where the child finds the listening socket and the readiness pipe.
const LISTEN_FD: RawFd = 3;
const NOTIFY_FD: RawFd = 4;

/// A spawned dev host.
pub struct Child {
    pub generation: u32,
    pub pid: i32,
}

/// How a new build starts serving.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// The first build: accept at once; requests meet `/ping`'s 204/503 while `init` runs.
    Immediately,
    /// A reload: accept once every `init` has run, while the old build keeps answering.
    AfterInit,
}

/// Starts `binary` on the listening socket `listener`. Its readiness line and its exit come
/// back as [`Event::Notify`] and [`Event::Exited`] on `events`.
pub fn spawn(
    binary: &Path,
    listener: &std::net::TcpListener,
    env: &[(String, String)],
    accept: Accept,
    generation: u32,
    events: &Sender<Event>,
) -> std::io::Result<Child> {
    let (reader, writer) = pipe()?;
    // Above the standard descriptors and the targets, so the dup2s below cannot clobber one
    // another; close-on-exec, so no other child inherits them.
    let listen = dup_high(listener.as_raw_fd())?;
    let notify = dup_high(writer.as_raw_fd())?;
    drop(writer);
    let parent = std::process::id() as i32;
    let mut command = Command::new(binary);
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("FLASH_DEV_LISTEN_FD", LISTEN_FD.to_string())
        .env("FLASH_DEV_NOTIFY_FD", NOTIFY_FD.to_string())
        .stdin(Stdio::null());
    if accept == Accept::AfterInit {
        command.env("FLASH_DEV_ACCEPT", "after-init");
    }
    let (listen_fd, notify_fd) = (listen.as_raw_fd(), notify.as_raw_fd());
    // SAFETY: between fork and exec only async-signal-safe calls are made (dup2, setpgid,
    // prctl, getppid, kill).
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(listen_fd, LISTEN_FD) < 0 || libc::dup2(notify_fd, NOTIFY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Its own process group: Ctrl+C reaches flashc, which stops the child in order.
            libc::setpgid(0, 0);
            // flashc killed outright (even SIGKILL) must not leave the child running.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    drop((listen, notify));
    let pid = child.id() as i32;
    let tx = events.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(Event::Notify { generation, line });
        }
    });
    let tx = events.clone();
    std::thread::spawn(move || {
        let status = child.wait().ok();
        let _ = tx.send(Event::Exited { generation, status });
    });
    Ok(Child { generation, pid })
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> std::io::Result<(std::fs::File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe {
        Ok((
            std::os::fd::FromRawFd::from_raw_fd(fds[0]),
            std::os::fd::FromRawFd::from_raw_fd(fds[1]),
        ))
    }
}

fn dup_high(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: `fd` is open for the duration of the call; the result is a new descriptor we own.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(new) })
}

/// Sends `signal` to the child (a graceful SIGTERM, or SIGKILL past the grace period).
pub fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}
