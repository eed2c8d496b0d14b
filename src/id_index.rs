//! A hash index over 128-bit ids that are stored elsewhere.
//!
//! The log keeps event ids in a vector by revision and batch ids in the batch
//! table; this index maps an id to its position there while storing only the
//! 4-byte position per entry (a `HashMap<u128, u32>` would store the id a
//! second time, five times the size).

use hashbrown::HashTable;

#[derive(Clone, Default)]
pub struct IdIndex {
    table: HashTable<u32>,
}

/// Ids are mostly random UUIDs, but a caller may choose any: mix all bits
/// into the high ones, which the table's control bytes use.
fn hash(id: u128) -> u64 {
    let folded = (id as u64) ^ ((id >> 64) as u64).rotate_left(32);
    folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (folded >> 29)
}

impl IdIndex {
    /// The position of `id`; `id_at` reads the id stored at a position.
    pub fn get(&self, id: u128, id_at: impl Fn(u32) -> u128) -> Option<u32> {
        self.table.find(hash(id), |&at| id_at(at) == id).copied()
    }

    /// Adds `id` at `at`; the caller has checked it is not there yet.
    pub fn insert(&mut self, id: u128, at: u32, id_at: impl Fn(u32) -> u128) {
        self.table
            .insert_unique(hash(id), at, |&at| hash(id_at(at)));
    }

    /// Removes `id`, which is at `at` (positions are unique).
    pub fn remove(&mut self, id: u128, at: u32) {
        if let Ok(entry) = self.table.find_entry(hash(id), |&p| p == at) {
            entry.remove();
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// The entries are determined by the ids they index, which the owner
/// compares itself; two indexes over equal ids are equal.
impl PartialEq for IdIndex {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
    }
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdIndex({} ids)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let ids: Vec<u128> = (0..10_000u128)
            .map(|i| i * 0x1_0000_0001 + (i << 100))
            .collect();
        let mut index = IdIndex::default();
        for (at, &id) in ids.iter().enumerate() {
            index.insert(id, at as u32, |at| ids[at as usize]);
        }
        for (at, &id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, |at| ids[at as usize]), Some(at as u32));
        }
        assert_eq!(index.get(7, |at| ids[at as usize]), None);
        assert_eq!(index.len(), 10_000);
    }
}
