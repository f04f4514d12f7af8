//! Sentence embeddings with all-MiniLM-L6-v2, computed in the app (burn) rather than
//! imported: the same 384-d vectors sentence-transformers gives.
//!
//! - this file (no burn): the tokenizer's public face ([`Tokenizer`], [`Encoding`]) and the
//!   grouping of texts into length-sorted batches ([`batches`]);
//! - `wordpiece`: the BERT uncased tokenizer itself, written to match Hugging Face
//!   `tokenizers` id for id (see `benches/tokenizer-compare` for why it is hand-written);
//! - `minilm` (feature `model`): the network in burn, its weights' burnpack record, mean
//!   pooling and L2 normalisation.
//!
//! Parity with sentence-transformers is tested in `tests/integration/embed.rs` against
//! `../shared/data/reference_embeddings.json`. The weights are made from the model's
//! `model.safetensors` by `src/bin/convert_minilm.rs` (`scripts/fetch-minilm` does it all).

#[cfg(feature = "model")]
mod minilm;
mod wordpiece;

#[cfg(feature = "model")]
pub use minilm::{embed, embed_async, init, load, MiniLm};

/// Most tokens per text, `[CLS]` and `[SEP]` included (sentence-transformers'
/// `max_seq_length`); longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

/// Width of an embedding.
pub const DIM: usize = 384;

/// The BERT uncased WordPiece tokenizer of all-MiniLM-L6-v2.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    wp: wordpiece::WordPiece,
}

/// One text's token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// `[CLS]`, the text's tokens, `[SEP]`: at most [`MAX_TOKENS`] in all.
    pub ids: Vec<u32>,
    /// How many ids there would be without truncation (`[CLS]`/`[SEP]` included).
    pub untruncated_len: usize,
}

impl Encoding {
    /// Whether the text was cut to [`MAX_TOKENS`].
    pub fn truncated(&self) -> bool {
        self.untruncated_len > self.ids.len()
    }
}

impl Tokenizer {
    /// The tokenizer of a `vocab.txt` (one token per line, the id is the line number).
    /// Fails when the vocabulary is empty or lacks `[CLS]`, `[SEP]`, `[UNK]` or `[PAD]`.
    pub fn from_vocab(vocab_txt: &str) -> Result<Self, String> {
        Ok(Self {
            wp: wordpiece::WordPiece::from_vocab(vocab_txt)?,
        })
    }

    /// The ids of `text` as sentence-transformers makes them: `[CLS]` … `[SEP]`, the tokens
    /// cut to `MAX_TOKENS − 2` (an empty text gives `[CLS] [SEP]`).
    pub fn encode(&self, text: &str) -> Encoding {
        let mut tokens = Vec::new();
        self.wp.tokenize(text, &mut tokens);
        let untruncated_len = tokens.len() + 2;
        tokens.truncate(MAX_TOKENS - 2);
        let mut ids = Vec::with_capacity(tokens.len() + 2);
        ids.push(self.wp.cls);
        ids.extend(tokens);
        ids.push(self.wp.sep);
        Encoding {
            ids,
            untruncated_len,
        }
    }

    /// Id of `[PAD]` (what batches are padded with).
    pub fn pad_id(&self) -> u32 {
        self.wp.pad
    }
}

/// Indices of `encodings` grouped into batches of at most `max_rows` (0 counts as 1) texts of
/// similar length, shortest first, so a padded batch wastes little. Every index appears
/// once; texts of equal length keep their order.
pub fn batches(encodings: &[Encoding], max_rows: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].ids.len());
    order
        .chunks(max_rows.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// The key under which a text's MiniLM vector is cached (the page's IndexedDB):
/// `minilm:` and the lower-case hex SHA-256 of the text, so the same CoT in another data
/// set finds its vector.
pub fn cache_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut k = String::with_capacity(7 + 64);
    k.push_str("minilm:");
    for b in Sha256::digest(text.as_bytes()) {
        k.push(char::from(HEX[usize::from(b >> 4)]));
        k.push(char::from(HEX[usize::from(b & 15)]));
    }
    k
}

/// Memory one pool worker is allowed for (the model's 66 MB of weights twice — the file and
/// the tensors — plus the batch's activations and the wasm module): what bounds the pool on a
/// small machine.
pub const WORKER_MB: f64 = 400.0;

/// Batches each pool worker gets at least.
pub const MIN_POOL_BATCHES: usize = 8;

/// How many workers embed `texts` texts in batches of `batch`:
/// - `asked` (the page's `?workers=N`) when given, from 1 to 16;
/// - else one per core but one (`cores − 1`, the page keeps a core), at least 1;
/// - at most as many as half the device's memory holds at [`WORKER_MB`] each (`memory_gb`:
///   `navigator.deviceMemory`, which only Chromium reports; 4 GB assumed without it);
/// - and never more than gives each worker [`MIN_POOL_BATCHES`] batches: a helper's start
///   (its wasm compiled, the model loaded: seconds) is paid inside the job, which a small
///   job does not repay.
pub fn pool_size(
    texts: usize,
    batch: usize,
    cores: usize,
    memory_gb: Option<f64>,
    asked: Option<usize>,
) -> usize {
    let want = match asked {
        Some(n) => n.clamp(1, 16),
        None => {
            let by_memory = (memory_gb.unwrap_or(4.0) * 1024.0 / 2.0 / WORKER_MB).floor() as usize;
            cores.saturating_sub(1).min(by_memory).max(1)
        }
    };
    want.min(texts.div_ceil(MIN_POOL_BATCHES * batch.max(1)))
        .max(1)
}

/// The pool sizes worth measuring on a device of `cores` (the timing page's embedding
/// benchmark): 1, 2, 4, … up to `cores`, and `cores` itself; at least 1 and 2.
pub fn bench_pool_sizes(cores: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |k| Some(k * 2))
        .take_while(|&k| k <= cores.max(2))
        .collect();
    if !out.contains(&cores) && cores > 1 {
        out.push(cores);
    }
    out
}

/// The texts of each of `workers` workers: the length-sorted [`batches`] handed out longest
/// first, each to the worker with the least work so far (work: rows × the batch's longest
/// text, what a padded batch costs), so the workers finish together. Every index appears in
/// exactly one shard; no shard is empty (fewer shards than workers when there are fewer
/// batches); the indices of a shard are in input order.
pub fn shards(encodings: &[Encoding], batch: usize, workers: usize) -> Vec<Vec<usize>> {
    let groups = batches(encodings, batch);
    let cost =
        |g: &Vec<usize>| g.len() * g.iter().map(|&i| encodings[i].ids.len()).max().unwrap_or(0);
    let mut order: Vec<&Vec<usize>> = groups.iter().collect();
    order.sort_by_key(|g| std::cmp::Reverse(cost(g)));
    let k = workers.max(1).min(groups.len());
    let mut out: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); k];
    for g in order {
        let (load, shard) = out
            .iter_mut()
            .min_by_key(|(load, _)| *load)
            .expect("at least one shard");
        *load += cost(g);
        shard.extend_from_slice(g);
    }
    out.into_iter()
        .map(|(_, mut shard)| {
            shard.sort_unstable();
            shard
        })
        .collect()
}

/// The progress of a pool: each worker's share of the texts and how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolProgress {
    sizes: Vec<usize>,
    done: Vec<f64>,
}

impl PoolProgress {
    /// Nothing done yet, for workers of `sizes` texts each.
    pub fn new(sizes: Vec<usize>) -> Self {
        let done = vec![0.0; sizes.len()];
        Self { sizes, done }
    }

    /// Worker `w` has done `fraction` of its texts (a worker's progress never goes back).
    pub fn set(&mut self, w: usize, fraction: f64) {
        if let Some(d) = self.done.get_mut(w) {
            *d = d.max(fraction.clamp(0.0, 1.0));
        }
    }

    /// Texts done in all, and the share of all texts.
    pub fn total(&self) -> (usize, f64) {
        let all: usize = self.sizes.iter().sum();
        let done: f64 = self
            .sizes
            .iter()
            .zip(&self.done)
            .map(|(&n, f)| n as f64 * f)
            .sum();
        (
            done.round() as usize,
            if all == 0 { 1.0 } else { done / all as f64 },
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_keys_are_the_hex_sha256_of_the_text() {
        // FIPS 180-2's test vector
        assert_eq!(
            cache_key("abc"),
            "minilm:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(cache_key("a b"), cache_key("a  b"));
    }

    use super::*;

    #[test]
    fn pool_size_follows_cores_memory_and_the_job() {
        // cores − 1, at least one
        assert_eq!(pool_size(10_000, 16, 8, Some(8.0), None), 7);
        assert_eq!(pool_size(10_000, 16, 2, Some(8.0), None), 1);
        assert_eq!(pool_size(10_000, 16, 1, None, None), 1);
        // memory: 2 GB holds 1024 MB / 400 MB = 2 workers; 4 GB assumed when unknown
        assert_eq!(pool_size(10_000, 16, 16, Some(2.0), None), 2);
        assert_eq!(pool_size(10_000, 16, 16, None, None), 5);
        // asked for: clamped to 1..=16
        assert_eq!(pool_size(10_000, 16, 2, Some(0.5), Some(2)), 2);
        assert_eq!(pool_size(10_000, 16, 2, None, Some(0)), 1);
        assert_eq!(pool_size(10_000, 16, 2, None, Some(99)), 16);
        // eight batches per worker at least: 300 texts of 16 hold 3 workers, 128 one
        assert_eq!(pool_size(300, 16, 64, Some(64.0), None), 3);
        assert_eq!(pool_size(300, 16, 64, Some(64.0), Some(12)), 3);
        assert_eq!(pool_size(300, 16, 2, None, Some(2)), 2);
        assert_eq!(pool_size(129, 16, 8, None, Some(4)), 2);
        assert_eq!(pool_size(128, 16, 8, None, Some(4)), 1);
        assert_eq!(pool_size(0, 16, 8, None, None), 1);
    }

    #[test]
    fn bench_pool_sizes_double_up_to_the_cores() {
        assert_eq!(bench_pool_sizes(1), vec![1, 2]);
        assert_eq!(bench_pool_sizes(2), vec![1, 2]);
        assert_eq!(bench_pool_sizes(6), vec![1, 2, 4, 6]);
        assert_eq!(bench_pool_sizes(8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn shards_cover_every_text_once_and_balance_the_padded_work() {
        let lens: Vec<usize> = (0..103).map(|i| 3 + (i * 37) % 120).collect();
        let encs: Vec<Encoding> = lens.iter().map(|&n| enc(n)).collect();
        for workers in [1, 2, 3, 5] {
            let s = shards(&encs, 8, workers);
            assert_eq!(s.len(), workers);
            let mut all = s.concat();
            all.sort_unstable();
            assert_eq!(all, (0..lens.len()).collect::<Vec<_>>(), "{workers}");
            for shard in &s {
                assert!(shard.windows(2).all(|w| w[0] < w[1]), "input order");
            }
            // each shard's padded work (its own length-sorted batches) within one batch's
            // work of the others'
            let work: Vec<usize> = s
                .iter()
                .map(|shard| {
                    let mine: Vec<Encoding> = shard.iter().map(|&i| encs[i].clone()).collect();
                    batches(&mine, 8)
                        .iter()
                        .map(|g| g.len() * g.iter().map(|&i| mine[i].ids.len()).max().unwrap())
                        .sum()
                })
                .collect();
            let spread = work.iter().max().unwrap() - work.iter().min().unwrap();
            assert!(spread <= 8 * 122, "{workers}: {work:?}");
        }
        // fewer batches than workers: no empty shard
        assert_eq!(shards(&encs[..10], 8, 4).len(), 2);
        assert!(shards(&[], 8, 4).is_empty());
    }

    #[test]
    fn pool_progress_sums_by_share() {
        let mut p = PoolProgress::new(vec![100, 50, 50]);
        assert_eq!(p.total(), (0, 0.0));
        p.set(0, 0.5);
        p.set(2, 1.0);
        assert_eq!(p.total(), (100, 0.5));
        p.set(2, 0.2); // never back
        p.set(7, 1.0); // no such worker
        assert_eq!(p.total(), (100, 0.5));
        p.set(0, 1.0);
        p.set(1, 1.5);
        assert_eq!(p.total(), (200, 1.0));
        assert_eq!(PoolProgress::new(Vec::new()).total(), (0, 1.0));
    }

    fn tok() -> Tokenizer {
        Tokenizer::from_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n.").unwrap()
    }

    #[test]
    fn encode_adds_cls_and_sep_and_truncates() {
        let t = tok();
        let e = t.encode("");
        assert_eq!((e.ids, e.untruncated_len), (vec![2, 3], 2));
        let e = t.encode("The the.");
        assert_eq!(e.ids, vec![2, 4, 4, 5, 3]);
        assert!(!e.truncated());
        let e = t.encode(&"the ".repeat(300));
        assert_eq!(e.ids.len(), MAX_TOKENS);
        assert_eq!(e.untruncated_len, 302);
        assert!(e.truncated());
        assert_eq!((e.ids[0], e.ids[MAX_TOKENS - 1]), (2, 3));
        assert!(e.ids[1..MAX_TOKENS - 1].iter().all(|&i| i == 4));
        // exactly at the limit: nothing cut
        let e = t.encode(&"the ".repeat(MAX_TOKENS - 2));
        assert_eq!((e.ids.len(), e.untruncated_len), (MAX_TOKENS, MAX_TOKENS));
        assert!(!e.truncated());
    }

    #[test]
    fn a_bad_vocabulary_is_named() {
        assert!(Tokenizer::from_vocab("").unwrap_err().contains("empty"));
        let err = Tokenizer::from_vocab("[UNK]\n[CLS]\n[SEP]").unwrap_err();
        assert!(err.contains("[PAD]"), "{err}");
    }

    fn enc(len: usize) -> Encoding {
        Encoding {
            ids: vec![0; len],
            untruncated_len: len,
        }
    }

    #[test]
    fn batches_group_similar_lengths() {
        let lens = [9, 2, 30, 2, 5, 30, 7, 3, 12, 4];
        let encs: Vec<Encoding> = lens.iter().map(|&n| enc(n)).collect();
        let b = batches(&encs, 4);
        assert_eq!(b, vec![vec![1, 3, 7, 9], vec![4, 6, 0, 8], vec![2, 5]]);
        // every index once, and less padding than in input order
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
        let padded = |groups: &[Vec<usize>]| -> usize {
            groups
                .iter()
                .map(|g| g.len() * g.iter().map(|&i| lens[i]).max().unwrap_or(0))
                .sum()
        };
        let naive: Vec<Vec<usize>> = (0..lens.len())
            .collect::<Vec<_>>()
            .chunks(4)
            .map(<[usize]>::to_vec)
            .collect();
        assert!(padded(&b) < padded(&naive));
        // degenerate sizes
        assert!(batches(&[], 8).is_empty());
        assert_eq!(batches(&encs[..2], 0), vec![vec![1], vec![0]]);
        assert_eq!(batches(&encs[..3], 100), vec![vec![1, 0, 2]]);
    }
}
