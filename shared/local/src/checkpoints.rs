//! Local checkpoints: a P-256 key file in the data folder signs them, and a folder of their
//! own keeps them (`<seq>.json` and its DER signature `<seq>.sig`), each written once.

use async_trait::async_trait;
use std::io::Write;
use std::path::{Path, PathBuf};
use stint_app::ports::{CheckpointArchive, CheckpointKey, CheckpointSigner, ProviderError};
use stint_domain::checkpoint::{PrivateKey, PublicKey, SignedCheckpoint};

/// The private key file; its public half is written beside it for auditors.
pub const KEY_FILE: &str = "checkpoint-key.pem";
pub const PUBLIC_KEY_FILE: &str = "checkpoint-key.pub.pem";
pub const FOLDER: &str = "checkpoints";

fn io(what: &Path, e: std::io::Error) -> ProviderError {
    ProviderError::Unavailable(format!("{}: {e}", what.display()))
}

/// Signs with the key file, creating the key (mode 0600) the first time.
pub struct KeyFileSigner {
    key: PrivateKey,
    key_id: String,
}

impl KeyFileSigner {
    pub fn open_or_create(data: &Path) -> Result<Self, ProviderError> {
        std::fs::create_dir_all(data).map_err(|e| io(data, e))?;
        let path = data.join(KEY_FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => PrivateKey::from_pem(&pem).map_err(ProviderError::Refused)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => return Err(io(&path, e)),
        };
        let public = data.join(PUBLIC_KEY_FILE);
        if !public.exists() {
            std::fs::write(&public, key.public().to_pem()).map_err(|e| io(&public, e))?;
        }
        let key_id = format!("local:{}", key.public().fingerprint());
        Ok(KeyFileSigner { key, key_id })
    }
}

fn create_key(path: &Path) -> Result<PrivateKey, ProviderError> {
    let key = loop {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| ProviderError::Unavailable(format!("no randomness for a key: {e}")))?;
        if let Some(k) = PrivateKey::from_random(seed) {
            break k;
        }
    };
    let pem = key.to_pem().map_err(ProviderError::Unavailable)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(pem.as_bytes()).map_err(|e| io(path, e))?;
            f.sync_all().map_err(|e| io(path, e))?;
            Ok(key)
        }
        // Another process created it first: use theirs, so there is one key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
            PrivateKey::from_pem(&pem).map_err(ProviderError::Refused)
        }
        Err(e) => Err(io(path, e)),
    }
}

#[async_trait]
impl CheckpointKey for KeyFileSigner {
    async fn public_key(&self) -> Result<PublicKey, ProviderError> {
        Ok(self.key.public())
    }
}

#[async_trait]
impl CheckpointSigner for KeyFileSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
    async fn sign(&self, bytes: &[u8]) -> Result<Vec<u8>, ProviderError> {
        Ok(self.key.sign(bytes))
    }
}

/// The public key of a data folder, as an auditor reads it.
pub fn public_key(data: &Path) -> Result<PublicKey, ProviderError> {
    let path = data.join(PUBLIC_KEY_FILE);
    let pem = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    PublicKey::from_pem(&pem).map_err(ProviderError::Refused)
}

/// The checkpoint folder.
pub struct CheckpointFolder {
    dir: PathBuf,
}

impl CheckpointFolder {
    pub fn new(data: &Path) -> Self {
        CheckpointFolder {
            dir: data.join(FOLDER),
        }
    }
    pub fn at(dir: PathBuf) -> Self {
        CheckpointFolder { dir }
    }
    fn name(seq: u64, ext: &str) -> String {
        format!("{seq:012}.{ext}")
    }
    fn read(&self, seq: u64) -> Result<SignedCheckpoint, ProviderError> {
        let json = self.dir.join(Self::name(seq, "json"));
        let sig = self.dir.join(Self::name(seq, "sig"));
        Ok(SignedCheckpoint {
            seq,
            bytes: std::fs::read(&json).map_err(|e| io(&json, e))?,
            // A missing signature reads as empty, which fails verification by name.
            signature: std::fs::read(&sig).unwrap_or_default(),
        })
    }
    fn seqs(&self) -> Result<Vec<u64>, ProviderError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut seqs = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| io(&self.dir, e))?.file_name();
            if let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }
}

#[async_trait]
impl CheckpointArchive for CheckpointFolder {
    async fn latest(&self) -> Result<Option<SignedCheckpoint>, ProviderError> {
        self.seqs()?.last().map(|s| self.read(*s)).transpose()
    }
    async fn list(&self) -> Result<Vec<SignedCheckpoint>, ProviderError> {
        self.seqs()?.into_iter().map(|s| self.read(s)).collect()
    }
    async fn put(&self, cp: &SignedCheckpoint) -> Result<bool, ProviderError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let json = self.dir.join(Self::name(cp.seq, "json"));
        let sig = self.dir.join(Self::name(cp.seq, "sig"));
        // The checkpoint appears whole or not at all (written aside, then linked without
        // replacing): the link is what claims the sequence number.
        let tmp = self.dir.join(format!(
            ".{}.{}",
            Self::name(cp.seq, "json"),
            ulid::Ulid::generate()
        ));
        write_synced(&tmp, &cp.bytes)?;
        let claimed = std::fs::hard_link(&tmp, &json);
        let _ = std::fs::remove_file(&tmp);
        match claimed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io(&json, e)),
        }
        write_synced(&sig, &cp.signature)?;
        Ok(true)
    }
}

fn write_synced(path: &Path, body: &[u8]) -> Result<(), ProviderError> {
    let mut f = std::fs::File::create(path).map_err(|e| io(path, e))?;
    f.write_all(body).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}
