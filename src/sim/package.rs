//! Reading and checking a Metadata API deploy zip (reference §5.4): `package.xml` at the
//! root, `triggers/NAME.trigger` and `triggers/NAME.trigger-meta.xml` per `ApexTrigger`
//! member.
//!
//! [`check`] never touches the org: it returns either the changes to apply or the list of
//! component failures, so the caller can apply all or nothing (`rollbackOnError`). Every
//! size is bounded before anything is read, because the zip is request data.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::model::Org;
use super::scenario::TriggerStatus;

/// At most this many files in the zip (reference §5.4.2).
pub const MAX_FILES: usize = 10_000;
/// At most 39 MB compressed (reference §5.4.2; MB read as 10^6 bytes [INFERRED]).
pub const MAX_ZIP_BYTES: usize = 39_000_000;
/// At most 600 MB uncompressed (reference §5.4.2). Only the files the sim reads count.
pub const MAX_UNZIPPED_BYTES: u64 = 600_000_000;
/// At most this many bytes per file read [INFERRED]: Apex source is limited to 1,000,000
/// characters (at most 4 bytes each in UTF-8), and manifests are far smaller. Without it one
/// deflate bomb could make the sim hold the whole 600 MB budget.
pub const MAX_FILE_BYTES: u64 = 4_000_000;
/// Deepest XML nesting accepted in package.xml and -meta.xml [INFERRED]: both are two
/// levels deep, so anything deeper is not a manifest and only costs memory.
const MAX_XML_DEPTH: usize = 16;

/// One problem, reported as a `componentFailures` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub component_type: String,
    pub full_name: String,
    pub file_name: String,
    pub problem: String,
}

impl Problem {
    fn new(component_type: &str, full_name: &str, file_name: &str, problem: String) -> Self {
        Problem {
            component_type: component_type.to_owned(),
            full_name: full_name.to_owned(),
            file_name: file_name.to_owned(),
            problem,
        }
    }

    fn package(problem: impl Into<String>) -> Self {
        Problem::new("", "package.xml", "package.xml", problem.into())
    }
}

/// One trigger to change, read from the zip.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerChange {
    /// The member name as listed (the trigger's full name).
    pub full_name: String,
    pub id: String,
    pub body: String,
    pub api_version: f64,
    pub status: TriggerStatus,
}

/// The outcome of checking a package.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    Ok(Vec<TriggerChange>),
    Failed(Vec<Problem>),
}

/// A parsed XML element: local name, text content and children. Namespaces are ignored:
/// elements are matched by local name.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Parses a whole XML document into its root element.
fn parse_xml(bytes: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|err| err.to_string())?;
        match event {
            Event::Start(start) | Event::Empty(start)
                if root.is_some() || stack.len() >= MAX_XML_DEPTH =>
            {
                return Err(format!(
                    "unexpected element <{}>",
                    start.local_name().as_ref()
                ));
            }
            Event::Start(start) => stack.push(Element {
                name: start.local_name().as_ref().to_owned(),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let element = Element {
                    name: start.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start tags.
                let element = stack.pop().ok_or("unbalanced end tag")?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(text) => match stack.last_mut() {
                Some(top) => top.text.push_str(&text.xml10_content()),
                None if text.trim().is_empty() => {}
                None => return Err("text outside the root element".to_owned()),
            },
            Event::CData(data) => match stack.last_mut() {
                Some(top) => top.text.push_str(&data),
                None => return Err("CDATA outside the root element".to_owned()),
            },
            Event::GeneralRef(reference) => {
                let top = stack
                    .last_mut()
                    .ok_or("reference outside the root element")?;
                let resolved = match reference.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(ch) => ch,
                    None => match &*reference {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                top.text.push(resolved);
            }
            // Entities declared in a DTD are not expanded, so a DOCTYPE could only hide
            // something; manifests never carry one. [INFERRED]
            Event::DocType(_) => return Err("DOCTYPE is not allowed".to_owned()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("unexpected end of document".to_owned());
    }
    root.ok_or_else(|| "no root element".to_owned())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// The members of `package.xml`, by type name, in file order.
fn manifest(bytes: &[u8]) -> Result<Vec<(String, Vec<String>)>, String> {
    let root = parse_xml(bytes)?;
    if root.name != "Package" {
        return Err(format!(
            "the root element is <{}>, not <Package>",
            root.name
        ));
    }
    let mut types = Vec::new();
    for entry in root.children.iter().filter(|c| c.name == "types") {
        let name = entry
            .child("name")
            .map(|n| n.text.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or("a <types> element has no <name>")?;
        let members = entry
            .children
            .iter()
            .filter(|c| c.name == "members")
            .map(|m| m.text.trim().to_owned())
            .collect();
        types.push((name, members));
    }
    Ok(types)
}

/// `apiVersion` and `status` of a trigger's `-meta.xml`.
fn trigger_meta(bytes: &[u8]) -> Result<(f64, TriggerStatus), String> {
    let root = parse_xml(bytes)?;
    if root.name != "ApexTrigger" {
        return Err(format!(
            "the root element is <{}>, not <ApexTrigger>",
            root.name
        ));
    }
    let version = root
        .child("apiVersion")
        .ok_or("<apiVersion> is missing")?
        .text
        .trim()
        .to_owned();
    let api_version = version
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("invalid apiVersion `{version}`"))?;
    let status = match root
        .child("status")
        .ok_or("<status> is missing")?
        .text
        .trim()
    {
        "Active" => TriggerStatus::Active,
        "Inactive" => TriggerStatus::Inactive,
        "Deleted" => TriggerStatus::Deleted,
        other => {
            return Err(format!(
                "invalid status `{other}`: expected Active, Inactive or Deleted"
            ));
        }
    };
    Ok((api_version, status))
}

/// The zip's file names (paths relative to the package root) and where to read them.
struct Archive {
    zip: zip::ZipArchive<Cursor<Vec<u8>>>,
    /// Package-relative name → index in the zip.
    files: BTreeMap<String, usize>,
    /// Uncompressed bytes still allowed.
    budget: u64,
}

impl Archive {
    fn open(bytes: Vec<u8>, single_package: bool) -> Result<Archive, String> {
        if bytes.len() > MAX_ZIP_BYTES {
            return Err(format!(
                "The zip file is larger than the limit of {MAX_ZIP_BYTES} bytes"
            ));
        }
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|err| format!("The zip file could not be read: {err}"))?;
        if zip.len() > MAX_FILES {
            return Err(format!(
                "The zip file has {} files; the limit is {MAX_FILES}",
                zip.len()
            ));
        }
        let mut files = BTreeMap::new();
        let mut roots = BTreeSet::new();
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|err| format!("The zip file could not be read: {err}"))?;
            if entry.is_dir() {
                continue;
            }
            let name = entry
                .name()
                .map_err(|err| format!("The zip file could not be read: {err}"))?
                .into_owned();
            files.insert(name, index);
        }
        // With singlePackage=false the files sit in one parent folder (CumulusCI uses
        // `metadata/`), which is stripped. [INFERRED] a zip with several parent folders is
        // refused: the sim deploys one package.
        if !single_package {
            let mut stripped = BTreeMap::new();
            for (name, index) in files {
                let Some((root, rest)) = name.split_once('/') else {
                    return Err(format!(
                        "{name} is at the zip root, but singlePackage is false"
                    ));
                };
                roots.insert(root.to_owned());
                stripped.insert(rest.to_owned(), index);
            }
            if roots.len() > 1 {
                return Err("The zip file holds more than one package folder".to_owned());
            }
            files = stripped;
        }
        Ok(Archive {
            zip,
            files,
            budget: MAX_UNZIPPED_BYTES,
        })
    }

    /// Reads one file, counting it against the uncompressed budget (the declared size is
    /// not trusted: reading stops at the per-file cap or the budget, whichever is lower).
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(&index) = self.files.get(name) else {
            return Ok(None);
        };
        let entry = self
            .zip
            .by_index(index)
            .map_err(|err| format!("{name} could not be read: {err}"))?;
        let mut bytes = Vec::new();
        let cap = self.budget.min(MAX_FILE_BYTES);
        entry
            .take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|err| format!("{name} could not be read: {err}"))?;
        let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if read > MAX_FILE_BYTES {
            return Err(format!(
                "{name} is larger than the limit of {MAX_FILE_BYTES} bytes per file"
            ));
        }
        if read > self.budget {
            return Err(format!(
                "The unzipped package is larger than the limit of {MAX_UNZIPPED_BYTES} bytes"
            ));
        }
        self.budget -= read;
        Ok(Some(bytes))
    }
}

/// Checks a deploy zip against the org and returns the `ApexTrigger` members package.xml
/// lists (empty without a readable package.xml) with the trigger changes, or every problem
/// found. Problem texts follow Salesforce's where one is known (`No package.xml found`,
/// reference §5.4.1); the others are [INFERRED].
pub fn check(org: &Org, zip_bytes: Vec<u8>, single_package: bool) -> (Vec<String>, Checked) {
    let mut members = Vec::new();
    let checked = check_into(org, zip_bytes, single_package, &mut members);
    (members, checked)
}

fn check_into(
    org: &Org,
    zip_bytes: Vec<u8>,
    single_package: bool,
    members: &mut Vec<String>,
) -> Checked {
    let mut archive = match Archive::open(zip_bytes, single_package) {
        Ok(archive) => archive,
        Err(problem) => return Checked::Failed(vec![Problem::package(problem)]),
    };
    let manifest_bytes = match archive.read("package.xml") {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Checked::Failed(vec![Problem::package("No package.xml found")]),
        Err(problem) => return Checked::Failed(vec![Problem::package(problem)]),
    };
    let types = match manifest(&manifest_bytes) {
        Ok(types) => types,
        Err(err) => {
            return Checked::Failed(vec![Problem::package(format!("Error parsing file: {err}"))]);
        }
    };
    let mut problems = Vec::new();
    for (type_name, type_members) in types {
        if type_name != "ApexTrigger" {
            // [INFERRED] the sim models triggers only; anything else would be a silent no-op.
            problems.push(Problem::package(format!(
                "Unsupported metadata type in this simulated org: {type_name}"
            )));
            continue;
        }
        for member in type_members {
            if member == "*" || member.is_empty() {
                problems.push(Problem::package(format!(
                    "Invalid ApexTrigger member `{member}`: name each trigger"
                )));
            } else if !members.contains(&member) {
                members.push(member);
            }
        }
    }
    // Files in the zip that no member accounts for.
    let listed: BTreeSet<String> = members
        .iter()
        .flat_map(|m| {
            [
                format!("triggers/{m}.trigger"),
                format!("triggers/{m}.trigger-meta.xml"),
            ]
        })
        .chain(std::iter::once("package.xml".to_owned()))
        .collect();
    for name in archive.files.keys() {
        if listed.contains(name) {
            continue;
        }
        let trigger = name
            .strip_prefix("triggers/")
            .and_then(|n| {
                n.strip_suffix(".trigger-meta.xml")
                    .or_else(|| n.strip_suffix(".trigger"))
            })
            .filter(|n| !n.contains('/'));
        problems.push(match trigger {
            Some(member) => Problem::new(
                "ApexTrigger",
                member,
                name,
                format!(
                    "An object '{member}' of type ApexTrigger was found in the zip file but not named in package.xml"
                ),
            ),
            None => Problem::new("", name, name, format!("Unexpected file in the zip: {name}")),
        });
    }
    let mut changes = Vec::new();
    for member in members.iter() {
        match member_change(org, &mut archive, member) {
            Ok(change) => changes.push(change),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Checked::Ok(changes)
    } else {
        Checked::Failed(problems)
    }
}

/// Reads and checks one `ApexTrigger` member.
fn member_change(
    org: &Org,
    archive: &mut Archive,
    member: &str,
) -> Result<TriggerChange, Vec<Problem>> {
    let body_name = format!("triggers/{member}.trigger");
    let meta_name = format!("{body_name}-meta.xml");
    let problem = |file: &str, text: String| Problem::new("ApexTrigger", member, file, text);
    let missing = |file: &str| {
        problem(
            file,
            format!(
                "An object '{member}' of type ApexTrigger was named in package.xml, but was not found in zipped directory ({file})"
            ),
        )
    };
    let body = archive
        .read(&body_name)
        .map_err(|err| vec![problem(&body_name, err)])?;
    let meta = archive
        .read(&meta_name)
        .map_err(|err| vec![problem(&meta_name, err)])?;
    let (body, meta) = match (body, meta) {
        (Some(body), Some(meta)) => (body, meta),
        (body, meta) => {
            let mut problems = Vec::new();
            if body.is_none() {
                problems.push(missing(&body_name));
            }
            if meta.is_none() {
                problems.push(missing(&meta_name));
            }
            return Err(problems);
        }
    };
    let mut problems = Vec::new();
    let trigger = org.triggers.iter().find(|t| t.full_name() == member);
    match trigger {
        None => problems.push(problem(
            &body_name,
            format!(
                "No ApexTrigger named {member} exists in this org; the simulated org does not create triggers"
            ),
        )),
        Some(t) if t.manageable_state == "installed" => problems.push(problem(
            &body_name,
            format!("Cannot modify managed object: entity=ApexTrigger, component={member}"),
        )),
        Some(_) => {}
    }
    let body = String::from_utf8(body);
    if body.is_err() {
        problems.push(problem(
            &body_name,
            "The trigger body is not UTF-8".to_owned(),
        ));
    }
    let meta = trigger_meta(&meta);
    if let Err(err) = &meta {
        problems.push(problem(&meta_name, format!("Error parsing file: {err}")));
    }
    match (trigger, body, meta) {
        (Some(trigger), Ok(body), Ok((api_version, status))) if problems.is_empty() => {
            Ok(TriggerChange {
                full_name: member.to_owned(),
                id: trigger.id.clone(),
                body,
                api_version,
                status,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn parses_manifest_with_namespace_and_entities() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
  <types><members>A&amp;B</members><members>C</members><name>ApexTrigger</name></types>
  <version>66.0</version>
</Package>"#;
        let types = manifest(xml).unwrap();
        assert_eq!(
            types,
            vec![(
                "ApexTrigger".to_owned(),
                vec!["A&B".to_owned(), "C".to_owned()]
            )]
        );
    }

    #[test]
    fn rejects_malformed_xml() {
        assert!(parse_xml(b"<Package><types></Package>").is_err());
        assert!(parse_xml(b"<a/><b/>").is_err());
        assert!(parse_xml(b"").is_err());
        assert!(parse_xml(b"<!DOCTYPE x><a/>").is_err());
        assert!(trigger_meta(b"<ApexTrigger><apiVersion>66.0</apiVersion></ApexTrigger>").is_err());
        assert!(
            trigger_meta(
                b"<ApexTrigger><apiVersion>66.0</apiVersion><status>Off</status></ApexTrigger>"
            )
            .is_err()
        );
        assert_eq!(
            trigger_meta(
                b"<ApexTrigger><apiVersion>61.0</apiVersion><status>Inactive</status></ApexTrigger>"
            )
            .unwrap(),
            (61.0, TriggerStatus::Inactive)
        );
    }

    #[test]
    fn a_deflate_bomb_is_cut_at_the_file_cap() {
        use std::io::Write;
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("package.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..8 {
            writer.write_all(&zeros).unwrap();
        }
        let bytes = writer.finish().unwrap().into_inner();
        assert!(bytes.len() < 100_000, "compressed to {}", bytes.len());
        let mut archive = Archive::open(bytes, true).unwrap();
        let err = archive.read("package.xml").unwrap_err();
        assert!(err.contains("per file"), "{err}");
    }
}
