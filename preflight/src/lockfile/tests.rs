use std::path::Path;

use super::*;

fn pins(file: &str, text: &str) -> Vec<(String, String)> {
    Lockfile::parse(Path::new(file), text)
        .unwrap()
        .packages
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect()
}

fn pin(name: &str, version: &str) -> (String, String) {
    (name.to_owned(), version.to_owned())
}

fn error(file: &str, text: &str) -> String {
    Lockfile::parse(Path::new(file), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_file_name_says_the_format() {
    assert_eq!(
        Format::from_file_name("requirements-dev.txt"),
        Some(Format::Requirements)
    );
    assert_eq!(Format::from_file_name("yarn.lock"), None);
    assert!(error("yarn.lock", "").contains("unknown lockfile kind"));
}

#[test]
fn requirements_lines_with_hashes_markers_and_comments() {
    let text = "\
--index-url https://pypi.org/simple
# a comment
Django[argon2]==3.1.1 ; python_version >= \"3.6\" \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
zope.interface===5.2.0  # why not
";
    assert_eq!(
        pins("requirements.txt", text),
        vec![pin("Django", "3.1.1"), pin("zope.interface", "5.2.0")]
    );
}

#[test]
fn unpinned_requirements_are_refused_with_their_line() {
    assert!(error("requirements.txt", "a==1\nrequests>=2.0\n").contains("line 2"));
    assert!(error("requirements.txt", "-e ./local\n").contains("not a pinned requirement"));
    assert!(error("requirements.txt", "a==1.*\n").contains("not pinned to one version"));
}

#[test]
fn package_lock_v1_is_refused() {
    let v1 = r#"{"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0"}}}"#;
    assert!(error("package-lock.json", v1).contains("lockfileVersion 1"));
}

#[test]
fn package_lock_entries_without_a_version_are_refused() {
    let text = r#"{"lockfileVersion": 3, "packages": {"node_modules/a": {}}}"#;
    assert!(error("package-lock.json", text).contains("no version"));
}

#[test]
fn go_sum_lines_must_have_three_fields_and_an_h1_hash() {
    assert!(error("go.sum", "golang.org/x/text v0.3.7\n").contains("line 1"));
    assert!(error("go.sum", "m v1.0.0 h2:xyz\n").contains("not h1"));
}
