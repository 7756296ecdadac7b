//! Ticket secrets: tokens, codes and magic links.
//!
//! A token is the attendee's id (16 bytes) followed by `HMAC-SHA256(key, attendee id, seed)` cut
//! to 144 bits, written URL-safe (base64url, 46 characters). The seed (128 random bits) and the
//! SHA-256 of the token are stored; the key is not: it lives in the data directory's `ticket-key`
//! file (mode 0600) or `ALLOT_TICKET_KEY`. So the server can draw a ticket's QR code again at any
//! time, while a copy of the database alone can neither read a token nor forge one that checks
//! in. The attendee id in front lets check-in find the ticket through an index the store keeps
//! anyway, instead of an index of random hashes that would cost every issuance a random insert.

use allot_store::tickets::PreparedTicket;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The file in the data directory that keeps the generated ticket key.
pub const TICKET_KEY_FILE: &str = "ticket-key";
/// Default base of magic links; set `ALLOT_TICKET_LINK_BASE` to your own door page.
pub const DEFAULT_LINK_BASE: &str = "https://tickets.example/t";

/// Crockford's base32 alphabet: no I, L, O, U, so a code read aloud is not misheard.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub struct TicketKeys {
    key: [u8; 32],
    link_base: String,
}

impl TicketKeys {
    pub fn new(secret: &str, link_base: &str) -> Self {
        TicketKeys {
            key: Sha256::digest(secret.as_bytes()).into(),
            link_base: link_base.trim_end_matches('/').to_owned(),
        }
    }

    /// The key from the environment's value, else the data directory, else a new one written there.
    pub fn load(
        data_dir: &Path,
        secret: Option<&str>,
        link_base: &str,
    ) -> Result<Self, crate::startup::ServeError> {
        if let Some(secret) = secret {
            return Ok(TicketKeys::new(secret, link_base));
        }
        let path = data_dir.join(TICKET_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(secret) if !secret.trim().is_empty() => {
                return Ok(TicketKeys::new(secret.trim(), link_base));
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(crate::startup::ServeError::Io(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        }
        let secret = crate::auth::generate_secret();
        crate::startup::write_private(&path, &secret)?;
        Ok(TicketKeys::new(&secret, link_base))
    }

    /// The token of an attendee's ticket, derived from its stored seed.
    pub fn token(&self, attendee_id: &str, seed: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(b"allot-ticket-token:");
        mac.update(attendee_id.as_bytes());
        mac.update(b":");
        mac.update(seed.as_bytes());
        let tag = mac.finalize().into_bytes();
        // An id allot did not make (never stored) gets zeros: its token matches nothing.
        let mut bytes = attendee_bytes(attendee_id)
            .unwrap_or([0; ID_BYTES])
            .to_vec();
        bytes.extend_from_slice(&tag[..MAC_BYTES]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn magic_link(&self, token: &str) -> String {
        format!("{}/{token}", self.link_base)
    }

    /// Seeds, tokens' hashes and codes for a chunk of attendees: one call to the OS for all the
    /// randomness.
    pub fn prepare(&self, attendee_ids: Vec<String>) -> Vec<PreparedTicket> {
        const SEED: usize = 16;
        const CODE: usize = 10;
        let mut random = vec![0u8; attendee_ids.len() * (SEED + CODE)];
        getrandom::fill(&mut random).expect("the operating system's random source is available");
        attendee_ids
            .into_iter()
            .zip(random.chunks_exact(SEED + CODE))
            .map(|(attendee_id, bytes)| {
                let token_seed = hex::encode(&bytes[..SEED]);
                let token_hash = token_hash(&self.token(&attendee_id, &token_seed));
                PreparedTicket {
                    attendee_id,
                    code: code_from(&bytes[SEED..]),
                    token_seed,
                    token_hash,
                }
            })
            .collect()
    }
}

const ID_BYTES: usize = 16;
/// 144 bits of MAC: at least 128 bits that only the key's holder can produce.
const MAC_BYTES: usize = 18;
const ATTENDEE_PREFIX: &str = "att_";

/// An attendee id (`att_` and 32 hex digits) as bytes.
fn attendee_bytes(attendee_id: &str) -> Option<[u8; ID_BYTES]> {
    let hex_part = attendee_id.strip_prefix(ATTENDEE_PREFIX)?;
    let mut bytes = [0u8; ID_BYTES];
    hex::decode_to_slice(hex_part, &mut bytes).ok()?;
    Some(bytes)
}

/// The attendee a token names, if it has a token's shape.
pub fn attendee_of_token(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    (bytes.len() == ID_BYTES + MAC_BYTES)
        .then(|| format!("{ATTENDEE_PREFIX}{}", hex::encode(&bytes[..ID_BYTES])))
}

/// SHA-256 of a token, hex: what the store keeps to confirm a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a scanner read: the token itself, or a magic link ending in it.
pub fn token_from_scan(scanned: &str) -> &str {
    let scanned = scanned.trim();
    let scanned = scanned.split(['?', '#']).next().unwrap_or(scanned);
    scanned
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(scanned)
}

/// `XXXXX-XXXXX` from 10 random bytes: 50 bits, so codes practically never repeat.
fn code_from(bytes: &[u8]) -> String {
    let mut code = String::with_capacity(11);
    for (index, byte) in bytes.iter().enumerate() {
        if index == 5 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[usize::from(byte & 31)] as char);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_seed_and_key_and_url_safe() {
        let keys = TicketKeys::new("secret-one", "https://door.example/t/");
        let other = TicketKeys::new("secret-two", "https://door.example/t");
        let attendee = "att_0193a0b1c2d37e4f8a9b0c1d2e3f4a5b";
        let token = keys.token(attendee, "seed");
        assert_eq!(token, keys.token(attendee, "seed"));
        assert_ne!(token, keys.token(attendee, "seed2"));
        assert_ne!(token, other.token(attendee, "seed"));
        assert_eq!(token.len(), 46);
        assert_eq!(attendee_of_token(&token).as_deref(), Some(attendee));
        assert_eq!(attendee_of_token("not-a-token"), None);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            keys.magic_link(&token),
            format!("https://door.example/t/{token}")
        );
    }

    #[test]
    fn prepared_tickets_hash_their_derived_token() {
        let keys = TicketKeys::new("secret", DEFAULT_LINK_BASE);
        let prepared = keys.prepare(vec![
            "att_0193a0b1c2d37e4f8a9b0c1d2e3f4a5b".into(),
            "att_0193a0b1c2d37e4f8a9b0c1d2e3f4a5c".into(),
        ]);
        assert_eq!(prepared.len(), 2);
        assert_ne!(prepared[0].token_seed, prepared[1].token_seed);
        for ticket in &prepared {
            assert_eq!(ticket.token_seed.len(), 32);
            assert_eq!(
                ticket.token_hash,
                token_hash(&keys.token(&ticket.attendee_id, &ticket.token_seed))
            );
            assert_eq!(ticket.code.len(), 11);
            assert_eq!(&ticket.code[5..6], "-");
        }
    }

    #[test]
    fn a_scan_may_be_the_token_or_the_link() {
        assert_eq!(token_from_scan("abc"), "abc");
        assert_eq!(token_from_scan(" https://door.example/t/abc "), "abc");
        assert_eq!(token_from_scan("https://door.example/t/abc/?x=1"), "abc");
    }
}
