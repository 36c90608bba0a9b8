//! What the Lambda front end does per event around the pipeline, shared by
//! `benches/pipeline.rs` (`lambda/adapter/*`, wall time) and `examples/adapter_cost.rs`
//! (a fixed number of runs, for callgrind's instruction counts).

use std::hint::black_box;
use std::sync::Arc;

use certgate::body::Payload;
use certgate::cert::{PresentedChains, decode_chain};
use certgate::config::GatewayConfig;
use certgate::frontend::lambda::metrics::RequestMetric;
use certgate::frontend::lambda::{LambdaResponse, parse_event, to_gateway_request};
use certgate::gateway::GatewayResponse;

/// The sample events (`events/*/valid.json`), each with the deployment settings it is for.
pub(crate) struct Samples {
    apigateway: GatewayConfig,
    alb: GatewayConfig,
    answer: GatewayResponse,
    /// As a deployment keeps them, holding what [`Known`] says.
    chains: PresentedChains,
}

/// What the deployment knows of an event's chain before the event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Known {
    /// Nothing: the first client of its CA, every certificate of the chain decoded.
    Nothing,
    /// The CA's certificate, from another client's chain: only the leaf decoded.
    Issuer,
    /// The CA's certificate is one the deployment trusts (`ca/` of the bucket): only the
    /// leaf decoded, even for the CA's first client.
    TrustedCa,
    /// The chain itself, from this client's earlier requests.
    Chain,
}

/// The modes by name: `first`, `new-client`, `trusted-ca`, `again`.
pub(crate) const KNOWN: [(&str, Known); 4] = [
    ("first", Known::Nothing),
    ("new-client", Known::Issuer),
    ("trusted-ca", Known::TrustedCa),
    ("again", Known::Chain),
];

/// The sample events by name: `rest`, `http-api`, `alb`.
pub(crate) const EVENTS: [(&str, &str); 3] = [
    ("rest", include_str!("../../events/rest/valid.json")),
    ("http-api", include_str!("../../events/http-api/valid.json")),
    ("alb", include_str!("../../events/alb/valid.json")),
];

impl Samples {
    pub(crate) fn new(known: Known) -> Self {
        let (chains, issuers) = match known {
            Known::Nothing | Known::TrustedCa => (0, 0),
            Known::Issuer => (0, 64),
            Known::Chain => (256, 64),
        };
        let trusted = match known {
            Known::TrustedCa => decode_chain(include_bytes!(
                "../../examples/alb/ca/intermediate/contoso-issuing.pem"
            ))
            .expect("examples/alb's issuing CA"),
            _ => Vec::new(),
        };
        Self {
            chains: PresentedChains::new(chains, issuers)
                .with_trusted(trusted.into_iter().map(Arc::new)),
            apigateway: GatewayConfig::parse(include_str!(
                "../../examples/apigateway/gateway.toml"
            ))
            .expect("examples/apigateway/gateway.toml"),
            alb: GatewayConfig::parse(include_str!("../../examples/alb/gateway.toml"))
                .expect("examples/alb/gateway.toml"),
            answer: GatewayResponse {
                status: http::StatusCode::OK,
                reason: None,
                headers: http::HeaderMap::from_iter([(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                )]),
                body: Payload::from(br#"{"subject":"CN=client1.contoso.com"}"#.to_vec()),
            },
        }
    }

    /// One event of sample `name` through the adapter: parsed with its certificate, the
    /// leaf's thumbprint and subject read for the log line, the answer written as the
    /// front end's JSON, the EMF line.
    pub(crate) fn run(&self, name: &str, event: &str) {
        let config = if name == "alb" {
            &self.alb
        } else {
            &self.apigateway
        };
        let event = parse_event(black_box(event)).expect("an HTTP event");
        let (kind, request) = to_gateway_request(event, config, &self.chains);
        let leaf = request.certificate.leaf().expect("a certificate");
        // The function's log line names the leaf by thumbprint and subject.
        black_box((leaf.thumbprint().to_owned(), leaf.subject().to_owned()));
        let response = serde_json::to_string(&LambdaResponse::new(kind, &self.answer))
            .expect("a response document");
        let metric = RequestMetric {
            decision: "proxied",
            reason: "OK",
            status: 200,
            duration_ms: 0.5,
            ignored_certificates: request.ignored_certificate_sources.len(),
            api: Some("orders"),
            deployment: "0123456789abcdef",
        };
        black_box((response, metric.to_emf(1_764_000_000_000)));
    }
}
