//! Shared helpers.

use openclaw_clickclack::config::{ConfigError, MapEnv, OpenClawConfig, parse_config_str};

/// Parses or panics with the error (test helper).
pub fn parse(text: &str, env: &MapEnv) -> OpenClawConfig {
    match parse_config_str(text, env) {
        Ok(config) => config,
        Err(err) => panic!("config should parse: {err}"),
    }
}

/// Parses and returns the error message (test helper).
pub fn parse_err(text: &str, env: &MapEnv) -> ConfigError {
    match parse_config_str(text, env) {
        Ok(config) => panic!("config should fail, got {config:?}"),
        Err(err) => err,
    }
}

/// An empty environment.
pub fn no_env() -> MapEnv {
    MapEnv::new()
}
