//! `flashc dev`: every endpoint of the project running locally on one port, rebuilt and swapped
//! on every change.
//!
//! flashc binds the port once and keeps it. Each build of the dev host (see
//! `flash_runtime::dev`) is a child process that inherits the socket: on a change, flashc
//! checks and generates again, builds, starts the new build (which accepts only once its
//! `init`s have run) and then stops the old one, which finishes the requests it has. Connections
//! queue on the one socket meanwhile, so none is refused. A change that does not check or
//! build leaves the last good build serving.

mod child;
pub(crate) mod prepare;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use self::child::{Accept, Child};
use self::prepare::{Build, Failed, Project, OUT_DIR};

#[derive(clap::Args)]
pub struct Args {
    /// The flash.yaml to run, or its directory. Without one, flash.yaml is looked for here and
    /// in the parent directories.
    #[arg(default_value = "flash.yaml")]
    file: PathBuf,
    /// The port every endpoint is served on; 0 picks a free one (and prints it).
    #[arg(long, default_value_t = 8888)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Apply this environment overlay.
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// Run the current build without watching for changes.
    #[arg(long)]
    no_watch: bool,
}

/// What the loop reacts to.
pub enum Event {
    /// A watched file changed.
    Changed(PathBuf),
    /// A line from a build's readiness pipe (`ready` or `failed …`).
    Notify { generation: u32, line: String },
    /// A build's process ended.
    Exited {
        generation: u32,
        status: Option<ExitStatus>,
    },
    /// Ctrl+C, SIGTERM or SIGHUP reached flashc.
    Interrupt,
}

/// Set by SIGINT or SIGTERM (the `Event::Interrupt` follows on the channel): a cargo build in
/// progress watches it and is stopped at once, so the signal is not kept waiting for the build.
pub(super) static INTERRUPTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How long a stopping build may finish its requests before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

pub fn run(args: &Args) -> ExitCode {
    let file = crate::cli::input::locate(&args.file);
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let project = Project {
        file,
        dir,
        environment: args.environment.clone(),
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let listener = match bind(args.host, args.port) {
        Ok(listener) => listener,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(crate::cli::EXIT_USAGE);
        }
    };
    let Ok(addr) = listener.local_addr() else {
        return ExitCode::from(crate::cli::EXIT_FAILURE);
    };
    let (tx, rx) = channel();
    {
        let tx = tx.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = tx.send(Event::Interrupt);
        }) {
            eprintln!("error: cannot handle Ctrl+C: {e}");
            return ExitCode::from(crate::cli::EXIT_FAILURE);
        }
    }
    let _watcher = if args.no_watch {
        None
    } else {
        match watch(&project, tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("warning: cannot watch for changes ({e}); run without reloads");
                None
            }
        }
    };
    let mut dev = Dev {
        project,
        listener,
        addr,
        events: tx,
        generation: 0,
        current: None,
        starting: None,
        live: BTreeMap::new(),
        retiring: None,
        change_started: None,
    };
    eprintln!("flashc dev: building {} …", dev.project.file.display());
    dev.round(Instant::now());
    dev.run(rx)
}

struct Dev {
    project: Project,
    listener: TcpListener,
    addr: SocketAddr,
    events: Sender<Event>,
    generation: u32,
    /// The build that answers requests.
    current: Option<Child>,
    /// A new build whose `init`s are running; it replaces `current` once ready.
    starting: Option<Child>,
    /// Every child not yet exited, by generation (old builds finishing their requests).
    live: BTreeMap<u32, i32>,
    /// The build just replaced, until it has stopped accepting (then the reload is announced,
    /// with the time it took): from that moment every new connection reaches the new build.
    retiring: Option<(u32, String)>,
    change_started: Option<Instant>,
}

impl Dev {
    fn run(&mut self, rx: Receiver<Event>) -> ExitCode {
        loop {
            let Ok(event) = rx.recv() else {
                return self.stop(&rx);
            };
            match event {
                Event::Changed(path) => {
                    let started = Instant::now();
                    // Editors write in bursts (temp file, rename, metadata): wait for quiet.
                    let mut last = path;
                    loop {
                        match rx.recv_timeout(Duration::from_millis(150)) {
                            Ok(Event::Changed(p)) => last = p,
                            Ok(Event::Interrupt) => return self.stop(&rx),
                            Ok(other) => self.handle(other),
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return self.stop(&rx),
                        }
                    }
                    eprintln!(
                        "flashc dev: {} changed; checking and rebuilding …",
                        shown(&last, &self.project.dir)
                    );
                    self.round(started);
                }
                Event::Interrupt => return self.stop(&rx),
                other => self.handle(other),
            }
        }
    }

    /// Check, generate, build and start a new build (or report why not).
    fn round(&mut self, started: Instant) {
        let build = match prepare::prepare(&self.project) {
            Ok(build) => build,
            // Stopped by a signal: `stop` says so next.
            Err(_) if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) => return,
            Err(Failed(message)) => {
                let serving = if self.current.is_some() {
                    "; the last good build keeps serving"
                } else {
                    "; waiting for a change"
                };
                eprintln!("flashc dev: {message}{serving}");
                return;
            }
        };
        if !build.changed && self.current.is_some() {
            eprintln!("flashc dev: nothing changed in the build; still serving");
            return;
        }
        if let Some(old) = self.starting.take() {
            // A newer build supersedes one still starting.
            child::signal(old.pid, libc::SIGTERM);
        }
        self.generation += 1;
        let accept = if self.current.is_some() {
            Accept::AfterInit
        } else {
            Accept::Immediately
        };
        let env = self.child_env(&build);
        match child::spawn(
            &build.binary,
            &self.listener,
            &env,
            accept,
            self.generation,
            &self.events,
        ) {
            Ok(started_child) => {
                self.live
                    .insert(started_child.generation, started_child.pid);
                if self.current.is_none() {
                    print_routes(&build, self.addr);
                    self.current = Some(started_child);
                } else {
                    self.starting = Some(started_child);
                }
                self.change_started = Some(started);
            }
            Err(e) => eprintln!("flashc dev: cannot start {}: {e}", build.binary.display()),
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Notify { generation, line } => {
                let took = self
                    .change_started
                    .map(|t| format!(" in {:.1} s", t.elapsed().as_secs_f64()))
                    .unwrap_or_default();
                if line == "draining" {
                    self.announce(generation);
                    return;
                }
                let failed = line.strip_prefix("failed ");
                if self
                    .starting
                    .as_ref()
                    .is_some_and(|c| c.generation == generation)
                {
                    let new = self.starting.take();
                    if let Some(reason) = failed {
                        eprintln!("flashc dev: the new build's init failed ({reason}); the last good build keeps serving");
                        if let Some(new) = new {
                            child::signal(new.pid, libc::SIGTERM);
                        }
                        return;
                    }
                    if let Some(old) = self.current.take() {
                        child::signal(old.pid, libc::SIGTERM);
                        self.retiring = Some((old.generation, took));
                    }
                    self.current = new;
                } else if self
                    .current
                    .as_ref()
                    .is_some_and(|c| c.generation == generation)
                {
                    match failed {
                        Some(reason) => eprintln!("flashc dev: init failed: {reason} (its routes answer 503; fix it and save)"),
                        None => eprintln!("flashc dev: ready{took} on http://{} (GET / lists the routes, /docs has the API docs; Ctrl+C stops)", self.addr),
                    }
                }
            }
            Event::Exited { generation, status } => {
                self.live.remove(&generation);
                self.announce(generation);
                let how = status.map_or_else(|| "ended".to_string(), |s| s.to_string());
                if self
                    .current
                    .as_ref()
                    .is_some_and(|c| c.generation == generation)
                {
                    self.current = None;
                    eprintln!("flashc dev: the dev host stopped ({how}); save a change to rebuild");
                } else if self
                    .starting
                    .as_ref()
                    .is_some_and(|c| c.generation == generation)
                {
                    self.starting = None;
                    eprintln!("flashc dev: the new build stopped before it was ready ({how}); the last good build keeps serving");
                }
            }
            Event::Changed(_) | Event::Interrupt => {}
        }
    }

    /// Says the reload is done once the replaced build `generation` stopped accepting.
    fn announce(&mut self, generation: u32) {
        if self
            .retiring
            .as_ref()
            .is_some_and(|(g, _)| *g == generation)
        {
            let took = self.retiring.take().map(|(_, t)| t).unwrap_or_default();
            eprintln!(
                "flashc dev: reloaded{took}; serving the new build on http://{}",
                self.addr
            );
        }
    }

    /// Stops every build: SIGTERM, then their requests finish; SIGKILL past the grace period.
    fn stop(&mut self, rx: &Receiver<Event>) -> ExitCode {
        eprintln!("flashc dev: stopping …");
        for pid in self.live.values() {
            child::signal(*pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while !self.live.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Event::Exited { generation, .. }) => {
                    self.live.remove(&generation);
                }
                Ok(Event::Interrupt) => {
                    // A second Ctrl+C: do not wait for requests in flight.
                    for pid in self.live.values() {
                        child::signal(*pid, libc::SIGKILL);
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    for pid in self.live.values() {
                        child::signal(*pid, libc::SIGKILL);
                    }
                    break;
                }
            }
        }
        eprintln!("flashc dev: stopped");
        ExitCode::SUCCESS
    }

    /// The dev host's environment: flash.yaml's `env` of every endpoint, where the queue keeps
    /// its jobs, and where each endpoint is for calls between them (this server).
    fn child_env(&self, build: &Build) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, (String, String)> = BTreeMap::new();
        for endpoint in &build.plan.endpoints {
            for (key, value) in &endpoint.env {
                if let flashc::lower::EnvPlan::Value { value } = value {
                    if let Some((other, previous)) = env.get(key) {
                        if previous != value {
                            eprintln!("warning: `{key}` differs between endpoints `{other}` and `{}`; in flashc dev, which runs them in one process, `{other}`'s value holds", endpoint.name);
                        }
                        continue;
                    }
                    env.insert(key.clone(), (endpoint.name.clone(), value.clone()));
                }
            }
        }
        let mut out: Vec<(String, String)> = env.into_iter().map(|(k, (_, v))| (k, v)).collect();
        let loopback = if self.addr.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), self.addr.port())
        } else {
            self.addr
        };
        for endpoint in &build.plan.endpoints {
            out.push((
                flashc::emit::endpoint_id_env(&endpoint.name),
                format!("http://{loopback}/{}", endpoint.name),
            ));
        }
        let queue_dir = self
            .project
            .dir
            .join(OUT_DIR)
            .join(flashc::emit::DEV_DIR)
            .join("queue");
        out.push((
            "FLASH_QUEUE_DIR".into(),
            queue_dir.to_string_lossy().into_owned(),
        ));
        out.push(("PORT".into(), self.addr.port().to_string()));
        out
    }
}

/// Binds `host:port`; a busy port is reported with a free one to use instead.
fn bind(host: IpAddr, port: u16) -> Result<TcpListener, String> {
    match TcpListener::bind((host, port)) {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let free = (port.saturating_add(1)..port.saturating_add(100))
                .find(|p| TcpListener::bind((host, *p)).is_ok());
            Err(match free {
                Some(free) => format!("port {port} is in use on {host}; `--port {free}` is free (or `--port 0` picks one)"),
                None => format!("port {port} is in use on {host}; `--port 0` picks a free one"),
            })
        }
        Err(e) => Err(format!("cannot listen on {host}:{port}: {e}")),
    }
}

/// Watches flash.yaml's directory and the handler crate for changes that matter: not the
/// output, not cargo's target, not version control.
fn watch(project: &Project, tx: Sender<Event>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let root = project
        .dir
        .canonicalize()
        .unwrap_or_else(|_| project.dir.clone());
    let ignored_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            if relevant(&path, &ignored_root) {
                let _ = tx.send(Event::Changed(path));
                return;
            }
        }
    })?;
    watcher.watch(&root, RecursiveMode::Recursive)?;
    Ok(watcher)
}

fn relevant(path: &Path, root: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let skipped = rel.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == "target" || c == OUT_DIR || c == ".git" || c == "node_modules"
    });
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    // flashc's own write beside flash.yaml (generate's `.dockerignore`) is no edit of the user's.
    if rel == Path::new(".dockerignore") {
        return false;
    }
    // Editors' swap and backup files.
    let scratch = name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.starts_with(".#")
        || name == "4913";
    !skipped && !scratch && !rel.as_os_str().is_empty()
}

fn shown(path: &Path, dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    path.strip_prefix(&dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The route table: METHOD, URL, handler, endpoint and kind.
fn print_routes(build: &Build, addr: SocketAddr) {
    let mut rows = vec![(
        "METHOD".to_string(),
        "URL".to_string(),
        "HANDLER".to_string(),
        "ENDPOINT".to_string(),
    )];
    for endpoint in &build.plan.endpoints {
        let base = format!("http://{addr}/{}", endpoint.name);
        match endpoint.kind {
            flashc::lower::Kind::LoadBalanced => {
                for route in &endpoint.routes {
                    rows.push((
                        route.method.clone(),
                        format!("{base}{}", route.path),
                        route.call.path.clone(),
                        format!("{} (load-balanced)", endpoint.name),
                    ));
                }
            }
            flashc::lower::Kind::Queue => {
                let handler = endpoint
                    .handler
                    .as_ref()
                    .map_or_else(String::new, |h| h.path.clone());
                for op in ["run", "runsync"] {
                    rows.push((
                        "POST".into(),
                        format!("{base}/{op}"),
                        handler.clone(),
                        format!("{} (queue; also /status/{{id}}, /stream/{{id}}, /cancel/{{id}}, /health …)", endpoint.name),
                    ));
                }
            }
        }
    }
    let width = |f: fn(&(String, String, String, String)) -> &String| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0)
    };
    let (w0, w1, w2) = (width(|r| &r.0), width(|r| &r.1), width(|r| &r.2));
    for (method, url, handler, endpoint) in &rows {
        eprintln!("  {method:w0$}  {url:w1$}  {handler:w2$}  {endpoint}");
    }
}
