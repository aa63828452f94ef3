//! The real daemon under attack and under storage faults, through the real binary and CLI:
//!
//! - hostile clients on its live control socket (garbage, invalid UTF-8, a line over the
//!   64 KiB limit, another protocol version, a client that never writes, 100 clients at once);
//! - the CLI run as another, unprivileged uid, refused unless in `socket_group`;
//! - secrets: the leak scanner itself, a pause and resume whose every output is scanned, a
//!   daemon logging at `trace`, exposed secret files, plain http to a remote host, and the
//!   modes of the state database and its directory;
//! - a state database locked by another process, read-only or corrupted at start: a clear
//!   error naming the file, the file left as it was, and the journal still restoring
//!   afterwards.
//!
//! # Running as another user
//!
//! The tests that need a second uid create an unprivileged system account (`pauseplay-test`,
//! in the group `pauseplay-test-ops`, not in `pauseplay-test-other`) if it is missing, and run
//! processes as it with `setpriv` (util-linux). That needs root, which the developers' machines
//! and CI have. Without root such a test fails when `CI` is set (a CI that lost root must not
//! silently stop proving the refusal) and otherwise prints a loud notice and passes, so that a
//! developer without root can still run the rest of the suite.

#![allow(clippy::unwrap_used, reason = "tests may unwrap")]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::daemon::{DEADLINE, DaemonProcess, Setup, cli, org_state, status, wait_settled};
use common::mock::{Mock, Reply, token_reply};
use common::{
    TEST_SECRETS, assert_no_secrets, find_access_token, mixed_scenario, settings, start_sim,
    write_config_with,
};
use pauseplay::control::ControlClient;
use pauseplay::control::protocol::{MAX_LINE_BYTES, Request, ResultBody};
use pauseplay::control::server::IDLE_TIMEOUT;
use pauseplay::salesforce::{OrgClient, SfError};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The scope of the org in these tests: the mixed org without its triggers, whose deploys
/// the engine polls for seconds; these tests are about the daemon, not about deploys.
const NO_TRIGGERS: &str =
    "kinds = [\"flow\", \"process_builder\", \"validation_rule\", \"workflow_rule\"]";

/// [`Setup::new`] on the mixed org, with [`NO_TRIGGERS`].
async fn fast_setup() -> Setup {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &sim, "", NO_TRIGGERS);
    Setup { sim, dir, config }
}

/// Polls the daemon's log until it contains every one of `needles`.
async fn wait_log(daemon: &DaemonProcess, needles: &[&str]) -> String {
    let started = Instant::now();
    loop {
        let log = daemon.log_text();
        if needles.iter().all(|needle| log.contains(needle)) {
            return log;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the daemon's log does not say {needles:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `pauseplay daemon` on `config`, as a command to wrap or run.
fn daemon_args(config: &Path) -> Vec<String> {
    vec![
        "--config".to_owned(),
        config.to_str().unwrap().to_owned(),
        "daemon".to_owned(),
    ]
}

/// The daemon started through `sh` with umask 0, so the modes it gives its files are its own
/// choice and not the test environment's umask.
fn daemon_with_umask_0(config: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "umask 0 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_pauseplay"))
        .args(daemon_args(config));
    command
}

// ---------------------------------------------------------------------------------------------
// The unprivileged test account
// ---------------------------------------------------------------------------------------------

const USER: &str = "pauseplay-test";
/// A group the test user is a member of (supplementary).
const OPS_GROUP: &str = "pauseplay-test-ops";
/// A group the test user is not a member of.
const OTHER_GROUP: &str = "pauseplay-test-other";

#[derive(Debug, Clone)]
struct TestUser {
    uid: u32,
    gid: u32,
}

/// The unprivileged test account, created if missing; `None` without root outside CI (see
/// the module documentation), after a notice naming `test`.
fn test_user(test: &str) -> Option<TestUser> {
    static ACCOUNT: OnceLock<Result<TestUser, String>> = OnceLock::new();
    if !nix::unistd::geteuid().is_root() {
        let message = format!(
            "{test} needs root, to create the user {USER} and run the CLI as it with setpriv"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{message}; CI runs the tests as root, so this proof may not be skipped there"
        );
        eprintln!(
            "\n{bar}\nNOT TESTED: {message}. Run the tests as root to check it.\n{bar}\n",
            bar = "!".repeat(78)
        );
        return None;
    }
    match ACCOUNT.get_or_init(create_test_user) {
        Ok(user) => Some(user.clone()),
        Err(error) => panic!("cannot set up the test user {USER}: {error}"),
    }
}

fn run_tool(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn is_member(group: &str) -> Result<bool, String> {
    let group = nix::unistd::Group::from_name(group)
        .map_err(|error| format!("cannot look up group {group}: {error}"))?
        .ok_or_else(|| format!("group {group} does not exist"))?;
    Ok(group.mem.iter().any(|member| member == USER))
}

/// Creates the groups and the user if missing; idempotent. Test processes running at the
/// same time would race on `/etc/passwd` (useradd fails on its lock), so they take turns
/// through a lock file.
fn create_test_user() -> Result<TestUser, String> {
    let lock_path = std::env::temp_dir().join("pauseplay-test-user.lock");
    let lock = fs::File::create(&lock_path)
        .map_err(|error| format!("cannot create {}: {error}", lock_path.display()))?;
    lock.lock()
        .map_err(|error| format!("cannot lock {}: {error}", lock_path.display()))?;
    run_tool("groupadd", &["--system", "--force", OPS_GROUP])?;
    run_tool("groupadd", &["--system", "--force", OTHER_GROUP])?;
    let lookup = || {
        nix::unistd::User::from_name(USER)
            .map_err(|error| format!("cannot look up user {USER}: {error}"))
    };
    if lookup()?.is_none() {
        let shell = ["/usr/sbin/nologin", "/sbin/nologin", "/bin/false"]
            .into_iter()
            .find(|shell| Path::new(shell).exists())
            .unwrap_or("/bin/false");
        run_tool(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                shell,
                "--groups",
                OPS_GROUP,
                USER,
            ],
        )?;
    }
    if !is_member(OPS_GROUP)? {
        run_tool("usermod", &["--append", "--groups", OPS_GROUP, USER])?;
    }
    if is_member(OTHER_GROUP)? {
        return Err(format!(
            "{USER} is a member of {OTHER_GROUP}, which the tests need it not to be; remove it \
             (gpasswd -d {USER} {OTHER_GROUP})"
        ));
    }
    let user = lookup()?.ok_or_else(|| format!("useradd did not create {USER}"))?;
    Ok(TestUser {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

fn group_id(name: &str) -> u32 {
    nix::unistd::Group::from_name(name)
        .unwrap()
        .unwrap()
        .gid
        .as_raw()
}

/// `program` run as `user` (real and effective ids, and the user's supplementary groups).
fn as_user(user: &TestUser, program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .arg("--init-groups")
        .arg("--")
        .arg(program);
    command
}

/// A directory every user may enter: tempdirs are 0700.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    dir
}

/// A copy of the binary in `dir`, executable by anyone: the build's own directory may lie
/// under a home the test user cannot enter.
fn user_binary(dir: &Path) -> PathBuf {
    let path = dir.join("pauseplay");
    fs::copy(env!("CARGO_BIN_EXE_pauseplay"), &path).unwrap();
    chmod(&path, 0o755);
    path
}

/// Runs the CLI copy `bin` as `user` on `config`, scanning its output for secrets as
/// [`common::run_cli`] does.
async fn cli_as(
    user: &TestUser,
    bin: &Path,
    config: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut command = as_user(user, bin);
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PAUSEPLAY_CONFIG")
        .env("PAUSEPLAY_LOG", "warn");
    let what = format!("pauseplay {args:?} as {USER}");
    tokio::task::spawn_blocking(move || {
        let output = command.output().expect("run setpriv");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_no_secrets(&format!("stdout of {what}"), &stdout);
        assert_no_secrets(&format!("stderr of {what}"), &stderr);
        (output.status.code().unwrap_or(-1), stdout, stderr)
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Deliverable 3: hostile clients on the live socket
// ---------------------------------------------------------------------------------------------

/// Writes `bytes` on a fresh connection, ends the client's side and returns every reply line
/// until the daemon closes the connection.
async fn raw(socket: &Path, bytes: &[u8]) -> Vec<Value> {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    // The daemon may close before reading everything (a line over the limit); its reply is
    // still there to read.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let bytes = tokio::time::timeout(DEADLINE, read_until_closed(&mut stream))
        .await
        .expect("the daemon closes the connection");
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Everything the daemon sends until it closes. A daemon that closes on a client still
/// writing (a line over the limit) leaves that client's bytes unread, so the kernel ends the
/// stream with a reset after the reply instead of an end of file.
async fn read_until_closed(stream: &mut UnixStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) => return bytes,
            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return bytes,
            Err(error) => panic!("reading the reply failed: {error}"),
        }
    }
}

/// A request line whose `pad` makes it exactly `len` bytes long, newline excluded.
fn padded_line(len: usize) -> Vec<u8> {
    let mut line = br#"{"v":1,"request":{"type":"status","pad":""#.to_vec();
    line.resize(len - 3, b'x');
    line.extend_from_slice(b"\"}}");
    assert_eq!(line.len(), len);
    line.push(b'\n');
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_daemon_refuses_hostile_clients_and_still_answers_status() {
    let setup = fast_setup().await;
    let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let socket = setup.dir.path().join("pauseplay.sock");

    // A client that connects and never writes, and one that stops halfway through a line:
    // both hold a connection slot until the idle timeout, which is fixed (an operator has
    // no reason to tune it, and a longer one would only let idle clients hold slots longer).
    let connected = Instant::now();
    let mut silent = UnixStream::connect(&socket).await.unwrap();
    let mut halfway = UnixStream::connect(&socket).await.unwrap();
    halfway.write_all(b"{\"v\":1,\"request\":").await.unwrap();
    let silent_closed = tokio::spawn(async move {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(IDLE_TIMEOUT * 3, silent.read_to_end(&mut rest)).await;
        (read.map(|r| r.map(|_| rest)), connected.elapsed())
    });
    let halfway_closed = tokio::spawn(async move {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(IDLE_TIMEOUT * 3, halfway.read_to_end(&mut rest)).await;
        (read.map(|r| r.map(|_| rest)), connected.elapsed())
    });

    // Others are served while those two sit there.
    let mut client = ControlClient::connect(&socket).await.unwrap();
    let pong = client.request(Request::Ping {}, |_| {}).await.unwrap();
    assert!(matches!(pong, ResultBody::Pong { .. }), "{pong:?}");
    assert!(
        !silent_closed.is_finished() && !halfway_closed.is_finished(),
        "the idle connections were closed before the idle timeout"
    );

    let mut over = br#"{"v":1,"request":{"type":"status","pad":""#.to_vec();
    over.resize(MAX_LINE_BYTES + 1024, b'x');
    over.extend_from_slice(b"\"}}\n");
    let mut endless = vec![b'['; 4 * MAX_LINE_BYTES];
    endless.push(b'\n');
    let deep = format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"hello daemon\n".to_vec(), "bad_request"),
        ("NUL bytes", b"\0\0\0\0\n".to_vec(), "bad_request"),
        ("an empty line", b"\n".to_vec(), "bad_request"),
        (
            "invalid UTF-8",
            b"{\"v\":1,\"request\":\xff\xfe}\n".to_vec(),
            "bad_request",
        ),
        ("a line over 64 KiB", over, "too_long"),
        ("256 KiB without a newline", endless, "too_long"),
        (
            "a line of exactly 64 KiB (within the limit, unknown field)",
            padded_line(MAX_LINE_BYTES),
            "bad_request",
        ),
        (
            "a line one byte over 64 KiB",
            padded_line(MAX_LINE_BYTES + 1),
            "too_long",
        ),
        (
            "an unknown protocol version",
            b"{\"v\":2,\"request\":{\"type\":\"status\"}}\n".to_vec(),
            "unsupported_version",
        ),
        ("JSON nested 10,000 deep", deep.into_bytes(), "bad_request"),
        (
            "an unknown request type",
            b"{\"v\":1,\"request\":{\"type\":\"shutdown\"}}\n".to_vec(),
            "bad_request",
        ),
    ];
    for (what, bytes, code) in &hostile {
        let replies = raw(&socket, bytes).await;
        assert_eq!(replies.len(), 1, "{what}: {replies:?}");
        assert_eq!(replies[0]["error"]["code"], *code, "{what}: {replies:?}");
        let message = replies[0]["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{what}");
        assert!(daemon.is_running(), "the daemon died on {what}");
    }

    // Well-formed requests with values at the ends of their types reach the daemon's
    // handler: each is refused with a message and stores nothing.
    let far = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
    let extreme: Vec<(&str, Request)> = vec![
        (
            "a window ending past the last storable instant",
            Request::PauseAt {
                orgs: vec![],
                start: far("9999-12-30T21:00:00Z"),
                duration_secs: 7200,
                reason: None,
            },
        ),
        (
            "a pause of u64::MAX seconds",
            Request::PauseNow {
                orgs: vec![],
                duration_secs: Some(u64::MAX),
                reason: None,
            },
        ),
        (
            "a pause of 0 seconds",
            Request::PauseNow {
                orgs: vec![],
                duration_secs: Some(0),
                reason: None,
            },
        ),
        (
            "a window of u64::MAX seconds",
            Request::PauseAt {
                orgs: vec![],
                start: far("2030-01-01T00:00:00Z"),
                duration_secs: u64::MAX,
                reason: None,
            },
        ),
        (
            "a window in 1970",
            Request::PauseAt {
                orgs: vec![],
                start: jiff::Timestamp::UNIX_EPOCH,
                duration_secs: 60,
                reason: None,
            },
        ),
        (
            "hold i64::MIN",
            Request::Resume {
                orgs: vec![],
                hold: Some(i64::MIN),
                window: None,
            },
        ),
        (
            "an empty window name",
            Request::Resume {
                orgs: vec![],
                hold: None,
                window: Some(String::new()),
            },
        ),
        (
            "an empty org name",
            Request::PauseNow {
                orgs: vec![String::new()],
                duration_secs: Some(60),
                reason: None,
            },
        ),
        (
            "a 10,000-character org name",
            Request::PauseNow {
                orgs: vec!["x".repeat(10_000)],
                duration_secs: Some(60),
                reason: Some("\n\u{0}\u{202e}".repeat(1000)),
            },
        ),
    ];
    for (what, request) in &extreme {
        let mut client = ControlClient::connect(&socket).await.unwrap();
        let error = client
            .request(request.clone(), |_| {})
            .await
            .expect_err(what);
        let message = error.to_string();
        assert!(!message.trim().is_empty(), "{what}");
        // Messages are sentences: no run of spaces left over from a broken line.
        assert!(!message.contains("   "), "{what}: {message:?}");
        assert!(daemon.is_running(), "the daemon died on {what}");
    }
    let mut client = ControlClient::connect(&socket).await.unwrap();
    let history = client
        .request(
            Request::History {
                org: None,
                limit: Some(u32::MAX),
            },
            |_| {},
        )
        .await
        .unwrap();
    assert!(matches!(history, ResultBody::History { .. }), "{history:?}");
    let after = status(&setup.config).await;
    assert_eq!(after["holds"], serde_json::json!([]), "{after}");
    assert_eq!(after["upcoming"], serde_json::json!([]), "{after}");

    // 100 clients at once, each asking for the status.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let socket = socket.clone();
        clients.spawn(async move {
            let mut client = ControlClient::connect(&socket).await.unwrap();
            client.request(Request::Status {}, |_| {}).await.unwrap()
        });
    }
    let mut answered = 0;
    while let Some(joined) = tokio::time::timeout(DEADLINE, clients.join_next())
        .await
        .expect("the 100 clients are answered")
    {
        assert!(matches!(joined.unwrap(), ResultBody::Status(_)));
        answered += 1;
    }
    assert_eq!(answered, 100);

    // The idle ones are closed, without a reply, at the timeout and not much after it.
    for (what, closed) in [("silent", silent_closed), ("halfway", halfway_closed)] {
        let (read, after) = closed.await.unwrap();
        let rest = read
            .unwrap_or_else(|_| panic!("the {what} client was never closed"))
            .unwrap();
        assert!(rest.is_empty(), "the {what} client got a reply: {rest:?}");
        assert!(
            after >= IDLE_TIMEOUT && after < IDLE_TIMEOUT + Duration::from_secs(10),
            "the {what} client was closed after {after:?}, not at the {IDLE_TIMEOUT:?} timeout"
        );
    }

    assert!(daemon.is_running());
    let (code, stdout, stderr) = cli(&setup.config, &["status"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let log = wait_log(
        &daemon,
        &[
            "refused a control request line",
            "code=bad_request",
            "code=too_long",
            "code=unsupported_version",
            "not valid UTF-8",
            "closed a control connection that sent no complete request line in time",
        ],
    )
    .await;
    let refusals = log.matches("refused a control request line").count();
    assert_eq!(refusals, hostile.len(), "{log}");
    println!(
        "live socket: {} hostile lines refused with the right code and logged, {} requests with \
         extreme values refused storing nothing, 2 idle clients closed after {:?} while others \
         were served, 100 concurrent status requests answered, daemon up and `status` \
         answering afterwards",
        hostile.len(),
        extreme.len(),
        IDLE_TIMEOUT
    );
}

// ---------------------------------------------------------------------------------------------
// Deliverable 4: another uid, and secrets
// ---------------------------------------------------------------------------------------------

/// A config in its own world-readable directory under `open` (socket, state and the root-only
/// secret file beside it), admitting `group` to the socket.
fn open_config(open: &Path, name: &str, sim: &pauseplay::sim::SimHandle, group: &str) -> PathBuf {
    let dir = open.join(name);
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);
    let config = write_config_with(
        &dir,
        sim,
        &format!("socket_group = \"{group}\""),
        NO_TRIGGERS,
    );
    // The CLI reads only `daemon.socket` from it; the secret stays in its mode-600 file.
    chmod(&config, 0o644);
    config
}

#[tokio::test]
async fn another_user_is_refused_unless_in_socket_group() {
    let Some(user) = test_user("another_user_is_refused_unless_in_socket_group") else {
        return;
    };
    let open = open_dir();
    let bin = user_binary(open.path());
    let sim = start_sim(mixed_scenario()).await;
    let initial = org_state(&sim);

    // Daemon A admits only a group the user is not in.
    let a_config = open_config(open.path(), "a", &sim, OTHER_GROUP);
    let a_socket = open.path().join("a/pauseplay.sock");
    let a = DaemonProcess::start(&a_config, &open.path().join("a.log")).await;
    assert_eq!(mode(&a_socket), 0o660);
    assert_eq!(
        fs::metadata(&a_socket).unwrap().gid(),
        group_id(OTHER_GROUP)
    );
    let (code, _, stderr) = cli_as(&user, &bin, &a_config, &["status"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("permission denied") && stderr.contains("socket_group"),
        "{stderr}"
    );

    // The socket's mode is only the first gate. Opened up by hand (a chmod, a wrong
    // SocketMode=), the daemon still refuses by the peer's credentials, whatever is asked.
    chmod(&a_socket, 0o666);
    for args in [
        &["status"][..],
        &["pause", "now", "--for", "10m", "--reason", "not allowed"][..],
    ] {
        let (code, _, stderr) = cli_as(&user, &bin, &a_config, args).await;
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("forbidden")
                && stderr.contains(USER)
                && stderr.contains(&format!("uid {}", user.uid))
                && stderr.contains("may not use the pauseplay control socket"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(status(&a_config).await["holds"], serde_json::json!([]));
    assert_eq!(org_state(&sim), initial, "a refused pause changed the org");
    let uid_field = format!("uid={}", user.uid);
    wait_log(
        &a,
        &[
            "refused a control request from a user who may not use the socket",
            uid_field.as_str(),
        ],
    )
    .await;
    drop(a);

    // Daemon B admits the user's group: the same user may pause and resume, as itself.
    let b_config = open_config(open.path(), "b", &sim, OPS_GROUP);
    let b = DaemonProcess::start(&b_config, &open.path().join("b.log")).await;
    assert_eq!(
        fs::metadata(open.path().join("b/pauseplay.sock"))
            .unwrap()
            .gid(),
        group_id(OPS_GROUP)
    );
    let (code, _, stderr) = cli_as(&user, &bin, &b_config, &["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = cli_as(
        &user,
        &bin,
        &b_config,
        &["pause", "now", "--for", "10m", "--reason", "INC-hostile"],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let held = status(&b_config).await;
    assert_eq!(held["holds"][0]["owner_uid"], user.uid, "{held}");
    assert_eq!(held["holds"][0]["owner_name"], USER, "{held}");
    assert!(held["orgs"][0]["paused"].as_u64().unwrap() > 0, "{held}");
    assert_ne!(org_state(&sim), initial);
    let (code, stdout, stderr) = cli_as(&user, &bin, &b_config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    wait_settled(&b_config, 0).await;
    assert_eq!(org_state(&sim), initial);
    drop(b);
    println!(
        "other uid: {USER} (uid {}) refused by the socket's mode (exit 3) and, with the mode \
         opened by hand, by its peer credentials (exit 1, 2 requests, logged with its uid); \
         admitted through socket_group {OPS_GROUP} (pause and resume as that user, owner \
         recorded, org restored exactly)",
        user.uid
    );
}

/// The sim's token endpoint, asked directly: a real access token as the sim mints them.
async fn mint_token(sim: &pauseplay::sim::SimHandle) -> String {
    let url = sim.base_url().join("/services/oauth2/token").unwrap();
    let reply: Value = reqwest::Client::new()
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_leak_scanner_catches_a_planted_secret_and_a_real_token() {
    let sim = start_sim(mixed_scenario()).await;
    // The secrets the tests' orgs use are the ones scanned for.
    assert!(TEST_SECRETS.contains(&sim.client_secret()));
    let default = start_sim(pauseplay::sim::Scenario::default()).await;
    assert!(TEST_SECRETS.contains(&default.client_secret()));

    let token = mint_token(&sim).await;
    let line = format!("GET /services/data/v66.0/limits Authorization: Bearer {token}\n");
    // The scanner finds the token from `!AQ` on: the org id before it is no secret.
    let found = find_access_token(&line).expect("the token is found");
    assert!(
        found.len() > 20 && token.ends_with(found),
        "{found} is not {token}"
    );
    for planted in [
        line.clone(),
        format!(
            "client_secret={}&grant_type=client_credentials",
            sim.client_secret()
        ),
    ] {
        let caught = std::panic::catch_unwind(|| assert_no_secrets("planted", &planted));
        assert!(caught.is_err(), "the scanner missed: {planted}");
    }
    assert_no_secrets("clean", "paused 7 components of org sim (hold 3)");

    // A daemon's log is scanned when the process is dropped: a planted secret fails it. This
    // daemon stops at once (no orgs' secret is readable), so nothing else writes the log.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &sim, "", "");
    chmod(&dir.path().join("sim.secret"), 0o644);
    let log = dir.path().join("daemon.log");
    let mut daemon = DaemonProcess::spawn(&config, &log);
    assert_eq!(daemon.exit_code().await, Some(2));
    fs::write(&log, format!("{}\nleaked {token}\n", daemon.log_text())).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(daemon)));
    assert!(
        caught.is_err(),
        "the daemon log scan missed the planted token"
    );
    println!(
        "(the three panic messages above are the scanner catching the planted leaks, as it must)"
    );
    println!(
        "leak scanner: caught a planted client secret, a sim-minted access token ({} chars) in \
         text and in a daemon's log; clean text passes",
        token.len()
    );
}

#[tokio::test]
async fn a_pause_and_resume_never_show_a_secret_or_a_token_anywhere() {
    let setup = fast_setup().await;
    let initial = org_state(&setup.sim);
    // At trace the daemon logs every request it makes and every token it mints; its log is
    // scanned when it is dropped.
    let mut command = Command::new(env!("CARGO_BIN_EXE_pauseplay"));
    command
        .args(daemon_args(&setup.config))
        .env("PAUSEPLAY_LOG", "trace");
    let daemon =
        DaemonProcess::start_command(command, &setup.config, &setup.log("daemon-trace.log")).await;

    // Every command goes through `cli`, which scans its stdout and stderr.
    let mut scanned = 0;
    let mut expect = async |args: &[&str], ok: bool| {
        let (code, stdout, stderr) = cli(&setup.config, args).await;
        assert_eq!(code == 0, ok, "{args:?} exited {code}: {stdout}{stderr}");
        assert!(
            !stdout.is_empty() || !stderr.is_empty(),
            "{args:?} printed nothing"
        );
        scanned += 2;
        stdout
    };
    expect(
        &["pause", "now", "--for", "30m", "--reason", "INC-secrets"],
        true,
    )
    .await;
    expect(&["status"], true).await;
    let held: Value = serde_json::from_str(&expect(&["status", "--json"], true).await).unwrap();
    assert!(held["orgs"][0]["paused"].as_u64().unwrap() > 0, "{held}");
    expect(&["history"], true).await;
    expect(&["history", "--json"], true).await;
    expect(&["auth-test", "--org", "sim"], true).await;
    expect(&["plan", "--json"], true).await;
    // Error outputs.
    expect(&["pause", "now", "--org", "nosuch"], false).await;
    expect(&["pause", "now", "--for", "999h"], false).await;
    expect(&["resume", "--hold", "999999"], false).await;
    expect(&["resume", "--window", "nosuch"], false).await;
    expect(&["auth-test", "--org", "nosuch"], false).await;
    expect(&["resume"], true).await;
    wait_settled(&setup.config, 0).await;
    expect(&["status", "--json"], true).await;
    let history: Value = serde_json::from_str(&expect(&["history", "--json"], true).await).unwrap();
    assert!(
        history["entries"].as_array().unwrap().len() >= 2,
        "{history}"
    );
    assert_eq!(org_state(&setup.sim), initial);

    // The trace log saw the requests and the minting, so its scan covered them.
    let log = daemon.log_text();
    assert!(
        log.contains("access token minted"),
        "the log is not at trace"
    );
    let lines = log.lines().count();
    drop(daemon);
    println!(
        "secrets: {scanned} CLI outputs of a pause/resume cycle (status, history, --json, \
         auth-test, plan, 5 error outputs) and a {lines}-line trace log scanned: no client \
         secret, no access token"
    );
}

#[tokio::test]
async fn debug_output_of_the_config_and_the_client_never_shows_the_secret_or_token() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &sim, "", NO_TRIGGERS);
    let loaded = pauseplay::config::Config::load(&config).unwrap();
    let org = &loaded.orgs["sim"];
    let settings = pauseplay::commands::client_settings(org);
    let client = OrgClient::new(settings.clone()).unwrap();
    // A call, so the client holds a minted token when it is printed.
    client.identity().await.unwrap();
    let shown = [
        ("Config", format!("{loaded:?}")),
        ("OrgConfig", format!("{org:?}")),
        ("ClientSettings", format!("{settings:?}")),
        ("OrgClient holding a token", format!("{client:?}")),
    ];
    for (what, text) in &shown {
        assert_no_secrets(&format!("Debug of {what}"), text);
    }
    assert!(shown[0].1.contains("REDACTED"), "{}", shown[0].1);
    println!(
        "secrets: Debug of Config, OrgConfig, ClientSettings and an OrgClient holding a token \
         shows neither the client secret nor the token"
    );
}

/// Writes a config pointing at `sim` in a fresh directory with `edit` applied to its text.
fn config_with(
    sim: &pauseplay::sim::SimHandle,
    edit: impl Fn(String) -> String,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), sim, "", "");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, edit(text)).unwrap();
    (dir, config)
}

#[tokio::test]
async fn the_daemon_refuses_exposed_secret_files_and_plain_http_to_a_remote_host() {
    let sim = start_sim(mixed_scenario()).await;
    let mut refused = 0;
    for exposed in [0o640, 0o604, 0o660, 0o606, 0o644, 0o666] {
        let (dir, config) = config_with(&sim, |text| text);
        let secret = dir.path().join("sim.secret");
        chmod(&secret, exposed);
        let mut daemon = DaemonProcess::spawn(&config, &dir.path().join("daemon.log"));
        assert_eq!(daemon.exit_code().await, Some(2), "{}", daemon.log_text());
        let log = daemon.log_text();
        for needle in [
            "orgs.sim.client_secret_file".to_owned(),
            secret.display().to_string(),
            format!("mode {exposed:04o}"),
            format!("chmod 600 {}", secret.display()),
        ] {
            assert!(
                log.contains(&needle),
                "mode {exposed:o}: no {needle:?} in:\n{log}"
            );
        }
        assert!(
            !dir.path().join("state").exists(),
            "the daemon got as far as its state"
        );
        refused += 1;
    }

    let port = sim.base_url().port().unwrap();
    let local = sim.base_url().to_string();
    // 0.0.0.0 reaches this machine, so a daemon that accepted it would show up at the sim.
    for url in [
        "http://acme.my.salesforce.com".to_owned(),
        format!("http://0.0.0.0:{port}"),
    ] {
        sim.reset_counters();
        let (dir, config) = config_with(&sim, |text| text.replace(&local, &url));
        let mut daemon = DaemonProcess::spawn(&config, &dir.path().join("daemon.log"));
        assert_eq!(daemon.exit_code().await, Some(2), "{}", daemon.log_text());
        let log = daemon.log_text();
        assert!(
            log.contains("orgs.sim.url") && log.contains("plain http is refused"),
            "{url}: {log}"
        );
        assert!(
            sim.counters().values().all(|count| *count == 0),
            "{url}: the sim was called: {:?}",
            sim.counters()
        );
        refused += 1;
    }
    println!(
        "secrets: the daemon refused to start (exit 2, naming the key, the file and the fix) \
         on {refused} configs: secret files of modes 640, 604, 660, 606, 644, 666 and plain \
         http to 2 non-loopback hosts"
    );
}

#[tokio::test]
async fn the_client_refuses_plain_http_to_a_remote_host_before_sending_anything() {
    const SECRET: &str = "hostile-client-secret";
    const TOKEN: &str = "00DXX0000001abc!AQ4AQ.hostile-token-value-1234567890";
    let remote = url::Url::parse("http://acme.my.salesforce.com").unwrap();
    let error = OrgClient::new(settings("prod", &remote, "key", SECRET)).unwrap_err();
    assert!(matches!(error, SfError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("plain http"), "{error}");

    // A token response that sends API calls to plain http off this host: the token must not
    // follow. 0.0.0.0 reaches the mock, so a request that went there would be seen.
    let mock = Mock::start(|request, _| {
        if request.path == "/services/oauth2/token" {
            let mut reply = token_reply(request, TOKEN);
            reply.body = reply.body.replace("127.0.0.1", "0.0.0.0");
            reply
        } else {
            Reply::json(200, serde_json::json!({}))
        }
    })
    .await;
    let client = OrgClient::new(settings("prod", &mock.url, "key", SECRET)).unwrap();
    let error = client.limits().await.unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(TOKEN) && !text.contains(SECRET), "{text}");
    }
    assert!(
        error.to_string().contains("instance_url"),
        "the error names what was refused: {error}"
    );
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.iter().all(|path| path == "/services/oauth2/token"),
        "the token went to plain http: {paths:?}"
    );
    println!(
        "secrets: plain http to a remote login_url refused before any request; a token \
         response pointing at plain http off this host refused, the token never sent there"
    );
}

#[tokio::test]
async fn the_state_database_is_created_0600_in_a_0700_directory_even_with_umask_0() {
    let setup = fast_setup().await;
    let daemon = DaemonProcess::start_command(
        daemon_with_umask_0(&setup.config),
        &setup.config,
        &setup.log("daemon.log"),
    )
    .await;
    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now", "--for", "10m"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let state = setup.dir.path().join("state");
    let mut checked = vec![(state.clone(), 0o700)];
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        checked.push((state.join(name), 0o600));
    }
    checked.push((setup.dir.path().join("pauseplay.sock"), 0o600));
    for (path, wanted) in &checked {
        assert!(path.exists(), "{} is missing", path.display());
        assert_eq!(mode(path), *wanted, "{}", path.display());
    }
    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    drop(daemon);
    println!(
        "file modes: with umask 0 the daemon created its state directory 0700, state.db and its \
         -wal and -shm 0600, and the socket 0600"
    );
}

// ---------------------------------------------------------------------------------------------
// Deliverable 5: storage faults at start
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Another connection in exclusive locking mode holds the whole file.
    LockedExclusively,
    /// Another connection holds the write lock (a `sqlite3` shell in a transaction).
    HeldByAWriter,
    /// The file is mode 0400 for the user the daemon runs as.
    ReadOnly,
    /// The file's bytes are not SQLite at all.
    NotADatabase,
    /// A page of the file is damaged.
    Corrupted,
}

impl Fault {
    /// What the error must say, and the advice it must give.
    fn says(self) -> [&'static str; 2] {
        match self {
            Fault::LockedExclusively | Fault::HeldByAWriter => {
                ["is locked by another process", "Stop it and try again"]
            }
            Fault::ReadOnly => [
                "cannot be written",
                "writable by the user the daemon runs as",
            ],
            Fault::NotADatabase => ["is not a SQLite database", "restore it from a backup"],
            Fault::Corrupted => ["is corrupted", ".recover"],
        }
    }
}

/// Who runs the daemons of a storage-fault test.
enum Runner {
    /// The test's own user, with the binary as built.
    Same,
    /// The test user, with a copy of the binary it can run.
    User(TestUser, PathBuf),
}

impl Runner {
    fn daemon(&self, config: &Path) -> Command {
        let mut command = match self {
            Runner::Same => Command::new(env!("CARGO_BIN_EXE_pauseplay")),
            Runner::User(user, bin) => as_user(user, bin),
        };
        command.args(daemon_args(config));
        command
    }
}

/// Gives `user` the directory `dir` and the files in it, as a package's install would.
fn give_to(user: &TestUser, dir: &Path) {
    let own = |path: &Path| std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).unwrap();
    own(dir);
    for entry in fs::read_dir(dir).unwrap() {
        own(&entry.unwrap().path());
    }
}

/// The whole last page of a SQLite file overwritten: a damaged page that opening the
/// database does not read.
fn damage_last_page(bytes: &[u8]) -> Vec<u8> {
    // The page size is the big-endian u16 at offset 16 of the header; 1 means 65536.
    let page = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        size => usize::from(size),
    };
    assert!(
        bytes.len() >= 3 * page && bytes.len().is_multiple_of(page),
        "{}",
        bytes.len()
    );
    let mut damaged = bytes.to_vec();
    let start = bytes.len() - page;
    damaged[start..].fill(0xA5);
    assert_ne!(damaged, bytes);
    damaged
}

/// A connection of the test's own holding `db` locked.
async fn hold_lock(db: &Path, fault: Fault) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
    let mut options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false);
    let begin = if fault == Fault::LockedExclusively {
        options = options.locking_mode(SqliteLockingMode::Exclusive);
        "BEGIN EXCLUSIVE"
    } else {
        "BEGIN IMMEDIATE"
    };
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::query(begin).execute(&mut connection).await.unwrap();
    connection
}

/// A journal with prior states in it, a fault, a start that must fail clearly and leave the
/// file alone, and a start after the fault is removed that still restores exactly. Returns
/// how long the failed start took.
async fn fault_at_start(fault: Fault) -> Duration {
    let setup = fast_setup().await;
    let db = setup.dir.path().join("state/state.db");
    let runner = match fault {
        // Root writes to any file whatever its mode: the daemon runs as the test user, who
        // owns the files, as the daemon's own account would.
        Fault::ReadOnly if nix::unistd::geteuid().is_root() => {
            let Some(user) = test_user("a read-only state database at start") else {
                return Duration::ZERO;
            };
            let bin = user_binary(setup.dir.path());
            give_to(&user, setup.dir.path());
            Runner::User(user, bin)
        }
        _ => Runner::Same,
    };
    let initial = org_state(&setup.sim);

    let mut first = DaemonProcess::start_command(
        runner.daemon(&setup.config),
        &setup.config,
        &setup.log("first.log"),
    )
    .await;
    let (code, stdout, stderr) = cli(
        &setup.config,
        &[
            "pause",
            "now",
            "--for",
            "1h",
            "--reason",
            "before the fault",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let paused = status(&setup.config).await["orgs"][0]["paused"]
        .as_u64()
        .unwrap();
    assert!(paused > 0);
    first.signal("TERM");
    assert_eq!(first.exit_code().await, Some(0), "{}", first.log_text());
    drop(first);
    let paused_org = org_state(&setup.sim);
    assert_ne!(paused_org, initial);
    let good = fs::read(&db).unwrap();

    let mut lock = None;
    let faulty = match fault {
        Fault::LockedExclusively | Fault::HeldByAWriter => {
            lock = Some(hold_lock(&db, fault).await);
            good.clone()
        }
        Fault::ReadOnly => {
            chmod(&db, 0o400);
            good.clone()
        }
        Fault::NotADatabase => {
            let garbage: Vec<u8> = (0..good.len()).map(|i| (i * 7 + 13) as u8).collect();
            fs::write(&db, &garbage).unwrap();
            garbage
        }
        Fault::Corrupted => {
            let damaged = damage_last_page(&good);
            fs::write(&db, &damaged).unwrap();
            damaged
        }
    };

    let started = Instant::now();
    let mut failed =
        DaemonProcess::spawn_command(runner.daemon(&setup.config), &setup.log("failed.log"));
    let code = failed.exit_code().await;
    let took = started.elapsed();
    let log = failed.log_text();
    assert_eq!(
        code,
        Some(1),
        "{fault:?}: the daemon did not fail at start:\n{log}"
    );
    assert!(took < Duration::from_secs(30), "{fault:?}: took {took:?}");
    assert!(
        log.contains(&format!("the state database {}", db.display())),
        "{fault:?}: the file is not named:\n{log}"
    );
    for needle in fault.says() {
        assert!(log.contains(needle), "{fault:?}: no {needle:?} in:\n{log}");
    }
    assert!(
        !setup.dir.path().join("pauseplay.sock").exists(),
        "{fault:?}: the failed daemon left a socket"
    );
    drop(failed);
    assert_eq!(
        fs::read(&db).unwrap(),
        faulty,
        "{fault:?}: the failed start changed the file"
    );
    assert_eq!(
        org_state(&setup.sim),
        paused_org,
        "{fault:?}: the org changed"
    );

    // The fault is removed: the lock released, the mode given back, the file restored from
    // its backup.
    if let Some(lock) = lock.take() {
        use sqlx::Connection as _;
        lock.close().await.unwrap();
    }
    match fault {
        Fault::ReadOnly => chmod(&db, 0o600),
        Fault::NotADatabase | Fault::Corrupted => fs::write(&db, &good).unwrap(),
        Fault::LockedExclusively | Fault::HeldByAWriter => {}
    }
    assert_eq!(
        fs::read(&db).unwrap(),
        good,
        "{fault:?}: the journal was reset"
    );

    let second = DaemonProcess::start_command(
        runner.daemon(&setup.config),
        &setup.config,
        &setup.log("second.log"),
    )
    .await;
    let held = status(&setup.config).await;
    assert_eq!(held["holds"].as_array().unwrap().len(), 1, "{held}");
    assert_eq!(held["orgs"][0]["paused"], paused, "{held}");
    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    wait_settled(&setup.config, 0).await;
    assert_eq!(
        org_state(&setup.sim),
        initial,
        "{fault:?}: not restored exactly"
    );
    drop(second);
    took
}

#[tokio::test]
async fn a_database_locked_exclusively_by_another_process_stops_the_start() {
    let took = fault_at_start(Fault::LockedExclusively).await;
    println!(
        "storage fault, database locked (exclusive locking mode) by another process: exit 1 \
         after {took:.1?} naming the file, file unchanged, journal restored after the lock went"
    );
}

#[tokio::test]
async fn a_database_another_process_is_writing_to_stops_the_start() {
    let took = fault_at_start(Fault::HeldByAWriter).await;
    println!(
        "storage fault, another process holding the write lock: exit 1 after {took:.1?} naming \
         the file, file unchanged, journal restored after the lock went"
    );
}

#[tokio::test]
async fn a_read_only_database_stops_the_start() {
    let took = fault_at_start(Fault::ReadOnly).await;
    println!(
        "storage fault, database file read-only (0400): exit 1 after {took:.1?} naming the \
         file, file unchanged, journal restored after chmod 600"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_stops_the_start() {
    let took = fault_at_start(Fault::NotADatabase).await;
    println!(
        "storage fault, state.db overwritten with garbage: exit 1 after {took:.1?} naming the \
         file, garbage left as it was, journal restored from the backup"
    );
}

#[tokio::test]
async fn a_damaged_page_stops_the_start() {
    let took = fault_at_start(Fault::Corrupted).await;
    println!(
        "storage fault, last page of state.db damaged: exit 1 after {took:.1?} naming the file, \
         damage left as it was, journal restored from the backup"
    );
}

#[tokio::test]
async fn a_second_daemon_on_the_same_state_directory_is_refused_and_the_first_keeps_serving() {
    let setup = fast_setup().await;
    let first = DaemonProcess::start(&setup.config, &setup.log("first.log")).await;
    // The same state_dir behind another socket: the socket check cannot see this one.
    let other = setup.dir.path().join("other.toml");
    let text = fs::read_to_string(&setup.config).unwrap().replace(
        &setup
            .dir
            .path()
            .join("pauseplay.sock")
            .display()
            .to_string(),
        &setup.dir.path().join("other.sock").display().to_string(),
    );
    fs::write(&other, text).unwrap();
    let mut second = DaemonProcess::spawn(&other, &setup.log("second.log"));
    let code = second.exit_code().await;
    let log = second.log_text();
    assert_eq!(code, Some(1), "the second daemon ran:\n{log}");
    let state_dir = setup.dir.path().join("state");
    assert!(
        log.contains(&format!(
            "another pauseplay daemon (pid {}) is using the state directory {}",
            first.pid(),
            state_dir.display()
        )),
        "{log}"
    );
    assert!(!setup.dir.path().join("other.sock").exists());
    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now", "--for", "10m"]).await;
    assert_eq!(code, 0, "the first daemon still serves: {stdout}{stderr}");
    drop(second);
    drop(first);
    // The lock dies with its holder: a daemon killed with SIGKILL leaves none behind.
    let restarted = DaemonProcess::start(&other, &setup.log("third.log")).await;
    assert!(status(&other).await["holds"].as_array().is_some());
    drop(restarted);
    println!(
        "state directory: a second daemon on it refused (exit 1, naming the holder's pid), the \
         first kept serving; the claim released by kill -9"
    );
}
