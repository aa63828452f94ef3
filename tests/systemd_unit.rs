//! The systemd integration (`systemd/pauseplay.service`, `systemd/pauseplay.sysusers` and the
//! README's configuration for a systemd host) against the code: the unit runs the daemon with
//! the default configuration path, the directories systemd creates are where the config's
//! defaults point, the accounts it names are the ones the sysusers file creates, and the
//! README's configuration loads the way the unit runs the daemon. `scripts/check-systemd-unit`
//! checks the unit with systemd's own tools; these tests need no systemd.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use pauseplay::config::{Config, DEFAULT_CONFIG_PATH, DaemonConfig};

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

/// Every value of `key` in the unit, in order (comments and other sections' keys included
/// only if they are real `Key=value` lines).
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with(';'))
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| name.trim() == key)
        .map(|(_, value)| value.trim().to_owned())
        .collect()
}

fn unit_value(unit: &str, key: &str) -> String {
    let values = unit_values(unit, key);
    assert_eq!(
        values.len(),
        1,
        "{key}= should be set exactly once: {values:?}"
    );
    values[0].clone()
}

/// The accounts a sysusers.d file declares: users, groups (a `u` line also makes the user's
/// own group) and memberships.
#[derive(Default)]
struct Sysusers {
    users: Vec<String>,
    groups: Vec<String>,
    members: Vec<(String, String)>,
}

fn sysusers(text: &str) -> Sysusers {
    let mut accounts = Sysusers::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["u", name, ..] => {
                accounts.users.push((*name).to_owned());
                accounts.groups.push((*name).to_owned());
            }
            ["g", name, ..] => accounts.groups.push((*name).to_owned()),
            ["m", user, group, ..] => accounts
                .members
                .push(((*user).to_owned(), (*group).to_owned())),
            _ => panic!("pauseplay.sysusers: a line this test does not know: {line}"),
        }
    }
    accounts
}

/// The TOML block of the README's install section, the one after its marker comment.
fn readme_systemd_config() -> String {
    let readme = read("README.md");
    let marker = "<!-- systemd-host-config:";
    let after = &readme[readme
        .find(marker)
        .expect("README: the systemd-host-config marker")..];
    let start = after
        .find("```toml\n")
        .expect("README: a ```toml block after the marker")
        + 8;
    let end = after[start..]
        .find("```")
        .expect("README: the end of the toml block");
    after[start..start + end].to_owned()
}

#[test]
fn the_unit_runs_the_daemon_with_the_default_configuration_as_a_notify_service() {
    let unit = read("systemd/pauseplay.service");
    assert_eq!(
        unit_value(&unit, "ExecStart"),
        format!("/usr/local/bin/pauseplay --config {DEFAULT_CONFIG_PATH} daemon")
    );
    assert_eq!(unit_value(&unit, "Type"), "notify");
    assert_eq!(unit_value(&unit, "NotifyAccess"), "main");
    assert_eq!(unit_value(&unit, "WatchdogSec"), "60s");
    assert_eq!(unit_value(&unit, "Restart"), "on-failure");
    // A configuration error is exit code 2 (DESIGN's exit codes): restarting cannot fix it.
    assert_eq!(unit_value(&unit, "RestartPreventExitStatus"), "2");
    // The configuration directory systemd knows about is the one the default path is in.
    let config_dir = Path::new(DEFAULT_CONFIG_PATH)
        .parent()
        .expect("the default config path has a directory");
    assert_eq!(
        Path::new("/etc").join(unit_value(&unit, "ConfigurationDirectory")),
        config_dir
    );
}

#[test]
fn the_directories_systemd_creates_are_where_the_config_defaults_point() {
    let unit = read("systemd/pauseplay.service");
    let state = format!("/var/lib/{}", unit_value(&unit, "StateDirectory"));
    let runtime = format!("/run/{}", unit_value(&unit, "RuntimeDirectory"));
    assert_eq!(
        DaemonConfig::default_state_dir(Some(&state)),
        PathBuf::from("/var/lib/pauseplay")
    );
    assert_eq!(
        DaemonConfig::default_socket(Some(&runtime)),
        PathBuf::from("/run/pauseplay/control.sock")
    );
    // The state holds the journal of prior states: only the daemon's user may enter.
    assert_eq!(unit_value(&unit, "StateDirectoryMode"), "0700");
    assert_eq!(unit_value(&unit, "UMask"), "0077");
}

#[test]
fn the_accounts_the_unit_runs_with_come_from_the_sysusers_file() {
    let unit = read("systemd/pauseplay.service");
    let accounts = sysusers(&read("systemd/pauseplay.sysusers"));
    let user = unit_value(&unit, "User");
    let group = unit_value(&unit, "Group");
    assert!(accounts.users.contains(&user), "User={user} is not created");
    assert!(
        accounts.groups.contains(&group),
        "Group={group} is not created"
    );
    for extra in unit_values(&unit, "SupplementaryGroups")
        .iter()
        .flat_map(|value| value.split_whitespace())
    {
        assert!(
            accounts.groups.iter().any(|name| name == extra),
            "SupplementaryGroups={extra} is not created"
        );
        assert!(
            accounts.members.contains(&(user.clone(), extra.to_owned())),
            "{user} is not made a member of {extra}"
        );
    }
}

#[test]
fn the_readme_configuration_loads_as_the_unit_runs_the_daemon() {
    let unit = read("systemd/pauseplay.service");
    let accounts = sysusers(&read("systemd/pauseplay.sysusers"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config_path = dir.path().join("pauseplay.toml");
    fs::write(&config_path, readme_systemd_config()).expect("write the config");

    // $CREDENTIALS_DIRECTORY holds exactly what the unit loads, read-only for the user as
    // systemd makes it; a `credential` the unit does not load fails the load.
    let credentials = dir.path().join("credentials");
    fs::create_dir(&credentials).expect("create the credentials directory");
    let loaded: Vec<String> = ["LoadCredential", "LoadCredentialEncrypted"]
        .iter()
        .flat_map(|key| unit_values(&unit, key))
        .filter(|value| !value.is_empty())
        .map(|value| value.split(':').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        !loaded.is_empty(),
        "the unit loads no credential for the README's org"
    );
    for name in &loaded {
        let path = credentials.join(name);
        fs::write(&path, "a-client-secret\n").expect("write a credential");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
    }

    let runtime = format!("/run/{}", unit_value(&unit, "RuntimeDirectory"));
    let state = format!("/var/lib/{}", unit_value(&unit, "StateDirectory"));
    let env = HashMap::from([
        ("STATE_DIRECTORY".to_owned(), state.clone()),
        ("RUNTIME_DIRECTORY".to_owned(), runtime.clone()),
        (
            "CREDENTIALS_DIRECTORY".to_owned(),
            credentials.display().to_string(),
        ),
    ]);
    let config = Config::load_with_env(&config_path, &env)
        .unwrap_or_else(|errors| panic!("the README's configuration does not load:\n{errors}"));

    assert_eq!(config.daemon.state_dir, PathBuf::from(&state));
    // The socket is set in the file, not left to $RUNTIME_DIRECTORY, which an operator's
    // shell does not have; and it is in the unit's RuntimeDirectory=.
    let socket = config.daemon.socket.clone();
    assert_eq!(socket, PathBuf::from(format!("{runtime}/control.sock")));
    assert_eq!(
        pauseplay::config::socket_path(&config_path).expect("the CLI finds the socket"),
        socket,
        "the CLI of an operator (no $RUNTIME_DIRECTORY) must find the daemon's socket"
    );
    // The socket group exists and the daemon's user may give the socket to it.
    let socket_group = config
        .daemon
        .socket_group
        .clone()
        .expect("the README sets socket_group");
    let user = unit_value(&unit, "User");
    assert!(accounts.groups.contains(&socket_group));
    assert!(
        unit_value(&unit, "Group") == socket_group
            || accounts.members.contains(&(user, socket_group.clone())),
        "the daemon's user is not a member of socket_group {socket_group}"
    );
    assert!(!config.orgs.is_empty());
}
