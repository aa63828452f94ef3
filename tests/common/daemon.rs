//! The real `pauseplay` binary run as a daemon process, driven by the real CLI, against a
//! simulated org: what an operator does, shared by every test that kills, restarts or
//! attacks the daemon. The daemon's log is scanned for secrets when the process is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pauseplay::sim::{Scenario, SimHandle};
use serde_json::Value;
use tempfile::TempDir;

use super::{assert_no_secrets, run_cli, start_sim, write_config};

/// How long a daemon may take to come up or to converge before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A daemon process on a config; killed when dropped, and its log then checked for leaks.
pub struct DaemonProcess {
    child: Child,
    log: PathBuf,
}

impl DaemonProcess {
    /// Starts `pauseplay daemon` and waits (polling `status` with a deadline) until it answers.
    pub async fn start(config: &Path, log: &Path) -> DaemonProcess {
        DaemonProcess::start_command(daemon_command(config), config, log).await
    }

    /// Starts `pauseplay daemon` without waiting for it.
    pub fn spawn(config: &Path, log: &Path) -> DaemonProcess {
        DaemonProcess::spawn_command(daemon_command(config), log)
    }

    /// [`DaemonProcess::spawn`] with `command` as the process: a wrapper such as `setpriv`
    /// or a shell that sets the umask, which must `exec` the binary so that the process
    /// killed on drop is the daemon. Its stderr goes to `log`.
    pub fn spawn_command(mut command: Command, log: &Path) -> DaemonProcess {
        let file = std::fs::File::create(log).expect("daemon log");
        // `info` as `spawn` has it, unless the command chose a level.
        if !command.get_envs().any(|(name, _)| name == "PAUSEPLAY_LOG") {
            command.env("PAUSEPLAY_LOG", "info");
        }
        let child = command
            .env_remove("PAUSEPLAY_CONFIG")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the daemon");
        DaemonProcess {
            child,
            log: log.to_owned(),
        }
    }

    /// [`DaemonProcess::start`] for [`DaemonProcess::spawn_command`].
    pub async fn start_command(command: Command, config: &Path, log: &Path) -> DaemonProcess {
        let mut daemon = DaemonProcess::spawn_command(command, log);
        let started = Instant::now();
        loop {
            let (code, _, _) = cli(config, &["status"]).await;
            if code == 0 {
                return daemon;
            }
            assert!(
                daemon.is_running(),
                "the daemon exited:\n{}",
                daemon.log_text()
            );
            assert!(started.elapsed() < DEADLINE, "the daemon did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (a `kill` name such as `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits (with the deadline) for the process to exit on its own; its exit code.
    pub async fn exit_code(&mut self) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return status.code();
            }
            assert!(started.elapsed() < DEADLINE, "the daemon did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("wait for the daemon")
            .is_none()
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `pauseplay --config CONFIG daemon`.
fn daemon_command(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pauseplay"));
    command.args(["--config", config.to_str().expect("utf-8 path"), "daemon"]);
    command
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill9();
        if !std::thread::panicking() {
            assert_no_secrets(
                &format!("daemon log {}", self.log.display()),
                &self.log_text(),
            );
        }
    }
}

/// Runs the CLI on `config`.
pub async fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![
        "--config".to_owned(),
        config.to_str().expect("utf-8 path").to_owned(),
    ];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    run_cli(all).await
}

/// `status --json`, which must succeed.
pub async fn status(config: &Path) -> Value {
    let (code, stdout, stderr) = cli(config, &["status", "--json"]).await;
    assert_eq!(code, 0, "status failed: {stderr}");
    serde_json::from_str(&stdout).expect("status --json is JSON")
}

/// Polls `status` until the first org has no step in flight and `paused` components.
pub async fn wait_settled(config: &Path, paused: u64) {
    let started = Instant::now();
    loop {
        let status = status(config).await;
        let org = &status["orgs"][0];
        if org["pausing"] == 0 && org["restoring"] == 0 && org["paused"] == paused {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "did not settle: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The simulated org's components without the log of its deploys: an exact restore is about
/// the components, not that log.
pub fn org_state(sim: &SimHandle) -> Value {
    let mut snapshot = sim.snapshot();
    if let Some(map) = snapshot.as_object_mut() {
        map.remove("deploys");
    }
    snapshot
}

/// A simulated org, a scratch directory and a config with one org `sim` pointing at it.
pub struct Setup {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub config: PathBuf,
}

impl Setup {
    pub async fn new(scenario: Scenario) -> Setup {
        let sim = start_sim(scenario).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), &sim, "");
        Setup { sim, dir, config }
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
