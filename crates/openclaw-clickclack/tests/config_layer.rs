//! The pure configuration layer: config loading and schema (rows 1–2),
//! `${VAR}` substitution, resolved defaults (row 3), accounts (rows 4–5),
//! secrets (row 6), nonces (row 15) and user-facing error strings.

#[path = "config_layer/accounts.rs"]
mod accounts;
#[path = "config_layer/defaults.rs"]
mod defaults;
#[path = "config_layer/errors.rs"]
mod errors;
#[path = "config_layer/nonce.rs"]
mod nonce;
#[path = "config_layer/props.rs"]
mod props;
#[path = "config_layer/schema.rs"]
mod schema;
#[path = "config_layer/secrets.rs"]
mod secrets;
#[path = "config_layer/substitution.rs"]
mod substitution;
#[path = "config_layer/support.rs"]
mod support;
