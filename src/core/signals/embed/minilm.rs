//! all-MiniLM-L6-v2 in burn: BERT embeddings (word + position + token type, LayerNorm), six
//! post-norm transformer layers (384 wide, 12 heads, 1536-wide erf-GELU feed-forward,
//! LayerNorm eps 1e-12), then the mean of the last hidden states over the real tokens,
//! L2-normalised — sentence-transformers' recipe. No dropout, no pooler.
//!
//! The burnpack weights are made by `src/bin/convert_minilm.rs`; their module paths are the
//! fields below (`embeddings.word_embeddings.weight`, `encoder.layers.3.mha.query.weight`, …).
//! Everything here builds for wasm32: results are read synchronously ([`embed`], native)
//! or asynchronously ([`embed_async`], as WebGPU in a browser requires).

use burn::nn::activation::ActivationConfig;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::{Encoding, DIM};

/// Tokens in the vocabulary.
const VOCAB: usize = 30522;
/// Positions the model has embeddings for (more than [`super::MAX_TOKENS`]).
const POSITIONS: usize = 512;
/// Token types (only type 0 is used: one sentence per text).
const TYPES: usize = 2;
/// Feed-forward width.
const FF: usize = 1536;
/// Attention heads.
const HEADS: usize = 12;
/// Transformer layers.
const LAYERS: usize = 6;
/// BERT's LayerNorm epsilon (burn's default 1e-5 moves the embeddings by ~1e-4).
const LN_EPS: f64 = 1e-12;

/// The embedding layer: word + position + token type, then LayerNorm.
#[derive(Module, Debug)]
pub struct MiniLmEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
}

impl MiniLmEmbeddings {
    fn new(device: &Device) -> Self {
        Self {
            word_embeddings: EmbeddingConfig::new(VOCAB, DIM).init(device),
            position_embeddings: EmbeddingConfig::new(POSITIONS, DIM).init(device),
            token_type_embeddings: EmbeddingConfig::new(TYPES, DIM).init(device),
            layer_norm: LayerNormConfig::new(DIM).with_epsilon(LN_EPS).init(device),
        }
    }

    /// `[batch, tokens]` ids → `[batch, tokens, DIM]`.
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, n] = ids.dims();
        let device = ids.device();
        let pos = Tensor::<1, Int>::arange(0..n as i64, &device)
            .reshape([1, n])
            .expand([b, n]);
        let types = Tensor::<2, Int>::zeros([b, n], &device);
        self.layer_norm.forward(
            self.word_embeddings.forward(ids)
                + self.position_embeddings.forward(pos)
                + self.token_type_embeddings.forward(types),
        )
    }
}

/// The all-MiniLM-L6-v2 sentence encoder.
#[derive(Module, Debug)]
pub struct MiniLm {
    embeddings: MiniLmEmbeddings,
    encoder: TransformerEncoder,
}

/// The model with fresh (random) weights on `device`; [`load`] gives the trained ones.
pub fn init(device: &Device) -> MiniLm {
    MiniLm {
        embeddings: MiniLmEmbeddings::new(device),
        encoder: TransformerEncoderConfig::new(DIM, FF, HEADS, LAYERS)
            .with_norm_first(false)
            .with_layer_norm_eps(LN_EPS)
            .with_activation(ActivationConfig::Gelu) // exact (erf) GELU, as BERT
            .with_dropout(0.0)
            .init(device),
    }
}

/// The model with the weights in `bytes` (a burnpack record from `convert_minilm`; tensors
/// stored in f16 are widened to the model's f32).
pub fn load(bytes: Vec<u8>, device: &Device) -> Result<MiniLm, String> {
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("unreadable MiniLM weights: {e}"))?
        .cast_to_module_dtype();
    init(device)
        .try_load_record(record)
        .map_err(|e| format!("MiniLM weights that do not fit the model: {e}"))
}

impl MiniLm {
    /// Unit-length sentence embeddings `[batch, DIM]` of a padded batch: `ids` `[batch,
    /// tokens]`, `pad` true at padding.
    pub fn forward(&self, ids: Tensor<2, Int>, pad: Tensor<2, Bool>) -> Tensor<2> {
        let x = self.embeddings.forward(ids);
        let h = self
            .encoder
            .forward(TransformerEncoderInput::new(x).mask_pad(pad.clone()));
        // mean over the real tokens, then L2 normalisation (sentence-transformers' clamps)
        let m = pad.bool_not().float().unsqueeze_dim::<3>(2); // [b, n, 1]
        let v = (h * m.clone()).sum_dim(1) / m.sum_dim(1).clamp_min(1e-9); // [b, 1, DIM]
        let v: Tensor<2> = v.squeeze_dim(1);
        let norm = v.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        v / norm
    }
}

/// `encodings` as one padded batch: ids `[rows, longest]` (padded with `[PAD]` = 0) and the
/// padding mask (true at padding).
fn batch(encodings: &[&Encoding], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let rows = encodings.len();
    let n = encodings
        .iter()
        .map(|e| e.ids.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut ids = vec![0i64; rows * n];
    let mut pad = vec![true; rows * n];
    for (r, e) in encodings.iter().enumerate() {
        for (k, &id) in e.ids.iter().enumerate() {
            ids[r * n + k] = i64::from(id);
            pad[r * n + k] = false;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [rows, n]), device),
        Tensor::from_data(TensorData::new(pad, [rows, n]), device),
    )
}

/// Embeddings of `encodings` (one padded batch; group texts with [`super::batches`]), row
/// after row: `encodings.len() × DIM` values. Reads the result synchronously, which WebGPU
/// in a browser does not allow: use [`embed_async`] there.
pub fn embed(model: &MiniLm, encodings: &[&Encoding], device: &Device) -> Vec<f32> {
    if encodings.is_empty() {
        return Vec::new();
    }
    let (ids, pad) = batch(encodings, device);
    model.forward(ids, pad).into_data().iter::<f32>().collect()
}

/// [`embed`] reading the result asynchronously, as WebGPU in a browser requires (works on
/// every backend).
pub async fn embed_async(
    model: &MiniLm,
    encodings: &[&Encoding],
    device: &Device,
) -> Result<Vec<f32>, String> {
    if encodings.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, pad) = batch(encodings, device);
    let data = model
        .forward(ids, pad)
        .into_data_async()
        .await
        .map_err(|e| format!("the embeddings could not be read: {e:?}"))?;
    Ok(data.iter::<f32>().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> Device {
        crate::core::cpu_device()
    }

    fn enc(ids: &[u32]) -> Encoding {
        Encoding {
            ids: ids.to_vec(),
            untruncated_len: ids.len(),
        }
    }

    #[test]
    fn rows_are_unit_length_and_padding_does_not_matter() {
        let _rng = crate::core::burn_rng_lock();
        let device = cpu();
        device.seed(4);
        let model = init(&device);
        let short = enc(&[101, 7592, 102]);
        let long = enc(&[101, 2023, 2003, 1037, 2936, 6251, 1012, 102]);
        let both = embed(&model, &[&short, &long], &device);
        assert_eq!(both.len(), 2 * DIM);
        for row in both.chunks(DIM) {
            let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
        // the short text alone gives the same vector as padded beside the long one
        let alone = embed(&model, &[&short], &device);
        let diff = alone
            .iter()
            .zip(&both[..DIM])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "{diff}");
        let asynchronous = burn::tensor::try_read_sync(embed_async(&model, &[&short], &device));
        assert_eq!(asynchronous.unwrap().unwrap(), alone);
        assert!(embed(&model, &[], &device).is_empty());
    }

    #[test]
    fn save_then_load_round_trips_and_junk_is_refused() {
        let _rng = crate::core::burn_rng_lock();
        let device = cpu();
        device.seed(2);
        let model = init(&device);
        let bytes = model.clone().into_record().into_bytes().unwrap().to_vec();
        let loaded = load(bytes, &device).unwrap();
        let e = enc(&[101, 2023, 102]);
        assert_eq!(
            embed(&loaded, &[&e], &device),
            embed(&model, &[&e], &device)
        );
        let junk = load(b"not a record".to_vec(), &device).unwrap_err();
        assert!(junk.contains("unreadable"), "{junk}");
    }
}
