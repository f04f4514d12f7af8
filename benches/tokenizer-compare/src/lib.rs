//! The two tokenizers, and a minimal wasm32 module for each (wasm-bindgen, as the app):
//! `*_init(vocab)` and `*_encode(text)` returning the number of ids (so the optimiser cannot
//! drop the work). Build one at a time to measure its size:
//! `cargo build --lib --release --target wasm32-unknown-unknown --features hand` (or `hf`).

/// The app's tokenizer, compiled from the app's own source files.
#[cfg(feature = "hand")]
#[allow(dead_code, unexpected_cfgs)]
#[path = "../../../src/core/signals/embed/mod.rs"]
pub mod embed;

/// Hugging Face `tokenizers` with all-MiniLM-L6-v2's tokenizer.json, set up as
/// sentence-transformers uses it (truncation at 256 tokens, no padding).
#[cfg(feature = "hf")]
pub fn hf_tokenizer(tokenizer_json: &str) -> Result<tokenizers::Tokenizer, String> {
    let mut t: tokenizers::Tokenizer = tokenizer_json.parse().map_err(|e| format!("{e}"))?;
    t.with_padding(None);
    t.with_truncation(Some(tokenizers::TruncationParams {
        max_length: 256,
        ..Default::default()
    }))
    .map_err(|e| format!("{e}"))?;
    Ok(t)
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;

    #[cfg(feature = "hand")]
    thread_local! {
        static HAND: RefCell<Option<crate::embed::Tokenizer>> = const { RefCell::new(None) };
    }

    /// Reads vocab.txt.
    #[cfg(feature = "hand")]
    #[wasm_bindgen]
    pub fn hand_init(vocab: &str) -> Result<(), String> {
        let t = crate::embed::Tokenizer::from_vocab(vocab)?;
        HAND.with(|h| *h.borrow_mut() = Some(t));
        Ok(())
    }

    /// Number of ids of a text (0 before `hand_init`).
    #[cfg(feature = "hand")]
    #[wasm_bindgen]
    pub fn hand_encode(text: &str) -> usize {
        HAND.with(|h| h.borrow().as_ref().map_or(0, |t| t.encode(text).ids.len()))
    }

    #[cfg(feature = "hf")]
    thread_local! {
        static HF: RefCell<Option<tokenizers::Tokenizer>> = const { RefCell::new(None) };
    }

    /// Reads tokenizer.json.
    #[cfg(feature = "hf")]
    #[wasm_bindgen]
    pub fn hf_init(tokenizer_json: &str) -> Result<(), String> {
        let t = crate::hf_tokenizer(tokenizer_json)?;
        HF.with(|h| *h.borrow_mut() = Some(t));
        Ok(())
    }

    /// Number of ids of a text (0 before `hf_init` or on an error).
    #[cfg(feature = "hf")]
    #[wasm_bindgen]
    pub fn hf_encode(text: &str) -> usize {
        HF.with(|h| {
            h.borrow()
                .as_ref()
                .and_then(|t| t.encode(text, true).ok())
                .map_or(0, |e| e.len())
        })
    }
}
