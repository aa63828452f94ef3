//! The sObject types the simulated org serves, as SOQL schemas.
//!
//! Field lists follow `reference/salesforce-api.md` (§3–§5, §7.4). Each type exists once
//! here; the query catalogs and the Tooling sobjects endpoint both read these lists, so a
//! field the sim does not know is refused the same way on every endpoint. `FullName` and
//! `Metadata` are listed among the fields *and* in `single_row_fields`, as the SOQL engine
//! expects.

use super::soql::ObjectSchema;

pub const ORGANIZATION: ObjectSchema = ObjectSchema {
    name: "Organization",
    fields: &[
        "Id",
        "Name",
        "IsSandbox",
        "OrganizationType",
        "InstanceName",
        "NamespacePrefix",
        "TrialExpirationDate",
    ],
    relationships: &[],
    single_row_fields: &[],
};

pub const USER: ObjectSchema = ObjectSchema {
    name: "User",
    fields: &["Id", "Username", "Name", "Email", "IsActive"],
    relationships: &[],
    single_row_fields: &[],
};

/// The current user's effective permissions: always one row, one boolean per permission.
/// Salesforce has hundreds of `Permissions…` fields; the sim knows the ones pauseplay's
/// preflight reads and a few neighbours, and refuses any other with `INVALID_FIELD`, as an org
/// refuses a permission it does not have. `Id` is queryable (Jetstream selects it) but its
/// value is not documented; the sim answers the empty id.
pub const USER_PERMISSION_ACCESS: ObjectSchema = ObjectSchema {
    name: "UserPermissionAccess",
    fields: &[
        "Id",
        "PermissionsApiEnabled",
        "PermissionsApiUserOnly",
        "PermissionsAuthorApex",
        "PermissionsCustomizeApplication",
        "PermissionsManageInteraction",
        "PermissionsModifyAllData",
        "PermissionsModifyMetadata",
        "PermissionsViewAllData",
        "PermissionsViewSetup",
    ],
    relationships: &[],
    single_row_fields: &[],
};

/// The user permissions a scenario may grant: the API names of `UserPermissionAccess`'s
/// `Permissions…` fields, without the prefix.
pub fn user_permissions() -> impl Iterator<Item = &'static str> {
    USER_PERMISSION_ACCESS
        .fields
        .iter()
        .filter_map(|field| field.strip_prefix("Permissions"))
}

/// Standard object (query on `/query`, not Tooling). `Id` is not the FlowDefinition id;
/// `DurableId` is.
pub const FLOW_DEFINITION_VIEW: ObjectSchema = ObjectSchema {
    name: "FlowDefinitionView",
    fields: &[
        "Id",
        "DurableId",
        "ApiName",
        "Label",
        "ProcessType",
        "TriggerType",
        "RecordTriggerType",
        "TriggerObjectOrEventId",
        "TriggerObjectOrEventLabel",
        "IsActive",
        "ActiveVersionId",
        "LatestVersionId",
        "NamespacePrefix",
        "ManageableState",
        "IsTemplate",
        "IsOutOfDate",
        "VersionNumber",
        "Description",
        "InstalledPackageName",
        "LastModifiedBy",
        "LastModifiedDate",
        "ApiVersion",
        "Builder",
    ],
    relationships: &[("TriggerObjectOrEvent", "EntityDefinition")],
    single_row_fields: &[],
};

/// Visible on both endpoints, as in Salesforce; the target of the `EntityDefinition` and
/// `TriggerObjectOrEvent` relationships.
pub const ENTITY_DEFINITION: ObjectSchema = ObjectSchema {
    name: "EntityDefinition",
    fields: &["DurableId", "QualifiedApiName", "Label", "NamespacePrefix"],
    relationships: &[],
    single_row_fields: &[],
};

pub const FLOW_DEFINITION: ObjectSchema = ObjectSchema {
    name: "FlowDefinition",
    fields: &[
        "Id",
        "DeveloperName",
        "MasterLabel",
        "Description",
        "NamespacePrefix",
        "ManageableState",
        "ActiveVersionId",
        "LatestVersionId",
        "FullName",
        "Metadata",
    ],
    relationships: &[("ActiveVersion", "Flow"), ("LatestVersion", "Flow")],
    single_row_fields: &["FullName", "Metadata"],
};

pub const FLOW: ObjectSchema = ObjectSchema {
    name: "Flow",
    fields: &[
        "Id",
        "DefinitionId",
        "MasterLabel",
        "VersionNumber",
        "Status",
        "ProcessType",
        "ApiVersion",
        "Description",
        "RunInMode",
        "FullName",
        "Metadata",
    ],
    relationships: &[("Definition", "FlowDefinition")],
    single_row_fields: &["FullName", "Metadata"],
};

pub const VALIDATION_RULE: ObjectSchema = ObjectSchema {
    name: "ValidationRule",
    fields: &[
        "Id",
        "ValidationName",
        "Active",
        "Description",
        "EntityDefinitionId",
        "ErrorDisplayField",
        "ErrorMessage",
        "NamespacePrefix",
        "ManageableState",
        "FullName",
        "Metadata",
    ],
    relationships: &[("EntityDefinition", "EntityDefinition")],
    single_row_fields: &["FullName", "Metadata"],
};

/// No `Active` field and no `EntityDefinition` relationship: the active flag lives only in
/// `Metadata.active`.
pub const WORKFLOW_RULE: ObjectSchema = ObjectSchema {
    name: "WorkflowRule",
    fields: &[
        "Id",
        "Name",
        "TableEnumOrId",
        "NamespacePrefix",
        "CreatedDate",
        "LastModifiedDate",
        "FullName",
        "Metadata",
    ],
    relationships: &[],
    single_row_fields: &["FullName", "Metadata"],
};

pub const APEX_TRIGGER: ObjectSchema = ObjectSchema {
    name: "ApexTrigger",
    fields: &[
        "Id",
        "Name",
        "ApiVersion",
        "Body",
        "BodyCrc",
        "EntityDefinitionId",
        "TableEnumOrId",
        "Status",
        "NamespacePrefix",
        "ManageableState",
        "IsValid",
        "LengthWithoutComments",
        "UsageAfterDelete",
        "UsageAfterInsert",
        "UsageAfterUndelete",
        "UsageAfterUpdate",
        "UsageBeforeDelete",
        "UsageBeforeInsert",
        "UsageBeforeUpdate",
        "UsageIsBulk",
        "FullName",
        "Metadata",
    ],
    relationships: &[("EntityDefinition", "EntityDefinition")],
    single_row_fields: &["FullName", "Metadata"],
};

/// Objects of the standard `/query` endpoint.
pub const STANDARD: &[&ObjectSchema] = &[
    &ORGANIZATION,
    &USER,
    &USER_PERMISSION_ACCESS,
    &FLOW_DEFINITION_VIEW,
    &ENTITY_DEFINITION,
];

/// Objects of the `/tooling/query` endpoint.
pub const TOOLING: &[&ObjectSchema] = &[
    &FLOW_DEFINITION,
    &FLOW,
    &VALIDATION_RULE,
    &WORKFLOW_RULE,
    &APEX_TRIGGER,
    &ENTITY_DEFINITION,
];

/// Objects served by `GET/PATCH /tooling/sobjects/{Type}/{id}`.
pub const TOOLING_SOBJECTS: &[&ObjectSchema] = &[
    &FLOW_DEFINITION,
    &FLOW,
    &VALIDATION_RULE,
    &WORKFLOW_RULE,
    &APEX_TRIGGER,
];

/// Looks `name` up case-insensitively in `list`.
pub fn find<'a>(list: &[&'a ObjectSchema], name: &str) -> Option<&'a ObjectSchema> {
    list.iter()
        .copied()
        .find(|schema| schema.name.eq_ignore_ascii_case(name))
}

/// Every field a single-record GET returns (`FullName` and `Metadata` are among the fields;
/// `single_row_fields` marks them as restricted in multi-row queries).
pub fn record_fields(schema: &ObjectSchema) -> impl Iterator<Item = &'static str> {
    schema.fields.iter().copied()
}
