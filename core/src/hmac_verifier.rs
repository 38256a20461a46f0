//! HS256/384/512 signatures checked with the key's HMAC state prepared once, at install time.
//!
//! jsonwebtoken builds a new HMAC from the secret on every verification: the key schedule (the
//! padded key's inner and outer blocks) costs as much as hashing a short token again.
//! Measured with callgrind on a fresh HS256 token per transaction (`bench/run.sh
//! --instructions-only --groups 2-fresh`): the verifier set-up was ~7,300 instructions and two
//! of the seven SHA-256 blocks. Here the keyed state is kept with the key and cloned per token;
//! the signature is decoded exactly as jsonwebtoken decodes it (base64url, no padding) and
//! compared in constant time (`Mac::verify_slice`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::algorithm::Algorithm;

/// The keyed HMAC of one secret, for one hash.
#[derive(Clone)]
pub(crate) enum HmacVerifier {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl HmacVerifier {
    /// The verifier of `secret` for `alg`; `None` for an algorithm that is not HMAC.
    pub(crate) fn new(alg: Algorithm, secret: &[u8]) -> Option<HmacVerifier> {
        // new_from_slice accepts a key of any length (hashed when longer than a block).
        Some(match alg {
            Algorithm::HS256 => HmacVerifier::Sha256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => HmacVerifier::Sha384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => HmacVerifier::Sha512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `signature_b64` (base64url without padding) is the HMAC of `signing_input`.
    pub(crate) fn verifies(&self, signing_input: &[u8], signature_b64: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature_b64) else {
            return false;
        };
        match self {
            HmacVerifier::Sha256(keyed) => check(keyed.clone(), signing_input, &signature),
            HmacVerifier::Sha384(keyed) => check(keyed.clone(), signing_input, &signature),
            HmacVerifier::Sha512(keyed) => check(keyed.clone(), signing_input, &signature),
        }
    }
}

fn check<M: Mac>(mut mac: M, signing_input: &[u8], signature: &[u8]) -> bool {
    mac.update(signing_input);
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::DecodingKey;
    use proptest::prelude::*;

    const ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

    fn sign(alg: Algorithm, secret: &[u8], input: &[u8]) -> String {
        let tag = match alg {
            Algorithm::HS256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
                m.update(input);
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::HS384 => {
                let mut m = Hmac::<Sha384>::new_from_slice(secret).unwrap();
                m.update(input);
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = Hmac::<Sha512>::new_from_slice(secret).unwrap();
                m.update(input);
                m.finalize().into_bytes().to_vec()
            }
        };
        URL_SAFE_NO_PAD.encode(tag)
    }

    /// What jsonwebtoken answers for the same signature: the reference this must equal.
    fn reference(alg: Algorithm, secret: &[u8], input: &[u8], signature: &str) -> bool {
        let jwt_alg = match alg {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            _ => jsonwebtoken::Algorithm::HS512,
        };
        jsonwebtoken::crypto::verify(signature, input, &DecodingKey::from_secret(secret), jwt_alg)
            .unwrap_or(false)
    }

    #[test]
    fn a_correct_signature_verifies_and_any_change_does_not() {
        for alg in ALGS {
            let secret = b"a-secret-of-thirty-two-bytes-ok!";
            let verifier = HmacVerifier::new(alg, secret).unwrap();
            let input = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyaXRhIn0";
            let good = sign(alg, secret, input);
            assert!(verifier.verifies(input, &good), "{alg:?}");
            assert!(!verifier.verifies(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzYW0ifQ", &good));
            assert!(!HmacVerifier::new(alg, b"another secret")
                .unwrap()
                .verifies(input, &good));
            let mut flipped = good.clone().into_bytes();
            flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
            assert!(!verifier.verifies(input, std::str::from_utf8(&flipped).unwrap()));
            // Padding, a truncated tag, standard base64 and garbage are not signatures.
            assert!(!verifier.verifies(input, &format!("{good}=")));
            assert!(!verifier.verifies(input, &good[..good.len() - 2]));
            assert!(!verifier.verifies(input, "not base64!"));
            assert!(!verifier.verifies(input, ""));
        }
    }

    #[test]
    fn only_hmac_algorithms_have_one() {
        assert!(HmacVerifier::new(Algorithm::RS256, b"secret").is_none());
        assert!(HmacVerifier::new(Algorithm::EdDSA, b"secret").is_none());
    }

    #[test]
    fn the_state_is_reused_safely_across_tokens() {
        let verifier = HmacVerifier::new(Algorithm::HS256, b"secret").unwrap();
        for n in 0..5 {
            let input = format!("header.payload-{n}");
            let sig = sign(Algorithm::HS256, b"secret", input.as_bytes());
            assert!(verifier.verifies(input.as_bytes(), &sig));
            assert!(!verifier.verifies(b"header.payload-x", &sig));
        }
    }

    proptest! {
        /// Equal to jsonwebtoken's verdict on any secret, input and signature text, valid or not.
        #[test]
        fn agrees_with_jsonwebtoken(
            alg_index in 0usize..3,
            secret in proptest::collection::vec(any::<u8>(), 1..200),
            input in proptest::collection::vec(any::<u8>(), 0..400),
            tamper in proptest::option::of((0usize..100, any::<u8>())),
            garbage in proptest::option::of("[A-Za-z0-9_=+/-]{0,100}"),
        ) {
            let alg = ALGS[alg_index];
            let mut signature = sign(alg, &secret, &input);
            if let Some((at, byte)) = tamper {
                let mut bytes = signature.into_bytes();
                let at = at % bytes.len();
                bytes[at] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[byte as usize % 64];
                signature = String::from_utf8(bytes).unwrap();
            }
            if let Some(g) = garbage {
                signature = g;
            }
            let ours = HmacVerifier::new(alg, &secret).unwrap().verifies(&input, &signature);
            prop_assert_eq!(ours, reference(alg, &secret, &input, &signature));
        }
    }
}
