//! Loading APIM policy documents: the tolerant reader, element validation, load errors
//! with positions, and `<base/>` composition.

use certgate::policy::{
    AuthenticationCertificate, EffectivePolicy, ExistsAction, HttpVersion, IpFilterAction, Item,
    MAX_DEPTH, MAX_DOCUMENT_BYTES, Node, Param, Policy, PolicyDocument, PolicyError, Scope,
    SectionKind, SetBackendService, XsiNil,
};

const ARTICLE: [(&str, &str); 3] = [
    (
        "article-issuer-subject.xml",
        include_str!("data/policies/article-issuer-subject.xml"),
    ),
    (
        "article-thumbprint.xml",
        include_str!("data/policies/article-thumbprint.xml"),
    ),
    (
        "article-uploaded-certificates.xml",
        include_str!("data/policies/article-uploaded-certificates.xml"),
    ),
];

const ARTICLE_CONDITIONS: [&str; 3] = [
    r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Issuer != "trusted-issuer" || context.Request.Certificate.SubjectName.Name != "expected-subject-name")"#,
    r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Thumbprint != "DESIRED-THUMBPRINT-IN-UPPER-CASE")"#,
    r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || !context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))"#,
];

fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
    PolicyDocument::parse("p.xml", text, Scope::Api)
}

fn load(text: &str) -> PolicyDocument {
    parse(text).unwrap_or_else(|e| panic!("{}", e.render(text)))
}

/// Line, column and message of the load error.
fn error(text: &str) -> (u32, u32, String) {
    let e = parse(text).expect_err("the document should not load");
    (e.location().line, e.location().column, e.message())
}

/// `<policies><inbound>` + `body` + `</inbound></policies>`; `body` starts on line 3.
fn inbound_doc(body: &str) -> String {
    format!("<policies>\n<inbound>\n{body}\n</inbound>\n</policies>\n")
}

fn policies(doc: &PolicyDocument, kind: SectionKind) -> Vec<&Node> {
    doc.section(kind)
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Policy(n) => Some(n.as_ref()),
            Item::Base(_) => None,
        })
        .collect()
}

fn only_inbound(body: &str) -> Node {
    let doc = load(&inbound_doc(body));
    let nodes = policies(&doc, SectionKind::Inbound);
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    nodes[0].clone()
}

fn literal<T: Clone + std::fmt::Debug>(p: &Param<T>) -> T {
    p.literal()
        .cloned()
        .unwrap_or_else(|| panic!("expected a literal, got {p:?}"))
}

fn expression<T>(p: &Param<T>) -> &str {
    match p {
        Param::Expression(e) => e.source().source(),
        Param::Literal(_, v) => panic!("expected an expression, got literal {v:?}"),
    }
}

// ---------------------------------------------------------------------------------
// The article's three policies.

#[test]
fn article_policies_load_exactly_as_printed() {
    for ((name, snippet), condition) in ARTICLE.iter().zip(ARTICLE_CONDITIONS) {
        let text = format!("<policies>\n<inbound>\n{snippet}</inbound>\n</policies>\n");
        let doc = PolicyDocument::parse(name, &text, Scope::Api)
            .unwrap_or_else(|e| panic!("{}", e.render(&text)));
        let nodes = policies(&doc, SectionKind::Inbound);
        assert_eq!(nodes.len(), 1, "{name}");
        assert_eq!(nodes[0].meta.path, "choose[1]");
        assert_eq!((nodes[0].meta.at.line, nodes[0].meta.at.column), (3, 1));
        let Policy::Choose(choose) = &nodes[0].policy else {
            panic!("{name}: expected choose, got {:?}", nodes[0].policy);
        };
        assert_eq!(choose.whens.len(), 1);
        assert!(choose.otherwise.is_none());
        let when = &choose.whens[0];
        assert_eq!(when.meta.path, "choose[1]/when[1]");
        assert_eq!(expression(&when.condition), condition, "{name}");
        let origin = when.condition.source().origin();
        assert_eq!((&*origin.file, origin.line, origin.column), (*name, 4, 18));
        assert_eq!(when.steps.len(), 1);
        let Policy::ReturnResponse(rr) = &when.steps[0].policy else {
            panic!("expected return-response, got {:?}", when.steps[0].policy);
        };
        assert_eq!(rr.response_variable_name, None);
        assert_eq!(rr.steps.len(), 1);
        assert_eq!(
            rr.steps[0].meta.path,
            "choose[1]/when[1]/return-response[1]/set-status[1]"
        );
        let Policy::SetStatus(status) = &rr.steps[0].policy else {
            panic!("expected set-status, got {:?}", rr.steps[0].policy);
        };
        assert_eq!(literal(&status.code), 403);
        let reason = status.reason.as_ref().expect("reason");
        assert_eq!(literal(reason), "Invalid client certificate");
    }
}

#[test]
fn validate_client_certificate_document_from_the_docs_loads() {
    let text = include_str!("data/policies/validate-client-certificate.xml");
    let doc = load(text);
    let nodes = policies(&doc, SectionKind::Inbound);
    let Policy::ValidateClientCertificate(v) = &nodes[0].policy else {
        panic!("{:?}", nodes[0].policy);
    };
    assert!(v.validate_revocation && v.validate_trust && v.validate_not_before);
    assert!(v.validate_not_after && !v.ignore_error);
    assert_eq!(v.identities.len(), 2);
    let id = &v.identities[0];
    assert_eq!(
        id.thumbprint.as_deref(),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(id.serial_number.as_deref(), Some("AAAAAAAAAAAAAAAA"));
    assert_eq!(id.common_name.as_deref(), Some("*.contoso.com"));
    assert_eq!(
        id.subject.as_deref(),
        Some(r#"C=US, ST=Illinois, L=Chicago, O="Contoso, Inc.", CN=*.contoso.com"#)
    );
    assert_eq!(id.dns_name.as_deref(), Some("*.contoso.com"));
    assert_eq!(id.issuer_subject, id.subject);
    assert_eq!(
        id.issuer_thumbprint.as_deref(),
        Some("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
    );
    assert_eq!(id.issuer_certificate_id, None);
    let id = &v.identities[1];
    assert_eq!(id.issuer_certificate_id.as_deref(), Some("contoso-ca"));
    assert_eq!(id.common_name.as_deref(), Some("client's name"));

    // on-error: return-response with a header from an expression and a @{ } body.
    let on_error = policies(&doc, SectionKind::OnError);
    let Policy::ReturnResponse(rr) = &on_error[0].policy else {
        panic!("{:?}", on_error[0].policy);
    };
    let Policy::SetHeader(h) = &rr.steps[1].policy else {
        panic!("{:?}", rr.steps[1].policy);
    };
    assert_eq!(expression(&h.values[0]), "@(context.LastError.Reason)");
    let Policy::SetBody(b) = &rr.steps[2].policy else {
        panic!("{:?}", rr.steps[2].policy);
    };
    let body = expression(&b.body);
    assert!(body.starts_with("@{\n"), "{body}");
    assert!(
        body.contains(r#"? "Client certificate missing" : "#),
        "{body}"
    );
    assert!(body.ends_with('}'));
}

// ---------------------------------------------------------------------------------
// Reader features.

#[test]
fn single_quotes_and_entity_quotes_give_the_same_expression() {
    let forms = [
        r#"<set-variable name="v" value='@(context.Request.Headers.GetValueOrDefault("a", ""))' />"#,
        r#"<set-variable name="v" value="@(context.Request.Headers.GetValueOrDefault(&quot;a&quot;, &quot;&quot;))" />"#,
        r#"<set-variable name="v" value="@(context.Request.Headers.GetValueOrDefault("a", ""))" />"#,
    ];
    for form in forms {
        let node = only_inbound(form);
        let Policy::SetVariable(v) = &node.policy else {
            panic!("{:?}", node.policy);
        };
        assert_eq!(v.name, "v");
        assert_eq!(
            expression(&v.value),
            r#"@(context.Request.Headers.GetValueOrDefault("a", ""))"#
        );
    }
}

#[test]
fn raw_quotes_and_brackets_inside_csharp_strings() {
    let node = only_inbound(
        r#"<set-variable name="v" value="@{ var s = "a \")\" b"; var c = ')'; var v = @"x "")"" y"; return $"{s}{(c == '(' ? ")" : "}")}" + v; }" />"#,
    );
    let Policy::SetVariable(v) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    assert_eq!(
        expression(&v.value),
        r#"@{ var s = "a \")\" b"; var c = ')'; var v = @"x "")"" y"; return $"{s}{(c == '(' ? ")" : "}")}" + v; }"#
    );
}

#[test]
fn generics_and_operators_inside_expressions() {
    let node = only_inbound(
        r#"<choose><when condition="@(context.Variables.GetValueOrDefault<bool>("isMobile") && 1 < 2 || 3 > 4)"><set-status code="200" /></when></choose>"#,
    );
    let Policy::Choose(c) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    assert_eq!(
        expression(&c.whens[0].condition),
        r#"@(context.Variables.GetValueOrDefault<bool>("isMobile") && 1 < 2 || 3 > 4)"#
    );
}

#[test]
fn comments_cdata_and_declaration() {
    let text = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- header -->\n<policies>\n<inbound>\n<!-- <rate-limit-by-key/> is commented out -->\n<set-body><![CDATA[<b>&amp;</b>]]></set-body>\n</inbound>\n</policies>\n";
    let doc = load(text);
    let nodes = policies(&doc, SectionKind::Inbound);
    assert_eq!(nodes.len(), 1);
    let Policy::SetBody(b) = &nodes[0].policy else {
        panic!("{:?}", nodes[0].policy);
    };
    assert_eq!(literal(&b.body), "<b>&amp;</b>");
    assert_eq!(b.xsi_nil, XsiNil::Blank);
}

#[test]
fn expressions_in_cdata_and_around_blank_text() {
    let node =
        only_inbound("<set-body>\n  <![CDATA[ @{ return \"<b>\" + (1 < 2); } ]]>\n</set-body>");
    let Policy::SetBody(b) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    assert_eq!(expression(&b.body), r#"@{ return "<b>" + (1 < 2); }"#);
    assert_eq!(
        (
            b.body.source().origin().line,
            b.body.source().origin().column
        ),
        (4, 13)
    );
}

#[test]
fn address_ranges_must_be_ordered() {
    assert_eq!(
        error(&inbound_doc(
            r#"<ip-filter action="allow"><address-range from="10.0.0.9" to="10.0.0.1" /></ip-filter>"#
        ))
        .2,
        "<address-range> to: the range 10.0.0.9 to 10.0.0.1 is empty or mixes IPv4 and IPv6"
    );
}

#[test]
fn named_values_in_typed_attributes_are_load_errors() {
    assert_eq!(
        error(&inbound_doc(
            r#"<set-backend-service base-url="{{backend-url}}" />"#
        ))
        .2,
        "<set-backend-service> base-url: `{{backend-url}}` is not an absolute URL; write http://host/... or https://host/... (this `{{...}}` was not replaced: named values are replaced when a deployment loads, and their names are letters, digits, `.`, `-` and `_`)"
    );
}

#[test]
fn named_values_stay_literal() {
    let node = only_inbound(
        r#"<set-header name="x-key" exists-action="override"><value>{{api-key}}</value></set-header>"#,
    );
    let Policy::SetHeader(h) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    assert_eq!(literal(&h.values[0]), "{{api-key}}");
}

#[test]
fn nested_choose_keeps_paths() {
    let node = only_inbound(
        r#"<choose>
  <when condition="false"><set-status code="500" /></when>
  <when condition="@(true)">
    <choose>
      <when condition="true"><set-variable name="a" value="1" /></when>
      <otherwise><set-variable name="b" value="2" /><set-variable name="c" value="3" /></otherwise>
    </choose>
  </when>
  <otherwise />
</choose>"#,
    );
    let Policy::Choose(outer) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    assert_eq!(outer.whens.len(), 2);
    assert!(!literal(&outer.whens[0].condition));
    assert_eq!(expression(&outer.whens[1].condition), "@(true)");
    assert!(outer.otherwise.as_ref().is_some_and(|o| o.steps.is_empty()));
    let Policy::Choose(inner) = &outer.whens[1].steps[0].policy else {
        panic!("{:?}", outer.whens[1].steps[0].policy);
    };
    let otherwise = inner.otherwise.as_ref().expect("otherwise");
    assert_eq!(
        otherwise.meta.path,
        "choose[1]/when[2]/choose[1]/otherwise[1]"
    );
    assert_eq!(
        otherwise.steps[1].meta.path,
        "choose[1]/when[2]/choose[1]/otherwise[1]/set-variable[2]"
    );
    assert_eq!(
        (
            otherwise.steps[1].meta.at.line,
            otherwise.steps[1].meta.at.column
        ),
        (8, 53)
    );
}

#[test]
fn expression_positions_are_exact_through_entities() {
    let node =
        only_inbound(r#"  <set-variable name="v" value="@(&quot;é&quot; + context.RequestId)" />"#);
    let Policy::SetVariable(v) = &node.policy else {
        panic!("{:?}", node.policy);
    };
    let value = v.value.source();
    assert_eq!(value.source(), "@(\"é\" + context.RequestId)");
    assert_eq!((value.origin().line, value.origin().column), (3, 33));
    // `context` is byte 10 of the decoded source; in the file it is after two `&quot;`.
    let x = value.source().find("context").expect("context");
    let at = value.position_of(x);
    assert_eq!((at.line, at.column), (3, 33 + 2 + 6 + 1 + 6 + 3));
}

// ---------------------------------------------------------------------------------
// Every element and its attributes.

#[test]
fn every_element_and_attribute() {
    let text = r#"<policies>
  <inbound>
    <check-header name="X-Client" failed-check-httpcode="401" failed-check-error-message="Not allowed" ignore-case="true" id="chk">
      <value>a</value>
      <value>@(context.Variables["b"])</value>
    </check-header>
    <ip-filter action="forbid">
      <address>10.0.0.1</address>
      <address-range from="192.168.0.1" to="192.168.0.255" />
      <address>::1</address>
    </ip-filter>
    <set-query-parameter name="q" exists-action="append"><value>1</value></set-query-parameter>
    <set-header name="h1" exists-action="skip" />
    <set-header name="h2" exists-action="delete" />
    <set-header name="h3"><value>a</value><value>b</value></set-header>
    <set-header name="@(&quot;h4&quot;)" exists-action="@(&quot;append&quot;)" />
    <rewrite-uri template="/v2/orders" copy-unmatched-params="false" />
    <set-backend-service base-url="https://backend.example.com/api" />
    <authentication-certificate thumbprint="ABCDEF" />
    <authentication-certificate certificate-id="client-cert" />
    <mock-response status-code="404" content-type="application/json" />
    <set-body xsi-nil="null">plain text</set-body>
  </inbound>
  <backend>
    <forward-request timeout-ms="2500" http-version="2or1" follow-redirects="true" buffer-request-body="true" buffer-response="false" fail-on-error-status-code="true" continue-timeout="5" />
  </backend>
  <outbound>
    <set-status code="@(201)" reason="Created" />
    <mock-response />
  </outbound>
  <on-error>
    <set-variable name="e" value="@(context.LastError.Message)" />
  </on-error>
</policies>"#;
    let doc = load(text);
    let inbound = policies(&doc, SectionKind::Inbound);
    let mut it = inbound.iter();

    let n = it.next().unwrap();
    assert_eq!(n.meta.id.as_deref(), Some("chk"));
    let Policy::CheckHeader(c) = &n.policy else {
        panic!()
    };
    assert_eq!(literal(&c.name), "X-Client");
    assert_eq!(literal(&c.failed_check_httpcode), 401);
    assert_eq!(literal(&c.failed_check_error_message), "Not allowed");
    assert!(literal(&c.ignore_case));
    assert_eq!(literal(&c.values[0]), "a");
    assert_eq!(expression(&c.values[1]), r#"@(context.Variables["b"])"#);

    let Policy::IpFilter(f) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(literal(&f.action), IpFilterAction::Forbid);
    assert_eq!(literal(&f.addresses[0]).to_string(), "10.0.0.1");
    assert_eq!(literal(&f.addresses[1]).to_string(), "::1");
    assert_eq!(literal(&f.ranges[0].from).to_string(), "192.168.0.1");
    assert_eq!(literal(&f.ranges[0].to).to_string(), "192.168.0.255");

    let Policy::SetQueryParameter(q) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(literal(&q.exists_action), ExistsAction::Append);
    assert_eq!(literal(&q.values[0]), "1");

    let actions: Vec<_> = (0..3)
        .map(|_| match &it.next().unwrap().policy {
            Policy::SetHeader(h) => (literal(&h.name), literal(&h.exists_action), h.values.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("h1".to_owned(), ExistsAction::Skip, 0),
            ("h2".to_owned(), ExistsAction::Delete, 0),
            ("h3".to_owned(), ExistsAction::Override, 2),
        ]
    );
    let Policy::SetHeader(h4) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(expression(&h4.name), r#"@("h4")"#);
    assert_eq!(expression(&h4.exists_action), r#"@("append")"#);

    let Policy::RewriteUri(r) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(literal(&r.template), "/v2/orders");
    assert!(!r.copy_unmatched_params);

    let Policy::SetBackendService(SetBackendService::BaseUrl(url)) = &it.next().unwrap().policy
    else {
        panic!()
    };
    assert_eq!(literal(url), "https://backend.example.com/api");

    let Policy::AuthenticationCertificate(AuthenticationCertificate::Thumbprint(t)) =
        &it.next().unwrap().policy
    else {
        panic!()
    };
    assert_eq!(literal(t), "ABCDEF");
    let Policy::AuthenticationCertificate(AuthenticationCertificate::CertificateId(c)) =
        &it.next().unwrap().policy
    else {
        panic!()
    };
    assert_eq!(literal(c), "client-cert");
    let Policy::MockResponse(m) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(
        (m.status_code, m.content_type.as_deref()),
        (404, Some("application/json"))
    );

    let Policy::SetBody(b) = &it.next().unwrap().policy else {
        panic!()
    };
    assert_eq!(literal(&b.body), "plain text");
    assert_eq!(b.xsi_nil, XsiNil::Null);
    assert!(it.next().is_none());

    let backend = policies(&doc, SectionKind::Backend);
    let Policy::ForwardRequest(f) = &backend[0].policy else {
        panic!()
    };
    assert!(f.timeout.is_none());
    assert_eq!(literal(f.timeout_ms.as_ref().unwrap()), 2500);
    assert_eq!(literal(f.continue_timeout.as_ref().unwrap()), 5);
    assert_eq!(f.http_version, HttpVersion::Http2Or1);
    assert!(literal(&f.follow_redirects));
    assert!(f.buffer_request_body && !f.buffer_response && f.fail_on_error_status_code);

    let outbound = policies(&doc, SectionKind::Outbound);
    let Policy::SetStatus(s) = &outbound[0].policy else {
        panic!()
    };
    assert_eq!(expression(&s.code), "@(201)");
    let Policy::MockResponse(m) = &outbound[1].policy else {
        panic!()
    };
    assert_eq!((m.status_code, m.content_type.as_deref()), (200, None));

    let on_error = policies(&doc, SectionKind::OnError);
    let Policy::SetVariable(v) = &on_error[0].policy else {
        panic!()
    };
    assert_eq!(expression(&v.value), "@(context.LastError.Message)");
}

#[test]
fn forward_request_defaults() {
    let doc = load("<policies><backend><forward-request /></backend></policies>");
    let Policy::ForwardRequest(f) = &policies(&doc, SectionKind::Backend)[0].policy else {
        panic!()
    };
    assert!(f.timeout.is_none() && f.timeout_ms.is_none() && f.continue_timeout.is_none());
    assert_eq!(f.http_version, HttpVersion::Http1);
    assert!(!literal(&f.follow_redirects));
    assert!(!f.buffer_request_body && f.buffer_response && !f.fail_on_error_status_code);
    let doc =
        load(r#"<policies><backend><forward-request timeout="@(10)" /></backend></policies>"#);
    let Policy::ForwardRequest(f) = &policies(&doc, SectionKind::Backend)[0].policy else {
        panic!()
    };
    assert_eq!(expression(f.timeout.as_ref().unwrap()), "@(10)");
}

#[test]
fn return_response_with_variable_and_children() {
    let node = only_inbound(
        r#"<return-response response-variable-name="resp"><set-header name="a" exists-action="override"><value>1</value></set-header><set-body>done</set-body><set-status code="418" /></return-response>"#,
    );
    let Policy::ReturnResponse(rr) = &node.policy else {
        panic!()
    };
    assert_eq!(rr.response_variable_name.as_deref(), Some("resp"));
    let names: Vec<_> = rr.steps.iter().map(|s| s.meta.name).collect();
    assert_eq!(names, ["set-header", "set-body", "set-status"]);
    let Policy::SetStatus(s) = &rr.steps[2].policy else {
        panic!()
    };
    assert_eq!(literal(&s.code), 418);
    assert!(s.reason.is_none());
}

// ---------------------------------------------------------------------------------
// Errors: exact position and message.

#[test]
fn unclosed_tag() {
    assert_eq!(
        error("<policies>\n  <inbound>\n    <choose>\n  </inbound>\n</policies>"),
        (
            4,
            3,
            "mismatched closing tag </inbound>: expected </choose> to close <choose> from line 3, column 5".into()
        )
    );
    assert_eq!(
        error("<policies>\n  <inbound>\n"),
        (
            2,
            3,
            "element <inbound> is never closed: add </inbound>".into()
        )
    );
    assert_eq!(
        error("<policies>\n  <inbound\n"),
        (
            2,
            3,
            "start tag <inbound> is never closed: missing `>`".into()
        )
    );
}

#[test]
fn mismatched_tag() {
    assert_eq!(
        error("<policies>\n<inbound>\n</outbound>\n</policies>"),
        (
            3,
            1,
            "mismatched closing tag </outbound>: expected </inbound> to close <inbound> from line 2, column 1".into()
        )
    );
}

#[test]
fn unknown_element() {
    assert_eq!(
        error(&inbound_doc("  <set-headr name=\"x\" />")),
        (
            3,
            3,
            "unknown element <set-headr> in <inbound>: did you mean <set-header>?".into()
        )
    );
    assert_eq!(
        error(&inbound_doc("<encrypt-everything />")).2,
        "unknown element <encrypt-everything> in <inbound>: expected a policy such as choose, set-header, set-variable, return-response, validate-client-certificate"
    );
    assert_eq!(
        error("<policies>\n<inbund/>\n</policies>"),
        (
            2,
            1,
            "unknown element <inbund> in <policies>: expected <inbound>, <backend>, <outbound> or <on-error>".into()
        )
    );
    assert_eq!(
        error("<policy/>").2,
        "the root element must be <policies>, found <policy>"
    );
}

#[test]
fn unsupported_elements_say_why() {
    let (line, column, message) = error(&inbound_doc(
        r#"<rate-limit-by-key calls="10" renewal-period="60" counter-key="@(context.Request.IpAddress)" />"#,
    ));
    assert_eq!((line, column), (3, 1));
    assert_eq!(
        message,
        "<rate-limit-by-key> is not supported: <rate-limit-by-key> is not available in the Consumption tier (APIM policy index: Consumption: No), and certgate does not implement it; remove it or enforce limits in API Gateway usage plans"
    );
    assert!(
        error(&inbound_doc(
            r#"<quota-by-key calls="10" counter-key="k" />"#
        ))
        .2
        .contains("not available in the Consumption tier")
    );
    // The children of <retry> follow the rules of the section it is in.
    assert!(
        error(&inbound_doc(
            r#"<retry condition="@(true)" count="2" interval="1"><forward-request buffer-request-body="true" /></retry>"#
        ))
        .2
        .starts_with("<forward-request> is not allowed in <inbound>")
    );
    assert!(
        error(&inbound_doc(
            r#"<rate-limit calls="10" renewal-period="60" />"#
        ))
        .2
        .contains("certgate does not implement <rate-limit>")
    );
    assert!(
        error(&inbound_doc("<validate-azure-ad-token />"))
            .2
            .contains("<validate-azure-ad-token> needs Azure; certgate does not run it. On AWS: use <validate-jwt>")
    );
}

#[test]
fn unknown_attribute() {
    assert_eq!(
        error(&inbound_doc(r#"<set-status code="403" reasn="x" />"#)),
        (
            3,
            24,
            "<set-status> has no attribute `reasn`; allowed: id, code, reason".into()
        )
    );
}

#[test]
fn bad_attribute_values() {
    assert_eq!(
        error(&inbound_doc(r#"<set-status code="4O3" />"#)),
        (
            3,
            19,
            "<set-status> code: `4O3` is not an HTTP status code; use a number from 100 to 599"
                .into()
        )
    );
    assert_eq!(
        error(&inbound_doc(r#"<set-header name="a" exists-action="replace" />"#)),
        (
            3,
            37,
            "<set-header> exists-action: `replace` is not an exists-action; use override, skip, append or delete".into()
        )
    );
    assert_eq!(
        error(&inbound_doc(
            r#"<validate-client-certificate validate-trust="yes" />"#
        ))
        .2,
        "<validate-client-certificate> validate-trust: `yes` is not a Boolean; use true, false or an expression @(...)"
    );
    assert_eq!(
        error(&inbound_doc(
            r#"<validate-client-certificate ignore-error="@(true)" />"#
        ))
        .2,
        "<validate-client-certificate> ignore-error: policy expressions are not allowed here; write a literal value"
    );
    assert_eq!(
        error(&inbound_doc(
            r#"<ip-filter action="allow"><address>10.0.0.300</address></ip-filter>"#
        )),
        (
            3,
            36,
            "<address> text: `10.0.0.300` is not an IPv4 or IPv6 address".into()
        )
    );
    assert_eq!(
        error(&inbound_doc(
            r#"<set-backend-service base-url="backend.local" />"#
        ))
        .2,
        "<set-backend-service> base-url: `backend.local` is not an absolute URL; write http://host/... or https://host/..."
    );
    assert_eq!(
        error(&inbound_doc(r#"<set-variable value="1" />"#)),
        (3, 1, "<set-variable> needs the attribute `name`".into())
    );
    assert!(
        error("<policies><backend><forward-request timeout=\"1\" timeout-ms=\"2\" /></backend></policies>")
            .2
            .contains("use either timeout or timeout-ms, not both")
    );
    assert!(
        error(&inbound_doc(
            r#"<set-body template="liquid">{{body}}</set-body>"#
        ))
        .2
        .contains("certgate has no Liquid engine")
    );
    assert_eq!(
        error(&inbound_doc(
            r#"<authentication-certificate thumbprint="A" certificate-id="b" />"#
        )),
        (
            3,
            1,
            "<authentication-certificate> needs exactly one of thumbprint or certificate-id".into()
        )
    );
    // An inline certificate is refused where it is written, not per request.
    for attribute in [
        r#"body="@(context.Variables.GetValueOrDefault&lt;byte[]&gt;(&quot;c&quot;))""#,
        r#"thumbprint="A" password="p""#,
    ] {
        let (line, _, message) = error(&inbound_doc(&format!(
            "<authentication-certificate {attribute} />"
        )));
        assert_eq!(line, 3, "{message}");
        assert!(
            message.contains("certgate does not take inline certificates")
                && message.contains("certificate-id"),
            "{message}"
        );
    }
}

#[test]
fn doctype_is_rejected() {
    assert_eq!(
        error("<?xml version=\"1.0\"?>\n<!DOCTYPE policies [ <!ENTITY x \"y\"> ]>\n<policies/>"),
        (
            2,
            1,
            "DTDs are not allowed in policy documents: remove the <!DOCTYPE ...> declaration"
                .into()
        )
    );
    assert_eq!(
        error("<policies><inbound><set-body>&x;</set-body></inbound></policies>").2,
        "unknown entity `&x;`: only &quot; &amp; &lt; &gt; &apos; and numeric references like &#38; are supported (write &amp; for a literal &)"
    );
}

#[test]
fn unbalanced_expression() {
    assert_eq!(
        error(&inbound_doc(
            r#"<choose><when condition="@(context.Request.Certificate == null" ><set-status code="403" /></when></choose>"#
        )),
        (
            3,
            26,
            "`@(` is never closed: missing `)` (check the brackets, and that every string literal in the expression is closed)".into()
        )
    );
    assert_eq!(
        error(&inbound_doc(r#"<set-variable name="a" value="@(f(x]" />"#)),
        (
            3,
            36,
            "unbalanced expression: found `]` where `)` closes the innermost bracket".into()
        )
    );
    assert_eq!(
        error(&inbound_doc("<set-body>@{ return 1; </set-body>")).2,
        "`@{` is never closed: missing `}` (check the brackets, and that every string literal in the expression is closed)"
    );
    assert_eq!(
        error(&inbound_doc("<set-body>@(1) and more</set-body>")),
        (
            3,
            15,
            "unexpected text after the expression in <set-body>; an expression must be the whole value".into()
        )
    );
}

#[test]
fn too_deep_nesting() {
    let mut text = String::from("<policies><inbound>");
    for _ in 0..40 {
        text.push_str("<choose><when condition=\"true\">");
    }
    let (line, column, message) = error(&text);
    assert_eq!(line, 1);
    // <policies> and <inbound> are two levels; each choose/when pair adds two.
    let choose_when = "<choose><when condition=\"true\">".len() as u32;
    assert_eq!(column, 20 + 31 * choose_when);
    assert_eq!(
        message,
        format!("elements are nested deeper than {MAX_DEPTH} levels")
    );
}

#[test]
fn oversized_document() {
    let text = format!("<policies>{}</policies>", " ".repeat(MAX_DOCUMENT_BYTES));
    assert_eq!(
        error(&text),
        (
            1,
            1,
            format!(
                "document is {} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                MAX_DOCUMENT_BYTES + 21
            )
        )
    );
}

#[test]
fn placement_rules() {
    assert_eq!(
        error("<policies>\n<outbound>\n<validate-client-certificate />\n</outbound>\n</policies>"),
        (
            3,
            1,
            "<validate-client-certificate> is not allowed in <outbound>; it may appear in <inbound>".into()
        )
    );
    assert!(
        error("<policies><inbound><forward-request /></inbound></policies>")
            .2
            .contains("<forward-request> is not allowed in <inbound>; it may appear in <backend>")
    );
    // on-error allows only the policies listed in spec §1.4: not set-body.
    assert!(
        error("<policies><on-error><set-body>x</set-body></on-error></policies>")
            .2
            .contains("<set-body> is not allowed in <on-error>")
    );
    // Placement applies inside choose, too.
    assert!(
        error("<policies><outbound><choose><when condition=\"true\"><check-header name=\"a\" failed-check-httpcode=\"401\" failed-check-error-message=\"m\" ignore-case=\"true\" /></when></choose></outbound></policies>")
            .2
            .contains("<check-header> is not allowed in <outbound>")
    );
    assert!(
        error("<policies><backend><forward-request /><forward-request /></backend></policies>")
            .2
            .contains("a second <forward-request>")
    );
    assert_eq!(
        error(&inbound_doc("<choose><otherwise /></choose>")).2,
        "<choose> needs at least one <when condition=\"...\">"
    );
    assert_eq!(
        error(&inbound_doc(
            "<choose><otherwise /><when condition=\"true\" /></choose>"
        ))
        .2,
        "<when> after <otherwise>: <otherwise> must be the last branch of <choose>"
    );
    assert_eq!(
        error(&inbound_doc(
            "<return-response><set-variable name=\"a\" value=\"b\" /></return-response>"
        ))
        .2,
        "<set-variable> is not allowed inside <return-response>: only <set-status>, <set-header> and <set-body>"
    );
    assert!(
        error(&inbound_doc("<validate-client-certificate><identities><identity /></identities></validate-client-certificate>"))
            .2
            .contains("<identity> needs at least one claim")
    );
    let eleven = "<identity thumbprint=\"A\" />".repeat(11);
    assert_eq!(
        error(&inbound_doc(&format!(
            "<validate-client-certificate><identities>{eleven}</identities></validate-client-certificate>"
        )))
        .2,
        "<identities> allows at most 10 <identity> elements"
    );
    assert!(
        error(&inbound_doc("<validate-client-certificate><identities><identity issuer-certificate-id=\"ca\" issuer-thumbprint=\"B\" /></identities></validate-client-certificate>"))
            .2
            .contains("cannot be combined with issuer-subject or issuer-thumbprint")
    );
    assert_eq!(
        error(&inbound_doc(
            "<return-response><set-status code=\"200\" /><set-status code=\"201\" /></return-response>"
        )),
        (
            3,
            43,
            "<return-response> has more than one <set-status>".into()
        )
    );
    assert_eq!(
        error(&inbound_doc("<set-status code=\" @(200)\" />")).2,
        "<set-status> code: an expression must start right after the opening quote; remove the leading whitespace"
    );
    assert_eq!(
        error(&inbound_doc("<set-variable name=\"@(x)\" value=\"1\" />")).2,
        "<set-variable> name: policy expressions are not allowed here; write a literal value"
    );
    assert_eq!(
        error(&inbound_doc("<set-header name=\"a\">text</set-header>")),
        (
            3,
            22,
            "unexpected text inside <set-header>: it takes only elements".into()
        )
    );
}

#[test]
fn errors_render_with_a_caret() {
    let text = inbound_doc(r#"  <set-status code="403" reasn="x" />"#);
    let e = parse(&text).unwrap_err();
    assert_eq!(
        e.render(&text),
        "p.xml:3:26: error: <set-status> has no attribute `reasn`; allowed: id, code, reason\n3 |   <set-status code=\"403\" reasn=\"x\" />\n  |                          ^\n"
    );
    assert_eq!(
        e.to_string(),
        "p.xml:3:26: <set-status> has no attribute `reasn`; allowed: id, code, reason"
    );
}

#[test]
fn invalid_utf8_is_an_error_with_a_position() {
    let e = PolicyDocument::from_bytes("p.xml", b"<policies>\n <a\xff/>", Scope::Api).unwrap_err();
    assert_eq!((e.location().line, e.location().column), (2, 4));
    assert!(e.message().contains("not valid UTF-8"));
}

// ---------------------------------------------------------------------------------
// <base/> composition (spec §1.2).

fn doc(scope: Scope, inbound: &str) -> PolicyDocument {
    let text = format!(
        "<policies><inbound>{inbound}</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
    );
    PolicyDocument::parse(&format!("{}.xml", scope.as_str()), &text, scope)
        .unwrap_or_else(|e| panic!("{}", e.render(&text)))
}

fn var(name: &str) -> String {
    format!(r#"<set-variable name="{name}" value="1" />"#)
}

/// The effective inbound as `scope:variable` names.
fn inbound_names(effective: &EffectivePolicy) -> Vec<String> {
    effective
        .section(SectionKind::Inbound)
        .iter()
        .map(|s| match &s.node.policy {
            Policy::SetVariable(v) => format!("{}:{}", s.scope.as_str(), v.name),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn base_inserts_the_parent_section_where_it_stands() {
    let global = doc(
        Scope::Global,
        &format!("{}<base />{}", var("g1"), var("g2")),
    );
    let api = doc(Scope::Api, &format!("{}<base />{}", var("a1"), var("a2")));
    let op = doc(Scope::Operation, &format!("<base />{}", var("o1")));
    let e = EffectivePolicy::for_request(Some(&global), Some(&api), Some(&op));
    assert_eq!(
        inbound_names(&e),
        ["api:a1", "global:g1", "global:g2", "api:a2", "operation:o1"]
    );
    let step = &e.section(SectionKind::Inbound)[1];
    assert_eq!(
        (step.scope, step.section),
        (Scope::Global, SectionKind::Inbound)
    );
    assert_eq!(step.node.meta.path, "set-variable[1]");
    assert_eq!(&*step.node.meta.at.file, "global.xml");
    // base at the end
    let op = doc(Scope::Operation, &format!("{}<base />", var("o1")));
    let e = EffectivePolicy::for_request(Some(&global), Some(&api), Some(&op));
    assert_eq!(
        inbound_names(&e),
        ["operation:o1", "api:a1", "global:g1", "global:g2", "api:a2"]
    );
}

#[test]
fn a_section_without_base_stops_inheritance() {
    let global = doc(Scope::Global, &var("g"));
    let api = doc(Scope::Api, &var("a"));
    let op = doc(Scope::Operation, &format!("<base />{}", var("o")));
    let e = EffectivePolicy::for_request(Some(&global), Some(&api), Some(&op));
    assert_eq!(inbound_names(&e), ["api:a", "operation:o"]);
    // An explicitly empty section runs nothing, even with a global forward-request.
    let api = load("<policies><backend /></policies>");
    let e = EffectivePolicy::for_request(None, Some(&api), None);
    assert!(e.section(SectionKind::Backend).is_empty());
}

#[test]
fn base_at_global_scope_has_no_effect() {
    let global = doc(Scope::Global, &format!("<base />{}", var("g")));
    let e = EffectivePolicy::for_request(Some(&global), None, None);
    assert_eq!(inbound_names(&e), ["global:g"]);
}

#[test]
fn duplicated_base_is_an_error() {
    assert_eq!(
        error("<policies>\n<inbound>\n<base />\n<base />\n</inbound>\n</policies>"),
        (
            4,
            1,
            "<inbound> has a second <base/> (the first is at line 3, column 1); a section may include its parent scope once".into()
        )
    );
    assert!(
        error(&inbound_doc(
            "<choose><when condition=\"true\"><base /></when></choose>"
        ))
        .2
        .starts_with("<base/> is only allowed directly inside a section")
    );
    assert!(
        error(&inbound_doc("<base id=\"x\" />"))
            .2
            .contains("<base> has no attribute `id`")
    );
}

#[test]
fn default_global_policy_forwards_the_request() {
    let api = doc(Scope::Api, &format!("<base />{}", var("a")));
    let e = EffectivePolicy::for_request(None, Some(&api), None);
    let backend = e.section(SectionKind::Backend);
    assert_eq!(backend.len(), 1);
    assert!(matches!(backend[0].node.policy, Policy::ForwardRequest(_)));
    assert_eq!(backend[0].scope, Scope::Global);
    assert_eq!(inbound_names(&e), ["api:a"]);
    // With a global document, only what it says applies.
    let global = load("<policies><inbound /><backend /></policies>");
    let e = EffectivePolicy::for_request(Some(&global), Some(&api), None);
    assert!(e.section(SectionKind::Backend).is_empty());
}

#[test]
fn omitted_sections_and_scopes_inherit() {
    let global = load(
        "<policies><backend><forward-request timeout=\"5\" /></backend><on-error><set-variable name=\"g\" value=\"1\" /></on-error></policies>",
    );
    let op = load(&inbound_doc(&var("o")));
    // No API document: transparent. The operation omits backend and on-error: inherited.
    let e = EffectivePolicy::for_request(Some(&global), None, Some(&op));
    assert_eq!(e.section(SectionKind::Backend).len(), 1);
    assert_eq!(e.section(SectionKind::OnError).len(), 1);
    assert_eq!(e.section(SectionKind::Inbound).len(), 1);
    assert!(op.section(SectionKind::Backend).at.is_none());
}

#[test]
fn loaded_policies_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<PolicyDocument>();
    shared::<EffectivePolicy>();
    shared::<PolicyError>();
}

// ---------------------------------------------------------------------------------
// Robustness: random and mutated inputs never panic.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    const ALPHABET: &[&str] = &[
        "<",
        ">",
        "/",
        "\"",
        "'",
        "@(",
        "@{",
        ")",
        "}",
        "(",
        "{",
        "&quot;",
        "&amp;",
        "&#x41;",
        "&",
        ";",
        "=",
        " ",
        "\n",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?xml ?>",
        "<base />",
        "<policies>",
        "</policies>",
        "<inbound>",
        "</inbound>",
        "<choose>",
        "<when condition=\"",
        "$\"",
        "@\"",
        "\\",
        "é",
        "\u{feff}",
        "policies",
        "set-header",
        "name",
        "true",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let seeds: Vec<String> = ARTICLE
        .iter()
        .map(|(_, s)| format!("<policies>\n<inbound>\n{s}</inbound>\n</policies>\n"))
        .chain([include_str!("data/policies/validate-client-certificate.xml").to_owned()])
        .collect();
    let mut loaded = 0;
    for i in 0..4000 {
        let mut text = seeds[i % seeds.len()].clone();
        if i % 5 == 4 {
            // Pure noise from the alphabet.
            text = (0..rng.below(200))
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
        } else {
            for _ in 0..=rng.below(4) {
                let mut at = rng.below(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.below(3) {
                    0 => text.insert_str(at, ALPHABET[rng.below(ALPHABET.len())]),
                    1 => {
                        let mut end = (at + rng.below(8)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    _ => text.truncate(at),
                }
            }
        }
        match PolicyDocument::parse("fuzz.xml", &text, Scope::Operation) {
            Ok(doc) => {
                loaded += 1;
                let _ = EffectivePolicy::for_request(None, None, Some(&doc));
            }
            Err(e) => {
                let at = e.location();
                assert!(at.line >= 1 && at.column >= 1, "{e}");
                assert!(at.offset <= text.len(), "{e}");
                let _ = e.render(&text);
            }
        }
    }
    assert!(loaded > 0, "no mutated input loaded at all");
}

/// A `condition` is compiled as a `bool` expression on APIM: one of another type does not
/// load there, so it does not load here, at the expression's position. An `object`
/// (a variable) is checked per request.
#[test]
fn a_condition_of_another_type_than_bool_does_not_load() {
    for (condition, ty) in [
        ("@(5)", "int"),
        ("@(\"true\")", "string"),
        (
            "@(context.Request.Headers.GetValueOrDefault(\"a\", \"\"))",
            "string",
        ),
        ("@(JObject.Parse(\"{}\")[\"a\"])", "JToken"),
    ] {
        let body =
            format!(r#"<choose><when condition='{condition}'><return-response /></when></choose>"#);
        let (line, column, message) = error(&inbound_doc(&body));
        assert_eq!(line, 3, "{condition}: {message}");
        let at = body.find(condition).unwrap() as u32 + 1;
        assert_eq!(column, at, "{condition}: {message}");
        assert!(
            message.contains(&format!("of type `{ty}`")) && message.contains("bool"),
            "{condition}: {message}"
        );
        let retry = inbound_doc(&format!(
            r#"<retry condition='{condition}' count="2" interval="1"><forward-request /></retry>"#
        ));
        assert!(parse(&retry).is_err(), "retry {condition}");
    }
    for condition in [
        "@(context.Variables[\"a\"])",
        "@((bool)JObject.Parse(\"{}\")[\"a\"])",
        "@(5 > 4)",
        "true",
    ] {
        load(&inbound_doc(&format!(
            r#"<choose><when condition='{condition}'><return-response /></when></choose>"#
        )));
    }
}
