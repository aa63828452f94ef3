//! The client secret of an org: read from exactly one of a file, an environment variable or a
//! systemd credential, and wrapped at once so that it never reaches a log or a message.

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

/// Where an org's client secret was read from, for messages. Holds no part of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `client_secret_file = "..."`.
    File(PathBuf),
    /// `client_secret_env = "VAR"`.
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

/// The raw values of the secret keys of one org.
pub(super) struct SecretKeys {
    pub file: Option<Value>,
    pub env: Option<Value>,
    pub credential: Option<Value>,
    /// Whether `client_secret` itself was given (refused).
    pub inline: bool,
}

/// Reads the secret of the org at `org_key` (`orgs.prod`), recording a problem for anything
/// wrong.
pub(super) fn load(
    c: &mut Collector<'_>,
    org_key: &str,
    keys: SecretKeys,
) -> Option<(SecretString, SecretSource)> {
    let file_key = join_key(org_key, "client_secret_file");
    let env_key = join_key(org_key, "client_secret_env");
    let credential_key = join_key(org_key, "credential");

    if keys.inline {
        c.problem(
            &join_key(org_key, "client_secret"),
            "secrets do not belong in configuration; remove client_secret and set one of \
             client_secret_file (a file with mode 600), client_secret_env (the name of an \
             environment variable) or credential (a systemd LoadCredential= name)",
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
            org_key,
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
                c.problem(&file_key, err.message(&path, "secret file"));
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
                    format!("environment variable {var} is empty; set it to the client secret"),
                );
                None
            }
            None => {
                c.problem(
                    &env_key,
                    format!(
                        "environment variable {var} is not set; set it to the client secret \
                         in the service's environment"
                    ),
                );
                None
            }
        }
    } else if let Some(value) = keys.credential {
        let name = c.nonempty_string(&credential_key, value)?;
        load_credential(c, &credential_key, name)
    } else {
        if !keys.inline {
            c.problem(
                org_key,
                "no client secret source; set one of client_secret_file, client_secret_env or \
                 credential",
            );
        }
        None
    }
}

fn load_credential(
    c: &mut Collector<'_>,
    key: &str,
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
                 in its unit, or use client_secret_file outside systemd"
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
            c.problem(key, err.message(&path, "credential file"));
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
    fn message(&self, path: &Path, what: &str) -> String {
        let path = path.display();
        match self {
            SecretFileError::Missing => {
                format!("{what} {path} does not exist; create it with mode 600 or fix the path")
            }
            SecretFileError::Denied => format!(
                "cannot read {what} {path}: permission denied; make it readable by the user pauseplay runs as"
            ),
            SecretFileError::NotAFile => format!("{what} {path} is not a regular file"),
            SecretFileError::Exposed(mode) => format!(
                "{what} {path} is readable or writable by group or others (mode {mode:04o}); run `chmod 600 {path}`"
            ),
            SecretFileError::NotUtf8 => format!("{what} {path} is not valid UTF-8 text"),
            SecretFileError::Empty => {
                format!("{what} {path} is empty; write the client secret into it")
            }
            SecretFileError::Io(err) => format!("cannot read {what} {path}: {err}"),
        }
    }
}

/// Permission bits that make a `client_secret_file` unacceptable: any access by group or others.
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
        let message =
            SecretFileError::Exposed(0o644).message(Path::new("/etc/p/prod.secret"), "secret file");
        assert!(message.contains("mode 0644"), "{message}");
        assert!(
            message.contains("chmod 600 /etc/p/prod.secret"),
            "{message}"
        );
    }
}
