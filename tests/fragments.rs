//! Policy fragments (`fragments/<id>.xml`, `<include-fragment>`) and named values
//! (`[named_values]`, `{{name}}`, `--named-value`): loaded by the gateway's own loader and
//! run through the built binary on deployment folders written to a temp dir.

mod common;

use std::path::Path;

use common::cli::certgate;

use certgate::files::SourceFile;
use certgate::gateway::{Deployment, DeploymentError};
use certgate::policy::SectionKind;
use serde_json::Value;
use time::OffsetDateTime;

/// A committed HTTP API event: GET /orders/42 on api.contoso.com, no certificate.
const EVENT: &str = "events/http-api/no-certificate.json";

const TOML: &str = "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/orders.xml\"\n";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// `certgate invoke` on a folder holding `files`, with `extra` arguments; the Lambda
/// response, or the command's stderr when it fails.
fn invoke(files: &[(&str, &str)], extra: &[&str]) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    let config = dir.path().to_str().unwrap();
    let mut args = vec!["invoke", "--config", config];
    args.extend_from_slice(extra);
    args.push(EVENT);
    let out = certgate(&args);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("stdout is the Lambda response JSON"))
}

fn load(files: &[(&str, &str)]) -> Result<Deployment, DeploymentError> {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile::new(*path, text.as_bytes()))
        .collect();
    Deployment::load(&files, "test", OffsetDateTime::now_utc())
}

/// The load error's `file:line:col` and its rendering (source line and caret).
fn load_error(files: &[(&str, &str)]) -> (String, String) {
    match load(files) {
        Err(e @ DeploymentError::Policy { .. }) => {
            let DeploymentError::Policy { error, .. } = &e else {
                unreachable!()
            };
            (error.location().to_string(), e.render())
        }
        Err(other) => panic!("not a policy error: {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn fragments_nest_three_deep_in_every_section_and_inside_choose() {
    let response = invoke(
        &[
            ("gateway.toml", TOML),
            (
                "policies/orders.xml",
                r#"<policies>
  <inbound>
    <include-fragment fragment-id="one" />
    <choose><when condition="true"><include-fragment fragment-id="answer" /></when></choose>
  </inbound>
  <outbound><include-fragment fragment-id="mark" /></outbound>
</policies>"#,
            ),
            (
                "fragments/one.xml",
                r#"<fragment><set-variable name="trail" value="one" /><include-fragment fragment-id="two" /></fragment>"#,
            ),
            (
                "fragments/two.xml",
                r#"<fragment>
  <set-variable name="trail" value="@((string)context.Variables["trail"] + ",two")" />
  <include-fragment fragment-id="three" />
</fragment>"#,
            ),
            (
                "fragments/three.xml",
                r#"<fragment><set-variable name="trail" value="@((string)context.Variables["trail"] + ",three")" /></fragment>"#,
            ),
            (
                "fragments/answer.xml",
                r#"<fragment><return-response><set-status code="200" reason="OK" /><set-body>@((string)context.Variables["trail"])</set-body></return-response></fragment>"#,
            ),
            // Unused by this request's path (return-response skips outbound) but loaded.
            (
                "fragments/mark.xml",
                r#"<fragment><set-header name="x-mark" exists-action="override"><value>1</value></set-header></fragment>"#,
            ),
        ],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["body"], "one,two,three", "{response}");
}

#[test]
fn an_included_policy_keeps_its_fragment_file_and_the_section_rules() {
    let files = [
        ("gateway.toml", TOML),
        (
            "policies/orders.xml",
            "<policies><outbound><base /><include-fragment fragment-id=\"mark\" /></outbound></policies>",
        ),
        (
            "fragments/mark.xml",
            "<fragment>\n  <set-header name=\"x-mark\" exists-action=\"override\"><value>1</value></set-header>\n</fragment>",
        ),
    ];
    let deployment = load(&files).unwrap_or_else(|e| panic!("{}", e.render()));
    let policy = deployment.policy(0, None).unwrap();
    let steps = policy.section(SectionKind::Outbound);
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].node.meta.at.to_string(), "fragments/mark.xml:2:3");

    // A policy of the fragment that the including section does not allow is refused
    // where it is written: in the fragment.
    let (at, rendered) = load_error(&[
        files[0],
        (
            "policies/orders.xml",
            "<policies>\n<outbound><include-fragment fragment-id=\"fwd\" /></outbound></policies>",
        ),
        (
            "fragments/fwd.xml",
            "<fragment>\n\n    <forward-request />\n</fragment>",
        ),
    ]);
    assert_eq!(at, "fragments/fwd.xml:3:5");
    assert!(
        rendered.contains("<forward-request> is not allowed in <outbound>"),
        "{rendered}"
    );
    assert!(
        rendered.contains("3 |     <forward-request />\n  |     ^"),
        "{rendered}"
    );
}

#[test]
fn an_error_inside_a_fragment_points_into_the_fragment_file() {
    let (at, rendered) = load_error(&[
        ("gateway.toml", TOML),
        (
            "policies/orders.xml",
            "<policies><inbound><include-fragment fragment-id=\"outer\" /></inbound></policies>",
        ),
        (
            "fragments/outer.xml",
            "<fragment><include-fragment fragment-id=\"inner\" /></fragment>",
        ),
        (
            "fragments/inner.xml",
            "<fragment>\n  <set-variable name=\"x\" value=\"@(context.Request.Nope)\" />\n</fragment>",
        ),
    ]);
    assert_eq!(at, "fragments/inner.xml:2:51");
    assert!(rendered.contains("Nope"), "{rendered}");
    assert!(
        rendered.contains("2 |   <set-variable name=\"x\" value=\"@(context.Request.Nope)\" />"),
        "{rendered}"
    );
}

#[test]
fn a_cycle_of_fragments_is_an_error_at_the_include_that_closes_it() {
    let (at, rendered) = load_error(&[
        ("gateway.toml", TOML),
        (
            "policies/orders.xml",
            "<policies><inbound><include-fragment fragment-id=\"a\" /></inbound></policies>",
        ),
        (
            "fragments/a.xml",
            "<fragment><include-fragment fragment-id=\"b\" /></fragment>",
        ),
        (
            "fragments/b.xml",
            "<fragment>\n <include-fragment fragment-id=\"a\" />\n</fragment>",
        ),
    ]);
    assert_eq!(at, "fragments/b.xml:2:2");
    assert!(
        rendered.contains("fragment `a` includes itself (a -> b -> a)"),
        "{rendered}"
    );
}

#[test]
fn an_unknown_fragment_id_is_an_error_in_the_including_file() {
    let (at, rendered) = load_error(&[
        ("gateway.toml", TOML),
        (
            "policies/orders.xml",
            "<policies>\n<backend><include-fragment fragment-id=\"missing\" /></backend></policies>",
        ),
    ]);
    assert_eq!(at, "policies/orders.xml:2:41", "{rendered}");
    assert!(
        rendered.contains("no fragment `missing`: add fragments/missing.xml"),
        "{rendered}"
    );
}

#[test]
fn repeated_inclusion_is_bounded() {
    // Each level includes the next one twice: 2^20 copies without a bound.
    let mut files = vec![
        ("gateway.toml".to_owned(), TOML.to_owned()),
        (
            "policies/orders.xml".to_owned(),
            "<policies><inbound><include-fragment fragment-id=\"f0\" /></inbound></policies>"
                .to_owned(),
        ),
    ];
    for i in 0..20 {
        let next = format!("<include-fragment fragment-id=\"f{}\" />", i + 1);
        files.push((
            format!("fragments/f{i}.xml"),
            format!("<fragment>{next}{next}</fragment>"),
        ));
    }
    files.push((
        "fragments/f20.xml".to_owned(),
        "<fragment><set-variable name=\"x\" value=\"1\" /></fragment>".to_owned(),
    ));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (_, rendered) = load_error(&files);
    assert!(
        rendered.contains("more than 20000 elements once its fragments are included"),
        "{rendered}"
    );
}

const NAMED: &str = r#"<policies>
  <inbound>
    <return-response>
      <set-status code="{{status}}" reason="Fine" />
      <set-header name="x-host" exists-action="override"><value>{{host}}</value></set-header>
      <set-body>@({{code}})</set-body>
    </return-response>
  </inbound>
</policies>"#;

fn named_toml(values: &str) -> String {
    format!("{TOML}\n[named_values]\n{values}")
}

#[test]
fn named_values_replace_attribute_values_element_text_and_expression_code() {
    let toml = named_toml(
        "status = \"201\"\nhost = \"orders.internal\"\ncode = '\"abc\".ToUpper() + context.Request.Method'\n",
    );
    let response = invoke(
        &[("gateway.toml", &toml), ("policies/orders.xml", NAMED)],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(
        response["headers"]["x-host"], "orders.internal",
        "{response}"
    );
    assert_eq!(response["body"], "ABCGET", "{response}");
}

#[test]
fn named_value_flags_override_and_add_to_the_table() {
    let toml = named_toml("status = \"201\"\nhost = \"orders.internal\"\n");
    let files = [
        ("gateway.toml", toml.as_str()),
        ("policies/orders.xml", NAMED),
    ];

    // Without `code` the load fails, naming it and its position, without the values.
    let error = invoke(&files, &[]).expect_err("an undefined name loads");
    assert!(
        error.contains("policies/orders.xml:6:19: error: named value `{{code}}` is not defined"),
        "{error}"
    );
    assert!(!error.contains("orders.internal"), "{error}");

    let response = invoke(
        &files,
        &[
            "--named-value",
            "status=202",
            "--named-value",
            "code=\"from=flag\"",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 202, "{response}");
    assert_eq!(
        response["headers"]["x-host"], "orders.internal",
        "{response}"
    );
    assert_eq!(response["body"], "from=flag", "{response}");

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &files);
    let config = dir.path().to_str().unwrap();
    let out = certgate(&["check", "--config", config, "--named-value", "code=1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = certgate(&["check", "--config", config]);
    assert_eq!(out.status.code(), Some(1));
    let out = certgate(&["check", "--config", config, "--named-value", "no good=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`no good` is not a named value name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn secret_and_parameter_named_values_need_their_value_read() {
    // Deployment::load reads no secret: tests/secrets.rs reads them from moto_server.
    for (value, arn) in [
        (
            "{ secret = \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:k\" }",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k",
        ),
        (
            "{ parameter = \"arn:aws:ssm:eu-west-1:123456789012:parameter/t\" }",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/t",
        ),
    ] {
        let toml = named_toml(&format!("key = {value}\n"));
        let error = match load(&[("gateway.toml", &toml)]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{value} loaded"),
        };
        assert!(
            error.contains(&format!(
                "named value `key` is kept in {arn} and was not read"
            )),
            "{error}"
        );
    }
}

/// A load error after a `{{name}}` on the same line points at the text as written (the
/// column counts the `{{name}}`, not its value), in a document and in a fragment; an
/// error inside the code a value became points at the `{{name}}`.
#[test]
fn load_errors_point_into_the_text_as_written_around_named_values() {
    let toml =
        named_toml("long = \"a-value-much-longer-than-its-name\"\ncode = 'context.Request.Nope'\n");
    let document = "<policies><inbound><set-header name=\"{{long}}\" exists-action=\"override\"><value>@(context.Request.Nope)</value></set-header></inbound></policies>";
    let (at, rendered) = load_error(&[("gateway.toml", &toml), ("policies/orders.xml", document)]);
    let column = document.find("Nope").unwrap() + 1;
    assert_eq!(at, format!("policies/orders.xml:1:{column}"), "{rendered}");
    assert!(!rendered.contains("a-value-much-longer"), "{rendered}");

    let fragment =
        "<fragment>\n  <set-variable name=\"{{long}}\" value=\"@({{code}})\" />\n</fragment>";
    let (at, rendered) = load_error(&[
        ("gateway.toml", &toml),
        (
            "policies/orders.xml",
            "<policies><inbound><include-fragment fragment-id=\"f\" /></inbound></policies>",
        ),
        ("fragments/f.xml", fragment),
    ]);
    let line = fragment.lines().nth(1).unwrap();
    assert_eq!(
        at,
        format!("fragments/f.xml:2:{}", line.find("{{code}}").unwrap() + 1),
        "{rendered}"
    );
}
