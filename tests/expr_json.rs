//! Newtonsoft.Json in policy expressions: expected strings are what Json.NET 13 writes
//! with default settings (JToken.ToString(): Formatting.Indented, two spaces, `"a": 1`;
//! ToString(Formatting.None) and JsonConvert.SerializeObject: no whitespace).

#[path = "common/expr.rs"]
mod common_expr;

use std::process::Command;

use certgate::expr::{self, Compiled, Context, EvalErrorKind, Limits, Origin, Value};
use time::macros::datetime;

const ORDER: &str = r#"{"id":42,"customer":{"name":"Ada","tags":["a","b"]},"total":12.50,"paid":true,"note":null,"at":"2026-01-01T10:00:00Z"}"#;

fn ctx(body: &str) -> Context {
    let mut c = Context::new(datetime!(2026-11-28 16:00:00 UTC));
    c.request.method = "POST".into();
    c.request.body = Some(expr::Body::new(body.as_bytes().to_vec()));
    c.response.body = Some(expr::Body::new(&b"[1,2,3]"[..]));
    c
}

fn at() -> Origin {
    Origin::new("policies/json.xml", 7, 12)
}

fn compile(src: &str) -> Compiled {
    common_expr::compile(src, at())
}

fn run_on(body: &str, src: &str) -> Value {
    common_expr::run(src, at(), &ctx(body))
}

/// The result as text, as set-body and set-header use it.
fn text(src: &str) -> String {
    run_on(ORDER, src).to_string()
}

fn eval_err(src: &str) -> EvalErrorKind {
    common_expr::run_err(src, at(), &ctx(ORDER)).kind
}

fn load_err(src: &str) -> String {
    common_expr::load_err(src, at())
}

#[test]
fn set_body_adds_a_property_and_writes_indented_json_as_newtonsoft() {
    // the APIM "transform JSON" pattern: As<JObject>, index assignment, ToString()
    let out = text(
        r#"@{
            var body = context.Request.Body.As<JObject>(preserveContent: true);
            body["added"] = "x";
            body["id"] = 43;
            body["customer"]["tags"][1] = "c";
            return body.ToString();
        }"#,
    );
    assert_eq!(
        out,
        "{\n  \"id\": 43,\n  \"customer\": {\n    \"name\": \"Ada\",\n    \"tags\": [\n      \"a\",\n      \"c\"\n    ]\n  },\n  \"total\": 12.5,\n  \"paid\": true,\n  \"note\": null,\n  \"at\": \"2026-01-01T10:00:00Z\",\n  \"added\": \"x\"\n}"
    );
}

#[test]
fn formatting_none_and_serialize_object_write_no_whitespace() {
    let none = r#"{"id":42,"customer":{"name":"Ada","tags":["a","b"]},"total":12.5,"paid":true,"note":null,"at":"2026-01-01T10:00:00Z"}"#;
    assert_eq!(
        text("@(context.Request.Body.As<JObject>().ToString(Formatting.None))"),
        none
    );
    assert_eq!(
        text("@(JsonConvert.SerializeObject(context.Request.Body.As<JToken>()))"),
        none
    );
    assert_eq!(
        text(r#"@(JsonConvert.SerializeObject("a\"b"))"#),
        r#""a\"b""#
    );
    assert_eq!(
        text(
            "@(JsonConvert.SerializeObject(context.Response.Body.As<JArray>(), Formatting.Indented))"
        ),
        "[\n  1,\n  2,\n  3\n]"
    );
}

#[test]
fn numbers_strings_and_dates_keep_newtonsoft_forms() {
    // doubles: shortest round-trip with ".0" added (JsonConvert.ToString(double));
    // integers beyond long kept as written (BigInteger)
    assert_eq!(
        text(
            r#"@(JArray.Parse("[1.0, 1e20, 0.00001, 3, -0.5, 99999999999999999999]").ToString(Formatting.None))"#
        ),
        "[1.0,1E+20,1E-05,3,-0.5,99999999999999999999]"
    );
    // .NET writes fixed-point only for exponents above -5 (double.ToString() too)
    assert_eq!(
        text("@((0.00001).ToString() + \" \" + (0.0001).ToString())"),
        "1E-05 0.0001"
    );
    // control characters as \u with lowercase hex; non-ASCII and <>&' as they are
    assert_eq!(
        text(r#"@(JToken.Parse("\"\\u001b é <&>' \\u2028\"").ToString(Formatting.None))"#),
        r#""\u001b é <&>' \u2028""#
    );
    // DateParseHandling.DateTime: ISO strings become dates and keep their kind
    assert_eq!(
        text(
            r#"@(JObject.Parse("{\"a\":\"2026-01-01T00:00:00.500Z\",\"b\":\"2026-01-01T00:00:00\"}").ToString(Formatting.None))"#
        ),
        r#"{"a":"2026-01-01T00:00:00.5Z","b":"2026-01-01T00:00:00"}"#
    );
    assert_eq!(
        text(r#"@(context.Request.Body.As<JObject>()["at"].Type.ToString())"#),
        "Date"
    );
    // (string) of a date token is DateTime.ToString() with the invariant culture
    assert_eq!(
        text(r#"@((string)context.Request.Body.As<JObject>()["at"])"#),
        "01/01/2026 10:00:00"
    );
}

#[test]
fn indexers_casts_and_value_of_t_read_tokens() {
    let b = "var b = context.Request.Body.As<JObject>();";
    let t = |e: &str| text(&format!("@{{ {b} return {e}; }}"));
    assert_eq!(t(r#"(string)b["customer"]["name"]"#), "Ada");
    assert_eq!(t(r#"((int)b["id"] + 1).ToString()"#), "43");
    assert_eq!(t(r#"((double)b["total"] * 2).ToString()"#), "25");
    assert_eq!(t(r#"((bool)b["paid"]).ToString()"#), "True");
    assert_eq!(t(r#"b["customer"]["tags"][0].Value<string>()"#), "a");
    assert_eq!(t(r#"b.Value<int>("id").ToString()"#), "42");
    assert_eq!(t(r#"b.Value<int>("missing").ToString()"#), "0");
    assert_eq!(t(r#"b["missing"] == null ? "none" : "some""#), "none");
    assert_eq!(t(r#"(string)b["note"] ?? "null""#), "null");
    assert_eq!(t(r#"b["total"].ToString()"#), "12.5");
    assert_eq!(t(r#"b.Count.ToString()"#), "6");
    assert_eq!(t(r#"b.Type.ToString()"#), "Object");
    assert_eq!(t(r#"b["customer"]["tags"].HasValues.ToString()"#), "True");
    assert_eq!(
        t(r#"((JArray)b["customer"]["tags"]).Count.ToString()"#),
        "2"
    );
    assert_eq!(
        t(r#"string.Join(",", b.Properties().Select(p => p.Name))"#),
        "id,customer,total,paid,note,at"
    );
    assert_eq!(
        t(r#"b.Properties().Where(p => p.Value.Type == JTokenType.String).Count().ToString()"#),
        "0"
    );
    assert_eq!(t(r#"(string)b.SelectToken("$.customer.tags[1]")"#), "b");
    assert_eq!(t(r#"(string)b.SelectToken("customer['name']")"#), "Ada");
    assert_eq!(
        t(r#"b.SelectToken("$.customer.nothing") == null ? "null" : "found""#),
        "null"
    );
}

#[test]
fn add_remove_and_shared_containers_change_the_document() {
    let out = text(
        r#"@{
            var b = context.Request.Body.As<JObject>();
            b.Remove("note");
            b.Remove("at");
            b.Add("items", JArray.Parse("[]"));
            var items = (JArray)b["items"];
            items.Add(1);
            items.Add("two");
            items.Add(JObject.Parse("{\"three\":3}"));
            var c = b["customer"];
            c["name"] = "Grace";
            foreach (var p in b) { if (p.Key == "paid") { b["total"] = 0.0; } }
            return b.ToString(Formatting.None);
        }"#,
    );
    assert_eq!(
        out,
        r#"{"id":42,"customer":{"name":"Grace","tags":["a","b"]},"total":0.0,"paid":true,"items":[1,"two",{"three":3}]}"#
    );
    // a token added twice is copied: the document holds no cycle
    assert_eq!(
        text(
            r#"@{ var a = JArray.Parse("[1]"); a.Add(a); a.Add(a); return a.ToString(Formatting.None); }"#
        ),
        "[1,[1],[1,[1]]]"
    );
}

#[test]
fn bad_json_wrong_kinds_and_bad_casts_fail_the_request() {
    for src in [
        r#"@(JObject.Parse("{\"a\":").ToString())"#,
        r#"@(JObject.Parse("[1]").ToString())"#,
        r#"@(JObject.Parse("{} x").ToString())"#,
        r#"@((int)JObject.Parse("{\"a\":\"x\"}")["a"])"#,
        r#"@((int)JObject.Parse("{\"a\":3000000000}")["a"])"#,
        r#"@(context.Request.Body.As<JObject>().SelectToken("$..name").ToString())"#,
        r#"@(context.Response.Body.As<JObject>().ToString())"#,
    ] {
        assert!(
            matches!(eval_err(src), EvalErrorKind::Json(_)),
            "{src}: {:?}",
            eval_err(src)
        );
    }
    assert_eq!(
        eval_err(r#"@((int)JObject.Parse("{\"a\":null}")["b"])"#),
        EvalErrorKind::NullReference("(int)JObject.Parse(\"{\\\"a\\\":null}\")[\"b\"]".into())
    );
}

#[test]
fn deep_json_is_refused_without_overflowing_the_stack() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let c = compile("@(context.Request.Body.As<JToken>().ToString())");
    let err = c.eval(&ctx(&deep)).expect_err("too deep");
    assert_eq!(
        err.kind.to_string(),
        "the JSON is nested more than 64 levels deep"
    );
}

#[test]
fn rewriting_a_large_body_in_a_loop_stops_at_the_step_limit() {
    // each iteration parses and writes the 200 KB body: work, not time, is bounded
    let body = format!("[{}]", vec![r#"{"k":"0123456789abcdef"}"#; 8_000].join(","));
    let src = r#"@{
        var n = 0;
        foreach (var c in "0123456789012345678901234567890123456789") {
            var t = context.Request.Body.As<JArray>(preserveContent: true);
            t.Add(n);
            n = n + t.ToString().Length;
        }
        return n;
    }"#;
    let c = expr::compile_with(src, Origin::new("p.xml", 1, 1), &Limits::default()).unwrap();
    let err = c.eval(&ctx(&body)).expect_err("stops");
    assert_eq!(err.kind, EvalErrorKind::StepLimit(1_000_000));
    // one iteration fits
    let one = src.replace("0123456789012345678901234567890123456789", "0");
    let c = expr::compile(&one, Origin::new("p.xml", 1, 1)).unwrap();
    assert!(c.eval(&ctx(&body)).is_ok());
}

#[test]
fn members_certgate_lacks_are_refused_at_load_with_their_position() {
    assert_eq!(
        load_err("@(JsonConvert.DeserializeObject<Order>(\"{}\"))"),
        "policies/json.xml:7:44: error: certgate does not implement JsonConvert.DeserializeObject<Order> yet"
    );
    assert_eq!(
        load_err("@(context.Request.Body.As<JObject>().Parent)"),
        "policies/json.xml:7:49: error: certgate does not implement JObject.Parent yet"
    );
    assert!(
        load_err(r#"@{ var a = new string[1]; a[0] = 1; return a; }"#)
            .contains("cannot convert int to string")
    );
    assert!(
        load_err(r#"@{ var b = context.Request.Body.As<JObject>(); b[0] = "x"; return b; }"#)
            .contains("cannot convert int to string")
    );
    // the typed form works
    assert_eq!(
        text(
            r#"@(JsonConvert.DeserializeObject<JObject>("{\"a\":[1]}")["a"].ToString(Formatting.None))"#
        ),
        "[1]"
    );
}

#[test]
fn certgate_eval_rewrites_a_json_body() {
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args([
            "eval",
            "--method",
            "POST",
            "--body",
            r#"{"a":1,"b":[true,null]}"#,
            r#"@{ var j = context.Request.Body.As<JObject>(); j["c"] = 2.5; return j.ToString(Formatting.None); }"#,
        ])
        .output()
        .expect("runs certgate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#""{\"a\":1,\"b\":[true,null],\"c\":2.5}""#
    );
}

/// The fewest steps with which `src` succeeds on `body` (a binary search on the limit).
fn steps_needed(src: &str, body: &str) -> u64 {
    let (mut lo, mut hi) = (1u64, 1_000_000u64);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let limits = Limits {
            max_steps: mid,
            ..Limits::default()
        };
        let c = expr::compile_with(src, Origin::new("p.xml", 1, 1), &limits).unwrap();
        if c.eval(&ctx(body)).is_ok() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[test]
fn rewriting_a_4kb_body_costs_steps_in_proportion_to_its_size() {
    let item = r#"{"id":1,"sku":"SKU-00001","qty":3,"price":9.5,"tags":["a","b"]}"#;
    let body = |n: usize| format!(r#"{{"items":[{}]}}"#, vec![item; n].join(","));
    let src = r#"@{ var b = context.Request.Body.As<JObject>(preserveContent: true); b["added"] = "x"; return b.ToString(); }"#;
    let small = steps_needed(src, &body(64));
    let large = steps_needed(src, &body(128));
    assert!(body(64).len() > 4_000 && body(64).len() < 4_400);
    // parse and write charge every token and every 16 bytes: twice the body, about
    // twice the steps, and a 4 KB body stays far below the default million
    assert!(small > 3_000 && small < 6_000, "{small}");
    assert!(
        large > 2 * small - 50 && large < 2 * small + 50,
        "{small} {large}"
    );
    eprintln!("4 KB rewrite: {small} steps; 8 KB: {large}");
}

#[test]
fn new_builds_objects_arrays_properties_and_values_as_newtonsoft() {
    // Newtonsoft's constructors take `params object[] content`.
    assert_eq!(
        text(
            r#"@(new JObject(new JProperty("a", 1), new JProperty("b", "x")).ToString(Formatting.None))"#
        ),
        r#"{"a":1,"b":"x"}"#
    );
    assert_eq!(
        text(r#"@(new JArray(1, "two", true, new JObject()).ToString(Formatting.None))"#),
        r#"[1,"two",true,{}]"#
    );
    assert_eq!(
        text(r#"@(new JObject(new JProperty("n", new JValue(2.5))).ToString())"#),
        "{\n  \"n\": 2.5\n}"
    );
    // A repeated name is an error, as Newtonsoft's Add.
    assert!(matches!(
        eval_err(r#"@(new JObject(new JProperty("a", 1), new JProperty("a", 2)).ToString())"#),
        EvalErrorKind::Json(_)
    ));
}

/// `JObject.Property(name)`: the property of that name, compared ordinally (Newtonsoft's
/// `Property(string)`), or null; a JProperty writes `"name": value`.
#[test]
fn property_finds_a_property_by_its_exact_name() {
    assert_eq!(
        text(
            r#"@{ var o = JObject.Parse("{\"a\":1,\"b\":[1,2]}"); var p = o.Property("b"); return p.Name + "=" + p.Value.ToString(Newtonsoft.Json.Formatting.None); }"#
        ),
        "b=[1,2]"
    );
    assert_eq!(
        text(r#"@(JObject.Parse("{\"a\":1}").Property("A") == null ? "none" : "found")"#),
        "none"
    );
    assert_eq!(
        text(r#"@(JObject.Parse("{\"a\":1}").Property("a").ToString())"#),
        "\"a\": 1"
    );
}

/// `JProperty.Remove()` takes the property out of the object it was read from, as
/// Newtonsoft's `JToken.Remove()`; a property in no object throws "The parent is missing."
#[test]
fn a_property_removes_itself_from_its_object() {
    assert_eq!(
        text(
            r#"@{ var o = JObject.Parse("{\"id\":1,\"secret\":\"x\",\"internal_note\":2,\"name\":\"a\"}"); foreach (var p in o.Properties().Where(p => p.Name == "secret" || p.Name.StartsWith("internal_")).ToList()) { p.Remove(); } return o.ToString(Formatting.None); }"#
        ),
        r#"{"id":1,"name":"a"}"#
    );
    // the property of an object inside the body: the body changes
    assert_eq!(
        text(
            r#"@{ var o = JObject.Parse("{\"user\":{\"a\":1,\"b\":2}}"); ((JObject)o["user"]).Property("a").Remove(); return o.ToString(Formatting.None); }"#
        ),
        r#"{"user":{"b":2}}"#
    );
    // removed once, it is in no object any more
    let twice = eval_err(
        r#"@{ var o = JObject.Parse("{\"a\":1}"); var p = o.Property("a"); p.Remove(); p.Remove(); return o.ToString(); }"#,
    );
    assert!(
        twice
            .to_string()
            .contains("the parent is missing: property 'a'"),
        "{twice}"
    );
    let new = eval_err(r#"@{ new JProperty("a", 1).Remove(); return ""; }"#);
    assert!(new.to_string().contains("the parent is missing"), "{new}");
}
