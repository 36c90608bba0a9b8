//! Table-driven tests of the expression language: source, context, expected value or error.

#[path = "common/expr.rs"]
mod common_expr;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::sync::Arc;

use certgate::cert::Certificate;
use certgate::expr::{self, Compiled, Context, Headers, Origin, Url, Value};
use certgate::gateway::TrustVerifier;
use certgate::trust::TrustStore;
use common_expr::assert_each;
use time::macros::datetime;
use trust_pki::{Ca, file, now, pem_of, self_signed_client};

fn ctx() -> Context {
    let mut c = Context::new(datetime!(2026-11-28 16:00:00 UTC));
    c.request.method = "POST".into();
    c.request.url = Url::parse("https://api.contoso.com/orders/42?a=1&b=x&b=y")
        .unwrap()
        .into();
    c.request.original_url = c.request.url.clone();
    let mut h = Headers::new();
    h.append("Content-Type", "application/json");
    h.append("X-Multi", "one");
    h.append("x-multi", "two");
    c.request.headers = h;
    c.request.ip_address = "203.0.113.7".into();
    c.request.body = Some(expr::Body::new(&b"{\"id\":42}"[..]));
    c.request.matched_parameters = vec![("id".into(), "42".into())];
    c.variables.insert("isMobile".into(), Value::Bool(true));
    c.variables.insert("name".into(), Value::string("alice"));
    c.variables.insert("count".into(), Value::Int(3));
    c.request_id = "c0ffee00-0000-0000-0000-000000000001".into();
    c.timestamp = datetime!(2026-11-28 15:59:58 UTC);
    c
}

fn at() -> Origin {
    Origin::new("policies/test.xml", 3, 20)
}

fn compile(src: &str) -> Compiled {
    common_expr::compile(src, at())
}

fn run(src: &str) -> Value {
    common_expr::run(src, at(), &ctx())
}

fn json(src: &str) -> serde_json::Value {
    run(src).to_json()
}

fn load_err(src: &str) -> String {
    common_expr::load_err(src, at())
}

fn run_err(src: &str) -> String {
    common_expr::run_err(src, at(), &ctx()).to_string()
}

/// Each case's error (from `load_err` or `run_err`) is its `want` in policies/test.xml.
fn assert_errors(cases: &[(&str, &str)], got: fn(&str) -> String) {
    let cases: Vec<(&str, String)> = cases
        .iter()
        .map(|&(src, want)| (src, format!("policies/test.xml:{want}")))
        .collect();
    assert_each(&cases, got);
}

#[test]
fn values() {
    use serde_json::json as j;
    let cases: &[(&str, serde_json::Value)] = &[
        // literals
        ("@(1)", j!(1)),
        ("@(2147483648)", j!(2147483648i64)),
        ("@(10L)", j!(10)),
        ("@(1.5)", j!(1.5)),
        ("@(true)", j!(true)),
        ("@(null)", j!(null)),
        ("@('x')", j!("x")),
        (r#"@("a\tb\u0041\"")"#, j!("a\tbA\"")),
        (r#"@(@"c:\dir\""x""")"#, j!("c:\\dir\\\"x\"")),
        (r#"@($"id={1 + 2}, {{x}}")"#, j!("id=3, {x}")),
        // operators and precedence
        ("@(1 + 2 * 3)", j!(7)),
        ("@((1 + 2) * 3)", j!(9)),
        ("@(7 / 2)", j!(3)),
        ("@(7 % 3)", j!(1)),
        ("@(7.0 / 2)", j!(3.5)),
        ("@(-3 + +1)", j!(-2)),
        ("@(1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 4 == false)", j!(true)),
        ("@(!true || false)", j!(false)),
        ("@(true ? 1 : 2)", j!(1)),
        (r#"@(null ?? "d")"#, j!("d")),
        (r#"@("a" + 1 + true + null + 'c')"#, j!("a1Truec")),
        (r#"@(1 + 2 + "x")"#, j!("3x")),
        (r#"@("abc" == "abc")"#, j!(true)),
        (r#"@("abc" == "ABC")"#, j!(false)),
        ("@(1 == 1.0)", j!(true)),
        ("@((string)null is null)", j!(true)),
        (r#"@("x" is not null)"#, j!(true)),
        ("@((int)3.9)", j!(3)),
        ("@((long)5)", j!(5)),
        ("@((double)1 / 4)", j!(0.25)),
        // context
        ("@(context.Request.Method)", j!("POST")),
        ("@(context.Request.Url.Host)", j!("api.contoso.com")),
        ("@(context.Request.Url.Path)", j!("/orders/42")),
        ("@(context.Request.Url.Port)", j!(443)),
        ("@(context.Request.Url.Scheme)", j!("https")),
        ("@(context.Request.Url.QueryString)", j!("?a=1&b=x&b=y")),
        (
            r#"@(context.Request.Url.Query.GetValueOrDefault("b", ""))"#,
            j!("x,y"),
        ),
        (
            "@(context.Request.Url.ToString())",
            j!("https://api.contoso.com/orders/42?a=1&b=x&b=y"),
        ),
        (
            r#"@(context.Request.Headers.GetValueOrDefault("content-type", ""))"#,
            j!("application/json"),
        ),
        (
            r#"@(context.Request.Headers.GetValueOrDefault("X-MULTI", ""))"#,
            j!("one,two"),
        ),
        (
            r#"@(context.Request.Headers.GetValueOrDefault("Missing", "none"))"#,
            j!("none"),
        ),
        (
            r#"@(context.Request.Headers.ContainsKey("x-multi"))"#,
            j!(true),
        ),
        (r#"@(context.Request.Headers["X-Multi"].Length)"#, j!(2)),
        ("@(context.Request.IpAddress)", j!("203.0.113.7")),
        (
            "@(context.Request.Body.As<string>(preserveContent: true))",
            j!("{\"id\":42}"),
        ),
        (r#"@(context.Request.MatchedParameters["id"])"#, j!("42")),
        ("@(context.Request.Certificate == null)", j!(true)),
        ("@(context.Request.Certificate?.Thumbprint)", j!(null)),
        ("@(context.Response.StatusCode)", j!(200)),
        ("@(context.Response.StatusReason)", j!("OK")),
        (
            r#"@(context.Variables.GetValueOrDefault<bool>("isMobile"))"#,
            j!(true),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<bool>("nope", true))"#,
            j!(true),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<int>("nope"))"#,
            j!(0),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<string>("nope"))"#,
            j!(null),
        ),
        (r#"@(context.Variables.ContainsKey("name"))"#, j!(true)),
        (r#"@((string)context.Variables["name"])"#, j!("alice")),
        (r#"@((int)context.Variables["count"] + 1)"#, j!(4)),
        ("@(context.Deployment.Certificates.Count)", j!(0)),
        (
            "@(context.User == null && context.Subscription == null && context.Product == null)",
            j!(true),
        ),
        ("@(context.LastError == null)", j!(true)),
        ("@(context.Api?.Name)", j!(null)),
        (
            "@(context.RequestId)",
            j!("c0ffee00-0000-0000-0000-000000000001"),
        ),
        ("@(context.Timestamp)", j!("2026-11-28T15:59:58Z")),
        ("@(context.Elapsed.TotalSeconds)", j!(2.0)),
        // strings
        (r#"@("Hello".Length)"#, j!(5)),
        (r#"@("Hello".Contains("ell"))"#, j!(true)),
        (
            r#"@("Hello".StartsWith("He") && "Hello".EndsWith("lo"))"#,
            j!(true),
        ),
        (r#"@("Hello".IndexOf("l"))"#, j!(2)),
        (r#"@("Hello".IndexOf('z'))"#, j!(-1)),
        (r#"@("Hello".Substring(1, 3))"#, j!("ell")),
        (r#"@("Hello".Substring(2))"#, j!("llo")),
        (r#"@("a-b-c".Replace("-", "+"))"#, j!("a+b+c")),
        (r#"@("a,b,,c".Split(','))"#, j!(["a", "b", "", "c"])),
        (
            r#"@("a,b,,c".Split(',', StringSplitOptions.RemoveEmptyEntries).Length)"#,
            j!(3),
        ),
        (r#"@("  x  ".Trim())"#, j!("x")),
        (
            r#"@("MiXed".ToUpper() + "MiXed".ToLowerInvariant())"#,
            j!("MIXEDmixed"),
        ),
        (
            r#"@("abc".Equals("ABC", StringComparison.OrdinalIgnoreCase))"#,
            j!(true),
        ),
        (
            r#"@("abc".Equals("ABC", StringComparison.Ordinal))"#,
            j!(false),
        ),
        (r#"@(string.IsNullOrEmpty(""))"#, j!(true)),
        (r#"@(String.IsNullOrWhiteSpace(" x "))"#, j!(false)),
        (r#"@(string.Join("|", "a,b".Split(',')))"#, j!("a|b")),
        (r#"@(string.Format("{0}-{1:D3}", "x", 7))"#, j!("x-007")),
        (r#"@(string.Empty.Length)"#, j!(0)),
        // LINQ
        (r#"@("a,b,c".Split(',').Any(s => s == "b"))"#, j!(true)),
        (r#"@("a,b,c".Split(',').All(s => s.Length == 1))"#, j!(true)),
        (r#"@("a,bb,c".Split(',').Count(s => s.Length == 1))"#, j!(2)),
        (
            r#"@("a,bb,c".Split(',').Where(s => s != "c").Select(s => s.ToUpper()).ToArray())"#,
            j!(["A", "BB"]),
        ),
        (r#"@("a,bb,c".Split(',').First())"#, j!("a")),
        (
            r#"@("a,bb,c".Split(',').FirstOrDefault(s => s.StartsWith("z")))"#,
            j!(null),
        ),
        (r#"@("a,bb,c".Split(',').Contains("bb"))"#, j!(true)),
        (
            r#"@(context.Request.Headers.Any(h => h.Key == "X-Multi" && h.Value.Length == 2))"#,
            j!(true),
        ),
        (
            r#"@(context.Request.Headers.Select(h => h.Key).ToList())"#,
            j!(["Content-Type", "X-Multi"]),
        ),
        (
            r#"@(context.Variables.Count(v => v.Key.Length > 4))"#,
            j!(2),
        ),
        // DateTime, TimeSpan
        ("@(DateTime.UtcNow)", j!("2026-11-28T16:00:00Z")),
        ("@(DateTime.UtcNow.AddDays(1).Day)", j!(29)),
        (
            "@(DateTime.UtcNow.AddHours(-1.5).ToString(\"HH:mm\"))",
            j!("14:30"),
        ),
        (
            "@((DateTime.UtcNow - context.Timestamp).TotalMilliseconds)",
            j!(2000.0),
        ),
        ("@(DateTime.Parse(\"2026-01-02T03:04:05Z\").Month)", j!(1)),
        (
            "@(DateTime.Parse(\"2026-01-02\") < DateTime.UtcNow)",
            j!(true),
        ),
        ("@(TimeSpan.FromMinutes(90).TotalHours)", j!(1.5)),
        ("@(DateTime.UtcNow.Kind == DateTimeKind.Utc)", j!(true)),
        (
            "@(DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Utc).Hour)",
            j!(16),
        ),
        (
            "@(DateTime.UtcNow.AddMonths(3).ToString(\"yyyy-MM-dd\"))",
            j!("2027-02-28"),
        ),
        ("@(DateTime.MinValue.Year)", j!(1)),
        ("@(TimeSpan.FromSeconds(3661))", j!("01:01:01")),
        (
            "@(DateTime.UtcNow.ToString(\"yyyy-MM-ddTHH:mm:ssZ\"))",
            j!("2026-11-28T16:00:00Z"),
        ),
        (
            "@(DateTime.UtcNow.ToString(\"o\"))",
            j!("2026-11-28T16:00:00.0000000Z"),
        ),
        // Convert, Encoding, Math, Regex
        (
            r#"@(Convert.ToBase64String(Encoding.UTF8.GetBytes("hi")))"#,
            j!("aGk="),
        ),
        (
            r#"@(Encoding.UTF8.GetString(Convert.FromBase64String("aGk=")))"#,
            j!("hi"),
        ),
        ("@(Math.Max(3, 7) + Math.Abs(-2))", j!(9)),
        ("@(Math.Round(2.5))", j!(2.0)),
        (r#"@(Regex.IsMatch("order-42", @"^order-\d+$"))"#, j!(true)),
        (
            r#"@(Regex.Match("order-42", @"order-(?<id>\d+)").Groups["id"].Value)"#,
            j!("42"),
        ),
        (
            r#"@(Regex.Match("order-42", @"(\w+)-(\d+)").Groups[2].Value)"#,
            j!("42"),
        ),
        (
            r#"@(Regex.IsMatch("ABC", "abc", RegexOptions.IgnoreCase))"#,
            j!(true),
        ),
        (r#"@(int.Parse("42") + 1)"#, j!(43)),
        (
            r#"@(System.Text.Encoding.UTF8.GetBytes("é").Length)"#,
            j!(2),
        ),
        // statements
        ("@{ return 1; }", j!(1)),
        ("@{ var x = 2; x = x * 5; x += 1; return x; }", j!(11)),
        (
            r#"@{ string s = "a"; if (s == "a") { return "yes"; } else { return "no"; } }"#,
            j!("yes"),
        ),
        (r#"@{ if (false) return 1; return 2; }"#, j!(2)),
        (
            r#"@{ var n = 0; foreach (var p in "a,b,c".Split(',')) { n++; } return n; }"#,
            j!(3),
        ),
        (
            r#"@{ foreach (var h in context.Request.Headers) { if (h.Key == "X-Multi") { return h.Value[1]; } } return ""; }"#,
            j!("two"),
        ),
        (
            r#"@{ var total = 0L; foreach (var c in "abc") { total += c; } return total; }"#,
            j!(294),
        ),
        // literal text
        ("plain text", j!("plain text")),
        ("email@example.com", j!("email@example.com")),
        ("  @(1 + 1)  ", j!(2)),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        let c = ctx();
        let got = expr::compile(src, Origin::default())
            .map_err(|e| e.render())
            .and_then(|p| p.eval(&c).map_err(|e| e.render()));
        match got {
            Ok(v) if v.to_json() == *want => {}
            Ok(v) => failures.push(format!("{src}\n  want {want}\n  got  {}", v.to_json())),
            Err(e) => failures.push(format!("{src}\n  want {want}\n  err  {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn load_errors_name_the_problem_and_its_position() {
    let cases: &[(&str, &str)] = &[
        (
            "@(context.Request.Certificate.Thumbprnt)",
            "3:50: error: 'Thumbprnt' is not a member of X509Certificate2; did you mean 'Thumbprint'?",
        ),
        (
            "@(context.Request.Certificate.subject)",
            "3:50: error: 'subject' is not a member of X509Certificate2; did you mean 'Subject'?",
        ),
        (
            "@(context.Request.Headers.GetValueOrDefalt(\"a\"))",
            "3:46: error: 'GetValueOrDefalt' is not a member of IReadOnlyDictionary<string, string[]>; did you mean 'GetValueOrDefault'?",
        ),
        (
            "@(X509NameType.SimpleNam)",
            "3:35: error: 'SimpleNam' is not a member of X509NameType; did you mean 'SimpleName'?",
        ),
        (
            "@(context.Foo)",
            "3:30: error: 'Foo' is not a member of IProxyRequestContext",
        ),
        (
            "@(foo)",
            "3:22: error: the name 'foo' does not exist in the current context",
        ),
        (
            "@(context.Request.Certificate.Extensions)",
            "3:50: error: certgate does not implement X509Certificate2.Extensions yet",
        ),
        ("@(1 +)", "3:25: error: expected an expression, found ')'"),
        (
            "@((1 + 2)",
            "3:29: error: expected ')' to close '@(', found the end of the expression",
        ),
        (
            "@(1 + 2) x",
            "3:29: error: unexpected 'x' after the end of the expression",
        ),
        (
            "@(\"abc)",
            "3:22: error: unterminated string literal: add the closing '\"'",
        ),
        (
            "@(\"abc\".Substring(\"x\"))",
            "3:38: error: cannot convert string to int",
        ),
        (
            "@(\"abc\".Substring())",
            "3:28: error: 'string.Substring' expects (int) or (int, int)",
        ),
        (
            "@(1 + \"a\" * 2)",
            "3:26: error: operator '*' cannot be applied to operands of type string and int",
        ),
        (
            "@(\"a\" < \"b\")",
            "3:22: error: operator '<' cannot be applied to operands of type string and string",
        ),
        (
            "@(\"a\" == 1)",
            "3:22: error: operator '==' cannot be applied to operands of type string and int",
        ),
        (
            "@{ var x = 1; }",
            "3:34: error: not all code paths return a value: end every path of the @{ } block with 'return'",
        ),
        (
            "@{ if (true) { return 1; } }",
            "3:47: error: not all code paths return a value: end every path of the @{ } block with 'return'",
        ),
        (
            "@{ var x = 1; var x = 2; return x; }",
            "3:38: error: a local variable named 'x' is already defined in this scope",
        ),
        (
            "@(1 / 0)",
            "3:22: error: this constant expression fails: attempted to divide by zero",
        ),
        (
            "@(2147483647 + 1)",
            "3:22: error: this constant expression fails: arithmetic operation resulted in an overflow",
        ),
        (
            "@(new object())",
            "3:26: error: certgate does not implement 'new object' yet",
        ),
        (
            "@(x => x)",
            "3:22: error: cannot use a lambda expression here: lambdas are arguments of LINQ methods",
        ),
        (
            "@(context.Variables.GetValueOrDefault<Foo>(\"a\"))",
            "3:58: error: the type 'Foo' is not supported in policy expressions",
        ),
        (
            "@(Regex.IsMatch(\"a\", \"(\"))",
            "3:41: error: invalid regular expression: unclosed group",
        ),
        (
            "@(context.Request.Headers.Any(h => h.Key))",
            "3:55: error: cannot convert string to bool",
        ),
        (
            "@(DateTime.Foo)",
            "3:31: error: 'Foo' is not a member of DateTime",
        ),
        (
            "@(context.Request.Method.Length())",
            "3:45: error: expected no '(' after the property 'Length', found '('",
        ),
        (
            "@(context.Request.Url = null)",
            "3:42: error: assignment inside an expression is not supported in policy expressions",
        ),
        (
            "@(\n  context.Request\n    .Nope)",
            "5:6: error: 'Nope' is not a member of IRequest",
        ),
        ("@()", "3:22: error: the expression is empty"),
        (
            "@(default(int))",
            "3:22: error: certgate does not implement 'default' yet",
        ),
        (
            "@(context.Request.Body.As<XNode>())",
            "3:46: error: certgate does not implement Body.As<XNode> (use As<XDocument> or As<XElement>) yet",
        ),
        (
            "@(context.Trace(\"x\"))",
            "3:30: error: certgate does not implement IProxyRequestContext.Trace yet",
        ),
        (
            // the members certgate types (Email, Id, ...) compile: the user is null here
            "@(context.User.Groups)",
            "3:35: error: 'IUser.Groups' is not supported in policy expressions",
        ),
    ];
    assert_errors(cases, load_err);
}

#[test]
fn load_error_renders_the_source_line_and_a_caret() {
    let e = expr::compile(
        "@(context.Request.Certificate.Thumbprnt == \"AB\")",
        Origin::new("policies/orders.xml", 12, 34),
    )
    .unwrap_err();
    assert_eq!(
        e.render(),
        "policies/orders.xml:12:64: error: 'Thumbprnt' is not a member of X509Certificate2; did you mean 'Thumbprint'?\n  \
         @(context.Request.Certificate.Thumbprnt == \"AB\")\n                                ^^^^^^^^^"
    );
    let loc = e.location();
    assert_eq!((loc.line, loc.column), (12, 64));
}

#[test]
fn runtime_errors_carry_the_span_of_the_failing_operation() {
    let cases: &[(&str, &str)] = &[
        (
            "@(context.Request.Certificate.Thumbprint)",
            "3:50: error: object reference not set to an instance of an object ('Thumbprint' was read on null)",
        ),
        (
            "@(context.LastError.Message)",
            "3:40: error: object reference not set to an instance of an object ('Message' was read on null)",
        ),
        (
            "@((int)context.Variables[\"name\"])",
            "3:22: error: unable to cast a value of type String to type int",
        ),
        (
            "@(context.Variables[\"nope\"])",
            "3:22: error: the given key 'nope' was not present in the dictionary",
        ),
        (
            "@(context.Variables.GetValueOrDefault<string>(\"count\"))",
            "3:40: error: variable 'count' holds a value of type Int32, not string",
        ),
        (
            "@(context.Variables.GetValueOrDefault<bool>(\"name\", false))",
            "3:40: error: variable 'name' holds a value of type String, not bool",
        ),
        (
            "@{ var a = 2147483647; return a + 1; }",
            "3:50: error: arithmetic operation resulted in an overflow",
        ),
        (
            "@{ var a = 9223372036854775807; return a * 2; }",
            "3:59: error: arithmetic operation resulted in an overflow",
        ),
        (
            "@{ var z = 0; return 5 / z; }",
            "3:41: error: attempted to divide by zero",
        ),
        (
            "@{ var z = 0L; return 5 % z; }",
            "3:42: error: attempted to divide by zero",
        ),
        (
            "@(\"abc\".Substring(5))",
            "3:28: error: index was out of range: startIndex 5 is outside the string of length 3",
        ),
        (
            "@(\"a,b\".Split(',').First(s => s == \"z\"))",
            "3:39: error: sequence contains no matching element",
        ),
        (
            "@(DateTime.Parse(\"yesterday\"))",
            "3:22: error: input string was not in a correct format: 'yesterday' is not a valid DateTime",
        ),
        (
            "@(context.Request.Headers[\"nope\"])",
            "3:22: error: the given key 'nope' was not present in the dictionary",
        ),
        (
            "@(DateTime.MaxValue.AddDays(1))",
            "3:40: error: invalid argument: the resulting DateTime is out of range",
        ),
    ];
    let mut cases = cases.to_vec();
    cases.extend_from_slice(&[
        ("@(context.Request.Certificate.Issuer != \"x\")", "3:50: error: object reference not set to an instance of an object ('Issuer' was read on null)"),
        ("@(context.Request.Certificate.SubjectName.Name == \"x\")", "3:50: error: object reference not set to an instance of an object ('SubjectName' was read on null)"),
        ("@(context.Request.Certificate.Verify())", "3:50: error: object reference not set to an instance of an object ('Verify' was read on null)"),
        ("@(context.Deployment.Certificates[\"nope\"].Thumbprint)", "3:22: error: the given key 'nope' was not present in the dictionary"),
    ]);
    assert_errors(&cases, run_err);
}

#[test]
fn literal_text_stays_literal() {
    for src in [
        "plain",
        "",
        "a @(b)",
        "@not-an-expression",
        "{{named-value}}",
    ] {
        let c = compile(src);
        assert_eq!(c.as_literal(), Some(src));
        assert_eq!(run(src).as_str(), Some(src));
    }
}

#[test]
fn result_type_is_known_at_load() {
    assert_eq!(
        compile("@(context.Request.Certificate == null)").result_type(),
        "bool"
    );
    assert_eq!(compile("@(context.Request.Method)").result_type(), "string");
    assert_eq!(
        compile("@{ if (true) { return 1; } return 2L; }").result_type(),
        "long"
    );
    assert_eq!(compile("literal").result_type(), "string");
}

#[test]
fn short_circuit_and_null_conditional_never_touch_the_right_side() {
    assert_eq!(
        json(
            "@(context.Request.Certificate != null && context.Request.Certificate.Thumbprint == \"X\")"
        ),
        serde_json::json!(false)
    );
    assert_eq!(
        json(
            "@(context.Request.Certificate == null || context.Request.Certificate.Thumbprint == \"X\")"
        ),
        serde_json::json!(true)
    );
    assert_eq!(
        json("@(context.Request.Certificate?.Subject ?? \"none\")"),
        serde_json::json!("none")
    );
    assert_eq!(
        json("@(context.LastError?.Reason == null)"),
        serde_json::json!(true)
    );
}

#[test]
fn limits_stop_deep_nesting_long_loops_and_huge_strings() {
    // nesting: no stack overflow, a load error
    let unlimited = expr::Limits {
        max_source_len: usize::MAX,
        ..expr::Limits::default()
    };
    let deep_err = |src: &str| {
        expr::compile_with(src, Origin::default(), &unlimited)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let deep = format!("@({}1{})", "(".repeat(100_000), ")".repeat(100_000));
    assert!(deep_err(&deep).contains("nested too deeply (more than 100 levels)"));
    let chain = format!("@(1{})", " + 1".repeat(100_000));
    assert!(deep_err(&chain).contains("nested too deeply"));
    let members = format!("@(\"\"{})", ".Trim()".repeat(100_000));
    assert!(deep_err(&members).contains("nested too deeply"));
    let nots = format!("@({}true)", "!".repeat(100_000));
    assert!(deep_err(&nots).contains("nested too deeply"));
    let blocks = format!(
        "@{{{}return 1;{}}}",
        "{".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(deep_err(&blocks).contains("nested too deeply"));
    // source length
    let long = format!("@(\"{}\")", "a".repeat(70_000));
    assert!(load_err(&long).contains("bytes long; the limit is 65536"));
    // steps: nested loops over a big collection
    let limits = expr::Limits {
        max_steps: 10_000,
        ..expr::Limits::default()
    };
    let p = expr::compile_with(
        "@{ var n = 0; var xs = \"a,b,c,d,e,f,g,h,i,j\".Split(','); foreach (var a in xs) { foreach (var b in xs) { foreach (var c in xs) { foreach (var d in xs) { n++; } } } } return n; }",
        Origin::default(),
        &limits,
    )
    .unwrap();
    let e = p.eval(&ctx()).unwrap_err();
    assert_eq!(e.kind, expr::EvalErrorKind::StepLimit(10_000));
    // strings
    let limits = expr::Limits {
        max_string_len: 1000,
        ..expr::Limits::default()
    };
    let p = expr::compile_with(
        "@{ var s = \"x\"; foreach (var c in \"0123456789012\") { s = s + s; } return s; }",
        Origin::default(),
        &limits,
    )
    .unwrap();
    assert!(
        p.eval(&ctx())
            .unwrap_err()
            .to_string()
            .contains("longer than the limit of 1000")
    );
}

/// A deployment: root CA (with a current CRL), two uploaded certificates, and a request
/// carrying `leaf`.
struct Deployment {
    root: Ca,
    store: Arc<TrustStore>,
    client: Arc<Certificate>,
}

fn deployment() -> Deployment {
    let root = Ca::root("Contoso Root");
    let client_der = root.leaf("client.contoso.com", 4242);
    let uploaded_der = root.leaf("partner.contoso.com", 7);
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("crl/root.crl", root.crl(&[66])),
        file("certificates/client.pem", pem_of(&client_der)),
        file("certificates/partner.pem", pem_of(&uploaded_der)),
    ];
    let (store, diagnostics) = TrustStore::from_files(&files, now());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    Deployment {
        root,
        store: Arc::new(store),
        client: Arc::new(Certificate::from_der(&client_der).unwrap()),
    }
}

fn cert_ctx(d: &Deployment, cert: Option<Arc<Certificate>>) -> Context {
    let mut c = ctx();
    c.now = now();
    c.timestamp = now();
    c.request.certificate = cert;
    c.deployment = Arc::new(expr::Deployment {
        region: "eu-west-1".into(),
        service_name: "contoso".into(),
        certificates: Arc::clone(d.store.uploaded()),
    });
    c.verifier = Some(Arc::new(TrustVerifier::new(d.store.clone())));
    c
}

fn eval_in(c: &Context, src: &str) -> serde_json::Value {
    match compile(src).eval(c) {
        Ok(v) => v.to_json(),
        Err(e) => panic!("{src}: {}", e.render()),
    }
}

#[test]
fn certificate_members_read_the_dotnet_strings() {
    use serde_json::json as j;
    let d = deployment();
    let c = cert_ctx(&d, Some(d.client.clone()));
    let cert = &d.client;
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("@(context.Request.Certificate.Subject)", j!(cert.subject())),
        (
            "@(context.Request.Certificate.Subject)",
            j!("CN=client.contoso.com, O=Contoso Test"),
        ),
        (
            "@(context.Request.Certificate.Issuer)",
            j!("CN=Contoso Root, O=Contoso Test"),
        ),
        (
            "@(context.Request.Certificate.SubjectName.Name)",
            j!(cert.subject()),
        ),
        (
            "@(context.Request.Certificate.IssuerName.Name)",
            j!(cert.issuer()),
        ),
        (
            "@(context.Request.Certificate.Thumbprint)",
            j!(cert.thumbprint()),
        ),
        (
            "@(context.Request.Certificate.SerialNumber)",
            j!(cert.serial_number()),
        ),
        (
            "@(context.Request.Certificate.GetSerialNumberString())",
            j!(cert.serial_number()),
        ),
        (
            "@(context.Request.Certificate.NotBefore)",
            j!("2025-01-01T00:00:00Z"),
        ),
        (
            "@(context.Request.Certificate.NotAfter)",
            j!("2030-01-01T00:00:00Z"),
        ),
        (
            "@(context.Request.Certificate.NotAfter > DateTime.Now)",
            j!(true),
        ),
        ("@(context.Request.Certificate.Version)", j!(3)),
        (
            "@(context.Request.Certificate.SignatureAlgorithm.FriendlyName)",
            j!("sha256ECDSA"),
        ),
        (
            "@(context.Request.Certificate.SignatureAlgorithm.Value)",
            j!("1.2.840.10045.4.3.2"),
        ),
        (
            "@(context.Request.Certificate.GetNameInfo(X509NameType.SimpleName, false))",
            j!("client.contoso.com"),
        ),
        (
            "@(context.Request.Certificate.GetNameInfo(X509NameType.SimpleName, true))",
            j!("Contoso Root"),
        ),
        (
            "@(context.Request.Certificate.RawData.Length > 100)",
            j!(true),
        ),
        ("@(context.Request.Certificate.Verify())", j!(true)),
        (
            "@(context.Request.Certificate.VerifyNoRevocation())",
            j!(true),
        ),
        (
            "@(context.Deployment.Region + \"/\" + context.Deployment.ServiceName)",
            j!("eu-west-1/contoso"),
        ),
        ("@(context.Deployment.Certificates.Count)", j!(2)),
        (
            "@(context.Deployment.Certificates.ContainsKey(\"partner\"))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates[\"client\"].Thumbprint == context.Request.Certificate.Thumbprint)",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates[\"client\"].Equals(context.Request.Certificate))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates.Select(p => p.Key).ToArray())",
            j!(["client", "partner"]),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => context.Request.Certificate.Thumbprint == c.Value.Thumbprint))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Value.Subject == \"CN=partner.contoso.com, O=Contoso Test\"))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Value.SerialNumber == context.Request.Certificate.SerialNumber))",
            j!(true),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == \"NOPE\"))",
            j!(false),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint.ToLower() == \"nope\"))",
            j!(false),
        ),
        (
            "@(context.Deployment.Certificates.Any(c => c.Key == \"partner\" && c.Value.Verify()))",
            j!(true),
        ),
    ];
    assert_each(&cases, |src| eval_in(&c, src));
}

/// The three conditions of the APIM client-certificate article, verbatim.
const ISSUER_SUBJECT: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Issuer != "trusted-issuer" || context.Request.Certificate.SubjectName.Name != "expected-subject-name")"#;
const THUMBPRINT: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Thumbprint != "DESIRED-THUMBPRINT-IN-UPPER-CASE")"#;
const UPLOADED: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || !context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))"#;

#[test]
fn the_articles_three_conditions_reject_and_accept() {
    let d = deployment();
    let client = d.client.clone();
    let subject_src = ISSUER_SUBJECT
        .replace("trusted-issuer", client.issuer())
        .replace("expected-subject-name", client.subject());
    let thumb_src = THUMBPRINT.replace("DESIRED-THUMBPRINT-IN-UPPER-CASE", client.thumbprint());
    let reject = |src: &str, c: &Context| eval_in(c, src) == serde_json::json!(true);

    // no certificate: every condition rejects
    let none = cert_ctx(&d, None);
    for src in [ISSUER_SUBJECT, THUMBPRINT, UPLOADED] {
        assert!(reject(src, &none), "{src}");
    }
    // the trusted, uploaded client: accepted when the values match
    let ok = cert_ctx(&d, Some(client.clone()));
    assert!(!reject(&subject_src, &ok));
    assert!(!reject(&thumb_src, &ok));
    assert!(!reject(UPLOADED, &ok));
    assert!(reject(ISSUER_SUBJECT, &ok), "placeholders do not match");
    assert!(reject(THUMBPRINT, &ok));
    // a trusted certificate that was not uploaded
    let other = Arc::new(Certificate::from_der(&d.root.leaf("other", 9)).unwrap());
    assert!(reject(UPLOADED, &cert_ctx(&d, Some(other))));
    // revoked (serial 66): Verify() is false, VerifyNoRevocation() true
    let revoked = Arc::new(Certificate::from_der(&d.root.leaf("revoked", 66)).unwrap());
    let c = cert_ctx(&d, Some(revoked));
    assert_eq!(
        eval_in(&c, "@(context.Request.Certificate.Verify())"),
        serde_json::json!(false)
    );
    assert_eq!(
        eval_in(&c, "@(context.Request.Certificate.VerifyNoRevocation())"),
        serde_json::json!(true)
    );
    // self-signed: not trusted
    let selfsigned = Arc::new(Certificate::from_der(&self_signed_client("me")).unwrap());
    let c = cert_ctx(&d, Some(selfsigned));
    assert!(reject(UPLOADED, &c));
    assert_eq!(
        eval_in(&c, "@(context.Request.Certificate.VerifyNoRevocation())"),
        serde_json::json!(false)
    );
    // without a verifier Verify() fails closed
    let mut c = cert_ctx(&d, Some(client));
    c.verifier = None;
    assert_eq!(
        eval_in(&c, "@(context.Request.Certificate.Verify())"),
        serde_json::json!(false)
    );
}

/// The lookup of the request's certificate among uploaded ones reads its SHA-1 directly;
/// without a certificate it throws as `.Thumbprint` on null does, unless `?.` says not to.
#[test]
fn the_uploaded_lookup_of_a_missing_request_certificate_throws_unless_null_conditional() {
    let d = deployment();
    let none = cert_ctx(&d, None);
    let lookup = |member: &str| {
        format!(
            "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate{member}.Thumbprint))"
        )
    };
    let error = compile(&lookup("")).eval(&none).unwrap_err();
    assert!(
        matches!(error.kind, expr::EvalErrorKind::NullReference(_)),
        "{:?}",
        error.kind
    );
    assert_eq!(eval_in(&none, &lookup("?")), serde_json::json!(false));
    let client = cert_ctx(&d, Some(d.client.clone()));
    assert_eq!(eval_in(&client, &lookup("?")), serde_json::json!(true));
}

#[test]
fn uploaded_certificates_lookup_is_compiled_to_a_hash_lookup_even_when_empty() {
    // With no uploaded certificates the right side is never read (as LINQ over an empty
    // dictionary), so a null request certificate does not throw.
    let c = ctx();
    assert_eq!(
        compile("@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))").eval(&c).unwrap().to_json(),
        serde_json::json!(false)
    );
    for src in [
        "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))",
        "@(context.Deployment.Certificates.Any(x => \"AB\" == x.Value.Subject))",
        "@(context.Deployment.Certificates.Any(c => c.Value.SerialNumber == \"01\"))",
    ] {
        assert!(
            format!("{:?}", compile(src)).contains("UploadedContains"),
            "{src}"
        );
    }
    // a lambda that reads its parameter on both sides stays a loop
    let src = "@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == c.Key))";
    assert!(!format!("{:?}", compile(src)).contains("UploadedContains"));
}

#[test]
fn expressions_quoted_in_the_spec() {
    use serde_json::json as j;
    let d = deployment();
    let mut c = cert_ctx(&d, Some(d.client.clone()));
    c.last_error = Some(expr::LastError {
        source: "validate-client-certificate".into(),
        reason: Some("ClientCertificateNotTrusted".into()),
        message: "Invalid client certificate".into(),
        scope: Some("api".into()),
        section: Some("inbound".into()),
        path: Some("choose[1]/when[1]".into()),
        policy_id: None,
    });
    c.response.status_code = 401;
    let thumb = d.client.thumbprint().to_owned();
    let cases: Vec<(String, serde_json::Value)> = vec![
        (
            r#"@(context.Variables.GetValueOrDefault<bool>("isMobile"))"#.into(),
            j!(true),
        ),
        (
            format!(r#"@(context.Deployment.Certificates["client"].Thumbprint == "{thumb}")"#),
            j!(true),
        ),
        (
            "@(context.Request.Certificate.NotAfter < DateTime.Now)".into(),
            j!(false),
        ),
        (
            "@(context.Request.Certificate.NotBefore > DateTime.Now)".into(),
            j!(false),
        ),
        (
            "@(context.Request.Certificate.VerifyNoRevocation())".into(),
            j!(true),
        ),
        (
            "@(context.Request.Body.As<string>(preserveContent: true).Length)".into(),
            j!(9),
        ),
        ("@(context.Response.StatusCode)".into(), j!(401)),
        (
            "@(context.LastError.Source)".into(),
            j!("validate-client-certificate"),
        ),
        (
            "@(context.LastError.Reason)".into(),
            j!("ClientCertificateNotTrusted"),
        ),
        (
            "@(context.LastError.Message)".into(),
            j!("Invalid client certificate"),
        ),
        (
            "@(context.LastError.Scope + \"/\" + context.LastError.Section)".into(),
            j!("api/inbound"),
        ),
        ("@(context.LastError.Path)".into(), j!("choose[1]/when[1]")),
        ("@(context.LastError.PolicyId)".into(), j!(null)),
        (
            "@(context.Request.Certificate.GetNameInfo(X509NameType.DnsName, false))".into(),
            j!("client.contoso.com"),
        ),
        (
            "@(context.Request.Certificate.GetNameInfo(X509NameType.EmailName, false))".into(),
            j!(""),
        ),
    ];
    assert_each(&cases, |src| eval_in(&c, src));
}

#[test]
fn lambdas_with_an_index_and_two_parameters() {
    assert_eq!(
        json(r#"@("a,b,c".Split(',').Where((s, i) => i != 1).ToArray())"#),
        serde_json::json!(["a", "c"])
    );
    assert_eq!(
        json(r#"@("a,b".Split(',').Select((s, i) => s + i).ToArray())"#),
        serde_json::json!(["a0", "b1"])
    );
    assert_eq!(
        load_err(r#"@("a".Split(',').Any((s, i) => true))"#),
        "policies/test.xml:3:41: error: expected a lambda with one parameter (x => ...), found 2 parameters"
    );
}

#[test]
fn body_without_preserve_content_is_consumed() {
    let c = ctx();
    let read = compile("@(context.Request.Body.As<string>())");
    assert_eq!(read.eval(&c).unwrap().as_str(), Some("{\"id\":42}"));
    assert!(c.request.body.as_ref().unwrap().is_consumed());
    assert_eq!(read.eval(&c).unwrap().as_str(), Some(""));
}

#[test]
fn which_bodies_an_expression_reads_is_known_at_load() {
    let reads = |src: &str| {
        let r = compile(src).reads();
        (r.request, r.response)
    };
    assert_eq!(reads("@(context.Request.Body.As<string>())"), (true, false));
    assert_eq!(
        reads("@{ var r = context.Response; return r.Body != null; }"),
        (false, true)
    );
    assert_eq!(
        reads(r#"@(context.Request.Headers["Body"])"#),
        (false, false)
    );
    assert_eq!(reads("Body"), (false, false));
}

#[test]
fn a_streamed_body_is_never_read_it_fails_closed() {
    let mut c = ctx();
    let stream = http_body_util::Empty::<bytes::Bytes>::new();
    c.request.body = Some(expr::Body::payload(certgate::body::Payload::streamed(
        stream,
    )));
    let error = compile("@(context.Request.Body.As<string>(preserveContent: true))")
        .eval(&c)
        .unwrap_err();
    assert_eq!(error.kind, expr::EvalErrorKind::StreamedBody);
}

fn certgate(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .output()
        .expect("runs certgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_eval_prints_json_or_the_error_with_a_caret() {
    assert_eq!(
        certgate(&["eval", "1 + 1"]),
        (0, "2\n".into(), String::new())
    );
    let (code, out, _) = certgate(&[
        "eval",
        r#"@(context.Request.Method + " " + context.Request.Url.Path + " " + context.Request.Headers.GetValueOrDefault("X-A", ""))"#,
        "--method",
        "POST",
        "--url",
        "https://api.contoso.com/orders?id=1",
        "--header",
        "X-A: b",
    ]);
    assert_eq!((code, out.as_str()), (0, "\"POST /orders b\"\n"));
    let (code, out, _) = certgate(&[
        "eval",
        "@(DateTime.UtcNow)",
        "--now",
        "2026-01-02T03:04:05Z",
    ]);
    assert_eq!((code, out.as_str()), (0, "\"2026-01-02T03:04:05Z\"\n"));
    let (code, out, err) = certgate(&["eval", "@(context.Foo)"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "<expression>:1:11: error: 'Foo' is not a member of IProxyRequestContext\n  @(context.Foo)\n            ^^^\n"
    );
    let (code, _, err) = certgate(&["eval", "context.Request.Certificate.Subject"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("<expression>:1:29: error: object reference not set"),
        "{err}"
    );
}

#[test]
fn cli_eval_with_a_certificate_and_a_deployment_folder() {
    let root = Ca::root("Contoso Root");
    let client = root.leaf("client.contoso.com", 4242);
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, bytes: &[u8]| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write("ca/root/root.pem", root.pem().as_bytes());
    write("crl/root.crl", &root.crl(&[]));
    write("certificates/client.pem", pem_of(&client).as_bytes());
    write(
        "gateway.toml",
        b"[deployment]\nservice_name = \"contoso\"\nregion = \"eu-west-1\"\n",
    );
    write("client.pem", pem_of(&client).as_bytes());
    let cert = dir.path().join("client.pem");
    let config = dir.path().to_str().unwrap().to_owned();
    let run = |src: &str| {
        certgate(&[
            "eval",
            src,
            "--cert",
            cert.to_str().unwrap(),
            "--config",
            &config,
            "--now",
            "2026-06-01T00:00:00Z",
        ])
    };
    assert_eq!(run(UPLOADED), (0, "false\n".into(), String::new()));
    assert_eq!(run("@(context.Request.Certificate.Verify())").1, "true\n");
    assert_eq!(run("@(context.Deployment.ServiceName)").1, "\"contoso\"\n");
    assert_eq!(
        run("@(context.Request.Certificate.Subject)").1,
        "\"CN=client.contoso.com, O=Contoso Test\"\n"
    );
}

/// Every prefix, every one-character deletion of real expressions, and random token soup:
/// compiling and evaluating never panics.
#[test]
fn no_panics_on_any_input() {
    let seeds = [
        UPLOADED,
        ISSUER_SUBJECT,
        r#"@{ var n = 0; foreach (var p in "a,b".Split(',')) { if (p.Length > 0) { n += p.IndexOf('b'); } else { return $"x{n:D2}"; } } return n * 2 / (n - 1); }"#,
        r#"@(context.Variables.GetValueOrDefault<string>("a", "b")?.Substring(1, 2) ?? (string)context.Variables["q"])"#,
        r#"@(Regex.Match(context.Request.Url.Path, @"/(\d+)").Groups[1].Value + DateTime.UtcNow.AddDays(-1.5).ToString("o"))"#,
        r#"@((int)3.5e300 + 'c' - 2147483647L * -1 % 0.0)"#,
    ];
    let c = ctx();
    let try_one = |src: &str| {
        if let Ok(p) = expr::compile(src, Origin::default()) {
            let _ = p.eval(&c);
        }
        let _ = expr::compile_expression(src, Origin::default(), &expr::Limits::default());
    };
    for seed in seeds {
        let chars: Vec<(usize, char)> = seed.char_indices().collect();
        for (i, _) in &chars {
            try_one(&seed[..*i]);
        }
        for (k, (i, ch)) in chars.iter().enumerate() {
            let mut s = seed[..*i].to_owned();
            s.push_str(&seed[i + ch.len_utf8()..]);
            try_one(&s);
            let _ = k;
        }
    }
    let tokens = [
        "@(",
        "@{",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        ".",
        "?.",
        ",",
        ";",
        "=>",
        "?",
        ":",
        "??",
        "!",
        "-",
        "+",
        "*",
        "/",
        "%",
        "==",
        "<",
        ">=",
        "&&",
        "||",
        "\"s\"",
        "'c'",
        "$\"{1}\"",
        "@\"v\"",
        "1",
        "2147483647",
        "1.5",
        "null",
        "true",
        "x",
        "var",
        "return",
        "if",
        "else",
        "foreach",
        "in",
        "is",
        "not",
        "context",
        "Request",
        "Certificate",
        "Headers",
        "Any",
        "Split",
        "GetValueOrDefault",
        "<",
        "bool",
        ">",
        "string",
        "int",
        "=",
        "c",
        "Value",
        "Length",
        "DateTime",
        "UtcNow",
        "Regex",
        "Match",
        "Groups",
        " ",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut s = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = 1 + (state % 24) as usize;
        for _ in 0..n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push_str(tokens[(state % tokens.len() as u64) as usize]);
        }
        try_one(&s);
    }
}

#[test]
fn compiled_expressions_and_contexts_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Compiled>();
    send_sync::<Context>();
    send_sync::<Value>();
    send_sync::<expr::ExprError>();
    send_sync::<expr::EvalError>();
}

/// A request whose body, variables `x` and `y` (equal, not shared) and header `Big` all
/// hold `text`.
fn ctx_with(text: &str) -> Context {
    let mut c = ctx();
    c.request.body = Some(expr::Body::new(text.as_bytes().to_vec()));
    c.variables.insert("x".into(), Value::string(text));
    c.variables.insert("y".into(), Value::string(text));
    c.request.headers.append("Big", text);
    c
}

/// The steps `src` takes on `c`: the least `max_steps` under which it runs to the end
/// (with its value or another error), found by bisection.
fn steps(src: &str, c: &Context) -> u64 {
    let finishes = |max_steps: u64| {
        let limits = expr::Limits {
            max_steps,
            ..expr::Limits::default()
        };
        let p = expr::compile_with(src, Origin::default(), &limits).unwrap();
        !matches!(p.eval(c), Err(e) if matches!(e.kind, expr::EvalErrorKind::StepLimit(_)))
    };
    let (mut lo, mut hi) = (0, 1 << 26);
    assert!(finishes(hi), "{src}: more than {hi} steps");
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if finishes(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// 0.9 MB of ASCII text: `abcdefghi,` repeated.
fn body_09mb() -> String {
    "abcdefghi,".repeat(90_000)
}

#[test]
fn the_reviews_loops_over_a_large_body_stop_at_the_step_limit() {
    // `s += c` copies the whole string each time: charged by the result's length, the
    // loop over N characters takes at least N²/32 steps (16 bytes a step), not N.
    let c = ctx_with(&body_09mb());
    let prefix = |n: usize| {
        format!(
            "@{{ var s = \"\"; foreach (var c in ((string)context.Variables[\"x\"]).Substring(0, {n})) {{ s += c; }} return s.Length; }}"
        )
    };
    for n in [1000u64, 4000] {
        let taken = steps(&prefix(n as usize), &c);
        assert!(taken >= n * n / 32, "{n} characters: {taken} steps");
    }
    // so a million steps copy about 16 MB: the loop stops after ~5,700 characters
    assert!(compile(&prefix(5000)).eval(&c).is_ok());
    assert_eq!(
        compile(&prefix(7000)).eval(&c).unwrap_err().kind,
        expr::EvalErrorKind::StepLimit(1_000_000)
    );

    // The review's loops over the whole 0.9 MB body (fewer iterations than the limit, so
    // counting iterations alone let each run for seconds to minutes).
    let body = "var b = context.Request.Body.As<string>(preserveContent: true);";
    for each in [
        "s += c;",
        "s = s + \"x\";",
        "n += b.Substring(1).Length;",
        "s = b.Replace(\"a\", \"bb\");",
        "n += b.IndexOf(\"zq\");",
        "n += b.Split(',').Length;",
        "n += string.Join(\";\", parts).Length;",
        "n += b.ToUpper().Length;",
        "if (b.Equals(s, StringComparison.OrdinalIgnoreCase)) { n++; }",
        "if (b == copy) { n++; }",
        "if (Regex.IsMatch(b, \"z+q\")) { n++; }",
        "n += Regex.Replace(b, \"a\", \"$0$0\").Length;",
        "n += b.ToCharArray().Length;",
        "n += context.Request.Body.As<string>(preserveContent: true).Length;",
        "n += Convert.ToBase64String(Encoding.UTF8.GetBytes(b)).Length;",
        "n += $\"{b}{c}\".Length;",
        "n += b[b.Length - 1];",
        "n++; n++; n++; n++; n++; n++; n++; n++; n++; n++;",
        "{} {} {} {} {} {} {} {} {} {}",
    ] {
        let src = format!(
            "@{{ {body} var s = \"\"; var n = 0; var parts = b.Split(','); var copy = b + \"\"; foreach (var c in b) {{ {each} }} return n + s.Length; }}"
        );
        let e = compile(&src).eval(&c).unwrap_err();
        assert_eq!(e.kind, expr::EvalErrorKind::StepLimit(1_000_000), "{each}");
    }
}

#[test]
fn builtins_are_charged_for_the_bytes_they_touch() {
    // Each expression run on 1 KiB and on 257 KiB: the extra 256 KiB must cost at least
    // one step per 16 bytes (one pass), however little the expression does with it.
    let small = ctx_with(&"abcdefghi,".repeat(1024 / 10));
    let large = ctx_with(&"abcdefghi,".repeat(257 * 1024 / 10));
    let extra = (257 * 1024 / 10 - 1024 / 10) * 10 / 16;
    for src in [
        "x + \"!\"",
        "$\"{x}!\"",
        "x.Substring(1).Length",
        "x.Substring(x.Length - 1, 1)",
        "x.Replace(\"a\", \"b\").Length",
        "x.IndexOf(\"#\")",
        "x.LastIndexOf(\"#\")",
        "x.IndexOf(\"#\", StringComparison.OrdinalIgnoreCase)",
        "x.Contains(\"#\")",
        "x.StartsWith(y)",
        "x.Split(',').Length",
        "x.Trim().Length",
        "x.PadLeft(x.Length + 1).Length",
        "x.ToUpper().Length",
        "x.ToLower().Length",
        "x.ToCharArray().Length",
        "x.Length",
        "x[x.Length - 1]",
        "x == y",
        "x.Equals(y)",
        "x.CompareTo(y)",
        "string.Equals(x, y)",
        "x.Equals(y, StringComparison.OrdinalIgnoreCase)",
        "string.Join(\";\", x, y).Length",
        "string.Concat(x, \"!\").Length",
        "string.Format(\"{0}!\", x).Length",
        "x.Split(',').Distinct().Count()",
        "context.Request.Headers[\"Big\"].Contains(y)",
        "Regex.IsMatch(x, \"#\")",
        "Regex.Match(x, \"(#)\").Success",
        "Regex.Match(x, \"(a.*)\").Groups[1].Value.Length",
        "Regex.Replace(x, \"a\", \"b\").Length",
        "Regex.Replace(x, \"(a)\", \"$1\").Length",
        "Regex.Escape(x).Length",
        "Encoding.UTF8.GetBytes(x).Length",
        "Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(x)).Length",
        "Convert.ToBase64String(Encoding.UTF8.GetBytes(x)).Length",
        "int.Parse(x)",
        "DateTime.Parse(x)",
        "string.IsNullOrWhiteSpace(x)",
        "context.Request.Body.As<string>(preserveContent: true).Length",
        "context.Request.Body.As<byte[]>(preserveContent: true).Length",
        "context.Request.Headers.GetValueOrDefault(\"Big\", \"\").Length",
        "context.Request.Headers[\"Big\"].Length",
        "context.Request.Headers.Count(h => h.Key == \"Big\")",
    ] {
        let src = format!(
            "@{{ var x = (string)context.Variables[\"x\"]; var y = (string)context.Variables[\"y\"]; return {src}; }}"
        );
        let (s, l) = (steps(&src, &small), steps(&src, &large));
        assert!(l >= s + extra, "{src}: {s} steps on 1 KiB, {l} on 257 KiB");
    }
}

#[test]
fn more_groups_cost_more_per_byte() {
    let c = ctx_with(&"abcdefghi,".repeat(10_000));
    let cost = |call: &str| steps(&format!("@(Regex.{call})"), &c);
    // groups: the match spans the whole input, found with a slot per group per state
    let one = cost("Match((string)context.Variables[\"x\"], \"([a-i,]+)\").Success");
    let ten = cost(
        "Match((string)context.Variables[\"x\"], \"(a)?(b)?(c)?(d)?(e)?(f)?(g)?(h)?(i)?([a-i,]+)\").Success",
    );
    assert!(ten >= 4 * one, "{one} then {ten}");
}

#[test]
fn one_pass_builtins_over_a_large_body_fit_the_budget() {
    // real policies read a large body once or twice: well within the million steps
    let c = ctx_with(&body_09mb());
    let b = "context.Request.Body.As<string>(preserveContent: true)";
    for (src, limit) in [
        (format!("{b}.Contains(\"zz\")"), 150_000),
        // reading the body, then 2 units a byte through the DFA (3.5 ns measured)
        (
            format!("Regex.Match({b}, @\"\"\"id\"\":\\s*(\\d+)\").Success"),
            200_000,
        ),
        (format!("{b}.Split(',').Length"), 400_000),
        (format!("{b}.Replace(\"abc\", \"x\").Length"), 300_000),
        (format!("{b}.ToUpper() == {b}"), 400_000),
        (format!("{b}.Substring({b}.IndexOf(\"i,\"), 10)"), 300_000),
    ] {
        let src = format!("@({src})");
        assert!(compile(&src).eval(&c).is_ok(), "{src}");
        let taken = steps(&src, &c);
        assert!(taken <= limit, "{src}: {taken} steps");
    }
}

#[test]
fn huge_format_widths_are_errors_not_panics() {
    let mut c = ctx();
    c.variables
        .insert("fmt".into(), Value::string(&"y".repeat(70_000)));
    for src in [
        "@(context.Variables.GetValueOrDefault<int>(\"count\").ToString(\"D70000\"))",
        "@($\"{context.Variables.GetValueOrDefault<int>(\"count\"):F100}\")",
    ] {
        let e = compile(src).eval(&c).unwrap_err();
        assert!(
            e.to_string()
                .contains("precision specifier must be between 0 and 99"),
            "{src}: {e}"
        );
    }
    // a custom DateTime format pads the year by hand, to any width
    let year = compile("@(DateTime.UtcNow.ToString((string)context.Variables[\"fmt\"]))")
        .eval(&c)
        .unwrap();
    assert_eq!(year.as_str().map(str::len), Some(70_000));
    assert!(year.as_str().unwrap().ends_with("02026"));
}

/// 0.9 MB of pseudo-random lower-case letters (a fixed linear congruential sequence).
fn random_letters() -> String {
    let mut x: u32 = 12345;
    (0..900_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect()
}

#[test]
fn regex_searches_are_charged_for_what_they_read_past_their_matches() {
    // Each match of `[a-z]*X|a` in a run of a's is one `a`, found only after reading to
    // the end of the run for an X: iterating over n matches reads n²/2 bytes, which took
    // 23 s over 0.9 MB when each search was charged only for the input's length.
    let replace = "@(Regex.Replace((string)context.Variables[\"x\"], \"[a-z]*X|a\", \"b\").Length)";
    let short = steps(replace, &ctx_with(&"a".repeat(1_000)));
    let long = steps(replace, &ctx_with(&"a".repeat(2_000)));
    // twice the input, four times the reading (not twice, as a length-based charge says)
    assert!(
        long >= 3 * short,
        "{short} steps on 1,000 a's, {long} on 2,000"
    );
    let e = compile(replace)
        .eval(&ctx_with(&"a".repeat(20_000)))
        .unwrap_err();
    assert_eq!(e.kind, expr::EvalErrorKind::StepLimit(1_000_000));

    // what policies do stays cheap: 100,000 matches through 1 MB (about 440,000 and
    // 360,000 steps: 17 and 11 ms), a header checked (under 200)
    let numbers = ctx_with(&"id=12345, ".repeat(100_000));
    for (call, limit) in [
        (
            r##"Replace((string)context.Variables["x"], @"\d+", "#").Length"##,
            500_000,
        ),
        (
            r#"Replace((string)context.Variables["x"], "id=", "ID:").Length"#,
            500_000,
        ),
        (
            r#"IsMatch((string)context.Variables["x"], "^[A-Za-z0-9-]+$")"#,
            1_000,
        ),
        (r#"IsMatch("order-42-abc", "^[A-Za-z0-9-]+$")"#, 1_000),
    ] {
        let src = format!("@(Regex.{call})");
        assert!(compile(&src).eval(&numbers).is_ok(), "{src}");
        let taken = steps(&src, &numbers);
        assert!(taken <= limit, "{src}: {taken} steps");
    }
}

#[test]
fn patterns_that_build_a_dfa_state_per_byte_stop_at_the_step_limit() {
    // Over random letters, the lazy DFA of `[a-z]*a[a-z]{50}[^a-z]` needs a new state
    // for nearly every byte (which of the last 51 letters were a's), each built from
    // the pattern's NFA: charged as built, the search stops at the limit. Charged for
    // the input's length, it ran to the end (52 ns a byte, 47 ms of CPU, 56,000 steps).
    let c = ctx_with(&random_letters());
    let e =
        compile(r#"@(Regex.IsMatch((string)context.Variables["x"], "[a-z]*a[a-z]{50}[^a-z]"))"#)
            .eval(&c)
            .unwrap_err();
    assert_eq!(e.kind, expr::EvalErrorKind::StepLimit(1_000_000));
    // the same search for a pattern whose DFA stays small is an ordinary scan
    let cheap = steps(
        r#"@(Regex.IsMatch((string)context.Variables["x"], "[a-z]*a[a-z]{50}[^a-z]|#"))"#,
        &ctx_with(&"abcdefghi,".repeat(90_000)),
    );
    assert!(cheap <= 200_000, "{cheap} steps");
}

#[test]
fn regex_results_are_the_regex_crates() {
    // The DFAs are stepped by certgate itself: every match, empty ones inside characters
    // and after a previous match included, must be where the regex crate puts it.
    let patterns = [
        "a",
        "x*",
        "",
        r"\b",
        r"\B",
        r"(?m)^",
        r"(?m)$",
        "$",
        "^a",
        r"\w+",
        r"\d+",
        "é+",
        "[a-z]*X|a",
        "(a)|(b)",
        r"\bw\w*",
        r"(?s).",
        "a|ab",
        "ab|a",
        r"(\w+)@(\w+)",
        "[^a]*",
    ];
    let inputs = [
        "",
        "abc",
        "héllo wörld",
        "aXbaaX",
        "a\nb\n",
        "日本語 text 42",
        "ab ab x@y",
        "éé",
    ];
    for pattern in patterns {
        let re = regex::Regex::new(pattern).unwrap();
        for input in inputs {
            let mut c = ctx();
            c.variables.insert("x".into(), Value::string(input));
            c.variables.insert("p".into(), Value::string(pattern));
            let eval = |call: &str| {
                let src = format!(
                    "@(Regex.{call}((string)context.Variables[\"x\"], (string)context.Variables[\"p\"]{}))",
                    if call == "Replace" { ", \"<$0>\"" } else { "" }
                );
                compile(&src).eval(&c).unwrap().to_string()
            };
            let what = format!("{pattern:?} in {input:?}");
            assert_eq!(eval("Replace"), re.replace_all(input, "<$0>"), "{what}");
            assert_eq!(
                eval("IsMatch"),
                if re.is_match(input) { "True" } else { "False" },
                "{what}"
            );
            assert_eq!(
                eval("Match"),
                re.find(input).map_or("", |m| m.as_str()),
                "{what}"
            );
        }
    }
}

#[test]
fn a_dictionary_too_large_to_copy_is_an_error_not_null() {
    // An expression whose value is a dictionary (`set-variable` keeps a copy of it)
    // copies its entries; when they are more than the limit, the copy failed quietly and
    // the value was null, so a later `== null` could turn a condition around.
    let src = "@(context.Request.Headers)";
    let limits = expr::Limits {
        max_collection_len: 1,
        ..expr::Limits::default()
    };
    let p = expr::compile_with(src, Origin::default(), &limits).unwrap();
    let e = p.eval(&ctx()).unwrap_err();
    assert!(
        matches!(e.kind, expr::EvalErrorKind::SizeLimit { limit: 1, .. }),
        "{e}"
    );
    // Within the limit the dictionary is copied as before: its two headers.
    let copied = compile(src).eval(&ctx()).unwrap();
    let Value::Array(entries) = copied else {
        panic!("{copied:?}")
    };
    assert_eq!(entries.len(), 2);
}

#[test]
fn a_parse_error_quotes_the_start_of_a_large_input_not_all_of_it() {
    // The message reaches logs and context.LastError.Message; the input may be a 4 MB body.
    let body = format!("{}!", "9".repeat(1_000_000));
    for src in [
        "@(int.Parse(context.Request.Body.As<string>()))",
        "@(bool.Parse(context.Request.Body.As<string>()))",
        "@(DateTime.Parse(context.Request.Body.As<string>()))",
    ] {
        let mut c = ctx();
        c.request.body = Some(expr::Body::new(body.clone().into_bytes()));
        let message = compile(src).eval(&c).unwrap_err().to_string();
        assert!(message.len() < 300, "{src}: {} bytes", message.len());
        assert!(
            message.contains(&format!("'{}...' ({} bytes)", &body[..64], body.len())),
            "{src}: {message}"
        );
    }
}

#[test]
fn the_deepest_expressions_load_and_run_on_a_small_stack() {
    // Nesting is bounded (100 levels) but a level's frames are the compiler's to size:
    // a debug build overflowed a 2 MiB test thread. Each level now makes room for itself.
    let parens = format!("@({}1{})", "(".repeat(95), ")".repeat(95));
    let blocks = format!("@{{{}return 2;{}}}", "{".repeat(95), "}".repeat(95));
    let values = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || [parens, blocks].map(|src| compile(&src).eval(&ctx()).unwrap().to_string()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(values, ["1", "2"]);
}

/// A context whose variable `token` holds the `IResponse` that send-request would store:
/// 201, two `X-Rate` values, a JSON body.
fn ctx_with_stored_response() -> Context {
    let mut c = ctx();
    let mut headers = Headers::new();
    headers.append("Content-Type", "application/json");
    headers.append("X-Rate", "10");
    headers.append("x-rate", "20");
    let stored = expr::Response {
        status_code: 201,
        status_reason: "Created".into(),
        headers,
        body: Some(expr::Body::new(
            &br#"{"access_token":"abc","scopes":["a","b"]}"#[..],
        )),
    };
    c.variables.insert("token".into(), Value::response(stored));
    c.variables.insert("nothing".into(), Value::Null);
    c
}

#[test]
fn a_stored_iresponse_reads_its_own_status_headers_and_body() {
    let c = ctx_with_stored_response();
    let eval = |src: &str| match compile(src).eval(&c) {
        Ok(v) => v.to_json(),
        Err(e) => panic!("{src}: {}", e.render()),
    };
    let cases: &[(&str, serde_json::Value)] = &[
        (
            r#"@(((IResponse)context.Variables["token"]).StatusCode)"#,
            201.into(),
        ),
        (
            r#"@(((IResponse)context.Variables["token"]).StatusReason)"#,
            "Created".into(),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<IResponse>("token").Headers.GetValueOrDefault("x-rate", "none"))"#,
            "10,20".into(),
        ),
        (
            r#"@(((IResponse)context.Variables["token"]).Headers["Content-Type"][0])"#,
            "application/json".into(),
        ),
        (
            r#"@(((IResponse)context.Variables["token"]).Headers.ContainsKey("X-Missing"))"#,
            false.into(),
        ),
        (
            r#"@(((IResponse)context.Variables["token"]).Headers.Count)"#,
            2.into(),
        ),
        (
            r#"@((string)((IResponse)context.Variables["token"]).Body.As<JObject>(preserveContent: true)["access_token"])"#,
            "abc".into(),
        ),
        (
            r#"@(((IResponse)context.Variables["token"]).Body.As<JObject>(true)["scopes"].Count())"#,
            2.into(),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<IResponse>("nothing") == null)"#,
            true.into(),
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<IResponse>("absent")?.StatusCode ?? -1)"#,
            (-1).into(),
        ),
        // context.Response is untouched by reading the stored one
        (r#"@(context.Response.StatusCode)"#, 200.into()),
    ];
    for (src, want) in cases {
        assert_eq!(&eval(src), want, "{src}");
    }
    // As<string>() without preserveContent consumes the stored body, as in APIM
    let read = compile(r#"@(((IResponse)context.Variables["token"]).Body.As<string>())"#);
    assert_eq!(
        read.eval(&c).unwrap().as_str(),
        Some(r#"{"access_token":"abc","scopes":["a","b"]}"#)
    );
    assert_eq!(read.eval(&c).unwrap().as_str(), Some(""));
    // a variable of another type is not an IResponse
    let wrong = compile(r#"@(context.Variables.GetValueOrDefault<IResponse>("name").StatusCode)"#)
        .eval(&c)
        .unwrap_err();
    assert!(wrong.to_string().contains("IResponse"), "{wrong}");
    let cast = compile(r#"@(((IResponse)context.Variables["name"]).StatusCode)"#)
        .eval(&c)
        .unwrap_err();
    assert!(cast.to_string().contains("IResponse"), "{cast}");
    // and a member IResponse lacks is a load error
    assert!(load_err(r#"@(((IResponse)context.Variables["token"]).Status)"#).contains("Status"),);
}
