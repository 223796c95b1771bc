//! Kafka client settings shared by everything that talks to Kafka (the capture sink's
//! producer, the changelog source's and the sink connectors' consumers, the signal channel):
//! one librdkafka configuration from the user's settings, and one reading of authentication
//! failures.
//!
//! Invariant: the configuration holds secrets (SASL password); it is never logged.

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use secrecy::ExposeSecret;

use crate::config::KafkaSettings;

/// Whether librdkafka reports a failed SASL login or a denied authorization.
pub(crate) fn is_auth_failure(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::MetadataFetch(c) | KafkaError::Global(c) => Some(*c),
        other => other.rdkafka_error_code(),
    };
    matches!(
        code,
        Some(
            RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::UnsupportedSASLMechanism
                | RDKafkaErrorCode::IllegalSASLState
        )
    )
}

/// The librdkafka configuration for `s` (secrets included; never log it).
pub fn client_config(s: &KafkaSettings) -> ClientConfig {
    client_config_parts(
        &s.bootstrap_servers,
        s.tls.as_ref(),
        s.sasl.as_ref(),
        &s.properties,
    )
}

/// Client configuration from its parts (shared by producers and consumers).
pub fn client_config_parts(
    servers: &str,
    tls: Option<&crate::config::KafkaTls>,
    sasl: Option<&crate::config::KafkaSasl>,
    properties: &std::collections::BTreeMap<String, String>,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", servers);
    let protocol = match (&tls, &sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if let Some(tls) = tls {
        if let Some(ca) = &tls.ca_file {
            c.set("ssl.ca.location", ca.display().to_string());
        }
        if let Some(cert) = &tls.cert_file {
            c.set("ssl.certificate.location", cert.display().to_string());
        }
        if let Some(key) = &tls.key_file {
            c.set("ssl.key.location", key.display().to_string());
        }
        c.set(
            "ssl.endpoint.identification.algorithm",
            if tls.verify_hostname { "https" } else { "none" },
        );
    }
    if let Some(sasl) = sasl {
        c.set("sasl.mechanism", &sasl.mechanism);
        c.set("sasl.username", &sasl.username);
        c.set("sasl.password", sasl.password.expose_secret());
    }
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}
