//! Go's `go.sum`.
//!
//! Each line is `MODULE VERSION HASH`. A module whose code was downloaded
//! has a line for its content (`h1:` of the zip); modules whose `go.mod`
//! alone was read for version selection have only a `VERSION/go.mod` line.
//! Only the first kind is built into the program, so only it is listed.

/// The Go modules a `go.sum` holds content hashes for.
pub(super) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [module, version, hash] = fields[..] else {
            return Err(format!(
                "line {}: expected \"MODULE VERSION HASH\"",
                number + 1
            ));
        };
        if !hash.starts_with("h1:") {
            return Err(format!("line {}: hash {hash:?} is not h1:", number + 1));
        }
        if version.ends_with("/go.mod") {
            continue;
        }
        out.push((module.to_owned(), version.to_owned()));
    }
    Ok(out)
}
