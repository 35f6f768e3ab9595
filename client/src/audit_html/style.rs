//! The page's style sheet and its one script, inline: the page needs no
//! network. The Content Security Policy allows the script by its hash.

use base64::Engine as _;
use causeway_rfc3161::MessageImprint;

/// The page's only script: opens the `<details>` holding a linked record
/// and every `<details>` before printing. Allowed by its CSP hash.
pub(super) const SCRIPT: &str = "(function(){function reveal(){var h=location.hash.slice(1);\
if(!h){return;}var e=document.getElementById(h);while(e){if(e.tagName==='DETAILS'){e.open=true;}\
e=e.parentElement;}}window.addEventListener('hashchange',reveal);reveal();\
window.addEventListener('beforeprint',function(){var d=document.querySelectorAll('details');\
for(var i=0;i<d.length;i++){d[i].open=true;}});})();";

/// The style sheet: screen and print.
pub(super) const CSS: &str = r#"
:root{--ok:#17692f;--bad:#a4161a;--warn:#7a4b00;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa}
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);margin:0 auto;max-width:1180px;padding:24px 28px 60px;line-height:1.45;font-size:15px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;padding-top:8px;border-top:2px solid var(--line)}h3{font-size:16px;margin:22px 0 6px}
small,.muted{color:var(--muted)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
code,.mono{overflow-wrap:anywhere}
.nw,code.nw{white-space:nowrap;overflow-wrap:normal}
pre{background:var(--bg2);border:1px solid var(--line);padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:14px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:var(--bg2)}tfoot th,tfoot td{background:var(--bg2);font-weight:600}
td.c,th.c{text-align:center;white-space:nowrap}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
tr.flagged td,tr.flagged th{background:#fff1f0}
tr.omitted td{color:var(--muted);font-style:italic;text-align:center;background:var(--bg2)}
.verdict{border:2px solid var(--line);border-left-width:10px;padding:10px 16px;margin:16px 0;border-radius:4px}
.verdict.good{border-color:var(--ok)}.verdict.attention{border-color:var(--bad)}
.verdict.unverified{border-color:var(--warn);background:#fff8e6}
.verdict .headline{font-size:20px;font-weight:700;margin:4px 0 6px}
.glance{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.glance div{border:1px solid var(--line);border-radius:4px;padding:6px 12px;min-width:120px;background:var(--bg2)}
.glance b{display:block;font-size:20px}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:8px 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
dl.kv ul{margin:0;padding-left:18px}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:0 24px}
dl.explain dt{font-weight:600;margin-top:6px}dl.explain dd{margin-left:18px}
.flagnote{border:2px dashed var(--bad);padding:6px 12px;border-radius:4px}
figure{margin:12px 0;border:1px solid var(--line);border-radius:4px;padding:8px;background:#fff}
figcaption{font-size:13px;color:var(--muted);margin-top:4px}
svg.chain{display:block;max-width:100%;height:auto}
svg.chain text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:12px;fill:var(--ink)}
svg.chain text.k{font-size:11px;font-weight:700;letter-spacing:.04em;fill:var(--muted)}
svg.chain text.fl{font-weight:700;fill:var(--bad)}
svg.chain text.flt{fill:var(--bad)}svg.chain text.warn{font-weight:700;fill:var(--warn)}
svg.chain text.okt{font-weight:700;fill:var(--ok)}
svg.chain text.badt{font-weight:700;fill:var(--bad)}
svg.chain rect{fill:#fff;stroke:#6e7781;stroke-width:1.5}
svg.chain .human rect{fill:#eef6ff}svg.chain .preflight rect{fill:#f3f0ff}svg.chain .cred rect{fill:#f6f8fa}
svg.chain .acts rect{fill:#fffbea}svg.chain .closure rect{fill:#f0fff4}svg.chain .review rect{fill:#eef6ff}
svg.chain .missing rect{stroke-dasharray:5 4;fill:#fff}
svg.chain .flag rect{stroke:var(--bad);stroke-width:3;stroke-dasharray:7 3}
svg.chain path.edge{fill:none;stroke:#57606a;stroke-width:1.5}
svg.chain a:hover rect,svg.chain a:focus rect{stroke-width:3}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
:target{outline:3px solid #f0b400;outline-offset:2px}
@page{margin:14mm}
@media print{body{max-width:none;padding:0;font-size:11pt}nav{display:none}
section.chain{break-before:page}h2,h3{break-after:avoid}
tr,figure,.verdict{break-inside:avoid}thead{display:table-header-group}
a{color:inherit;text-decoration:none}table{font-size:9.5pt}}
"#;

/// The script's hash, as the Content Security Policy names it.
pub(super) fn script_hash() -> String {
    base64::engine::general_purpose::STANDARD
        .encode(MessageImprint::sha256(SCRIPT.as_bytes()).digest)
}
