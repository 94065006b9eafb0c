//! Signed checkpoints: the stream heads seen since the previous checkpoint, a Merkle root over
//! them and a link to the previous checkpoint, so a rewrite of the store shows against them.
//! Pure: building, hashing and checking signatures; signing with KMS or a key file is an adapter's.

use crate::log::{Hash, StoredEvent, StreamId};
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The format tag written into every checkpoint; a reader refuses any other.
pub const FORMAT: &str = "stint-checkpoint/1";
/// The only signature algorithm: ECDSA over P-256 with SHA-256, DER-encoded, as KMS's
/// `ECDSA_SHA_256` and `openssl dgst -sha256` produce.
pub const ALGORITHM: &str = "ECDSA_SHA_256";

/// One stream's last event as a checkpoint saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub stream: StreamId,
    pub version: u64,
    pub hash: Hash,
}

/// What a checkpoint says. The stored bytes are this as pretty JSON; the signature covers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    /// 1 for the first checkpoint, then each one more than the last.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// SHA-256 of the previous checkpoint's stored bytes; `None` only for `seq` 1.
    pub prev: Option<Hash>,
    /// The heads that moved since the previous checkpoint, sorted by stream.
    pub heads: Vec<Head>,
    /// Merkle root over `heads` (see [`merkle_root`]).
    pub root: Hash,
    /// Which key signed it (a KMS key ARN, or `local:<fingerprint>`).
    pub key_id: String,
    pub algorithm: String,
}

/// A checkpoint as archived: its exact bytes and the DER signature over [`message`] of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
}

impl SignedCheckpoint {
    /// The SHA-256 of the stored bytes: what the next checkpoint's `prev` names.
    pub fn digest(&self) -> Hash {
        sha256_hex(&self.bytes)
    }
    pub fn parse(&self) -> Result<Checkpoint, String> {
        let cp: Checkpoint = serde_json::from_slice(&self.bytes)
            .map_err(|e| format!("checkpoint {} is not readable: {e}", self.seq))?;
        if cp.format != FORMAT {
            return Err(format!(
                "checkpoint {} has format {:?}, not {FORMAT}",
                self.seq, cp.format
            ));
        }
        if cp.seq != self.seq {
            return Err(format!(
                "checkpoint stored as {} says it is {}",
                self.seq, cp.seq
            ));
        }
        Ok(cp)
    }
}

/// The bytes a signature covers: the lower-case hex SHA-256 of the checkpoint's bytes. Short
/// enough for KMS `Sign` in RAW mode (at most 4096 bytes) whatever the number of heads, and
/// checkable with `sha256sum` and `openssl dgst -sha256 -verify`.
pub fn message(bytes: &[u8]) -> Vec<u8> {
    sha256_hex(bytes).0.into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> Hash {
    Hash(hex::encode(Sha256::digest(bytes)))
}

/// Merkle root over heads in stream order. Leaves and nodes are domain-separated (0x00, 0x01)
/// so a leaf cannot pass for a node; an odd node is carried up unchanged.
pub fn merkle_root(heads: &[Head]) -> Hash {
    let mut level: Vec<[u8; 32]> = heads
        .iter()
        .map(|h| {
            let mut d = Sha256::new();
            d.update([0u8]);
            d.update(h.stream.as_str().as_bytes());
            d.update([0u8]);
            d.update(h.version.to_be_bytes());
            d.update(h.hash.as_str().as_bytes());
            d.finalize().into()
        })
        .collect();
    if level.is_empty() {
        return Hash(hex::encode(Sha256::digest(b"")));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut d = Sha256::new();
                    d.update([1u8]);
                    d.update(l);
                    d.update(r);
                    d.finalize().into()
                }
                [one] => *one,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    Hash(hex::encode(level[0]))
}

/// The last event of each stream among `events` (any order).
pub fn heads_of<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> BTreeMap<StreamId, Head> {
    let mut heads = BTreeMap::<StreamId, Head>::new();
    for ev in events {
        note_head(&mut heads, ev);
    }
    heads
}

/// Keeps `ev` as its stream's head if it is the latest seen, for events read one at a time.
pub fn note_head(heads: &mut BTreeMap<StreamId, Head>, ev: &StoredEvent) {
    if heads.get(&ev.stream).is_none_or(|h| h.version < ev.version) {
        heads.insert(
            ev.stream.clone(),
            Head {
                stream: ev.stream.clone(),
                version: ev.version,
                hash: ev.hash.clone(),
            },
        );
    }
}

/// The next checkpoint after `prev`, listing the `observed` heads that moved past what `prev`
/// listed. `None` when nothing moved and the caller does not insist (a report always does).
pub fn next(
    prev: Option<(&Checkpoint, &SignedCheckpoint)>,
    observed: BTreeMap<StreamId, Head>,
    at: DateTime<Utc>,
    key_id: &str,
    force: bool,
) -> Option<Checkpoint> {
    let listed = listed_heads(prev.map(|(cp, _)| cp));
    next_after(prev, &listed, observed, at, key_id, force)
}

/// The last version each stream was listed at, over `checkpoints` in order.
pub fn listed_heads<'a>(
    checkpoints: impl IntoIterator<Item = &'a Checkpoint>,
) -> BTreeMap<StreamId, u64> {
    let mut listed = BTreeMap::new();
    for cp in checkpoints {
        for h in &cp.heads {
            listed.insert(h.stream.clone(), h.version);
        }
    }
    listed
}

/// As [`next`], against heads already listed by any earlier checkpoint (after a full scan,
/// every stream is observed, and only the ones that moved belong in the next checkpoint).
pub fn next_after(
    prev: Option<(&Checkpoint, &SignedCheckpoint)>,
    listed: &BTreeMap<StreamId, u64>,
    observed: BTreeMap<StreamId, Head>,
    at: DateTime<Utc>,
    key_id: &str,
    force: bool,
) -> Option<Checkpoint> {
    let heads: Vec<Head> = observed
        .into_values()
        .filter(|h| listed.get(&h.stream).is_none_or(|v| h.version > *v))
        .collect();
    if heads.is_empty() && !force {
        return None;
    }
    // A clock that went backwards must not make the chain run backwards in time.
    let at = prev.map_or(at, |(cp, _)| at.max(cp.at));
    Some(Checkpoint {
        format: FORMAT.into(),
        seq: prev.map_or(1, |(cp, _)| cp.seq + 1),
        at,
        prev: prev.map(|(_, s)| s.digest()),
        root: merkle_root(&heads),
        heads,
        key_id: key_id.into(),
        algorithm: ALGORITHM.into(),
    })
}

impl Checkpoint {
    /// The bytes to store and sign.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).unwrap_or_default(); // plain data always serialises
        b.push(b'\n');
        b
    }
}

/// A public key checkpoints are verified with, from its PEM (`-----BEGIN PUBLIC KEY-----`).
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(PublicKey)
            .map_err(|e| format!("not a P-256 public key in PEM: {e}"))
    }
    /// From the DER SubjectPublicKeyInfo that KMS `GetPublicKey` returns.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        VerifyingKey::from_public_key_der(der)
            .map(PublicKey)
            .map_err(|e| format!("not a P-256 public key in DER: {e}"))
    }
    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).unwrap_or_default() // a valid key always encodes
    }
    /// A short name for the key: the first 16 hex digits of SHA-256 over its DER.
    pub fn fingerprint(&self) -> String {
        let der = self
            .0
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        hex::encode(&Sha256::digest(der)[..8])
    }
    /// Checks a DER signature over [`message`] of `bytes`.
    pub fn verify(&self, bytes: &[u8], signature: &[u8]) -> Result<(), String> {
        let sig = Signature::from_der(signature).map_err(|_| "the signature is not DER ECDSA")?;
        self.0
            .verify(&message(bytes), &sig)
            .map_err(|_| "the signature does not match the checkpoint".into())
    }
}

/// A private key held in a file (local mode): PKCS#8 PEM.
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// From 32 random bytes; `None` if they are not a valid scalar (vanishingly rare: draw again).
    pub fn from_random(bytes: [u8; 32]) -> Option<Self> {
        SigningKey::from_bytes(&bytes.into()).ok().map(PrivateKey)
    }
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        SigningKey::from_pkcs8_pem(pem)
            .map(PrivateKey)
            .map_err(|e| format!("not a P-256 private key in PKCS#8 PEM: {e}"))
    }
    pub fn to_pem(&self) -> Result<String, String> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| e.to_string())
    }
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }
    /// DER signature over [`message`] of `bytes`, the same algorithm KMS uses.
    pub fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        let sig: Signature = self.0.sign(&message(bytes));
        sig.to_der().as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str, v: u64) -> Head {
        Head {
            stream: StreamId::new(s).unwrap(),
            version: v,
            hash: Hash(format!("{v:064}")),
        }
    }

    fn key() -> PrivateKey {
        PrivateKey::from_random([7u8; 32]).unwrap()
    }

    fn signed(cp: &Checkpoint, k: &PrivateKey) -> SignedCheckpoint {
        let bytes = cp.to_bytes();
        SignedCheckpoint {
            seq: cp.seq,
            signature: k.sign(&bytes),
            bytes,
        }
    }

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn the_first_checkpoint_lists_every_head_and_has_no_prev() {
        let observed = [head("a", 2), head("b", 1)]
            .into_iter()
            .map(|h| (h.stream.clone(), h))
            .collect();
        let cp = next(None, observed, at(0), "local:x", false).unwrap();
        assert_eq!((cp.seq, cp.prev.clone(), cp.heads.len()), (1, None, 2));
        assert_eq!(cp.root, merkle_root(&cp.heads));
    }

    #[test]
    fn only_heads_that_moved_are_listed_and_nothing_moved_means_no_checkpoint() {
        let k = key();
        let first = next(
            None,
            [(StreamId::new("a").unwrap(), head("a", 2))].into(),
            at(0),
            "k",
            false,
        )
        .unwrap();
        let s1 = signed(&first, &k);
        let same = [(StreamId::new("a").unwrap(), head("a", 2))].into();
        assert_eq!(next(Some((&first, &s1)), same, at(15), "k", false), None);
        let forced = next(
            Some((&first, &s1)),
            [(StreamId::new("a").unwrap(), head("a", 2))].into(),
            at(15),
            "k",
            true,
        )
        .unwrap();
        assert!(forced.heads.is_empty());
        assert_eq!(forced.prev, Some(s1.digest()));
        let moved = next(
            Some((&first, &s1)),
            [
                (StreamId::new("a").unwrap(), head("a", 3)),
                (StreamId::new("b").unwrap(), head("b", 1)),
            ]
            .into(),
            at(15),
            "k",
            false,
        )
        .unwrap();
        assert_eq!(moved.seq, 2);
        assert_eq!(moved.heads, vec![head("a", 3), head("b", 1)]);
    }

    #[test]
    fn a_clock_that_went_back_does_not_move_the_chain_back() {
        let k = key();
        let first = next(None, BTreeMap::new(), at(30), "k", true).unwrap();
        let s1 = signed(&first, &k);
        let second = next(Some((&first, &s1)), BTreeMap::new(), at(10), "k", true).unwrap();
        assert_eq!(second.at, at(30));
    }

    #[test]
    fn a_signature_verifies_with_its_key_and_fails_on_any_change() {
        let k = key();
        let cp = next(None, BTreeMap::new(), at(0), "k", true).unwrap();
        let s = signed(&cp, &k);
        let public = PublicKey::from_pem(&k.public().to_pem()).unwrap();
        assert_eq!(public.verify(&s.bytes, &s.signature), Ok(()));
        let mut edited = s.bytes.clone();
        edited[10] ^= 1;
        assert!(public.verify(&edited, &s.signature).is_err());
        let other = PrivateKey::from_random([9u8; 32]).unwrap();
        assert!(public.verify(&s.bytes, &other.sign(&s.bytes)).is_err());
        assert!(public.verify(&s.bytes, b"not der").is_err());
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let k = key();
        let again = PrivateKey::from_pem(&k.to_pem().unwrap()).unwrap();
        assert_eq!(again.public().fingerprint(), k.public().fingerprint());
        assert_eq!(k.public().fingerprint().len(), 16);
    }

    #[test]
    fn the_merkle_root_depends_on_every_head_and_their_order() {
        let hs = vec![head("a", 1), head("b", 2), head("c", 3)];
        let r = merkle_root(&hs);
        let mut changed = hs.clone();
        changed[2].version = 4;
        assert_ne!(merkle_root(&changed), r);
        let swapped = vec![hs[1].clone(), hs[0].clone(), hs[2].clone()];
        assert_ne!(merkle_root(&swapped), r);
        assert_ne!(merkle_root(&hs[..2]), r);
    }

    #[test]
    fn a_stored_checkpoint_must_say_its_own_seq_and_format() {
        let k = key();
        let cp = next(None, BTreeMap::new(), at(0), "k", true).unwrap();
        let mut s = signed(&cp, &k);
        assert_eq!(s.parse().unwrap(), cp);
        s.seq = 2;
        assert!(s.parse().unwrap_err().contains("says it is 1"));
    }
}
