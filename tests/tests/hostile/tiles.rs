//! The tile API: paths parsed strictly, nothing ever touches the file system.

use crate::raw_http::{addr_of, http_raw, http_request};
use crate::{Deployment, Tally};

pub(crate) fn tile_cases(d: &Deployment, tally: &mut Tally) {
    let addr = addr_of(&d.log.tiles_url);
    // (name, request path, status, fragment of the body)
    #[rustfmt::skip]
    let get: &[(&str, &str, u16, &str)] = &[
        ("tile: ../ traversal", "/tile/../checkpoint", 400, "invalid tile path"),
        ("tile: ../../ traversal to a file", "/tile/../../../../etc/passwd", 400, "invalid tile path"),
        ("tile: %2e%2e traversal", "/tile/%2e%2e/%2e%2e/checkpoint", 400, "invalid tile path"),
        ("tile: %2f inside the index", "/tile/0/..%2f..%2fcheckpoint", 400, "invalid tile path"),
        ("tile: traversal from another route", "/checkpoint/../tile/0/000", 404, "not found"),
        ("tile: double slash", "//tile/0/000", 404, "not found"),
        ("tile: upper-case prefix", "/TILE/0/000", 404, "not found"),
        ("tile: x-prefixed last group", "/tile/0/x001", 400, "3-digit groups"),
        ("tile: leading x000 group", "/tile/0/x000/001", 400, "3-digit groups"),
        ("tile: four-digit group", "/tile/0/0001", 400, "3-digit groups"),
        ("tile: two-digit group", "/tile/0/00", 400, "3-digit groups"),
        ("tile: negative index", "/tile/0/-01", 400, "3-digit groups"),
        ("tile: eight index groups", "/tile/0/x001/x002/x003/x004/x005/x006/x007/008", 400, "3-digit groups"),
        ("tile: index u64::MAX + 1", "/tile/0/x018/x446/x744/x073/x709/x551/616", 400, "3-digit groups"),
        ("tile: index u64::MAX", "/tile/0/x018/x446/x744/x073/x709/x551/615", 404, "does not exist at tree size 300"),
        ("tile: index beyond the tree", "/tile/0/x001/002", 404, "does not exist at tree size 300"),
        ("tile: partial width 0", "/tile/0/000.p/0", 400, "partial width must be 1 to 255"),
        ("tile: partial width 256", "/tile/0/000.p/256", 400, "partial width must be 1 to 255"),
        ("tile: partial width with leading zero", "/tile/0/001.p/044", 400, "partial width must be 1 to 255"),
        ("tile: empty partial width", "/tile/entries/001.p/", 400, "partial width must be 1 to 255"),
        ("tile: partial wider than the tree", "/tile/0/001.p/45", 404, "partial width 44 (.p/44)"),
        ("tile: entry bundle beyond the tree", "/tile/entries/002", 404, "does not exist at tree size 300"),
        ("tile: level 64", "/tile/64/000", 400, "level must be 0 to 63"),
        ("tile: level 8 (cannot exist)", "/tile/8/000", 404, "does not exist"),
        ("tile: level with leading zero", "/tile/00/000", 400, "level must be 0 to 63"),
        ("tile: negative level", "/tile/-1/000", 400, "level must be 0 to 63"),
        ("tile: trailing slash", "/tile/0/000/", 400, "3-digit groups"),
        ("tile: missing index", "/tile/0", 400, "missing tile index"),
        ("tile: NUL byte", "/tile/0/000%00", 400, "3-digit groups"),
        ("tile: invalid UTF-8 percent escapes", "/tile/0/%FF%FE", 400, "UTF-8"),
        ("anchor: not a number", "/anchor/abc", 400, "not a tree size"),
        ("anchor: leading zeros", "/anchor/0012", 400, "not a tree size"),
        ("anchor: beyond u64", "/anchor/18446744073709551616", 400, "not a tree size"),
        ("anchor: none at that size", "/anchor/5", 404, "no anchor at size 5"),
    ];
    for (name, path, status, needle) in get {
        let reply = http_request(&addr, "GET", path, b"");
        assert_eq!(reply.status, *status, "{name}: GET {path}: {reply:?}");
        assert!(
            reply.text().contains(needle),
            "{name}: GET {path}: body {:?} lacks {needle:?}",
            reply.text()
        );
        tally.pass(name);
    }

    // A partial tile the tree has outgrown is still served: the prefix of
    // the full tile (C2SP tlog-tiles clients may ask for it).
    let full = http_request(&addr, "GET", "/tile/0/000", b"");
    let stale = http_request(&addr, "GET", "/tile/0/000.p/5", b"");
    assert_eq!((full.status, stale.status), (200, 200));
    assert_eq!(stale.body, full.body[..5 * 32]);
    tally.pass("tile: stale partial of a full tile is its prefix");

    // A query string cannot smuggle anything: the tile is served as is.
    let reply = http_request(&addr, "GET", "/tile/0/000?path=../../etc/passwd", b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body.len(), 256 * 32);
    tally.pass("tile: query string is ignored");

    let reply = http_request(&addr, "POST", "/tile/0/000", b"x");
    assert_eq!(reply.status, 405, "{reply:?}");
    assert!(
        reply.head.to_lowercase().contains("allow: get"),
        "{reply:?}"
    );
    tally.pass("tile: POST is 405 with Allow: GET");

    // Framework-level limits: no body text to check, the status is the message.
    let long = format!("/tile/0/{}", "x001/".repeat(14_000));
    let reply = http_request(&addr, "GET", &long, b"");
    assert_eq!(reply.status, 414, "{}", reply.head);
    tally.pass("tile: 70 KB URI is 414");

    let header = format!(
        "GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let reply = http_raw(&addr, header.as_bytes());
    assert_eq!(reply.status, 431, "{}", reply.head);
    tally.pass("tile: 512 KiB header is 431");

    let reply = http_raw(&addr, b"GARBAGE\r\n\r\n");
    assert_eq!(reply.status, 400, "{}", reply.head);
    tally.pass("tile: malformed request line is 400");

    // Content-Length and Transfer-Encoding together (request smuggling):
    // RFC 9112 section 6.1, the body is chunked and the connection is
    // closed after the answer, so the pipelined request is never served.
    let reply = http_raw(
        &addr,
        b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /tile/0/x001 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(
        reply.head.to_lowercase().contains("connection: close"),
        "{}",
        reply.head
    );
    assert!(
        !reply.text().contains("HTTP/1.1"),
        "the smuggled request was served: {}",
        reply.text()
    );
    tally.pass("tile: Content-Length with Transfer-Encoding closes the connection");
}
