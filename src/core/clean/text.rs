//! Words, shingles and n-grams of a text, hashed the same way on every platform (the page's
//! wasm32 and a 64-bit CLI give the same findings).
//!
//! A word is a run of letters, digits and `_` (Python's `\w+`), lower-cased: the check
//! against `datasketch` (`tests/py/check_clean.py`) makes its shingles with
//! `re.findall(r"\w+", text.lower())` and finds the same sets.

/// Calls `f` with each word of `text`, lower-cased, in order.
fn each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            f(&word);
            word.clear();
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

/// The words of `text`, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_word(text, |w| out.push(w.to_string()));
    out
}

/// 64-bit FNV-1a of `bytes`, finished with MurmurHash3's mixer (so that nearby inputs
/// spread over all bits).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// MurmurHash3's 64-bit finaliser.
pub fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of each word.
pub fn word_hashes(words: &[String]) -> Vec<u64> {
    words.iter().map(|w| hash_bytes(w.as_bytes())).collect()
}

/// The hash of each word of `text`: `word_hashes(&words(text))` without a string per word
/// (what the cleaning of a million CoTs reads).
pub fn text_word_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    each_word(text, |w| out.push(hash_bytes(w.as_bytes())));
    out
}

/// The hashes of every run of `n` consecutive words (a text of fewer words: the one run of
/// all of them; no words: none), in order, repeats kept. The hash of a run depends on its
/// words and their order only.
pub fn ngram_hashes(word_hashes: &[u64], n: usize) -> Vec<u64> {
    let n = n.max(1);
    if word_hashes.is_empty() {
        return Vec::new();
    }
    let gram = |ws: &[u64]| {
        ws.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &w| {
            mix(h.rotate_left(23) ^ w).wrapping_add(0x2545_f491_4f6c_dd1d)
        })
    };
    if word_hashes.len() < n {
        return vec![gram(word_hashes)];
    }
    word_hashes.windows(n).map(gram).collect()
}

/// The set of `n`-word shingles of `text`, sorted, each once.
pub fn shingles(text: &str, n: usize) -> Vec<u64> {
    shingle_set(&text_word_hashes(text), n)
}

/// [`shingles`] of a text's word hashes.
pub fn shingle_set(word_hashes: &[u64], n: usize) -> Vec<u64> {
    let mut s = ngram_hashes(word_hashes, n);
    s.sort_unstable();
    s.dedup();
    s
}

/// `text` with its words joined by one space: what two texts share when they are the
/// same question written with other spacing, case or punctuation.
pub fn normalized(text: &str) -> String {
    words(text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_python_word_runs_lower_cased() {
        assert_eq!(
            words("Janet’s ducks: 16 eggs/day, x_1 = Éa!"),
            ["janet", "s", "ducks", "16", "eggs", "day", "x_1", "éa"]
        );
        assert!(words(" \n\t…").is_empty());
    }

    #[test]
    fn shingles_are_sets_of_word_runs() {
        // "a b c a b c": runs "a b c", "b c a", "c a b", "a b c" → three distinct
        assert_eq!(shingles("a b c a b c", 3).len(), 3);
        // case, spacing and punctuation do not matter
        assert_eq!(shingles("A  b, C!", 2), shingles("a b c", 2));
        // order does
        assert_ne!(shingles("a b c", 2), shingles("c b a", 2));
        // fewer words than n: the one run of all of them
        assert_eq!(shingles("a b", 3).len(), 1);
        assert_ne!(shingles("a b", 3), shingles("b a", 3));
        assert!(shingles("", 3).is_empty());
    }

    #[test]
    fn hashes_are_fixed_numbers() {
        // the same on wasm32 and 64-bit targets: no usize, no randomised hasher
        assert_eq!(hash_bytes(b""), mix(0xcbf2_9ce4_8422_2325));
        assert_eq!(hash_bytes(b"a"), hash_bytes(b"a"));
        assert_ne!(hash_bytes(b"ab"), hash_bytes(b"ba"));
        assert_eq!(normalized("The  answer, is 42."), "the answer is 42");
        let t = "Ça fait 3,5 € — d'accord?";
        assert_eq!(text_word_hashes(t), word_hashes(&words(t)));
    }
}
