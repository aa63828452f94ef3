//! The `pauseplay` binary: parses the command line, runs one command from the library and
//! maps its outcome to an exit code. This is the only place the process exits.
//!
//! Exit codes: 0 success; 1 the operation failed; 2 usage or configuration error; 3 the daemon
//! is not reachable.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pauseplay::commands::{self, CommandError};
use pauseplay::config::{Config, DEFAULT_CONFIG_PATH, LogFormat};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "pauseplay",
    version,
    about = "Pause Salesforce automations during maintenance windows and restore them exactly"
)]
struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "PAUSEPLAY_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,

    /// The daemon's control socket (default: the configuration's `daemon.socket`).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon in the foreground (systemd Type=notify service).
    Daemon,
    /// Pause automations: `pause now` puts a manual hold on orgs; `pause at` stores an ad hoc
    /// window that starts later.
    Pause {
        #[command(subcommand)]
        what: PauseCommand,
    },
    /// Release manual holds (default), one hold, or a window's current occurrence, and restore
    /// what no hold covers any more.
    Resume {
        /// Only this org (repeatable); default: every org.
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// Release this hold (see `pauseplay status`) instead of the manual holds.
        #[arg(long, value_name = "ID", conflicts_with = "window")]
        hold: Option<i64>,
        /// End the occurrence of this scheduled window that is in force now, early; its next
        /// occurrence is not affected.
        #[arg(long, value_name = "NAME")]
        window: Option<String>,
    },
    /// Holds in force and the state of each org's components.
    Status {
        /// Print stable, versioned JSON.
        #[arg(long)]
        json: bool,
    },
    /// The audit trail: who paused or resumed what, when, why, and what happened.
    History {
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// How many entries, newest first (default 50).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// Print stable, versioned JSON.
        #[arg(long)]
        json: bool,
    },
    /// Dry run: list every component a pause would touch, and every one it would skip and why.
    Plan {
        /// Plan only this org (repeatable); default: every configured org.
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// Print stable, versioned JSON (see docs/json.md) instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The next occurrences of each configured window, in its time zone and in UTC, and what
    /// each pauses. Reads the configuration only.
    Windows {
        /// How many occurrences per window.
        #[arg(long, value_name = "N", default_value_t = 5)]
        next: usize,
        /// Print stable, versioned JSON (see docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Run the client-credentials flow against one org and show the org, the run-as user and
    /// the API usage.
    AuthTest {
        #[arg(long, value_name = "ORG")]
        org: String,
    },
    /// Validate the configuration; every problem names the file and the key.
    CheckConfig,
    /// Run pauseplay end to end on a built-in simulated org (no Salesforce account needed).
    Demo,
    /// Serve a simulated Salesforce org for trials and tests.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = commands::DEFAULT_SIM_ADDR)]
        listen: SocketAddr,
        /// Scenario file describing the org (see docs/sim-scenarios.md); default: the demo org.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PauseCommand {
    /// Pause now, with a manual hold that expires by itself.
    Now {
        /// Only this org (repeatable); default: every org.
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// How long the hold lasts, e.g. 30m or 2h (default: manual_pause_default).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why, for the audit trail (e.g. an incident number).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Store an ad hoc window: pause from TIME for DURATION, no config edit. The daemon starts
    /// pausing `lead_time` before TIME so the org is paused when the window opens.
    At {
        /// When the window opens: RFC 3339 with an offset (2026-12-01T22:00:00+01:00, or Z for
        /// UTC), or a local date and time without one (2026-12-01T22:00, "2026-12-01 22:00"),
        /// taken in this machine's time zone.
        #[arg(value_name = "TIME")]
        time: String,
        /// How long the window lasts from TIME, e.g. 2h or 6h30m (at most manual_pause_max).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Only this org (repeatable); default: every org.
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// Why, for the audit trail (e.g. a change number).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap formats help, version and usage errors; its exit code is 0 for the first
            // two and 2 for usage errors, which matches ours.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    // The daemon logs in the configured format, so its configuration is loaded first.
    let daemon_config = match &cli.command {
        Command::Daemon => match pauseplay::config::Config::load(&cli.config) {
            Ok(config) => Some(config),
            Err(error) => {
                eprintln!("pauseplay: {error}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    init_logging(
        matches!(cli.command, Command::Sim { .. } | Command::Daemon),
        daemon_config
            .as_ref()
            .is_some_and(|config| config.daemon.log_format == LogFormat::Json),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pauseplay: could not start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli, daemon_config)) {
        Ok(output) => {
            if !output.is_empty() {
                print_output(&output);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            // What part of the work succeeded is still the command's output.
            if let CommandError::Incomplete { output, .. } = &error {
                print_output(output);
            }
            eprintln!("pauseplay: {}", format_error(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Prints a command's output. A reader that went away (`| head`) is not an error of the
/// command: the exit code stays the command's, where `println!` would panic.
fn print_output(output: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{}", output.trim_end());
}

async fn run(cli: Cli, daemon_config: Option<Config>) -> Result<String, CommandError> {
    let target = commands::Target {
        config: cli.config.clone(),
        socket: cli.socket.clone(),
    };
    match cli.command {
        Command::Daemon => match daemon_config {
            Some(config) => commands::daemon(config).await,
            None => commands::daemon(pauseplay::config::Config::load(&cli.config)?).await,
        },
        Command::Pause {
            what:
                PauseCommand::Now {
                    orgs,
                    duration,
                    reason,
                },
        } => commands::pause_now(&target, orgs, duration.as_deref(), reason).await,
        Command::Pause {
            what:
                PauseCommand::At {
                    time,
                    duration,
                    orgs,
                    reason,
                },
        } => commands::pause_at(&target, &time, orgs, &duration, reason).await,
        Command::Resume { orgs, hold, window } => {
            commands::resume(&target, orgs, hold, window).await
        }
        Command::Status { json } => commands::status(&target, json).await,
        Command::History { org, limit, json } => commands::history(&target, org, limit, json).await,
        Command::Plan { orgs, json } => commands::plan(&cli.config, &orgs, json).await,
        Command::Windows { next, json } => {
            commands::windows(&cli.config, next, json, jiff::Timestamp::now())
        }
        Command::AuthTest { org } => commands::auth_test(&cli.config, &org).await,
        Command::CheckConfig => commands::check_config(&cli.config),
        Command::Demo => Ok(pauseplay::demo::run().await?),
        Command::Sim { listen, scenario } => {
            commands::sim(
                listen,
                scenario.as_deref(),
                |banner| println!("{banner}"),
                async {
                    let _ = tokio::signal::ctrl_c().await;
                },
            )
            .await?;
            Ok(String::new())
        }
    }
}

/// The error and its causes, one per line, so the actionable part (often the innermost
/// cause) is never cut off.
fn format_error(error: &CommandError) -> String {
    match error {
        CommandError::Failed(error) | CommandError::Incomplete { error, .. } => {
            let mut text = error.to_string();
            for cause in error.chain().skip(1) {
                text.push_str("\n  caused by: ");
                text.push_str(&cause.to_string());
            }
            text
        }
        other => other.to_string(),
    }
}

/// Logs go to stderr so stdout stays the command's output (tables, JSON). `PAUSEPLAY_LOG`
/// takes `RUST_LOG`-style directives.
fn init_logging(verbose: bool, json: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("PAUSEPLAY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
