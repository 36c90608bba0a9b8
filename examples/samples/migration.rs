//! `examples/migration/`: an APIM configuration as teams bring it, on certgate. Global
//! CORS and the article's client-certificate check in a fragment; an API that accepts
//! only access tokens bound to the caller's certificate (RFC 8705 `cnf`/`x5t#S256`,
//! checked after `validate-jwt`), named values (two of them secrets, in Secrets Manager
//! and SSM), a `[[backends]]` entity with a credential, and a `send-request` lookup whose
//! answer is cached. Its events are REST API events under `events/migration/`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{Case, Issued, Output, Pki, Result, rest_event, write_trust};

/// The deployment folder.
pub(crate) const FOLDER: &str = "examples/migration";

/// The events, each with the status its answer has.
pub(crate) const EVENTS: [(&str, u16); 5] = [
    ("bound-token", 200),
    ("stolen-token", 401),
    ("no-token", 401),
    ("no-certificate", 403),
    ("preflight", 200),
];

/// The HS256 key of the sample tokens (32 bytes, base64): the value that stands in for the
/// `jwt-signing-key` secret offline (`--named-value jwt-signing-key=...`). A SAMPLE,
/// published with the source.
pub(crate) const JWT_SIGNING_KEY: &str = "c2FtcGxlLWtleS1uZXZlci11c2UtaW4tcHJvZHVjdGlvbg==";

/// What stands in for the SSM parameter `accounts-key` offline.
pub(crate) const ACCOUNTS_KEY: &str = "sample-accounts-key";

const ISSUER: &str = "https://login.contoso.com/";
const AUDIENCE: &str = "api://accounts";
const ORIGIN: &str = "https://app.contoso.com";

pub(super) fn write_deployment(out: &mut Output, pki: &Pki) -> Result<()> {
    out.write(&format!("{FOLDER}/gateway.toml"), &gateway_toml())?;
    out.write(&format!("{FOLDER}/policies/global.xml"), GLOBAL)?;
    out.write(&format!("{FOLDER}/policies/accounts.xml"), ACCOUNTS)?;
    out.write(
        &format!("{FOLDER}/fragments/client-certificate.xml"),
        &client_certificate_fragment()?,
    )?;
    out.write(&format!("{FOLDER}/fragments/bound-token.xml"), BOUND_TOKEN)?;
    write_trust(out, FOLDER, pki)
}

/// Request headers, in order.
type Headers = Vec<(String, String)>;

pub(super) fn write_events(out: &mut Output, pki: &Pki) -> Result<()> {
    let bearer = |bound_to: &Issued| -> Result<Headers> {
        Ok(vec![(
            "Authorization".to_owned(),
            format!("Bearer {}", token(bound_to)?),
        )])
    };
    let cases: [(&str, &str, Option<&Issued>, Headers); 5] = [
        ("bound-token", "GET", Some(&pki.good), bearer(&pki.good)?),
        // A token bound to another client's certificate, presented with client1's.
        (
            "stolen-token",
            "GET",
            Some(&pki.good),
            bearer(&pki.revoked)?,
        ),
        ("no-token", "GET", Some(&pki.good), Vec::new()),
        ("no-certificate", "GET", None, bearer(&pki.good)?),
        // A browser's CORS preflight carries no certificate and no token.
        (
            "preflight",
            "OPTIONS",
            None,
            vec![
                ("Origin".to_owned(), ORIGIN.to_owned()),
                ("Access-Control-Request-Method".to_owned(), "GET".to_owned()),
                (
                    "Access-Control-Request-Headers".to_owned(),
                    "authorization".to_owned(),
                ),
            ],
        ),
    ];
    debug_assert!(cases.iter().map(|c| c.0).eq(EVENTS.iter().map(|e| e.0)));
    for (i, (name, method, certificate, headers)) in cases.into_iter().enumerate() {
        let case = Case {
            index: 100 + i as u32,
            name,
            method,
            path: "/accounts/me",
            certificate,
            intermediates: certificate.map(|_| vec![&pki.issuing]).unwrap_or_default(),
            spoofed: None,
            post_body: false,
            headers,
        };
        out.write(
            &format!("events/migration/{name}.json"),
            &rest_event(&case, pki).pretty()?,
        )?;
    }
    Ok(())
}

/// An HS256 access token for `client1`, bound to `bound_to`'s certificate (`cnf`), valid
/// from 2026 into the 2090s like the sample certificates.
fn token(bound_to: &Issued) -> Result<String> {
    let thumbprint = ring::digest::digest(&ring::digest::SHA256, &bound_to.der);
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"client1","iat":1795000000,"exp":3786912000,"cnf":{{"x5t#S256":"{}"}}}}"#,
        URL_SAFE_NO_PAD.encode(thumbprint.as_ref())
    );
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &STANDARD.decode(JWT_SIGNING_KEY)?);
    let signature = ring::hmac::sign(&key, signed.as_bytes());
    Ok(format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

fn gateway_toml() -> String {
    format!(
        r#"# An APIM configuration as teams bring it: global CORS and the client-certificate check
# (a fragment), and /accounts, which takes only access tokens bound to the caller's
# certificate. Generated by `cargo run --example samples -- .` (examples/samples.rs);
# events in events/migration/. Its CAs, keys and tokens are samples: never use them in
# production.
#
# Two named values are secrets. Offline, stand in for them:
#   certgate invoke --config examples/migration \
#     --named-value jwt-signing-key={JWT_SIGNING_KEY} \
#     --named-value accounts-key={ACCOUNTS_KEY} events/migration/bound-token.json
# Deployed, the function reads them (template.yaml: NamedValueSecretArns and
# NamedValueParameterArns).

[deployment]
service_name = "contoso"
region = "eu-west-1"
certificate_source = "apigateway"
policy = "policies/global.xml"

[[hostnames]]
name = "api.contoso.com"
request_client_certificate = true
tls_certificate = "tls/api.pem"
tls_key = "tls/api.key"

[named_values]
issuer = "https://login.contoso.com/"
audience = "api://accounts"
# The accounts directory that send-request asks for an account's plan (offline, nothing
# listens there and the plan is "unknown"; --named-value directory-url=... points elsewhere).
directory-url = "http://127.0.0.1:8081"
# The HS256 key of the identity provider's tokens (base64), a Key Vault secret on APIM.
jwt-signing-key = {{ secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:contoso/jwt-signing-key-Ab12Cd" }}
# The accounts backend's and directory's function key, an SSM SecureString.
accounts-key = {{ parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/contoso/accounts-key" }}

# set-backend-service backend-id="accounts" sends here, with the key as a header.
[[backends]]
id = "accounts"
url = "http://127.0.0.1:8080/api"

[backends.credentials.header]
x-functions-key = "{{{{accounts-key}}}}"

[[apis]]
name = "accounts"
path = "/accounts"
backend = "http://127.0.0.1:8080"
policy = "policies/accounts.xml"
"#
    )
}

const GLOBAL: &str = r#"<!--
    Global scope: CORS first, as APIM recommends (a browser's preflight carries no client
    certificate and never reaches the check after it), then the article's client
    certificate check, kept in a fragment that every API shares.
-->
<policies>
    <inbound>
        <cors allow-credentials="true">
            <allowed-origins>
                <origin>https://app.contoso.com</origin>
            </allowed-origins>
            <allowed-methods preflight-result-max-age="300">
                <method>GET</method>
                <method>POST</method>
            </allowed-methods>
            <allowed-headers>
                <header>Authorization</header>
                <header>Content-Type</header>
            </allowed-headers>
        </cors>
        <include-fragment fragment-id="client-certificate" />
    </inbound>
    <backend>
        <forward-request />
    </backend>
    <outbound />
    <on-error />
</policies>
"#;

/// The article's check as a fragment: the `<choose>` of its third policy, verbatim.
fn client_certificate_fragment() -> Result<String> {
    let policy = super::GLOBAL_POLICY;
    let (Some(start), Some(end)) = (policy.find("        <choose>"), policy.find("</choose>"))
    else {
        return Err("the article's policy has no <choose>".into());
    };
    let choose: String = policy[start..end + "</choose>".len()]
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    Ok(format!(
        "<!-- The third policy of \"Secure APIs using client certificate authentication in API Management\". -->\n<fragment>\n{choose}</fragment>\n"
    ))
}

const BOUND_TOKEN: &str = r#"<!--
    A certificate-bound access token (RFC 8705): valid for this API, and its cnf claim
    holds the SHA-256 thumbprint (base64url) of the very certificate the caller presented,
    so a token copied to another client is worthless.
-->
<fragment>
    <validate-jwt header-name="Authorization" require-scheme="Bearer" output-token-variable-name="jwt">
        <issuer-signing-keys>
            <key>{{jwt-signing-key}}</key>
        </issuer-signing-keys>
        <audiences>
            <audience>{{audience}}</audience>
        </audiences>
        <issuers>
            <issuer>{{issuer}}</issuer>
        </issuers>
    </validate-jwt>
    <choose>
        <when condition="@{
            var cnf = ((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("cnf", "");
            var bound = cnf == "" ? "" : JObject.Parse(cnf).Value<string>("x5t#S256");
            var presented = Convert.ToBase64String(SHA256.Create().ComputeHash(context.Request.Certificate.RawData))
                .TrimEnd('=').Replace('+', '-').Replace('/', '_');
            return bound != presented;
        }">
            <return-response>
                <set-status code="401" reason="Token not bound to this certificate" />
            </return-response>
        </when>
    </choose>
</fragment>
"#;

const ACCOUNTS: &str = r#"<!--
    API scope: accounts. After the global checks, a token bound to the certificate. The
    account's plan comes from the accounts directory (send-request, with the directory's key
    from SSM), looked up once per certificate and cached for five minutes (per instance;
    caching-type="external" with [cache] table = "..." shares it across instances; a miss
    sets the variable to null, as on APIM). A directory that does not answer within 5 s
    leaves the plan "unknown" (ignore-error): the plan only labels the answer, it decides
    nothing. The backend section answers by itself so that the sample runs without a
    backend; replace it with <base /> to forward to the accounts backend entity with its key.
-->
<policies>
    <inbound>
        <base />
        <include-fragment fragment-id="bound-token" />
        <set-backend-service backend-id="accounts" />
        <cache-lookup-value key="@("plan-" + context.Request.Certificate.Thumbprint)" variable-name="plan" />
        <choose>
            <when condition="@(context.Variables.GetValueOrDefault<string>("plan") == null)">
                <send-request mode="new" response-variable-name="directory" timeout="5" ignore-error="true">
                    <set-url>@("{{directory-url}}/accounts/" + Uri.EscapeDataString(((Jwt)context.Variables["jwt"]).Subject))</set-url>
                    <set-method>GET</set-method>
                    <set-header name="x-functions-key" exists-action="override">
                        <value>{{accounts-key}}</value>
                    </set-header>
                </send-request>
                <set-variable name="plan" value="@{
                    var directory = (IResponse)context.Variables["directory"];
                    if (directory == null || directory.StatusCode != 200) {
                        return "unknown";
                    }
                    return directory.Body.As<JObject>().Value<string>("plan") ?? "unknown";
                }" />
                <cache-store-value key="@("plan-" + context.Request.Certificate.Thumbprint)" value="@((string)context.Variables["plan"])" duration="300" />
            </when>
        </choose>
    </inbound>
    <backend>
        <return-response>
            <set-status code="200" reason="OK" />
            <set-header name="Content-Type" exists-action="override">
                <value>application/json</value>
            </set-header>
            <set-body>@{
                return new JObject(
                    new JProperty("account", ((Jwt)context.Variables["jwt"]).Subject),
                    new JProperty("plan", (string)context.Variables["plan"]),
                    new JProperty("thumbprint", context.Request.Certificate.Thumbprint)
                ).ToString(Newtonsoft.Json.Formatting.None);
            }</set-body>
        </return-response>
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>
"#;
