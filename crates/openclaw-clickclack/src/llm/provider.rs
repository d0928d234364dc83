//! Providers and model references.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::error::LlmError;
use super::secret::ApiKey;

/// The wire protocol of a provider (`api` in `models.providers.<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// `openai-completions`: `POST {baseUrl}/chat/completions`, bearer key.
    OpenAiCompletions,
    /// `anthropic-messages`: `POST {baseUrl}/messages`, `x-api-key`.
    AnthropicMessages,
}

impl ApiKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::OpenAiCompletions => "openai-completions",
            ApiKind::AnthropicMessages => "anthropic-messages",
        }
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "openai-completions" => Ok(ApiKind::OpenAiCompletions),
            "anthropic-messages" => Ok(ApiKind::AnthropicMessages),
            other => Err(format!(
                "unsupported model API \"{other}\" (expected \"openai-completions\" or \"anthropic-messages\")"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ApiKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `provider/model-id` (split at the first `/`; the model id may contain more).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// Provider id.
    pub provider: String,
    /// Model id as the provider knows it.
    pub model: String,
}

impl ModelRef {
    /// Parses `provider/model-id`.
    ///
    /// ```
    /// use openclaw_clickclack::llm::ModelRef;
    /// let r = ModelRef::parse("openrouter/meta/llama-3").unwrap();
    /// assert_eq!((r.provider.as_str(), r.model.as_str()), ("openrouter", "meta/llama-3"));
    /// assert!(ModelRef::parse("gpt-4o").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, LlmError> {
        let trimmed = value.trim();
        match trimmed.split_once('/') {
            Some((provider, model)) if !provider.trim().is_empty() && !model.trim().is_empty() => {
                Ok(ModelRef {
                    provider: provider.trim().to_owned(),
                    model: model.trim().to_owned(),
                })
            }
            _ => Err(LlmError::InvalidModelRef {
                model: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// A resolved provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Base URL, e.g. `https://api.openai.com/v1` (trailing `/` ignored).
    pub base_url: String,
    /// API key, if any.
    pub api_key: Option<ApiKey>,
    /// Wire protocol.
    pub api: ApiKind,
    /// Whether calls need a key (false for local providers).
    pub requires_key: bool,
    /// Environment variable that supplies the key, for error messages.
    pub key_env: Option<String>,
    /// Extra request headers (`models.providers.<id>.headers`; values are
    /// secret-safe and never logged).
    pub headers: BTreeMap<String, ApiKey>,
    /// Per model id: whether it accepts images (`models[].input` lists
    /// `"image"`). Models not listed use [`ProviderRegistry::supports_images`]'s
    /// built-in rule.
    pub image_models: BTreeMap<String, bool>,
}

/// `models.providers.<id>` as configured (the key already resolved from a
/// string, `${ENV}` or secret ref by the config layer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSettings {
    /// `baseUrl`.
    pub base_url: Option<String>,
    /// `apiKey`.
    pub api_key: Option<ApiKey>,
    /// `api`.
    pub api: Option<ApiKind>,
    /// `headers`.
    pub headers: BTreeMap<String, ApiKey>,
    /// `models[]`: model id → accepts images (`input` contains `"image"`).
    pub image_models: BTreeMap<String, bool>,
}

/// The providers known to a runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, ProviderConfig>,
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-ins (`openai`, `anthropic`, `ollama`), keys read through
    /// `env` (e.g. `|name| std::env::var(name).ok()`).
    pub fn builtin(env: impl Fn(&str) -> Option<String>) -> Self {
        let mut registry = Self::empty();
        let builtins = [
            (
                "openai",
                "https://api.openai.com/v1",
                Some("OPENAI_API_KEY"),
                ApiKind::OpenAiCompletions,
            ),
            (
                "anthropic",
                "https://api.anthropic.com/v1",
                Some("ANTHROPIC_API_KEY"),
                ApiKind::AnthropicMessages,
            ),
            (
                "ollama",
                "http://127.0.0.1:11434/v1",
                None,
                ApiKind::OpenAiCompletions,
            ),
        ];
        for (id, base_url, key_env, api) in builtins {
            registry.providers.insert(
                id.to_owned(),
                ProviderConfig {
                    base_url: base_url.to_owned(),
                    api_key: key_env.and_then(&env).and_then(ApiKey::non_blank),
                    api,
                    requires_key: key_env.is_some(),
                    key_env: key_env.map(str::to_owned),
                    headers: BTreeMap::new(),
                    image_models: BTreeMap::new(),
                },
            );
        }
        registry
    }

    /// [`ProviderRegistry::builtin`] reading the process environment.
    pub fn from_env() -> Self {
        Self::builtin(|name| std::env::var(name).ok())
    }

    /// Applies `models.providers.<id>`: overrides a built-in field by field,
    /// or defines a new provider (`baseUrl` required, `api` defaults to
    /// `openai-completions`, key optional).
    pub fn configure(&mut self, id: &str, settings: ProviderSettings) -> Result<(), LlmError> {
        let id = id.trim();
        let path = format!("models.providers.{id}");
        if let Some(url) = &settings.base_url {
            validate_base_url(url, &format!("{path}.baseUrl"))?;
        }
        match self.providers.get_mut(id) {
            Some(existing) => {
                if let Some(url) = settings.base_url {
                    existing.base_url = url.trim().to_owned();
                }
                if let Some(key) = settings.api_key {
                    existing.api_key = Some(key);
                }
                if let Some(api) = settings.api {
                    existing.api = api;
                }
                existing.headers.extend(settings.headers);
                existing.image_models.extend(settings.image_models);
            }
            None => {
                let Some(base_url) = settings.base_url else {
                    return Err(LlmError::InvalidProviderConfig {
                        path: format!("{path}.baseUrl"),
                        message: "required for a provider that is not built in".to_owned(),
                    });
                };
                self.providers.insert(
                    id.to_owned(),
                    ProviderConfig {
                        base_url: base_url.trim().to_owned(),
                        api_key: settings.api_key,
                        api: settings.api.unwrap_or(ApiKind::OpenAiCompletions),
                        requires_key: false,
                        key_env: None,
                        headers: settings.headers,
                        image_models: settings.image_models,
                    },
                );
            }
        }
        Ok(())
    }

    /// Adds or replaces a provider.
    pub fn insert(&mut self, id: impl Into<String>, provider: ProviderConfig) {
        self.providers.insert(id.into(), provider);
    }

    /// A provider by id.
    pub fn get(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.get(id)
    }

    /// Whether `model` accepts images: its `models[].input` when configured;
    /// otherwise the built-in vision families (`anthropic/claude-*`,
    /// `openai/gpt-4o*`, `gpt-4.1*`, `gpt-5*`, `o1*`/`o3*`/`o4*`); otherwise no.
    pub fn supports_images(&self, model: &str) -> bool {
        let Ok(model) = ModelRef::parse(model) else {
            return false;
        };
        if let Some(known) = self
            .providers
            .get(&model.provider)
            .and_then(|p| p.image_models.get(&model.model))
        {
            return *known;
        }
        let id = model.model.to_ascii_lowercase();
        match model.provider.as_str() {
            "anthropic" => id.starts_with("claude"),
            "openai" => ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4"]
                .iter()
                .any(|prefix| id.starts_with(prefix)),
            _ => false,
        }
    }

    /// Resolves a model reference to its provider, checking the key.
    pub fn resolve(&self, model: &str) -> Result<(ModelRef, &ProviderConfig), LlmError> {
        let model = ModelRef::parse(model)?;
        let provider =
            self.providers
                .get(&model.provider)
                .ok_or_else(|| LlmError::UnknownProvider {
                    provider: model.provider.clone(),
                })?;
        if provider.requires_key && provider.api_key.is_none() {
            return Err(LlmError::MissingApiKey {
                provider: model.provider.clone(),
                env: provider.key_env.clone(),
            });
        }
        Ok((model, provider))
    }
}

fn validate_base_url(url: &str, path: &str) -> Result<(), LlmError> {
    let url = url.trim();
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.parse::<http::Uri>().is_ok();
    if ok {
        Ok(())
    } else {
        Err(LlmError::InvalidProviderConfig {
            path: path.to_owned(),
            message: format!("\"{url}\" is not an http(s) URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "OPENAI_API_KEY").then(|| "sk-env".to_owned())
    }

    #[test]
    fn builtins_and_env_keys() {
        let r = ProviderRegistry::builtin(env);
        let (m, p) = r.resolve("openai/gpt-4o-mini").unwrap();
        assert_eq!(m.model, "gpt-4o-mini");
        assert_eq!(p.api_key.as_ref().unwrap().expose_secret(), "sk-env");
        let (_, p) = r.resolve("ollama/llama3.2").unwrap();
        assert_eq!(p.base_url, "http://127.0.0.1:11434/v1");
        let err = r.resolve("anthropic/claude").unwrap_err();
        assert_eq!(
            err.to_string(),
            "No API key found for provider \"anthropic\": set models.providers.anthropic.apiKey or the ANTHROPIC_API_KEY environment variable"
        );
        assert_eq!(
            r.resolve("nope/x").unwrap_err().to_string(),
            "unknown model provider \"nope\": configure models.providers.nope"
        );
        assert!(matches!(
            r.resolve("gpt"),
            Err(LlmError::InvalidModelRef { .. })
        ));
        assert!(matches!(
            r.resolve("/x"),
            Err(LlmError::InvalidModelRef { .. })
        ));
    }

    #[test]
    fn configure_overrides_and_adds() {
        let mut r = ProviderRegistry::builtin(|_| None);
        r.configure(
            "anthropic",
            ProviderSettings {
                api_key: ApiKey::non_blank("sk-ant"),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.resolve("anthropic/claude-x").is_ok());
        r.configure(
            "local",
            ProviderSettings {
                base_url: Some("http://127.0.0.1:8080/v1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let (_, p) = r.resolve("local/m").unwrap();
        assert_eq!(p.api, ApiKind::OpenAiCompletions);
        let err = r
            .configure("other", ProviderSettings::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid model provider configuration at models.providers.other.baseUrl: required for a provider that is not built in"
        );
        let err = r
            .configure(
                "bad",
                ProviderSettings {
                    base_url: Some("ftp://x".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("models.providers.bad.baseUrl"));
    }

    #[test]
    fn api_kind_parses() {
        assert_eq!(
            "anthropic-messages".parse::<ApiKind>().unwrap(),
            ApiKind::AnthropicMessages
        );
        let k: ApiKind = serde_json::from_str("\"openai-completions\"").unwrap();
        assert_eq!(k, ApiKind::OpenAiCompletions);
        assert!(serde_json::from_str::<ApiKind>("\"grpc\"").is_err());
    }
}
