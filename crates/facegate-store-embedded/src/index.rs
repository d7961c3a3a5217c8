//! An exact in-memory vector index: a flat scan of dot products.
//!
//! Rows are identified by `(group, key)` and carry a small value returned with each hit.
//! Searches return at most one hit per group (its best row), which is what both ports need:
//! one match per photo (group = photo id, key = face index) and one per subject
//! (group = subject, key = reference id).
//!
//! Rows live in one partition per embedding space (model id and dimension); a probe is
//! only ever compared with the rows of its own space, so embeddings of different models
//! are never compared and mismatched dimensions cannot reach the dot product.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use facegate_core::{Embedding, ModelId};

/// Accumulator lanes of the dot product: independent sums the compiler can keep in SIMD
/// registers (one AVX-512 or two AVX2 registers).
const LANES: usize = 16;

/// A search result.
#[derive(Debug)]
pub(crate) struct Hit<G, K, V> {
    pub group: G,
    pub key: K,
    pub value: V,
    pub score: f32,
}

/// Rows of one embedding space, vectors stored contiguously.
#[derive(Debug)]
struct Partition<G, K, V> {
    model: ModelId,
    dim: usize,
    /// `rows.len() * dim` values, row `i` at `i * dim..(i + 1) * dim`.
    vectors: Vec<f32>,
    rows: Vec<Row<G, K, V>>,
}

#[derive(Debug)]
struct Row<G, K, V> {
    id: (G, K),
    value: V,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    partition: usize,
    row: usize,
}

/// The index; see the module documentation.
#[derive(Debug)]
pub(crate) struct VectorIndex<G, K, V> {
    partitions: Vec<Partition<G, K, V>>,
    slots: HashMap<(G, K), Slot>,
}

impl<G, K, V> Default for VectorIndex<G, K, V> {
    fn default() -> Self {
        Self {
            partitions: Vec::new(),
            slots: HashMap::new(),
        }
    }
}

impl<G, K, V> VectorIndex<G, K, V>
where
    G: Clone + Eq + Hash + Ord,
    K: Clone + Eq + Hash + Ord,
    V: Clone,
{
    /// How many rows the index holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Adds a row, replacing the row with the same `(group, key)` if there is one.
    pub fn insert(&mut self, group: G, key: K, value: V, embedding: &Embedding) {
        let id = (group, key);
        if let Some(slot) = self.slots.remove(&id) {
            self.remove_slot(slot);
        }
        let vector = embedding.vector();
        let partition = self
            .partitions
            .iter()
            .position(|p| p.dim == vector.len() && p.model == *embedding.model())
            .unwrap_or_else(|| {
                self.partitions.push(Partition {
                    model: embedding.model().clone(),
                    dim: vector.len(),
                    vectors: Vec::new(),
                    rows: Vec::new(),
                });
                self.partitions.len() - 1
            });
        let p = &mut self.partitions[partition];
        p.vectors.extend_from_slice(vector);
        p.rows.push(Row {
            id: id.clone(),
            value,
        });
        self.slots.insert(
            id,
            Slot {
                partition,
                row: p.rows.len() - 1,
            },
        );
    }

    /// Removes one row; returns whether it was there.
    pub fn remove(&mut self, group: &G, key: &K) -> bool {
        match self.slots.remove(&(group.clone(), key.clone())) {
            Some(slot) => {
                self.remove_slot(slot);
                true
            }
            None => false,
        }
    }

    /// Removes every row of a group; returns how many there were.
    pub fn remove_group(&mut self, group: &G) -> usize {
        let ids: Vec<(G, K)> = self
            .slots
            .keys()
            .filter(|(g, _)| g == group)
            .cloned()
            .collect();
        for id in &ids {
            if let Some(slot) = self.slots.remove(id) {
                self.remove_slot(slot);
            }
        }
        ids.len()
    }

    /// Swap-removes a row whose slot was already taken out of `slots`, moving the last
    /// row of its partition into the hole.
    fn remove_slot(&mut self, slot: Slot) {
        let Self { partitions, slots } = self;
        let p = &mut partitions[slot.partition];
        let last = p.rows.len() - 1;
        p.rows.swap_remove(slot.row);
        if slot.row != last {
            p.vectors
                .copy_within(last * p.dim..(last + 1) * p.dim, slot.row * p.dim);
            if let Some(moved) = slots.get_mut(&p.rows[slot.row].id) {
                moved.row = slot.row;
            }
        }
        p.vectors.truncate(last * p.dim);
    }

    /// The best row of each group scoring at or above `threshold`, best first (ties by
    /// group and key), at most `limit` hits. Rows of another model or dimension than the
    /// probe's are skipped.
    pub fn search(&self, probe: &Embedding, threshold: f32, limit: usize) -> Vec<Hit<G, K, V>> {
        let query = probe.vector();
        let Some(p) = self
            .partitions
            .iter()
            .find(|p| p.dim == query.len() && p.model == *probe.model())
        else {
            return Vec::new();
        };
        if limit == 0 || p.dim == 0 {
            return Vec::new();
        }
        let mut candidates: Vec<(f32, usize)> = p
            .vectors
            .chunks_exact(p.dim)
            .enumerate()
            .filter_map(|(row, vector)| {
                let score = dot(vector, query);
                (score >= threshold).then_some((score, row))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| p.rows[a.1].id.cmp(&p.rows[b.1].id))
        });
        let mut seen = HashSet::new();
        let mut hits = Vec::new();
        for (score, row) in candidates {
            let row = &p.rows[row];
            if seen.insert(&row.id.0) {
                hits.push(Hit {
                    group: row.id.0.clone(),
                    key: row.id.1.clone(),
                    value: row.value.clone(),
                    score,
                });
                if hits.len() == limit {
                    break;
                }
            }
        }
        hits
    }
}

/// Dot product in f32 with `LANES` independent accumulators, so the loop vectorises
/// (a single running sum would force the additions into order). Extra values of the
/// longer slice are ignored.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0_f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for ((s, xi), yi) in acc.iter_mut().zip(x).zip(y) {
            *s += xi * yi;
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    type Index = VectorIndex<String, u32, &'static str>;

    fn emb(model: &str, v: &[f32]) -> Embedding {
        Embedding::from_raw(ModelId(model.into()), v.to_vec()).unwrap()
    }

    /// A unit vector at `angle` radians from the x axis, in 3 dimensions.
    fn at(angle: f32) -> Embedding {
        emb("m", &[angle.cos(), angle.sin(), 0.0])
    }

    fn hits(index: &Index, probe: &Embedding, threshold: f32, limit: usize) -> Vec<(String, u32)> {
        index
            .search(probe, threshold, limit)
            .into_iter()
            .map(|h| (h.group, h.key))
            .collect()
    }

    #[test]
    fn dot_matches_a_plain_sum_for_any_length() {
        for len in [1, 15, 16, 17, 512, 515] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            assert!((f64::from(dot(&a, &b)) - plain).abs() < 1e-4, "len {len}");
        }
        assert!(dot(&[], &[]).abs() < f32::EPSILON);
    }

    #[test]
    fn best_row_per_group_best_first() {
        let mut index = Index::default();
        index.insert("p1".into(), 0, "a", &at(0.1));
        index.insert("p1".into(), 1, "b", &at(0.05));
        index.insert("p2".into(), 0, "c", &at(0.3));
        index.insert("p3".into(), 0, "d", &at(1.5));
        let found = index.search(&at(0.0), -1.0, 10);
        let ids: Vec<_> = found
            .iter()
            .map(|h| (h.group.as_str(), h.key, h.value))
            .collect();
        assert_eq!(ids, [("p1", 1, "b"), ("p2", 0, "c"), ("p3", 0, "d")]);
        assert!((found[0].score - 0.05_f32.cos()).abs() < 1e-6);
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn threshold_and_limit_are_honoured() {
        let mut index = Index::default();
        for (i, angle) in [0.1, 0.2, 0.3, 1.2].into_iter().enumerate() {
            index.insert(format!("p{i}"), 0, "", &at(angle));
        }
        let threshold = 0.25_f32.cos();
        assert_eq!(
            hits(&index, &at(0.0), threshold, 10),
            [("p0".into(), 0), ("p1".into(), 0)]
        );
        assert_eq!(hits(&index, &at(0.0), -1.0, 3).len(), 3);
        assert!(hits(&index, &at(0.0), -1.0, 0).is_empty());
        assert!(hits(&index, &at(0.0), 1.5, 10).is_empty());
    }

    #[test]
    fn remove_keeps_the_moved_row_findable() {
        let mut index = Index::default();
        index.insert("a".into(), 0, "", &at(0.0));
        index.insert("b".into(), 0, "", &at(1.0));
        index.insert("c".into(), 0, "", &at(2.0));
        assert!(index.remove(&"a".into(), &0));
        assert!(!index.remove(&"a".into(), &0));
        assert_eq!(index.len(), 2);
        // "c" was moved into the first row: it must still score as itself.
        let found = index.search(&at(2.0), 0.99, 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].group, "c");
        assert!(index.remove(&"c".into(), &0));
        assert_eq!(hits(&index, &at(1.0), 0.99, 10), [("b".into(), 0)]);
    }

    #[test]
    fn remove_group_and_replace() {
        let mut index = Index::default();
        index.insert("s".into(), 0, "", &at(0.0));
        index.insert("s".into(), 1, "", &at(0.5));
        index.insert("t".into(), 0, "", &at(1.0));
        assert_eq!(index.remove_group(&"s".into()), 2);
        assert_eq!(index.remove_group(&"s".into()), 0);
        assert_eq!(index.len(), 1);
        assert_eq!(hits(&index, &at(0.0), -1.0, 10), [("t".into(), 0)]);
        // Same (group, key) again replaces the row.
        index.insert("t".into(), 0, "new", &at(3.0));
        assert_eq!(index.len(), 1);
        let found = index.search(&at(3.0), 0.99, 10);
        assert_eq!(found[0].value, "new");
    }

    #[test]
    fn other_models_and_dimensions_are_never_compared() {
        let mut index = Index::default();
        index.insert("a".into(), 0, "", &emb("m", &[1.0, 0.0, 0.0]));
        index.insert("b".into(), 0, "", &emb("other", &[1.0, 0.0, 0.0]));
        index.insert("c".into(), 0, "", &emb("m", &[1.0, 0.0]));
        assert_eq!(
            hits(&index, &emb("m", &[1.0, 0.0, 0.0]), -1.0, 10),
            [("a".into(), 0)]
        );
        assert_eq!(
            hits(&index, &emb("other", &[1.0, 0.0, 0.0]), -1.0, 10),
            [("b".into(), 0)]
        );
        assert_eq!(
            hits(&index, &emb("m", &[0.0, 1.0]), -1.0, 10),
            [("c".into(), 0)]
        );
        assert!(hits(&index, &emb("m", &[1.0; 7]), -1.0, 10).is_empty());
        assert!(hits(&index, &emb("unknown", &[1.0, 0.0, 0.0]), -1.0, 10).is_empty());
    }

    /// Prints the time of an exact scan of 100k 512-d rows; run with
    /// `cargo test --release -p facegate-store-embedded -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check; meaningful in release builds only"]
    fn time_a_100k_scan() {
        const ROWS: u32 = 100_000;
        const DIM: usize = 512;
        let mut state = 1_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1_u64 << 24) as f32) * 2.0 - 1.0
        };
        let mut random = || emb("m", &(0..DIM).map(|_| next()).collect::<Vec<_>>());
        let mut index = Index::default();
        for row in 0..ROWS {
            index.insert(format!("photo-{}", row / 2), row % 2, "", &random());
        }
        let probes: Vec<_> = (0..20).map(|_| random()).collect();
        let started = std::time::Instant::now();
        let mut found = 0;
        for probe in &probes {
            found += index.search(probe, 0.1, 100).len();
        }
        let per_query = started.elapsed() / probes.len() as u32;
        println!("exact scan of {ROWS} x {DIM}: {per_query:?} per query ({found} hits in all)");
        assert_eq!(index.len(), ROWS as usize);
    }
}
