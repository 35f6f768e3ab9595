//! The `causeway` commands about governance records: `keygen`, `record
//! sign`, `record show`, and signing for `submit`.

use std::path::Path;

use anyhow::{Context as _, bail};
use causeway_client::LogTarget;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::leaf_hash;
use serde_json::json;

/// Loads a producer key (PKCS#8 PEM, as `causeway keygen` writes).
pub(crate) fn load_key(path: &Path) -> anyhow::Result<ProducerKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key {}", path.display()))?;
    ProducerKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Reads a record's JSON (a file, or stdin for `-`).
fn read_input(path: Option<&Path>) -> anyhow::Result<String> {
    match path {
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the record from stdin")?;
            Ok(text)
        }
        Some(p) if p == Path::new("-") => read_input(None),
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())),
    }
}

/// Signs the record JSON in `text` as `kind` with `key`.
pub(crate) fn sign(
    kind: Kind,
    text: &str,
    key: &ProducerKey,
    from: &str,
) -> anyhow::Result<Envelope> {
    let record = Record::from_json(kind, text)
        .map_err(|e| anyhow::anyhow!("{from}: not a valid {kind} record: {e}"))?;
    Ok(Envelope::sign(&record, key))
}

/// The entry bytes for one `submit` file: raw, a record signed here, or a
/// DSSE JSON envelope signed elsewhere.
pub(crate) fn entry_from_file(
    path: &Path,
    signing: Option<(&ProducerKey, Kind)>,
    envelope: bool,
) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some((key, kind)) = signing {
        let text = read_input(Some(path))?;
        return Ok(Some(
            sign(kind, &text, key, &path.display().to_string())?.encode(),
        ));
    }
    if envelope {
        let text = read_input(Some(path))?;
        let env = Envelope::from_dsse_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a DSSE envelope: {e}", path.display()))?;
        return Ok(Some(env.encode()));
    }
    Ok(None)
}

/// `causeway keygen`.
pub(crate) fn keygen(out: &Path, json_out: bool) -> anyhow::Result<()> {
    let key = ProducerKey::generate(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem().map_err(|e| anyhow::anyhow!("{e}"))?;
    // The server's and witness's key writer: 0600, fsynced with its directory.
    causeway_io::files::create_private(out, pem.as_bytes())
        .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
    use base64::Engine as _;
    let spki = base64::engine::general_purpose::STANDARD.encode(key.public_spki_der());
    if json_out {
        println!(
            "{}",
            json!({"key": out.display().to_string(), "key_id": key.key_id(), "public_key": spki})
        );
    } else {
        println!(
            "wrote {} (ECDSA P-256, PKCS#8 PEM, mode 0600)",
            out.display()
        );
        println!("key ID     {}", key.key_id());
        println!("public key {spki}");
        println!("add it to the producer policy: keys = [\"{spki}\"]");
    }
    Ok(())
}

/// `causeway record sign`: prints the DSSE JSON envelope.
pub(crate) fn record_sign(kind: Kind, key: &Path, input: Option<&Path>) -> anyhow::Result<()> {
    let key = load_key(key)?;
    let text = read_input(input)?;
    let from = input.map_or("stdin".into(), |p| p.display().to_string());
    let env = sign(kind, &text, &key, &from)?;
    println!("{}", serde_json::to_string_pretty(&env.to_dsse_json())?);
    Ok(())
}

/// The JSON view of one entry: envelope, signer, kind and record.
fn show_json(entry: &[u8], index: Option<u64>) -> anyhow::Result<serde_json::Value> {
    let env = Envelope::decode(entry).map_err(|e| anyhow::anyhow!("not a record envelope: {e}"))?;
    let record = env.record().map_err(|e| anyhow::anyhow!("{e}"))?;
    let signers: Vec<&str> = env.signatures.iter().map(|s| s.keyid.as_str()).collect();
    Ok(json!({
        "index": index,
        "leaf_hash": leaf_hash(entry).to_hex(),
        "kind": record.kind().as_str(),
        "record": record.to_json(),
        "payload_type": env.payload_type,
        "signed_by": signers,
    }))
}

/// `causeway record show`: an entry from the log, or a saved envelope.
pub(crate) async fn record_show(
    log: &LogTarget,
    index: Option<u64>,
    file: Option<&Path>,
    json_out: bool,
) -> anyhow::Result<()> {
    let value = match (index, file) {
        (Some(i), _) => {
            let mut client = log.connect().await?;
            let entry = client
                .entries(i, 1)
                .await?
                .pop()
                .with_context(|| format!("the log returned no entry {i}"))?;
            show_json(&entry, Some(i))?
        }
        (None, Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            // A DSSE JSON envelope (as `record sign` prints) or entry bytes.
            let entry = match std::str::from_utf8(&bytes)
                .ok()
                .filter(|t| t.trim_start().starts_with('{'))
            {
                Some(text) => Envelope::from_dsse_json(text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    .encode(),
                None => bytes,
            };
            show_json(&entry, None)?
        }
        (None, None) => bail!("give --index I (an entry of the log) or a FILE (an envelope)"),
    };
    if json_out {
        println!("{value}");
    } else {
        // For a person: record text loses its invisible characters (a
        // bidi override could make a target read as another), as in the
        // audit's output; --json keeps the record as logged.
        let text = serde_json::to_string_pretty(&value)?;
        println!("{}", causeway_client::visible::for_terminal(&text));
    }
    Ok(())
}
