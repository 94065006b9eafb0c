//! The signatures behind `jsonwebtoken`, on ring: the library the functions' TLS already links,
//! instead of the RustCrypto backend (RSA, P-384 and Ed25519 crates, about 0.25 MB a function).
//! `jsonwebtoken` keeps the token format, the JWK and the claim checks; this module only signs
//! and verifies bytes. [`install`] must run before any token is signed or read; the
//! constructors of [`crate::jwt::LocalJwt`] and [`crate::oidc::JwksVerifier`] call it.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{self as sig, KeyPair};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        ec_pub_components_from_private_key: ec_public,
        compute_digest: digest,
        // Stint signs with P-256 keys only (local mode); RSA and Ed25519 keys are verified,
        // never held, so these JWK helpers are never needed.
        ..KeyUtils::new_unimplemented()
    },
};

/// Makes ring `jsonwebtoken`'s provider for this process; a second call changes nothing.
pub fn install() {
    // Err only when a provider is already installed: this one, or (in a test build that
    // also enables a `jsonwebtoken` backend) an equivalent.
    let _ = PROVIDER.install_default();
}

fn invalid(kind: ErrorKind) -> Error {
    Error::from(kind)
}

/// A verifier: an algorithm, ring's check for it, and the key.
struct Check {
    alg: Algorithm,
    key: DecodingKey,
    how: How,
}

enum How {
    /// RSA keys come as DER or as (n, e) from a JWK.
    Rsa(&'static sig::RsaParameters),
    /// EC points and Ed25519 keys come as raw public key bytes.
    Raw(&'static dyn sig::VerificationAlgorithm),
    Hmac(ring::hmac::Algorithm),
}

impl Verifier<Vec<u8>> for Check {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let bad = |_| signature::Error::new();
        match (&self.how, self.key.kind()) {
            (How::Rsa(p), DecodingKeyKind::SecretOrDer(der)) => {
                sig::UnparsedPublicKey::new(*p, der).verify(msg, signature)
            }
            (How::Rsa(p), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                sig::RsaPublicKeyComponents { n, e }.verify(p, msg, signature)
            }
            (How::Raw(a), DecodingKeyKind::SecretOrDer(raw)) => {
                sig::UnparsedPublicKey::new(*a, raw).verify(msg, signature)
            }
            (How::Hmac(a), DecodingKeyKind::SecretOrDer(secret)) => {
                ring::hmac::verify(&ring::hmac::Key::new(*a, secret), msg, signature)
            }
            _ => return Err(signature::Error::new()),
        }
        .map_err(bad)
    }
}

impl JwtVerifier for Check {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    use Algorithm::*;
    if key.family() != alg.family() {
        return Err(invalid(ErrorKind::InvalidKeyFormat));
    }
    let how = match alg {
        RS256 => How::Rsa(&sig::RSA_PKCS1_2048_8192_SHA256),
        RS384 => How::Rsa(&sig::RSA_PKCS1_2048_8192_SHA384),
        RS512 => How::Rsa(&sig::RSA_PKCS1_2048_8192_SHA512),
        PS256 => How::Rsa(&sig::RSA_PSS_2048_8192_SHA256),
        PS384 => How::Rsa(&sig::RSA_PSS_2048_8192_SHA384),
        PS512 => How::Rsa(&sig::RSA_PSS_2048_8192_SHA512),
        ES256 => How::Raw(&sig::ECDSA_P256_SHA256_FIXED),
        ES384 => How::Raw(&sig::ECDSA_P384_SHA384_FIXED),
        EdDSA => How::Raw(&sig::ED25519),
        HS256 => How::Hmac(ring::hmac::HMAC_SHA256),
        HS384 => How::Hmac(ring::hmac::HMAC_SHA384),
        HS512 => How::Hmac(ring::hmac::HMAC_SHA512),
        // An algorithm added to `jsonwebtoken` later is refused until it is mapped here.
        _ => return Err(invalid(ErrorKind::InvalidAlgorithm)),
    };
    Ok(Box::new(Check {
        alg: *alg,
        key: key.clone(),
        how,
    }))
}

/// A signer: P-256 or P-384 (local mode's keys) or an HMAC secret (tests of refusals).
enum Sign {
    Ec(Algorithm, sig::EcdsaKeyPair),
    Hmac(Algorithm, ring::hmac::Key),
}

impl Signer<Vec<u8>> for Sign {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        match self {
            Sign::Ec(_, pair) => pair
                .sign(&ring::rand::SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            Sign::Hmac(_, key) => Ok(ring::hmac::sign(key, msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for Sign {
    fn algorithm(&self) -> Algorithm {
        match self {
            Sign::Ec(a, _) | Sign::Hmac(a, _) => *a,
        }
    }
}

fn ec_signing(alg: Algorithm) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    match alg {
        Algorithm::ES256 => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        Algorithm::ES384 => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        _ => None,
    }
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if key.family() != alg.family() {
        return Err(invalid(ErrorKind::InvalidKeyFormat));
    }
    let hmac = match alg {
        Algorithm::HS256 => Some(ring::hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(ring::hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    };
    if let Some(h) = hmac {
        return Ok(Box::new(Sign::Hmac(
            *alg,
            ring::hmac::Key::new(h, key.as_bytes()),
        )));
    }
    let signing = ec_signing(*alg).ok_or_else(|| invalid(ErrorKind::InvalidAlgorithm))?;
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(signing, key.as_bytes(), &ring::rand::SystemRandom::new())
            .map_err(|_| invalid(ErrorKind::InvalidEcdsaKey))?;
    Ok(Box::new(Sign::Ec(*alg, pair)))
}

/// The curve and the public point's x and y of a PKCS#8 EC key, for its JWK.
fn ec_public(pkcs8: &[u8], alg: Algorithm) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>), Error> {
    let (curve, size) = match alg {
        Algorithm::ES256 => (EllipticCurve::P256, 32),
        Algorithm::ES384 => (EllipticCurve::P384, 48),
        _ => return Err(invalid(ErrorKind::InvalidEcdsaKey)),
    };
    let signing = ec_signing(alg).ok_or_else(|| invalid(ErrorKind::InvalidEcdsaKey))?;
    let pair = sig::EcdsaKeyPair::from_pkcs8(signing, pkcs8, &ring::rand::SystemRandom::new())
        .map_err(|_| invalid(ErrorKind::InvalidEcdsaKey))?;
    // An uncompressed point: 0x04, x, y.
    match pair.public_key().as_ref().split_first() {
        Some((4, xy)) if xy.len() == 2 * size => {
            let (x, y) = xy.split_at(size);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(invalid(ErrorKind::InvalidEcdsaKey)),
    }
}

fn digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(invalid(ErrorKind::InvalidAlgorithm)),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, encode, Header, Validation};
    use serde_json::{json, Value};

    fn claims() -> Value {
        json!({"sub": "alice", "aud": "stint", "exp": 4_102_444_800_u64})
    }

    #[test]
    fn es256_and_es384_sign_and_verify_and_a_changed_token_is_refused() {
        install();
        let rng = ring::rand::SystemRandom::new();
        for alg in [Algorithm::ES256, Algorithm::ES384] {
            let signing = ec_signing(alg).unwrap();
            let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let enc = EncodingKey::from_ec_der(pkcs8.as_ref());
            let token = encode(&Header::new(alg), &claims(), &enc).unwrap();
            let (_, x, y) = ec_public(pkcs8.as_ref(), alg).unwrap();
            use base64::Engine as _;
            let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
            let dec = DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap();
            let mut v = Validation::new(alg);
            v.set_audience(&["stint"]);
            let got = decode::<Value>(&token, &dec, &v).unwrap();
            assert_eq!(got.claims["sub"], "alice");
            // Another subject under the same signature.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = b64(br#"{"sub":"mallory","aud":"stint","exp":4102444800}"#);
            parts[1] = &forged;
            assert!(decode::<Value>(&parts.join("."), &dec, &v).is_err());
        }
    }

    /// Most issuers (Entra, Okta, Google, GitHub Actions) sign RS256; ring signs with an RSA key
    /// made for this test only (PKCS#1 DER, in `testdata/`), and the JWK's (n, e) verify it, PKCS#1 v1.5 and PSS.
    #[test]
    fn rsa_tokens_verify_by_the_jwk_modulus_and_exponent() {
        install();
        let der = include_bytes!("../testdata/rsa2048-test-only.der");
        let pair = sig::RsaKeyPair::from_der(der).unwrap();
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let dec = DecodingKey::from_rsa_components(&b64(&public.n), &b64(&public.e)).unwrap();
        let rng = ring::rand::SystemRandom::new();
        for (alg, pad) in [
            (
                Algorithm::RS256,
                &sig::RSA_PKCS1_SHA256 as &dyn sig::RsaEncoding,
            ),
            (Algorithm::PS256, &sig::RSA_PSS_SHA256),
        ] {
            let mut header = serde_json::to_value(Header::new(alg)).unwrap();
            header.as_object_mut().unwrap().retain(|_, v| !v.is_null());
            let signed = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims().to_string().as_bytes())
            );
            let mut s = vec![0; pair.public().modulus_len()];
            pair.sign(pad, &rng, signed.as_bytes(), &mut s).unwrap();
            let token = format!("{signed}.{}", b64(&s));
            let mut v = Validation::new(alg);
            v.set_audience(&["stint"]);
            assert_eq!(
                decode::<Value>(&token, &dec, &v).unwrap().claims["sub"],
                "alice"
            );
            // The same signature over other claims.
            let other = format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(br#"{"sub":"mallory","aud":"stint","exp":4102444800}"#),
                b64(&s)
            );
            assert!(decode::<Value>(&other, &dec, &v).is_err());
        }
    }

    #[test]
    fn a_key_of_another_family_is_refused() {
        install();
        let dec = DecodingKey::from_secret(b"a shared secret of some length").unwrap();
        assert!(new_verifier(&Algorithm::RS256, &dec).is_err());
        assert!(new_verifier(&Algorithm::ES256, &dec).is_err());
        assert!(new_verifier(&Algorithm::HS256, &dec).is_ok());
    }
}
