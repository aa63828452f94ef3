//! Secrets named by the configuration (an org's client secret, a notification target's webhook
//! URL): read from exactly one of a file, an environment variable or a systemd credential, and
//! wrapped at once so that they never reach a log or a message.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use config::Value;
use secrecy::SecretString;

use super::raw::{Collector, join_key};

/// The variable systemd sets for services with `LoadCredential=`.
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// Where a secret was read from, for messages. Holds no part of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `client_secret_file = "..."` (`url_file` for a webhook URL).
    File(PathBuf),
    /// `client_secret_env = "VAR"` (`url_env`).
    Env(String),
    /// `credential = "NAME"`, read from `$CREDENTIALS_DIRECTORY/NAME`.
    Credential { name: String, path: PathBuf },
    /// Built into pauseplay: the simulated org of `pauseplay demo`, never a real org.
    BuiltIn,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Env(var) => write!(f, "environment variable {var}"),
            SecretSource::Credential { name, path } => {
                write!(f, "systemd credential {name} ({})", path.display())
            }
            SecretSource::BuiltIn => f.write_str("the built-in simulated org"),
        }
    }
}

/// The keys of one kind of secret and the words messages use for it.
#[derive(Debug)]
pub(super) struct SecretKind {
    /// What the secret is, for messages: "client secret".
    pub what: &'static str,
    /// Why it may not be written inline, the start of that message.
    pub why_not_inline: &'static str,
    /// The refused inline key, e.g. `client_secret`.
    pub inline: &'static str,
    /// The file key, e.g. `client_secret_file`.
    pub file: &'static str,
    /// The environment variable key, e.g. `client_secret_env`.
    pub env: &'static str,
    /// The systemd credential key.
    pub credential: &'static str,
}

/// An org's client secret.
pub(super) const CLIENT_SECRET: SecretKind = SecretKind {
    what: "client secret",
    why_not_inline: "secrets do not belong in configuration",
    inline: "client_secret",
    file: "client_secret_file",
    env: "client_secret_env",
    credential: "credential",
};

/// A notification target's webhook URL.
pub(super) const WEBHOOK_URL: SecretKind = SecretKind {
    what: "webhook URL",
    why_not_inline: "a webhook URL is a secret (a Slack webhook URL carries its token in the \
                     path) and does not belong in configuration",
    inline: "url",
    file: "url_file",
    env: "url_env",
    credential: "credential",
};

impl SecretKind {
    /// The key of `prefix` (`orgs.prod`) that `source` came from, for problems with the value.
    pub fn key_of(&self, prefix: &str, source: &SecretSource) -> String {
        let field = match source {
            SecretSource::File(_) => self.file,
            SecretSource::Env(_) => self.env,
            SecretSource::Credential { .. } => self.credential,
            // Never loaded from a configuration; the table itself is the best answer.
            SecretSource::BuiltIn => return prefix.to_owned(),
        };
        join_key(prefix, field)
    }
}

/// The raw values of the secret keys of one table.
pub(super) struct SecretKeys {
    pub file: Option<Value>,
    pub env: Option<Value>,
    pub credential: Option<Value>,
    /// Whether the inline key itself was given (refused).
    pub inline: bool,
}

/// Reads the `kind` secret of the table at `prefix` (`orgs.prod`, `notify[0]`), recording a
/// problem for anything wrong.
pub(super) fn load(
    c: &mut Collector<'_>,
    prefix: &str,
    kind: &SecretKind,
    keys: SecretKeys,
) -> Option<(SecretString, SecretSource)> {
    let file_key = join_key(prefix, kind.file);
    let env_key = join_key(prefix, kind.env);
    let credential_key = join_key(prefix, kind.credential);
    let what = kind.what;

    if keys.inline {
        c.problem(
            &join_key(prefix, kind.inline),
            format!(
                "{}; remove {} and set one of {} (a file with mode 600), {} (the name of an \
                 environment variable) or {} (a systemd LoadCredential= name)",
                kind.why_not_inline, kind.inline, kind.file, kind.env, kind.credential
            ),
        );
    }

    let given: Vec<&str> = [
        (&keys.file, file_key.as_str()),
        (&keys.env, env_key.as_str()),
        (&keys.credential, credential_key.as_str()),
    ]
    .into_iter()
    .filter(|(value, _)| value.is_some())
    .map(|(_, key)| key)
    .collect();
    if given.len() > 1 {
        let names: Vec<String> = given
            .iter()
            .map(|key| {
                let short = key.rsplit('.').next().unwrap_or(key);
                match c.env_var_of(key) {
                    Some(var) => format!("{short} (from {var})"),
                    None => short.to_owned(),
                }
            })
            .collect();
        c.problem(
            prefix,
            format!(
                "more than one secret source is set ({}); keep exactly one",
                names.join(", ")
            ),
        );
        return None;
    }

    if let Some(value) = keys.file {
        let path = PathBuf::from(c.nonempty_string(&file_key, value)?);
        match read_secret_file(&path, FILE_EXPOSED_BITS) {
            Ok(secret) => Some((secret, SecretSource::File(path))),
            Err(err) => {
                c.problem(&file_key, err.message(&path, "secret file", what));
                None
            }
        }
    } else if let Some(value) = keys.env {
        let var = c.nonempty_string(&env_key, value)?;
        match c.env(&var) {
            Some(secret) if !secret.is_empty() => Some((
                SecretString::from(secret.to_owned()),
                SecretSource::Env(var),
            )),
            Some(_) => {
                c.problem(
                    &env_key,
                    format!("environment variable {var} is empty; set it to the {what}"),
                );
                None
            }
            None => {
                c.problem(
                    &env_key,
                    format!(
                        "environment variable {var} is not set; set it to the {what} in the \
                         service's environment"
                    ),
                );
                None
            }
        }
    } else if let Some(value) = keys.credential {
        let name = c.nonempty_string(&credential_key, value)?;
        load_credential(c, &credential_key, kind, name)
    } else {
        if !keys.inline {
            c.problem(
                prefix,
                format!(
                    "no {what} source; set one of {}, {} or {}",
                    kind.file, kind.env, kind.credential
                ),
            );
        }
        None
    }
}

fn load_credential(
    c: &mut Collector<'_>,
    key: &str,
    kind: &SecretKind,
    name: String,
) -> Option<(SecretString, SecretSource)> {
    if name.contains('/') || name == "." || name == ".." {
        c.problem(
            key,
            format!("`{name}` is not a credential name; use the name given to LoadCredential="),
        );
        return None;
    }
    let Some(directory) = c.env(CREDENTIALS_DIRECTORY).filter(|dir| !dir.is_empty()) else {
        c.problem(
            key,
            format!(
                "{CREDENTIALS_DIRECTORY} is not set, so credential `{name}` cannot be read; run \
                 pauseplay as a systemd service with `LoadCredential={name}:/etc/pauseplay/{name}.secret` \
                 in its unit, or use {} outside systemd",
                kind.file
            ),
        );
        return None;
    };
    let path = Path::new(directory).join(&name);
    match read_secret_file(&path, CREDENTIAL_EXPOSED_BITS) {
        Ok(secret) => Some((secret, SecretSource::Credential { name, path })),
        Err(SecretFileError::Missing) => {
            c.problem(
                key,
                format!(
                    "credential `{name}` is not in {CREDENTIALS_DIRECTORY} ({}); add \
                     `LoadCredential={name}:/etc/pauseplay/{name}.secret` to the service unit",
                    path.display()
                ),
            );
            None
        }
        Err(err) => {
            c.problem(key, err.message(&path, "credential file", kind.what));
            None
        }
    }
}

/// Why a secret file could not be used. Never carries any of its content.
#[derive(Debug)]
enum SecretFileError {
    Missing,
    Denied,
    NotAFile,
    /// Readable or writable by group or others; the permission bits.
    Exposed(u32),
    NotUtf8,
    Empty,
    Io(io::Error),
}

impl SecretFileError {
    /// The message for `file` (which file: "secret file") holding `secret` ("client secret").
    fn message(&self, path: &Path, file: &str, secret: &str) -> String {
        let path = path.display();
        match self {
            SecretFileError::Missing => {
                format!("{file} {path} does not exist; create it with mode 600 or fix the path")
            }
            SecretFileError::Denied => format!(
                "cannot read {file} {path}: permission denied; make it readable by the user pauseplay runs as"
            ),
            SecretFileError::NotAFile => format!("{file} {path} is not a regular file"),
            SecretFileError::Exposed(mode) => format!(
                "{file} {path} is readable or writable by group or others (mode {mode:04o}); run `chmod 600 {path}`"
            ),
            SecretFileError::NotUtf8 => format!("{file} {path} is not valid UTF-8 text"),
            SecretFileError::Empty => {
                format!("{file} {path} is empty; write the {secret} into it")
            }
            SecretFileError::Io(err) => format!("cannot read {file} {path}: {err}"),
        }
    }
}

/// Permission bits that make a secret file (`client_secret_file`, `url_file`) unacceptable: any access by group or others.
const FILE_EXPOSED_BITS: u32 = 0o077;

/// Permission bits that make a systemd credential unacceptable: any access by others. systemd
/// hands a credential to a service running under `User=` through an ACL entry for that user,
/// which shows up as group bits (the ACL mask) in the mode; the credentials directory itself is
/// private to the unit, so only "others" bits mean a real exposure.
const CREDENTIAL_EXPOSED_BITS: u32 = 0o007;

/// Reads a secret file, refusing one that other users could read or change (`exposed` is the
/// mask of permission bits that count as exposure). The permission check and the read use the
/// same open file, so a swap of the path in between cannot slip a different file past the
/// check.
fn read_secret_file(path: &Path, exposed: u32) -> Result<SecretString, SecretFileError> {
    let classify = |err: io::Error| match err.kind() {
        io::ErrorKind::NotFound => SecretFileError::Missing,
        io::ErrorKind::PermissionDenied => SecretFileError::Denied,
        _ => SecretFileError::Io(err),
    };
    let mut file = fs::File::open(path).map_err(classify)?;
    let metadata = file.metadata().map_err(classify)?;
    if !metadata.is_file() {
        return Err(SecretFileError::NotAFile);
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & exposed != 0 {
        return Err(SecretFileError::Exposed(mode));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(classify)?;
    let mut text = String::from_utf8(bytes).map_err(|_| SecretFileError::NotUtf8)?;
    // Editors and `echo` add a trailing newline that is not part of the secret.
    let len = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(len);
    if text.is_empty() {
        return Err(SecretFileError::Empty);
    }
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn secret_file(contents: &[u8], mode: u32) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(contents).expect("write");
        fs::set_permissions(file.path(), fs::Permissions::from_mode(mode)).expect("chmod");
        file
    }

    #[test]
    fn reads_a_private_file_and_trims_the_newline() {
        let file = secret_file(b"s3cret\r\n", 0o600);
        let secret = read_secret_file(file.path(), FILE_EXPOSED_BITS).expect("readable");
        assert_eq!(secret.expose_secret(), "s3cret");
        let file = secret_file(b"s3cret", 0o400);
        assert!(read_secret_file(file.path(), FILE_EXPOSED_BITS).is_ok());
    }

    #[test]
    fn refuses_exposed_empty_and_binary_files() {
        let file = secret_file(b"s3cret\n", 0o640);
        assert!(matches!(
            read_secret_file(file.path(), FILE_EXPOSED_BITS),
            Err(SecretFileError::Exposed(0o640))
        ));
        let file = secret_file(b"s3cret\n", 0o602);
        assert!(matches!(
            read_secret_file(file.path(), FILE_EXPOSED_BITS),
            Err(SecretFileError::Exposed(0o602))
        ));
        let file = secret_file(b"\n", 0o600);
        assert!(matches!(
            read_secret_file(file.path(), FILE_EXPOSED_BITS),
            Err(SecretFileError::Empty)
        ));
        let file = secret_file(&[0xff, 0xfe], 0o600);
        assert!(matches!(
            read_secret_file(file.path(), FILE_EXPOSED_BITS),
            Err(SecretFileError::NotUtf8)
        ));
        assert!(matches!(
            read_secret_file(
                Path::new("/nonexistent/pauseplay.secret"),
                FILE_EXPOSED_BITS
            ),
            Err(SecretFileError::Missing)
        ));
    }

    #[test]
    fn credentials_allow_the_acl_mask_but_not_others() {
        // systemd grants a `User=` service its credential through an ACL, whose mask shows as
        // group bits.
        let file = secret_file(b"s3cret", 0o440);
        assert!(read_secret_file(file.path(), CREDENTIAL_EXPOSED_BITS).is_ok());
        assert!(read_secret_file(file.path(), FILE_EXPOSED_BITS).is_err());
        let file = secret_file(b"s3cret", 0o444);
        assert!(matches!(
            read_secret_file(file.path(), CREDENTIAL_EXPOSED_BITS),
            Err(SecretFileError::Exposed(0o444))
        ));
    }

    #[test]
    fn messages_name_the_file_and_the_fix() {
        let message = SecretFileError::Exposed(0o644).message(
            Path::new("/etc/p/prod.secret"),
            "secret file",
            "client secret",
        );
        assert!(message.contains("mode 0644"), "{message}");
        assert!(
            message.contains("chmod 600 /etc/p/prod.secret"),
            "{message}"
        );
    }
}
