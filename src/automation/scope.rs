//! Which components of an org pauseplay may touch: the org's `kinds`, `objects`, `exclude`
//! and `include_managed`, and the order in which skip reasons are decided.

use std::collections::BTreeSet;

use super::{Decision, Kind, SkipReason};
use crate::config::{ExcludePattern, OrgConfig};

/// The part of an org's configuration that decides what is in scope.
#[derive(Debug, Clone)]
pub struct Scope {
    pub kinds: BTreeSet<Kind>,
    /// Lower-cased object API names; `None` means every object. Salesforce API names are
    /// case-insensitive, so comparisons are too.
    objects: Option<BTreeSet<String>>,
    pub exclude: Vec<ExcludePattern>,
    pub include_managed: bool,
}

/// The facts about one component that decide whether it is paused, gathered by the kind's
/// discovery before the shared rules run.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub kind: Kind,
    pub api_name: &'a str,
    pub object: Option<&'a str>,
    pub managed: bool,
    /// `None` when not known yet (workflow rules before their `Metadata` is read).
    pub active: Option<bool>,
}

impl Scope {
    pub fn from_org(org: &OrgConfig) -> Scope {
        Scope::new(
            org.kinds.clone(),
            org.objects
                .as_ref()
                .map(|objects| objects.iter().cloned().collect()),
            org.exclude.clone(),
            org.include_managed,
        )
    }

    pub fn new(
        kinds: BTreeSet<Kind>,
        objects: Option<Vec<String>>,
        exclude: Vec<ExcludePattern>,
        include_managed: bool,
    ) -> Scope {
        Scope {
            kinds,
            objects: objects
                .map(|objects| objects.iter().map(|object| object.to_lowercase()).collect()),
            exclude,
            include_managed,
        }
    }

    pub fn includes_kind(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn object_in_scope(&self, object: Option<&str>) -> bool {
        match (&self.objects, object) {
            (None, _) => true,
            (Some(objects), Some(object)) => objects.contains(&object.to_lowercase()),
            // With an objects list, a component tied to no object (a scheduled flow without
            // one) is outside it: the list is what the operator asked to pause.
            (Some(_), None) => false,
        }
    }

    /// Applies the shared rules in a fixed order: managed package, exclusion, object scope,
    /// activation. The order makes the reason stable: a component that is both excluded and
    /// inactive is reported as excluded, which is what the operator configured.
    pub fn decide(&self, candidate: Candidate<'_>) -> Decision {
        self.decide_inner(candidate, true)
    }

    /// [`Scope::decide`] for a component whose object is not known yet (a Process Builder
    /// before its metadata is read): every rule but the object one. A `Pause` from here is
    /// provisional until the object is known.
    pub fn decide_before_object(&self, candidate: Candidate<'_>) -> Decision {
        self.decide_inner(candidate, false)
    }

    fn decide_inner(&self, candidate: Candidate<'_>, check_object: bool) -> Decision {
        if candidate.managed && !self.include_managed {
            return Decision::Skip(SkipReason::ManagedPackage);
        }
        if let Some(pattern) = self
            .exclude
            .iter()
            .find(|pattern| pattern.matches(candidate.kind, candidate.api_name))
        {
            return Decision::Skip(SkipReason::Excluded(pattern.to_string()));
        }
        if check_object && !self.object_in_scope(candidate.object) {
            return Decision::Skip(SkipReason::ObjectNotInScope);
        }
        match candidate.active {
            Some(false) => Decision::Skip(SkipReason::AlreadyInactive),
            // An unknown state is decided by the caller once it has been read; until then the
            // component is a pause candidate.
            Some(true) | None => Decision::Pause,
        }
    }
}

/// Whether a component belongs to a managed package installed in the org. Components in the
/// org's own namespace (a packaging org) and the editable states are the org's own.
pub fn is_managed(
    namespace: Option<&str>,
    manageable_state: Option<&str>,
    org_namespace: Option<&str>,
) -> bool {
    let Some(namespace) = namespace.filter(|ns| !ns.is_empty()) else {
        return false;
    };
    if org_namespace.is_some_and(|own| own.eq_ignore_ascii_case(namespace)) {
        return false;
    }
    !matches!(
        manageable_state,
        Some("unmanaged" | "deprecatedEditable" | "installedEditable")
    )
}

/// The namespaced name of a component, `ns__Name`, as in its `FullName`. Some list fields
/// (`ValidationName`, `Name`) carry the bare name and others (`ApiName`) the namespaced one;
/// names already prefixed are left as they are. Two packages may ship rules of the same bare
/// name, so the namespaced form is the one `exclude` patterns and reports use.
pub fn namespaced(namespace: Option<&str>, name: &str) -> String {
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns)
            if !name
                .to_ascii_lowercase()
                .starts_with(&format!("{}__", ns.to_ascii_lowercase())) =>
        {
            format!("{ns}__{name}")
        }
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(objects: Option<&[&str]>, exclude: &[&str], include_managed: bool) -> Scope {
        Scope::new(
            Kind::ALL.into_iter().collect(),
            objects.map(|objects| objects.iter().map(|o| (*o).to_owned()).collect()),
            exclude
                .iter()
                .map(|text| text.parse().expect("valid pattern"))
                .collect(),
            include_managed,
        )
    }

    fn candidate<'a>(api_name: &'a str, object: Option<&'a str>) -> Candidate<'a> {
        Candidate {
            kind: Kind::ValidationRule,
            api_name,
            object,
            managed: false,
            active: Some(true),
        }
    }

    #[test]
    fn objects_match_case_insensitively_and_objectless_components_are_out_of_a_list() {
        let scope = scope(Some(&["Account"]), &[], false);
        assert!(scope.object_in_scope(Some("account")));
        assert!(!scope.object_in_scope(Some("Contact")));
        assert!(!scope.object_in_scope(None));
        let everything = self::scope(None, &[], false);
        assert!(everything.object_in_scope(None));
    }

    #[test]
    fn reasons_are_decided_in_a_fixed_order() {
        let scope = scope(
            Some(&["Account"]),
            &["validation_rule:Account.Keep_*"],
            false,
        );
        let managed = Candidate {
            managed: true,
            active: Some(false),
            ..candidate("Account.Keep_Phone", Some("Contact"))
        };
        assert_eq!(
            scope.decide(managed),
            Decision::Skip(SkipReason::ManagedPackage)
        );
        let excluded = Candidate {
            active: Some(false),
            ..candidate("Account.Keep_Phone", Some("Contact"))
        };
        assert_eq!(
            scope.decide(excluded),
            Decision::Skip(SkipReason::Excluded(
                "validation_rule:Account.Keep_*".to_owned()
            ))
        );
        let out_of_scope = Candidate {
            active: Some(false),
            ..candidate("Contact.Rule", Some("Contact"))
        };
        assert_eq!(
            scope.decide(out_of_scope),
            Decision::Skip(SkipReason::ObjectNotInScope)
        );
        let inactive = Candidate {
            active: Some(false),
            ..candidate("Account.Rule", Some("Account"))
        };
        assert_eq!(
            scope.decide(inactive),
            Decision::Skip(SkipReason::AlreadyInactive)
        );
        assert_eq!(
            scope.decide(candidate("Account.Rule", Some("Account"))),
            Decision::Pause
        );
    }

    #[test]
    fn include_managed_lets_managed_components_through() {
        let scope = scope(None, &[], true);
        let managed = Candidate {
            managed: true,
            ..candidate("ns__Rule", Some("Account"))
        };
        assert_eq!(scope.decide(managed), Decision::Pause);
    }

    #[test]
    fn namespaced_names_are_prefixed_once() {
        assert_eq!(namespaced(None, "Rule"), "Rule");
        assert_eq!(namespaced(Some("acme"), "Rule"), "acme__Rule");
        assert_eq!(namespaced(Some("acme"), "ACME__Rule"), "ACME__Rule");
        assert_eq!(namespaced(Some(""), "Rule"), "Rule");
    }

    #[test]
    fn managed_means_installed_from_another_namespace() {
        assert!(!is_managed(None, Some("unmanaged"), None));
        assert!(is_managed(Some("acme"), Some("installed"), None));
        assert!(is_managed(Some("acme"), None, None));
        assert!(!is_managed(Some("acme"), Some("installedEditable"), None));
        assert!(!is_managed(Some("acme"), Some("released"), Some("ACME")));
        assert!(!is_managed(Some(""), Some("installed"), None));
    }
}
