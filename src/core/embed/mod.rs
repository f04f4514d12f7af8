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
//! Parity with sentence-transformers is tested in `tests/embed.rs` against
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

#[cfg(test)]
mod tests {
    use super::*;

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
