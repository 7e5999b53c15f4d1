//! One round of the dev loop before anything runs: check and generate (the same pipeline and
//! output as `flashc generate`), write the dev host crate beside it, and build it with cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flashc::emit::{OutputFile, DEV_DIR};

/// A built dev host and the plan it was built from.
pub struct Build {
    pub binary: PathBuf,
    pub plan: flashc::lower::Plan,
    /// Whether this round changed the binary (an edit that changes nothing needs no swap).
    pub changed: bool,
}

/// What every round needs to know.
pub struct Project {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub environment: Option<String>,
    pub color: bool,
}

pub const OUT_DIR: &str = ".flash";

/// Why a round produced no build (diagnostics and cargo's errors are printed on the way).
pub struct Failed(pub String);

pub fn prepare(project: &Project) -> Result<Build, Failed> {
    use crate::cli::generate::{self, Round, Stopped};
    let round = Round {
        file: &project.file,
        project: &project.dir,
        environment: project.environment.as_deref(),
        out_dir: OUT_DIR,
        color: project.color,
        dry_run: false,
    };
    let produced = generate::run(&round).map_err(|stopped| {
        Failed(match stopped {
            Stopped::Unreadable => format!("cannot read {}", project.file.display()),
            Stopped::UnknownEnvironment(unknown) => unknown,
            Stopped::Problems => format!(
                "{} has problems (above); nothing was rebuilt",
                project.file.display()
            ),
            Stopped::Failure(message) => message,
        })
    })?;
    let generated = produced.generated;
    let options = flashc::emit::Options {
        out_dir: OUT_DIR,
        flashc_version: env!("CARGO_PKG_VERSION"),
        overrides: &produced.overrides,
    };
    let dev_files =
        flashc::emit::emit_dev(&generated.plan, &options).map_err(|e| Failed(e.to_string()))?;
    write_dev_files(
        &project.dir,
        &dev_files,
        &crate::cli::templates::shown("dev_main.rs.j2", &produced.overrides),
    )?;
    let out = project.dir.join(OUT_DIR);
    let dev_dir = out.join(DEV_DIR);
    // The host's lockfile starts from the workers', so both builds share compiled dependencies.
    let dev_lock = dev_dir.join("Cargo.lock");
    if crate::cli::output::read_regular(&dev_lock).is_none() {
        if let Some(bytes) = crate::cli::output::read_regular(&out.join("Cargo.lock")) {
            crate::cli::output::write_file(&dev_lock, &bytes).map_err(|e| Failed(e.0))?;
        }
    }
    let target = target_dir(&out);
    let package = format!("{}-dev", generated.plan.project);
    let binary = target.join("debug").join(&package);
    let before = modified(&binary);
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(dev_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null());
    let status = build_interruptibly(command)?;
    if !status.success() {
        return Err(Failed(
            "the build failed (above); nothing was swapped".to_string(),
        ));
    }
    let changed = before.is_none() || modified(&binary) != before;
    Ok(Build {
        binary,
        plan: generated.plan,
        changed,
    })
}

/// Runs the build in a process group of its own and waits for it, stopping the whole group
/// (cargo and every rustc it started) as soon as flashc is told to stop: SIGINT or SIGTERM to
/// flashc's pid would otherwise wait for the build to end. flashc killed outright takes the
/// build with it too (the parent-death signal).
fn build_interruptibly(mut command: Command) -> Result<std::process::ExitStatus, Failed> {
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::Ordering;
    let parent = std::process::id() as i32;
    command.process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid, kill).
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| Failed(format!("cannot run cargo: {e}")))?;
    let group = child.id() as i32;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(Failed(format!("cannot wait for cargo: {e}"))),
        }
        if super::INTERRUPTED.load(Ordering::SeqCst) {
            super::child::signal(-group, libc::SIGTERM);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while std::time::Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // Whatever of the group is left (a rustc that ignored SIGTERM).
            super::child::signal(-group, libc::SIGKILL);
            let _ = child.wait();
            return Err(Failed("stopped: the build was cancelled".to_string()));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `CARGO_TARGET_DIR` when set, else the output's own target directory (shared with a
/// `cargo build` of the generated workers).
pub fn target_dir(out: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .map(|d| {
            if d.is_relative() {
                std::env::current_dir().unwrap_or_default().join(d)
            } else {
                d
            }
        })
        .unwrap_or_else(|| out.join("target"))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Writes the dev host's files that changed, compared and written as `flashc generate` writes
/// its own (whole contents; renamed into place, Rust formatted first; no link followed).
fn write_dev_files(project: &Path, files: &[OutputFile], template: &str) -> Result<(), Failed> {
    use crate::cli::output::{self, Pending};
    let out = project.join(OUT_DIR);
    let mut pending = Vec::new();
    for file in files {
        let target = project.join(&file.path);
        output::remove_staging(&target);
        let current = output::read_regular(&target).is_some_and(|b| output::is_current(file, &b));
        if current {
            continue;
        }
        if let Some(parent) = target.parent() {
            output::create_dirs(project, &out, parent).map_err(|e| Failed(e.0))?;
        }
        pending.push(Pending {
            file,
            target,
            template: file.rust.then(|| template.to_string()),
        });
    }
    if let Some(warning) = output::write_all(&pending).map_err(|e| Failed(e.0))? {
        eprintln!("warning: {warning}");
    }
    Ok(())
}
