//! What the app's Run As user must be allowed to do: the user permissions each kind of
//! automation needs before pauseplay can pause and restore it, and the reading of the user's
//! effective permissions from `UserPermissionAccess` (one row, one boolean per permission,
//! whatever profile, permission set or group granted it).
//!
//! Salesforce documents some of these needs and not others; each [`Need`] says why it is
//! there, and `docs/connect-an-org.md` gives the same reasons to the admin. The list errs on
//! the side of asking: a preflight that passes and a pause that then fails at 3 a.m. is worse
//! than one more permission in a permission set.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Kind;
use crate::salesforce::{OrgClient, SfError};

/// A user permission the preflight reads, by its Setup label and its API name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    ApiEnabled,
    ApiUserOnly,
    ViewSetup,
    CustomizeApplication,
    ModifyMetadata,
    ModifyAllData,
    ManageFlow,
    AuthorApex,
}

impl Permission {
    /// Every permission read, in the order the report lists them.
    pub const ALL: [Permission; 8] = [
        Permission::ApiEnabled,
        Permission::ApiUserOnly,
        Permission::ViewSetup,
        Permission::CustomizeApplication,
        Permission::ModifyMetadata,
        Permission::ModifyAllData,
        Permission::ManageFlow,
        Permission::AuthorApex,
    ];

    /// The API name, as in `UserPermissionAccess.Permissions<name>` and in permission set
    /// metadata.
    pub fn api_name(self) -> &'static str {
        match self {
            Permission::ApiEnabled => "ApiEnabled",
            Permission::ApiUserOnly => "ApiUserOnly",
            Permission::ViewSetup => "ViewSetup",
            Permission::CustomizeApplication => "CustomizeApplication",
            Permission::ModifyMetadata => "ModifyMetadata",
            Permission::ModifyAllData => "ModifyAllData",
            Permission::ManageFlow => "ManageInteraction",
            Permission::AuthorApex => "AuthorApex",
        }
    }

    /// The name an admin sees in Setup, on a permission set's System Permissions page.
    pub fn label(self) -> &'static str {
        match self {
            Permission::ApiEnabled => "API Enabled",
            Permission::ApiUserOnly => "API Only User",
            Permission::ViewSetup => "View Setup and Configuration",
            Permission::CustomizeApplication => "Customize Application",
            Permission::ModifyMetadata => "Modify Metadata Through Metadata API Functions",
            Permission::ModifyAllData => "Modify All Data",
            Permission::ManageFlow => "Manage Flow",
            Permission::AuthorApex => "Author Apex",
        }
    }

    fn field(self) -> String {
        format!("Permissions{}", self.api_name())
    }
}

/// One thing a kind needs: any one of `any_of`, for the reason given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub any_of: &'static [Permission],
    pub why: &'static str,
}

impl Need {
    /// `Modify Metadata Through Metadata API Functions (or Modify All Data)`.
    pub fn describe(&self) -> String {
        let mut labels = self.any_of.iter().map(|p| p.label());
        let first = labels.next().unwrap_or_default();
        let rest: Vec<&str> = labels.collect();
        if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first} (or {})", rest.join(" or "))
        }
    }
}

const API: Need = Need {
    any_of: &[Permission::ApiEnabled],
    why: "every read and write pauseplay makes is a REST, Tooling or Metadata API call",
};
const VIEW_SETUP: Need = Need {
    any_of: &[Permission::ViewSetup],
    why: "discovery reads setup records (flow definitions, rules, triggers) and the daily API \
          limit (/limits)",
};
const CUSTOMIZE: Need = Need {
    any_of: &[Permission::CustomizeApplication],
    why: "Salesforce asks for it to create, update or delete any metadata record, and pausing \
          updates one",
};
const MODIFY_METADATA: Need = Need {
    any_of: &[Permission::ModifyMetadata, Permission::ModifyAllData],
    why: "the switch is written as metadata (a Tooling `Metadata` update or a Metadata API \
          deploy), which needs one of these; Modify All Data also opens every record, so \
          prefer the first",
};
const MANAGE_FLOW: Need = Need {
    any_of: &[Permission::ManageFlow],
    why: "activating and deactivating flows and Process Builder processes is what Manage Flow \
          allows",
};
const AUTHOR_APEX: Need = Need {
    any_of: &[Permission::AuthorApex],
    why: "a trigger is switched by deploying its source with a new status, and deploying Apex \
          needs Author Apex",
};

/// What the Run As user needs before pauseplay can pause and restore `kind`.
pub fn needs(kind: Kind) -> Vec<Need> {
    let mut needs = vec![API, VIEW_SETUP, CUSTOMIZE, MODIFY_METADATA];
    match kind {
        Kind::Flow | Kind::ProcessBuilder => needs.push(MANAGE_FLOW),
        Kind::Trigger => needs.push(AUTHOR_APEX),
        Kind::ValidationRule | Kind::WorkflowRule => {}
    }
    needs
}

/// The Run As user's effective permissions, as `UserPermissionAccess` answered them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Granted(BTreeMap<Permission, bool>);

impl Granted {
    /// `permissions` granted, every other one not.
    pub fn of(permissions: &[Permission]) -> Granted {
        Granted(
            Permission::ALL
                .iter()
                .map(|p| (*p, permissions.contains(p)))
                .collect(),
        )
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.0.get(&permission).copied().unwrap_or(false)
    }

    /// The needs of `kind` this user does not meet, in the order [`needs`] lists them.
    pub fn missing(&self, kind: Kind) -> Vec<Need> {
        needs(kind)
            .into_iter()
            .filter(|need| !need.any_of.iter().any(|p| self.has(*p)))
            .collect()
    }
}

/// Reads the token's user's effective permissions (one standard query).
pub async fn read_permissions(client: &OrgClient) -> Result<Granted, SfError> {
    let fields: Vec<String> = Permission::ALL.iter().map(|p| p.field()).collect();
    let soql = format!("SELECT {} FROM UserPermissionAccess", fields.join(", "));
    let row: Map<String, Value> = client.query_one(&soql, "UserPermissionAccess").await?;
    // Tolerant: a permission that is absent or null is not granted.
    Ok(Granted(
        Permission::ALL
            .iter()
            .map(|p| {
                (
                    *p,
                    row.get(&p.field()).and_then(Value::as_bool) == Some(true),
                )
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permission set the guide tells an admin to create.
    const GUIDE: &[Permission] = &[
        Permission::ApiEnabled,
        Permission::ApiUserOnly,
        Permission::ViewSetup,
        Permission::CustomizeApplication,
        Permission::ModifyMetadata,
        Permission::ManageFlow,
        Permission::AuthorApex,
    ];

    #[test]
    fn the_guides_permission_set_opens_every_kind() {
        let granted = Granted::of(GUIDE);
        for kind in Kind::ALL {
            assert!(granted.missing(kind).is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn each_kind_names_what_it_lacks() {
        let without = |gone: Permission| {
            let rest: Vec<Permission> = GUIDE.iter().copied().filter(|p| *p != gone).collect();
            Granted::of(&rest)
        };
        let granted = without(Permission::AuthorApex);
        assert_eq!(granted.missing(Kind::Trigger), vec![AUTHOR_APEX]);
        assert!(granted.missing(Kind::Flow).is_empty());

        let granted = without(Permission::ManageFlow);
        assert_eq!(granted.missing(Kind::Flow), vec![MANAGE_FLOW]);
        assert_eq!(granted.missing(Kind::ProcessBuilder), vec![MANAGE_FLOW]);
        assert!(granted.missing(Kind::ValidationRule).is_empty());

        // Without API access nothing works, whatever else the user holds.
        let granted = without(Permission::ApiEnabled);
        for kind in Kind::ALL {
            assert_eq!(granted.missing(kind)[0], API, "{kind:?}");
        }
    }

    #[test]
    fn modify_all_data_stands_in_for_modify_metadata() {
        let mut with_mad: Vec<Permission> = GUIDE
            .iter()
            .copied()
            .filter(|p| *p != Permission::ModifyMetadata)
            .collect();
        assert_eq!(
            Granted::of(&with_mad).missing(Kind::WorkflowRule),
            vec![MODIFY_METADATA]
        );
        with_mad.push(Permission::ModifyAllData);
        assert!(
            Granted::of(&with_mad)
                .missing(Kind::WorkflowRule)
                .is_empty()
        );
        assert_eq!(
            MODIFY_METADATA.describe(),
            "Modify Metadata Through Metadata API Functions (or Modify All Data)"
        );
        assert_eq!(AUTHOR_APEX.describe(), "Author Apex");
    }
}
