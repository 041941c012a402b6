//! Fixtures shared by the conformance tests: the file tree, the ways to write it
//! into each backend, and a real S3 server (moto) started per test.

pub mod moto;

use std::path::PathBuf;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3;
use object_store::path::Path as StorePath;

pub const MIB: usize = 1 << 20;

/// Files in `/many`: more than one S3 page (1000 keys) and one local chunk (1024).
pub const MANY: usize = 1100;

/// The tree every backend holds, as (path relative to the root, content).
pub fn tree() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, usize)> = vec![
        ("empty.bin".into(), 0),
        ("one.bin".into(), 1),
        ("mib-minus-1.bin".into(), MIB - 1),
        ("mib.bin".into(), MIB),
        ("mib-plus-1.bin".into(), MIB + 1),
        ("several-mib.bin".into(), 5 * MIB + 123),
        ("with space.txt".into(), 17),
        ("données/été 2024/a b.txt".into(), 4099),
        ("日本語/ファイル.txt".into(), 12),
        ("nested/a/top.txt".into(), 5),
        ("nested/a/b/empty.bin".into(), 0),
        ("nested/a/b/c/deep.txt".into(), 33),
        ("special/100%.txt".into(), 7),
        ("special/a%2Fb.txt".into(), 7),
        ("special/%2e%2e".into(), 7),
        ("special/hash#tag.txt".into(), 7),
        ("special/plus+and&eq=.txt".into(), 7),
        ("special/tilde~[brackets] {braces}.txt".into(), 7),
        ("special/question?star*.txt".into(), 7),
        ("special/quote'dq\"lt<gt>pipe|caret^.txt".into(), 7),
        ("special/...".into(), 3),
        ("special/.hidden".into(), 3),
    ];
    files.extend((0..MANY).map(|i| (format!("many/f-{i:04}.txt"), 1 + i % 7)));
    files
        .into_iter()
        .map(|(path, size)| {
            let data = bytes_for(&path, size);
            (path, data)
        })
        .collect()
}

/// Deterministic bytes that differ per file and per offset, so a read from the
/// wrong file or offset cannot compare equal.
pub fn bytes_for(path: &str, size: usize) -> Vec<u8> {
    let mut state: u64 = path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// Writes files behind the UFS's back, as the data owners would.
pub enum Seeder {
    Local(PathBuf),
    S3 { store: AmazonS3, prefix: String },
}

impl Seeder {
    pub async fn write(&self, path: &str, data: &[u8]) {
        match self {
            Seeder::Local(root) => {
                let file = root.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, data).unwrap();
            }
            Seeder::S3 { store, prefix } => {
                let key = if prefix.is_empty() {
                    path.to_string()
                } else {
                    format!("{prefix}/{path}")
                };
                // `parse`, not `from`: the key must be the literal name.
                let location = StorePath::parse(&key).unwrap();
                store
                    .put(&location, data.to_vec().into())
                    .await
                    .unwrap_or_else(|e| panic!("putting {key:?} into moto: {e}"));
            }
        }
    }

    pub async fn write_all(&self, files: &[(String, Vec<u8>)]) {
        futures::stream::iter(files)
            .for_each_concurrent(16, |(path, data)| self.write(path, data))
            .await;
    }
}
