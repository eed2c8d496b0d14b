//! Random UUID v4s, drawn from a buffer of system randomness.
//!
//! Asking the platform for 16 bytes per id would cross into JavaScript
//! (`crypto.getRandomValues`) once per event; one 4 KiB fill serves 256 ids.

use crate::error::{Error, Result};

const POOL: usize = 4096;

pub struct IdPool {
    bytes: Box<[u8; POOL]>,
    next: usize,
}

impl Default for IdPool {
    fn default() -> Self {
        IdPool {
            bytes: Box::new([0; POOL]),
            next: POOL,
        }
    }
}

impl IdPool {
    pub fn v4(&mut self) -> Result<u128> {
        if self.next + 16 > POOL {
            getrandom::fill(&mut self.bytes[..]).map_err(|e| Error::Storage {
                reason: "unavailable",
                message: format!("no source of randomness for event ids ({e})"),
            })?;
            self.next = 0;
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.bytes[self.next..self.next + 16]);
        self.next += 16;
        Ok(uuid::Builder::from_random_bytes(b).into_uuid().as_u128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_distinct_version_4_ids_across_refills() {
        let mut pool = IdPool::default();
        let ids: std::collections::HashSet<u128> = (0..1000).map(|_| pool.v4().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            let u = uuid::Uuid::from_u128(id);
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        }
    }
}
