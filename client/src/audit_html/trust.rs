//! The trust basis: what the conclusions rest on (keys, checkpoint,
//! anchors), what the audit checked and did not, and the commands that
//! re-verify it all.

use maud::{Markup, html};

use crate::audit::Verification;

use super::TrustBasis;
use super::text::{Clean, DASH, dash, plural, visible, when_secs, when_text};

/// A key list, or "— (none given)".
fn keys(ks: &[String]) -> Markup {
    html! {
        dd {
            @if ks.is_empty() {
                "— (none given)"
            } @else {
                ul { @for k in ks { li { code { (Clean(k)) } } } }
            }
        }
    }
}

/// The trust basis section. `example` is a record the commands use.
pub(super) fn section(t: &TrustBasis, v: &Verification, example: u64) -> Markup {
    let n = t.anchors.len() as u64;
    let log_keys = plural(t.log_vkeys.len() as u64, "log key", "log keys");
    html! {
        section #trust {
            h2 { "Trust basis: what these conclusions rest on" }
            // Each sentence states one thing that was checked, or says it
            // was not.
            p {
                "Everything above was computed from the log's first " (t.tree_size)
                " entries, whose Merkle tree root is the hash below. "
                @if t.log_signatures_verified {
                    "The log's signature on the checkpoint below was verified with the "
                    (log_keys) " listed, so the log cannot deny having published this history. "
                } @else {
                    strong.bad { "The log's signatures on the checkpoint below were NOT verified" }
                    ": the audit ran with " code { "--unverified" } " and no log key, so anyone \
                    could have written these entries and this checkpoint. "
                }
                @if t.witness_quorum > 0 {
                    (t.witness_cosignatures) " of the " (t.witness_vkeys.len())
                    " witnesses listed cosigned it (" (t.witness_quorum) " required), so the log \
                    cannot show auditors one history and others another without being caught. "
                } @else {
                    strong.bad { "No witness was checked" } " (no witness keys were given): \
                    nothing here shows that others were shown the same history. "
                }
                @if let Some(why) = &t.anchors_unavailable {
                    "No timestamp anchor was checked: " (Clean(why)) ". "
                } @else if n == 0 {
                    "No timestamp anchor covers this checkpoint. "
                } @else if t.anchors_verified {
                    (plural(n, "timestamp anchor", "timestamp anchors")) " verified against the \
                    trusted timestamp roots prove the tree existed by the times shown. "
                } @else {
                    strong.bad {
                        "The " (plural(n, "timestamp anchor", "timestamp anchors"))
                        " listed by the log " (if n == 1 { "was" } else { "were" }) " NOT verified"
                    }
                    " (no trusted timestamp roots were given): their times are the log's claims. "
                }
                "Anyone can check all of this offline, with the keys below, using the commands \
                at the end."
            }
            dl.kv {
                dt { "Log origin" } dd { code { (Clean(&t.log_origin)) } }
                dt { "Tree size" } dd { (t.tree_size) }
                dt { "Root hash" } dd { code { (Clean(&t.root_hex)) } }
                dt { "Log keys" } (keys(&t.log_vkeys))
                dt { "Witness keys" } (keys(&t.witness_vkeys))
                dt { "Witness quorum" }
                dd {
                    @if t.witness_quorum == 0 {
                        "none checked (no witness keys given)"
                    } @else {
                        (t.witness_quorum) " of the " (t.witness_vkeys.len())
                        " witnesses above must cosign"
                    }
                }
                dt { "Trusted timestamp roots" } (keys(&t.tsa_roots))
                dt { "Report generated" } dd { (when_text(&t.generated_at)) }
            }
            (checked(t, v))
            h3 { "Signed checkpoint" }
            pre { (if t.checkpoint_note.is_empty() { DASH.into() } else { visible(&t.checkpoint_note) }) }
            h3 { "Timestamp anchors (RFC 3161)" }
            @if t.anchors.is_empty() {
                p.warn { "No timestamp anchors were relied on." }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { "Tree size" }
                            th scope="col" { "Time stamped (genTime)" }
                            th scope="col" { "Time-stamping authority" }
                        }
                    }
                    tbody {
                        @for a in &t.anchors {
                            tr {
                                td { (a.tree_size) }
                                td { (when_text(&a.gen_time)) }
                                td { (Clean(&a.tsa)) }
                            }
                        }
                    }
                }
            }
            h3 { "How to re-verify" }
            p {
                "With the " code { "causeway" } " command-line client and OpenSSL, on any machine:"
            }
            pre { (commands(t, example)) }
        }
    }
}

/// What the auditor checked when it made the report: exactly the facts
/// of the trust basis and the report's `verification`, nothing more.
fn checked(t: &TrustBasis, v: &Verification) -> Markup {
    let n = t.anchors.len() as u64;
    // The recomputed root is claimed only when it is the checkpoint's.
    let recomputed = !t.root_hex.is_empty() && v.root == t.root_hex;
    html! {
        h3 { "What was checked when this report was made" }
        dl.kv {
            dt { "Tree" }
            dd {
                @if recomputed {
                    span.ok { "✓ recomputed" } " from the entries to the checkpoint's root"
                } @else {
                    "— (no recomputed root in this report)"
                }
            }
            dt { "Log signatures on the checkpoint" }
            dd {
                @if t.log_signatures_verified {
                    span.ok { "✓ verified" } " with "
                    (plural(t.log_vkeys.len() as u64, "log key", "log keys"))
                } @else {
                    span.bad { "✗ NOT verified" } " (" code { "--unverified" } ": no log key given)"
                }
            }
            dt { "Witness cosignatures" }
            dd {
                @if t.witness_quorum == 0 {
                    span.bad { "✗ not checked" }
                    ": no witness keys were given, so no witness was checked"
                } @else {
                    span.ok { "✓ quorum met" } ": " (t.witness_cosignatures) " of the "
                    (t.witness_vkeys.len()) " witnesses cosigned (" (t.witness_quorum) " required)"
                    @if !v.cosignatures.is_empty() {
                        ul {
                            @for c in &v.cosignatures {
                                li { code { (Clean(&c.witness)) } " at " (when_secs(c.time)) }
                            }
                        }
                    }
                }
            }
            dt { "Timestamp anchors" }
            dd {
                @if let Some(why) = &t.anchors_unavailable {
                    span.bad { "✗ not checked" } ": " (Clean(why))
                } @else if n == 0 {
                    span.warn { "none" } ": the log lists no anchor of this tree"
                } @else if t.anchors_verified {
                    span.ok { "✓ " (plural(n, "anchor", "anchors")) " verified" }
                    " against the trusted timestamp roots (TSA signature and certificate chain), \
                    each on a checkpoint of this tree signed by the log"
                } @else {
                    span.bad { "✗ TSA signatures not verified" }
                    " (no trusted timestamp roots given): " (plural(n, "anchor", "anchors"))
                    " listed by the log, on checkpoints of this tree"
                    (if t.log_signatures_verified { " signed by the log" } else { "" })
                    "; their times are the log's claims"
                }
            }
        }
    }
}

/// A key for a shell command line, single-quoted unless plainly safe.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=._:@-".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The re-verification commands, as text (maud escapes it).
fn commands(t: &TrustBasis, example: u64) -> String {
    let mut vk = String::new();
    for k in &t.log_vkeys {
        vk.push_str(&format!(" \\\n    --vkey {}", shell_word(&dash(k))));
    }
    if t.log_vkeys.is_empty() {
        // The audit ran unverified: the commands need the log's real keys.
        vk.push_str(" \\\n    --vkey LOG_VKEY");
    }
    let mut wk = vk.clone();
    for k in &t.witness_vkeys {
        wk.push_str(&format!(" \\\n    --witness-vkey {}", shell_word(&dash(k))));
    }
    if !t.witness_vkeys.is_empty() {
        wk.push_str(&format!(" --quorum {}", t.witness_quorum));
    }
    let size = t
        .anchors
        .iter()
        .map(|a| a.tree_size)
        .max()
        .map_or_else(|| "SIZE".to_owned(), |s| s.to_string());
    format!(
        "# 1. The whole log, from its tiles alone: every hash tile, every entry, and the root\n\
         #    against the signed, cosigned checkpoint. TILES_URL is the log's tile address\n\
         #    (or a mirror's), LOG_URL its gRPC address.\n\
         causeway verify-tiles --tiles TILES_URL --entries{wk}\n\n\
         # 2. The timestamp anchor at size {size}: the TSA's signature, its certificate chain\n\
         #    to the trusted root, and that it covers the checkpoint (saves both for step 3).\n\
         causeway verify-anchor --log LOG_URL --tsa-roots tsa-root.pem --size {size} \\\n    --save anchors/{vk}\n\n\
         # 3. The same anchor with OpenSSL alone.\n\
         openssl ts -verify -data anchors/checkpoint-{size}.body -in anchors/anchor-{size}.tsr \
         -CAfile tsa-root.pem\n\n\
         # 4. Any one record of this report, e.g. #{example}: decode it and prove it is in\n\
         #    the tree.\n\
         causeway record show --log LOG_URL --index {example}\n\
         causeway prove inclusion --log LOG_URL --index {example} --size {}{wk}\n\n\
         # 5. This whole report again, from the tiles, under the producer policy.\n\
         causeway audit --tiles TILES_URL --policy policy.toml --tsa-roots tsa-root.pem \\\n    \
         --out report/{wk}\n",
        t.tree_size
    )
}
