//! A frequency sketch: approximate counts of how often keys were used lately (their misses, and
//! the reads the main queue spends), in 4-bit counters (TinyLFU's count-min sketch, the
//! structure moka and Caffeine keep).
//!
//! Each key maps to one counter in each of two rows. A key is counted by raising those of its
//! counters that hold its current minimum ("conservative update": a counter shared with a
//! hotter key is left alone, which keeps estimates close), and estimated by the minimum of
//! its counters. Counters saturate at 15. After a sample of additions (ten per counter of a
//! row) every counter is halved, so the counts describe recent history: a key that was hot an
//! hour ago does not stay hot forever. Collisions only ever overestimate, and an estimate only
//! steers one admission; it never returns a wrong value.
//!
//! Two rows rather than moka's four: at the same memory, two rows of twice the width
//! estimated better on the ARC traces (`cache-core/src/memory/DESIGN.md` has the figures), since
//! conservative update already removes most of the overestimation extra rows would.

/// Counters per `u64` word.
const PER_WORD: usize = 16;
/// Rows: counters per key.
const DEPTH: usize = 2;
const MAX_COUNT: u64 = 15;
/// Additions per counter of a row between two halvings (TinyLFU's sample is ten times the
/// cache's capacity, and a row has about one counter per entry).
const SAMPLE_PER_COUNTER: u64 = 10;
/// Each row's own multiplier, to derive independent indices from one hash.
const SEEDS: [u64; DEPTH] = [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F];

pub(super) struct Sketch {
    /// `DEPTH` rows of `width` counters, 16 to a word, row after row.
    words: Vec<u64>,
    /// Counters per row, a multiple of [`PER_WORD`]; zero until sized.
    width: usize,
    additions: u64,
    /// Additions after which every counter is halved.
    period: u64,
}

impl Sketch {
    /// An empty sketch that allocates nothing and counts nothing until
    /// [`resize`](Self::resize) gives it counters.
    pub(super) fn new() -> Self {
        Self {
            words: Vec::new(),
            width: 0,
            additions: 0,
            period: 0,
        }
    }

    /// Gives the sketch `counters` counters per row (at least 16, rounded up to a whole word),
    /// forgetting every count.
    pub(super) fn resize(&mut self, counters: usize) {
        let width = counters.max(PER_WORD).div_ceil(PER_WORD) * PER_WORD;
        self.words = vec![0; width / PER_WORD * DEPTH];
        self.width = width;
        self.additions = 0;
        self.period = SAMPLE_PER_COUNTER * width as u64;
    }

    /// Whether [`resize`](Self::resize) has given it counters.
    pub(super) fn is_sized(&self) -> bool {
        self.width != 0
    }

    /// The position (word, bit shift) of `hash`'s counter in each row.
    fn cells(&self, hash: u64) -> [(usize, u32); DEPTH] {
        let row_words = self.width / PER_WORD;
        let mut cells = [(0, 0); DEPTH];
        for (row, cell) in cells.iter_mut().enumerate() {
            let h = (hash ^ (hash >> 29)).wrapping_mul(SEEDS[row]);
            // The top half of a multiplicative hash is its best mixed; scaling it to the row's
            // width (multiply, then shift) needs no power-of-two width, so the sketch costs
            // what its capacity asks and no more.
            let counter = (((h >> 32) * self.width as u64) >> 32) as usize;
            *cell = (
                row * row_words + counter / PER_WORD,
                (counter % PER_WORD) as u32 * 4,
            );
        }
        cells
    }

    fn count(&self, (word, shift): (usize, u32)) -> u64 {
        (self.words[word] >> shift) & MAX_COUNT
    }

    fn least(&self, cells: &[(usize, u32); DEPTH]) -> u64 {
        cells.iter().map(|&c| self.count(c)).min().unwrap_or(0)
    }

    /// The estimated recent count of `hash`: never below its true count (up to 15), above it
    /// only where its counters are shared.
    pub(super) fn estimate(&self, hash: u64) -> u8 {
        if !self.is_sized() {
            return 0;
        }
        self.least(&self.cells(hash)) as u8
    }

    /// Counts one occurrence of `hash`.
    pub(super) fn increment(&mut self, hash: u64) {
        if !self.is_sized() {
            return;
        }
        let cells = self.cells(hash);
        let least = self.least(&cells);
        if least == MAX_COUNT {
            return;
        }
        for (word, shift) in cells {
            if self.count((word, shift)) == least {
                self.words[word] += 1 << shift;
            }
        }
        self.additions += 1;
        if self.additions >= self.period {
            self.halve();
        }
    }

    /// Halves every counter (rounding down), so old counts fade.
    fn halve(&mut self) {
        for word in &mut self.words {
            // Shifting moves each counter's low bit into its neighbour's top bit; the mask
            // clears those.
            *word = (*word >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    pub(super) fn clear(&mut self) {
        self.words.fill(0);
        self.additions = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Sketch;

    fn hash(i: u64) -> u64 {
        // Spread like a real hasher's output so keys land in unrelated counters.
        i.wrapping_mul(0xA076_1D64_78BD_642F).rotate_left(29) ^ 0xE703_7ED1_A0B4_28DB
    }

    /// A sketch of `width` counters per row that has counted key `key` `times` times.
    fn counted(width: usize, key: u64, times: usize) -> Sketch {
        let mut sketch = Sketch::new();
        sketch.resize(width);
        for _ in 0..times {
            sketch.increment(hash(key));
        }
        sketch
    }

    #[test]
    fn an_unsized_sketch_counts_nothing() {
        let mut sketch = Sketch::new();
        sketch.increment(hash(1));
        assert_eq!(sketch.estimate(hash(1)), 0);
    }

    #[test]
    fn counts_saturate_at_fifteen() {
        let mut sketch = counted(1024, 7, 5);
        assert_eq!(sketch.estimate(hash(7)), 5);
        for _ in 0..100 {
            sketch.increment(hash(7));
        }
        assert_eq!(sketch.estimate(hash(7)), 15);
    }

    #[test]
    fn keys_are_counted_apart() {
        let mut sketch = Sketch::new();
        sketch.resize(4096);
        for i in 0..100 {
            for _ in 0..(i % 4) {
                sketch.increment(hash(i));
            }
        }
        // Count-min never underestimates, and with 100 keys in 4096 counters per row a key's
        // counters are almost never all shared with hotter keys.
        assert!((0..100).all(|i| sketch.estimate(hash(i)) >= (i % 4) as u8));
        let exact = (0..100)
            .filter(|&i| sketch.estimate(hash(i)) == (i % 4) as u8)
            .count();
        assert!(exact >= 98, "only {exact} of 100 estimates were exact");
        // A key never counted reads (almost always) as zero.
        let unseen = (1_000..1_100)
            .filter(|&i| sketch.estimate(hash(i)) == 0)
            .count();
        assert!(
            unseen >= 95,
            "only {unseen} of 100 unseen keys read as zero"
        );
    }

    #[test]
    fn a_key_sharing_one_counter_with_a_hot_key_keeps_its_own_count() {
        let sketch = counted(64, 0, 15);
        let [hot, _] = sketch.cells(hash(0));
        // Keys whose first-row counter is the hot key's: their second-row counter is another
        // one (the rows hash independently), so they still read as unseen.
        let sharing: Vec<u64> = (1..)
            .filter(|&i| sketch.cells(hash(i))[0] == hot)
            .take(20)
            .collect();
        let unseen = sharing
            .iter()
            .filter(|&&i| sketch.estimate(hash(i)) == 0)
            .count();
        assert!(
            unseen >= 17,
            "only {unseen} of 20 neighbours read as unseen"
        );
    }

    #[test]
    fn counts_halve_once_a_sample_is_counted() {
        // The sample is ten additions per counter of a row: 640 here. Key 1 saturates after
        // 15 of them (increments of a saturated key are not counted), then other keys fill the
        // sample; a few of those may find their counters saturated too and not count.
        let mut sketch = counted(64, 1, 20);
        let mut others = 0;
        while sketch.estimate(hash(1)) == 15 {
            others += 1;
            sketch.increment(hash(1_000 + others));
            assert!(others <= 700, "no halving after a whole sample");
        }
        assert!(
            others >= 640 - 15,
            "halved after {others} additions, before the sample"
        );
        assert_eq!(sketch.estimate(hash(1)), 7);
    }

    #[test]
    fn an_odd_width_keeps_every_counter_in_its_row() {
        let mut sketch = Sketch::new();
        sketch.resize(1_000);
        assert_eq!(sketch.width, 1_008);
        for i in 0..10_000 {
            for (word, _) in sketch.cells(hash(i)) {
                assert!(word < sketch.words.len());
            }
            let [(first, _), (second, _)] = sketch.cells(hash(i));
            assert!(first < sketch.words.len() / 2 && second >= sketch.words.len() / 2);
        }
    }

    #[test]
    fn clearing_forgets_every_count() {
        let mut sketch = counted(64, 3, 1);
        sketch.clear();
        assert_eq!(sketch.estimate(hash(3)), 0);
    }
}
