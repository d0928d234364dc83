//! What the OpenClaw host does when the config says little about models
//! (host conventions §4): the default model, and the fix shown when the
//! provider that applies has no API key.

/// The host's model when none is configured (`agents.defaults.model.primary`
/// unset and no account `model`).
pub const DEFAULT_MODEL: &str = "anthropic/claude-opus-4-6";

/// The host's wording for a provider without a key.
#[must_use]
pub fn no_api_key(provider: &str) -> String {
    format!("No API key found for provider \"{provider}\"")
}

/// The fix for a provider without a key, for model `model`: the environment
/// variable to export, the JSON5 to add instead, and agent mode as the
/// alternative. Multi-line.
#[must_use]
pub fn missing_key_fix(provider: &str, env: Option<&str>, model: &str) -> String {
    let export = match env {
        Some(var) => format!("export {var}=<your {provider} API key>"),
        None => format!("set models.providers.{provider}.apiKey"),
    };
    let key_ref = env.map_or_else(|| "<api key>".to_owned(), |var| format!("${{{var}}}"));
    format!(
        "{export}; or name the model and its provider in the config:\n\
         \x20   agents: {{ defaults: {{ model: {{ primary: \"{model}\" }} }} }},\n\
         \x20   models: {{ providers: {{ {provider}: {{ apiKey: \"{key_ref}\" }} }} }},\n\
         \x20 or answer through the OpenClaw Gateway's agent instead: replyMode: \"agent\" (the default)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_names_the_variable_the_json5_and_agent_mode() {
        let fix = missing_key_fix("anthropic", Some("ANTHROPIC_API_KEY"), DEFAULT_MODEL);
        assert!(fix.starts_with("export ANTHROPIC_API_KEY="), "{fix}");
        assert!(
            fix.contains("primary: \"anthropic/claude-opus-4-6\""),
            "{fix}"
        );
        assert!(
            fix.contains("anthropic: { apiKey: \"${ANTHROPIC_API_KEY}\" }"),
            "{fix}"
        );
        assert!(fix.contains("replyMode: \"agent\""), "{fix}");
    }
}
