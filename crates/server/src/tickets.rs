//! Ticket secrets: tokens, codes and magic links.
//!
//! A token is `HMAC-SHA256(key, seed)` cut to 192 bits and written URL-safe (base64url, 32
//! characters). The seed (128 random bits) and SHA-256 of the token are stored; the key is not: it
//! lives in the data directory's `ticket-key` file (mode 0600) or `ALLOT_TICKET_KEY`. So the
//! server can draw a ticket's QR code again at any time, while a copy of the database alone can
//! neither read a token nor forge one that checks in.

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
    ) -> Result<Self, crate::ServeError> {
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
                return Err(crate::ServeError::Io(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        }
        let secret = crate::auth::generate_secret();
        crate::write_private(&path, &secret)?;
        Ok(TicketKeys::new(&secret, link_base))
    }

    /// The ticket's token, derived from its stored seed.
    pub fn token(&self, seed: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(b"allot-ticket-token:");
        mac.update(seed.as_bytes());
        let tag = mac.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..24])
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
                let token_hash = token_hash(&self.token(&token_seed));
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

/// SHA-256 of a token, hex: what the store keeps and looks tickets up by.
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
        let token = keys.token("seed");
        assert_eq!(token, keys.token("seed"));
        assert_ne!(token, keys.token("seed2"));
        assert_ne!(token, other.token("seed"));
        assert_eq!(token.len(), 32);
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
        let prepared = keys.prepare(vec!["a".into(), "b".into()]);
        assert_eq!(prepared.len(), 2);
        assert_ne!(prepared[0].token_seed, prepared[1].token_seed);
        for ticket in &prepared {
            assert_eq!(ticket.token_seed.len(), 32);
            assert_eq!(
                ticket.token_hash,
                token_hash(&keys.token(&ticket.token_seed))
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
