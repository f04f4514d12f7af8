//! The generation settings: what the person set, kept in this browser (localStorage; the
//! API key only with "remember"), and the hosts they agreed to send questions to.

use serde::{Deserialize, Serialize};

use crate::core::generate::Endpoint;

use super::super::browser;

/// localStorage: the settings.
pub(super) const SETTINGS: &str = "cotlabel-generate";
/// localStorage: hosts the person agreed to send questions to.
pub(super) const HOSTS: &str = "cotlabel-generate-hosts";

/// What the person set (persisted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Base URL, up to `/v1`.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key (kept only with `remember`).
    pub api_key: String,
    /// Keep the API key in this browser.
    pub remember: bool,
    /// Sampling temperature.
    pub temperature: f64,
    /// Most tokens per CoT.
    pub max_tokens: u32,
    /// Fill each question up to this many CoTs.
    pub samples: usize,
    /// Requests at a time.
    pub concurrency: usize,
    /// The prompt, `{question}` replaced.
    pub template: String,
    /// Which questions: `all`, `selected`, `shown`.
    pub scope: String,
}

impl Default for Settings {
    fn default() -> Self {
        let e = Endpoint::default();
        Self {
            base_url: e.base_url,
            model: e.model,
            api_key: String::new(),
            remember: false,
            temperature: e.temperature,
            max_tokens: e.max_tokens,
            samples: 4,
            concurrency: 2,
            template: e.template,
            scope: "all".into(),
        }
    }
}

impl Settings {
    pub(super) fn endpoint(&self) -> Endpoint {
        Endpoint {
            base_url: self.base_url.trim().to_string(),
            model: self.model.trim().to_string(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            template: self.template.clone(),
        }
    }
}

/// The settings of the last visit (defaults the first time).
pub(super) fn load_settings() -> Settings {
    browser::local_get(SETTINGS)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Hosts the person agreed to send questions to.
pub(super) fn confirmed_hosts() -> Vec<String> {
    browser::local_get(HOSTS)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}
