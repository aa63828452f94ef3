//! Who may use the control socket, and the user and group look-ups that decide it.
//!
//! The socket file's mode (0600, or 0660 with `socket_group`) is the first gate; the peer
//! credentials the kernel reports for every connection are the second, checked by
//! [`authorized`]. Both are kept because the mode alone can be loosened by accident (a
//! `chmod` by hand, a socket-activation unit with the wrong `SocketMode=`).
//!
//! The look-ups go through NSS (`getpwuid_r`, `getgrnam_r`, `getgrouplist`), which may block
//! on LDAP or sssd, so the server calls them from `spawn_blocking`.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

/// Whether a peer may use the socket: root, the daemon's own uid, or a member of
/// `socket_gid` (primary or supplementary group).
pub fn authorized(
    peer_uid: u32,
    peer_groups: &[u32],
    own_uid: u32,
    socket_gid: Option<u32>,
) -> bool {
    peer_uid == 0 || peer_uid == own_uid || socket_gid.is_some_and(|gid| peer_groups.contains(&gid))
}

/// The daemon's own uid (the real uid, which is also the effective one: pauseplay is never
/// installed setuid).
pub fn own_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Who a peer is, as far as the user database knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The user name of the peer's uid, if the user database has one.
    pub user_name: Option<String>,
    /// Every group the peer counts as a member of: the gid of its process, the primary group
    /// of its user and the user's supplementary groups.
    pub groups: Vec<u32>,
}

/// Looks up the user name and groups of `uid`, whose process runs with group `gid`.
///
/// Blocking. A uid without a user entry (a container's arbitrary uid, say) keeps only the
/// process's own gid. The supplementary groups are the user's as the group database lists
/// them now, which may differ from the process's if they changed since it logged in; the
/// kernel does not pass a peer's supplementary groups through `SO_PEERCRED`.
pub fn lookup_peer(uid: u32, gid: u32) -> PeerIdentity {
    let mut groups = vec![gid];
    let user = match User::from_uid(Uid::from_raw(uid)) {
        Ok(user) => user,
        Err(error) => {
            tracing::warn!(uid, %error, "cannot look up the control socket peer's user");
            None
        }
    };
    let Some(user) = user else {
        return PeerIdentity {
            user_name: None,
            groups,
        };
    };
    groups.push(user.gid.as_raw());
    // A user name with a NUL byte cannot come from the user database; nothing to list then.
    if let Ok(name) = CString::new(user.name.as_str()) {
        match getgrouplist(&name, user.gid) {
            Ok(list) => groups.extend(list.into_iter().map(Gid::as_raw)),
            Err(error) => {
                tracing::warn!(uid, user = %user.name, %error, "cannot list the peer's groups");
            }
        }
    }
    groups.sort_unstable();
    groups.dedup();
    PeerIdentity {
        user_name: Some(user.name),
        groups,
    }
}

/// Looks up the gid of the group named `name`. Blocking.
pub fn group_id(name: &str) -> Result<Option<u32>, std::io::Error> {
    Group::from_name(name)
        .map(|group| group.map(|group| group.gid.as_raw()))
        .map_err(std::io::Error::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    const OWN: u32 = 990;
    const OPS: u32 = 1500;

    #[test]
    fn root_and_the_daemons_own_user_are_always_allowed() {
        assert!(authorized(0, &[0], OWN, None));
        assert!(authorized(OWN, &[OWN], OWN, None));
        assert!(authorized(0, &[], OWN, Some(OPS)));
        assert!(authorized(OWN, &[], OWN, Some(OPS)));
    }

    #[test]
    fn other_users_need_the_socket_group() {
        assert!(!authorized(1000, &[1000, OPS], OWN, None));
        assert!(!authorized(1000, &[1000, 27], OWN, Some(OPS)));
        assert!(!authorized(1000, &[], OWN, Some(OPS)));
        // Primary or supplementary: the list holds both.
        assert!(authorized(1000, &[OPS], OWN, Some(OPS)));
        assert!(authorized(1000, &[1000, 27, OPS], OWN, Some(OPS)));
    }

    #[test]
    fn the_daemons_group_alone_does_not_admit_anyone() {
        // Sharing the daemon's primary gid is not membership of `socket_group`.
        assert!(!authorized(1000, &[OWN], OWN, None));
    }

    #[test]
    fn the_current_user_is_found_with_its_groups() {
        let uid = own_uid();
        let gid = nix::unistd::getgid().as_raw();
        let identity = lookup_peer(uid, gid);
        assert!(identity.groups.contains(&gid));
        // The test environment may run under a uid with no user entry; only check the name
        // when there is one.
        if let Ok(Some(user)) = User::from_uid(Uid::from_raw(uid)) {
            assert_eq!(identity.user_name.as_deref(), Some(user.name.as_str()));
            assert!(identity.groups.contains(&user.gid.as_raw()));
        }
    }

    #[test]
    fn an_unknown_group_is_none() {
        assert_eq!(group_id("pauseplay-no-such-group-x").unwrap(), None);
    }
}
