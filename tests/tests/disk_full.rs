//! A full disk: the data directory on a small tmpfs. When it fills,
//! submissions fail with `UNAVAILABLE` or `RESOURCE_EXHAUSTED` and a
//! message saying so; the server stays up and keeps serving reads; nothing
//! acknowledged is lost or corrupted; once space is freed, it accepts
//! writes again, and a restart finds everything.
//!
//! Mounting a tmpfs needs root (CI runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_client::verify::verify_checkpoint;
use causeway_tests::Server;

/// A tmpfs mounted for the test; unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            path: path.to_owned(),
        }
    }

    fn available(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df output")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills `fs` up to `leave` free bytes with a file of real pages.
fn fill(fs: &Tmpfs, leave: u64) -> PathBuf {
    use std::io::Write as _;
    let path = fs.path.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a; 1 << 20];
    while fs.available() > leave + chunk.len() as u64 {
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_loses_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("mnt"), "64m");
    let data = fs.path.join("log");
    let server = Server::start(&data, &["--max-request-bytes", "4194304"]);
    let keys = server.keys();
    let mut client = LogClient::connect(&server.url).await.unwrap();

    // Some acknowledged entries, then the disk fills up.
    let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
    let submit = async |client: &mut LogClient, tag: &str, i: usize| {
        let entries: Vec<Vec<u8>> = (0..64)
            .map(|j| {
                let mut e = format!("{tag}-{i}-{j}-").into_bytes();
                e.resize(4096, b'x');
                e
            })
            .collect();
        client.add_entries(entries.clone()).await.map(|r| {
            r.entries
                .iter()
                .map(|a| a.index)
                .zip(entries)
                .collect::<Vec<_>>()
        })
    };
    for i in 0..10 {
        acked.extend(submit(&mut client, "before", i).await.unwrap());
    }
    let filler = fill(&fs, 512 << 10);
    let mut refusal = None;
    for i in 0..2000 {
        match submit(&mut client, "full", i).await {
            Ok(added) => acked.extend(added),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let refusal = refusal.expect("the disk never filled up");
    assert!(
        matches!(
            refusal.code(),
            Some(tonic::Code::Unavailable | tonic::Code::ResourceExhausted)
        ),
        "a full disk must answer UNAVAILABLE or RESOURCE_EXHAUSTED, got {refusal}"
    );
    assert!(
        refusal.to_string().contains("storage") || refusal.to_string().contains("space"),
        "the message says what is wrong: {refusal}"
    );
    // Still up, still serving every acknowledged entry.
    let note = client.checkpoint(None).await.unwrap();
    verify_checkpoint(&note, &keys).unwrap();
    for (index, entry) in &acked {
        assert_eq!(&client.entries(*index, 1).await.unwrap()[0], entry);
    }
    // Repeated attempts keep failing cleanly while the disk is full.
    for i in 0..3 {
        assert!(submit(&mut client, "still-full", i).await.is_err());
    }

    // Space comes back: writes are accepted again.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    loop {
        match submit(&mut client, "after", i).await {
            Ok(added) => {
                acked.extend(added);
                break;
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "writes did not resume within 60 s after space was freed: {e}\n{}",
                    server.stderr()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                i += 1;
            }
        }
    }
    let size_before = acked.iter().map(|(i, _)| i + 1).max().unwrap();

    // kill -9 and restart: everything acknowledged is there, and the old
    // checkpoint is consistent with the new one.
    let old_note = client.checkpoint(None).await.unwrap();
    server.kill9();
    let server = Server::start(&data, &[]);
    assert!(server.start_size >= size_before);
    let mut client = LogClient::connect(&server.url).await.unwrap();
    for (index, entry) in &acked {
        assert_eq!(&client.entries(*index, 1).await.unwrap()[0], entry);
    }
    let old = verify_checkpoint(&old_note, &keys)
        .unwrap()
        .into_checkpoint();
    let (ok, out, err) = causeway_tests::cli(&[
        "prove",
        "consistency",
        "--log",
        &server.url,
        "--old",
        &old.size().to_string(),
        "--vkey",
        &server.vkeys[0],
        "--vkey",
        &server.vkeys[1],
        "--json",
    ]);
    assert!(ok, "{out}{err}");
    assert!(server.terminate().success());
}
