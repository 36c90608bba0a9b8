//! C# 7 statements and expressions as APIM compiles them: loops, try/catch, switch, type
//! patterns, object and array creation, namespace-qualified names. Expected values are
//! what .NET gives for the same code.

#[path = "common/expr.rs"]
mod common_expr;

use std::process::Command;

use certgate::expr::{self, Compiled, Context, Limits, Origin, Url, Value};
use time::macros::datetime;

fn ctx() -> Context {
    let mut c = Context::new(datetime!(2026-11-28 16:00:00 UTC));
    c.request.method = "POST".into();
    c.request.url = Url::parse("https://api.contoso.com/orders/42?a=1")
        .unwrap()
        .into();
    c.variables.insert("name".into(), Value::string("alice"));
    c.variables.insert("count".into(), Value::Int(3));
    c
}

fn origin() -> Origin {
    Origin::new("policies/test.xml", 3, 20)
}

fn compile(src: &str) -> Compiled {
    common_expr::compile(src, origin())
}

fn run(src: &str) -> Value {
    common_expr::run(src, origin(), &ctx())
}

fn run_err(src: &str) -> String {
    common_expr::run_err(src, origin(), &ctx()).to_string()
}

fn load_err(src: &str) -> String {
    common_expr::load_err(src, origin())
}

fn check_values(cases: &[(&str, &str)]) {
    common_expr::assert_each(cases, |src| run(src).to_string());
}

#[test]
fn declarations_and_loops() {
    check_values(&[
        // a declaration without a value, assigned later
        (
            r#"@{ string[] parts; parts = "a,b,c".Split(','); return parts.Length; }"#,
            "3",
        ),
        (r#"@{ int n; n = 4; return n * 2; }"#, "8"),
        (
            r#"@{ const string sep = "-"; return "a" + sep + "b"; }"#,
            "a-b",
        ),
        (r#"@{ int a = 1, b = 2; return a + b; }"#, "3"),
        (
            r#"@{ int total = 0; for (int i = 0; i < 5; i++) { total += i; } return total; }"#,
            "10",
        ),
        (
            r#"@{ int n = 0; while (n < 100) { n += 7; } return n; }"#,
            "105",
        ),
        // continue skips the even numbers, break stops after 7
        (
            r#"@{ int s = 0; for (int i = 0; i < 10; i++) { if (i % 2 == 0) { continue; } if (i > 7) { break; } s += i; } return s; }"#,
            "16",
        ),
        (
            r#"@{ int i = 0, j = 10; while (true) { i++; j--; if (i >= j) { break; } } return i; }"#,
            "5",
        ),
        // several steps, and a for without a condition ended by return
        (
            r#"@{ int x = 0; for (int i = 0, k = 10; ; i++, k -= 2) { if (i >= k) { return i; } x++; } }"#,
            "4",
        ),
        // C# accepts a block whose last statement is an endless loop that returns
        (r#"@{ while (true) { return "done"; } }"#, "done"),
        // do runs its body before the first test; ++i as a statement
        (
            "@{ int n = 10; do { ++n; } while (n < 5); int m = 0; do { m += 2; } while (m < 7); return n * 100 + m; }",
            "1108",
        ),
        // break in a foreach
        (
            r#"@{ string first = null; foreach (var p in "x;y;z".Split(';')) { first = p; break; } return first; }"#,
            "x",
        ),
    ]);
}

#[test]
fn try_catch_finally_throw() {
    check_values(&[
        (
            r#"@{ try { throw new Exception("boom"); } catch (Exception e) { return e.Message; } }"#,
            "boom",
        ),
        // a runtime error inside try is caught; its message is the error's
        (
            r#"@{ int z = 0; try { return (1 / z).ToString(); } catch (Exception e) { return e.Message; } }"#,
            "attempted to divide by zero",
        ),
        (
            r#"@{ string s = null; try { return s.Length.ToString(); } catch { return "caught"; } }"#,
            "caught",
        ),
        (
            r#"@{ string log = ""; try { log += "t"; } finally { log += "f"; } return log; }"#,
            "tf",
        ),
        (
            r#"@{ string log = ""; try { log += "t"; throw new Exception("x"); } catch { log += "c"; } finally { log += "f"; } return log; }"#,
            "tcf",
        ),
        // `throw;` rethrows what the catch caught
        (
            r#"@{ try { try { throw new Exception("inner"); } catch { throw; } } catch (System.Exception e) { return e.Message; } }"#,
            "inner",
        ),
        // .NET's message of an Exception made without one
        (
            r#"@{ try { throw new Exception(); } catch (Exception e) { return e.Message; } }"#,
            "Exception of type 'System.Exception' was thrown.",
        ),
    ]);
    assert_eq!(
        run_err(r#"@{ throw new Exception("nope"); }"#),
        "policies/test.xml:3:23: error: the expression threw an exception: nope"
    );
}

#[test]
fn patterns_as_and_null_operators() {
    check_values(&[
        (
            r#"@{ object o = context.Variables["name"]; if (o is string s) { return s.ToUpper(); } return "no"; }"#,
            "ALICE",
        ),
        (r#"@(context.Variables["count"] is string)"#, "False"),
        (r#"@(context.Variables["count"] is int)"#, "True"),
        (
            r#"@(context.Variables.GetValueOrDefault("none") is object)"#,
            "False",
        ),
        (
            r#"@((context.Variables["name"] as string) ?? "none")"#,
            "alice",
        ),
        (
            r#"@((context.Variables["count"] as string) ?? "none")"#,
            "none",
        ),
        (
            r#"@(context.Variables.GetValueOrDefault<string>("missing")?.Length ?? -1)"#,
            "-1",
        ),
        // interpolation with format specifiers, verbatim strings with "" escapes
        (
            r#"@($"{3.14159:F2}|{42:D5}|{context.Request.Method}")"#,
            "3.14|00042|POST",
        ),
        (r#"@(@"C:\dir\""q""")"#, r#"C:\dir\"q""#),
    ]);
}

#[test]
fn switch_on_strings() {
    check_values(&[
        (
            r#"@{ switch (context.Request.Method) { case "GET": case "HEAD": return "read"; case "POST": return "write"; default: return "other"; } }"#,
            "write",
        ),
        (
            r#"@{ string r = "none"; switch ("b") { case "a": r = "A"; break; case "b": r = "B"; break; } return r; }"#,
            "B",
        ),
        (
            r#"@{ string r = "none"; switch ("z") { case "a": r = "A"; break; } return r; }"#,
            "none",
        ),
        (
            r#"@{ switch (context.Request.Method) { default: return "d"; case "GET": return "g"; } }"#,
            "d",
        ),
        // break inside a switch leaves the switch, continue goes to the loop
        (
            r#"@{ int n = 0; for (int i = 0; i < 4; i++) { switch (i) { case 1: continue; default: n += 10; break; } n++; } return n; }"#,
            "33",
        ),
    ]);
}

#[test]
fn object_and_array_creation() {
    check_values(&[
        (r#"@(string.Join(",", new[] { "x", "y" }))"#, "x,y"),
        (r#"@(new byte[16].Length)"#, "16"),
        (
            r#"@(string.Join("|", new string[] { "a", "b", "c" }))"#,
            "a|b|c",
        ),
        (r#"@((new int[3])[1])"#, "0"),
        // a call on a new object is a statement, not a declaration of the type `new`
        (
            r#"@{ var o = new JObject(); new List<JObject> { o }[0].Add("a", 1); return o.ToString(Formatting.None); }"#,
            r#"{"a":1}"#,
        ),
        (r#"@((new string[2])[0] == null)"#, "True"),
        (
            r#"@(Convert.ToBase64String(new byte[] { 1, 2, 255 }))"#,
            "AQL/",
        ),
        (r#"@(new[] { 1, 2, 3 }.Count(x => x > 1))"#, "2"),
        (r#"@(new TimeSpan(1, 2, 3).TotalSeconds)"#, "3723"),
        (r#"@(new TimeSpan(1, 2, 3, 4).ToString())"#, "1.02:03:04"),
        (r#"@(new TimeSpan(10000000L).TotalSeconds)"#, "1"),
        (
            r#"@(new DateTime(2024, 2, 29).ToString("yyyy-MM-dd"))"#,
            "2024-02-29",
        ),
        (
            r#"@(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss"))"#,
            "2024-01-02 03:04:05",
        ),
        (
            r#"@(new DateTime(2024, 1, 2, 3, 4, 5, 678).Millisecond)"#,
            "678",
        ),
        (r#"@(new DateTime(0L) == DateTime.MinValue)"#, "True"),
        // System.Uri lower-cases the scheme and host and drops a default port
        (
            r#"@{ var u = new Uri("HTTPS://Api.Contoso.com:8443/a/b?x=1&y=2"); return u.Host + "|" + u.AbsolutePath + "|" + u.Query + "|" + u.Scheme + "|" + u.Port + "|" + u.PathAndQuery; }"#,
            "api.contoso.com|/a/b|?x=1&y=2|https|8443|/a/b?x=1&y=2",
        ),
        (
            r#"@(new Uri("http://h/p").Port + new Uri("https://h").Port)"#,
            "523",
        ),
        (
            r#"@(new Uri("https://h").AbsolutePath + new Uri("http://h/p").Query)"#,
            "/",
        ),
        (
            r#"@(new Uri("HTTPS://H:443/p?q").ToString())"#,
            "https://h/p?q",
        ),
    ]);
    // StringBuilder is a reference: an alias appends to the same text; AppendLine ends
    // lines with "\r\n" (Environment.NewLine on APIM's Windows hosts); Length counts
    // UTF-16 code units
    check_values(&[
        (
            r#"@{ var sb = new StringBuilder(); sb.Append("a").Append(1).Append(true).Append((string)null); sb.AppendLine(); sb.AppendLine("x"); var alias = sb; alias.Append(sb); return sb.ToString().Replace("\r\n", "|") + sb.Length; }"#,
            "a1True|x|a1True|x|22",
        ),
        (
            r#"@(new System.Text.StringBuilder("é").Append('€').Length)"#,
            "2",
        ),
        (
            r#"@{ var r = new Random(); int n = r.Next(5, 10); return n >= 5 && n < 10 && r.Next(3) < 3 && r.Next() >= 0 && r.NextDouble() < 1.0 && r.Next(4, 4) == 4; }"#,
            "True",
        ),
        // a version 4 GUID: 36 characters, '4' at index 14
        (r#"@(Guid.NewGuid().ToString().Length)"#, "36"),
        (r#"@(System.Guid.NewGuid().ToString()[14])"#, "4"),
    ]);
    assert!(run_err("@(new Random().Next(-1))").contains("maxValue"));
    // a relative URI: .NET throws UriFormatException
    assert!(run_err(r#"@(new Uri("/relative"))"#).contains("invalid URI"));
    // 2023 is not a leap year: .NET throws ArgumentOutOfRangeException
    assert!(run_err("@(new DateTime(2023, 2, 29))").ends_with("un-representable DateTime"));
    // a negative size: .NET throws OverflowException
    assert!(run_err("@{ int n = -1; return new int[n].Length; }").ends_with("overflow"));
    assert!(run_err("@(new byte[] { 256 })").ends_with("overflow"));
}

/// `List<T>` and `Dictionary<K, V>` as .NET's: reference types, dictionaries enumerate
/// in insertion order and a removed entry's place is reused by the next insertion
/// (https://learn.microsoft.com/dotnet/api/system.collections.generic.dictionary-2:
/// "the order ... is unspecified", but .NET's implementation fills freed entries first,
/// which is what a policy ported from APIM sees).
#[test]
fn lists_and_dictionaries() {
    check_values(&[
        (
            r#"@{ var l = new List<string>(); l.Add("a"); l.Add("b"); l.Insert(0, "z"); return string.Join(",", l) + l.Count; }"#,
            "z,a,b3",
        ),
        (
            r#"@{ var l = new List<string> { "a", "b", "c" }; l[1] = "x"; l.RemoveAt(0); l.Remove("c"); return string.Join(",", l) + l.IndexOf("x") + l.IndexOf("q") + l.Contains("x"); }"#,
            "x0-1True",
        ),
        (
            r#"@{ var l = new List<int>(new[] { 3, 1 }); l.AddRange(new[] { 2 }); var alias = l; alias.Add(9); return l.Count + "|" + l.Sum(); }"#,
            "4|15",
        ),
        (
            r#"@{ var a = new int[3]; var b = a; b[1] = 5; a[2] += 0; return a[1]; }"#,
            "5",
        ),
        (
            r#"@{ var a = new string[2]; a[0] = "x"; a[a.Length - 1] = a[0] + "y"; return string.Join("-", a); }"#,
            "x-xy",
        ),
        (
            r#"@{ var d = new Dictionary<string, string> { { "a", "b" }, ["c"] = "d" }; d["e"] = "f"; d.Remove("a"); d["g"] = "h"; return string.Join(";", d.Select(p => p.Key + "=" + p.Value)) + "|" + d.Count; }"#,
            "g=h;c=d;e=f|3",
        ),
        (
            r#"@{ var d = new Dictionary<string, int>(); d["x"] = 1; d["x"] = 2; return d["x"] + d.Count; }"#,
            "3",
        ),
        (
            r#"@{ var d = new Dictionary<string, int> { { "a", 1 } }; if (d.TryGetValue("a", out var n) && !d.TryGetValue("b", out int m)) { return n + m; } return -1; }"#,
            "1",
        ),
        (
            r#"@{ var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Content-Type"] = "a" }; return d.ContainsKey("content-type") + "|" + d["CONTENT-TYPE"] + "|" + string.Join(",", d.Keys); }"#,
            "True|a|Content-Type",
        ),
        (
            r#"@{ var d = new Dictionary<string, int> { { "a", 1 }, { "b", 2 } }; return string.Join(",", d.Values) + d.ContainsValue(2) + d.ContainsValue(3); }"#,
            "1,2TrueFalse",
        ),
        (
            r#"@{ var d = new Dictionary<int, List<string>>(); d[1] = new List<string> { "x" }; d[1].Add("y"); return d[1].Count; }"#,
            "2",
        ),
        (
            r#"@(new List<List<int>> { new List<int> { 1 }, new List<int> { 2, 3 } }.Count)"#,
            "2",
        ),
        (
            r#"@{ var h = new Dictionary<string, string>(); foreach (var p in context.Request.Headers) { h[p.Key] = p.Value[0]; } return h.Count; }"#,
            "0",
        ),
        (
            r#"@(new JArray { 1, "a" }.ToString(Newtonsoft.Json.Formatting.None))"#,
            r#"[1,"a"]"#,
        ),
    ]);
    // .NET's exceptions: ArgumentException for a duplicate Add, KeyNotFoundException,
    // ArgumentOutOfRangeException from a list, IndexOutOfRangeException from an array
    assert!(
        run_err(
            r#"@{ var d = new Dictionary<string, int> { { "a", 1 } }; d.Add("a", 2); return 0; }"#
        )
        .ends_with("An item with the same key has already been added. Key: a")
    );
    assert!(
        run_err(r#"@{ var d = new Dictionary<string, int>(); return d["x"]; }"#)
            .ends_with("the given key 'x' was not present in the dictionary")
    );
    assert!(
        run_err("@{ var l = new List<int>(); l.RemoveAt(0); return 0; }")
            .contains("(Parameter 'index')")
    );
    assert!(
        run_err("@{ var a = new int[1]; a[1] = 2; return 0; }").contains("index was out of range")
    );
    assert!(
        run_err(r#"@{ var d = new Dictionary<string, int>(); d[(string)null] = 1; return 0; }"#)
            .contains("Value cannot be null. (Parameter 'key')")
    );
    // a list that holds itself: fine to count, bounded when converted
    check_values(&[(
        "@{ var l = new List<object>(); l.Add(l); l.Add(1); return l.Count; }",
        "2",
    )]);
    assert!(
        run_err("@{ var l = new List<object>(); l.Add(l); return new JArray(l).Count; }")
            .contains("deep")
    );
    // growing a list is bounded by the collection limit and charged as steps
    let e = run_err("@{ var l = new List<int>(); while (true) { l.Add(1); } }");
    assert!(e.contains("steps") || e.contains("limit"), "{e}");
}

/// LINQ as policy documents use it, over arrays, headers, query parameters and JSON.
/// OrderBy is stable and compares strings with .NET's default (culture) comparer, where
/// letters sort alphabetically whatever their case, lower case first
/// (https://learn.microsoft.com/dotnet/api/system.string.compare: "a" < "A" < "b");
/// `StringComparer.Ordinal` sorts by code point ("A" < "B" < "a").
#[test]
fn linq_operators() {
    let mut c = ctx();
    c.request.headers.append("X-B", "2");
    c.request.headers.append("x-a", "1");
    c.request.url = Url::parse("https://h/p?b=2&a=1&c=3").unwrap().into();
    let cases = [
        (
            r#"@(string.Join(",", new[] { "b", "A", "a", "B", "1", "-" }.OrderBy(x => x)))"#,
            "-,1,a,A,b,B",
        ),
        (
            r#"@(string.Join(",", new[] { "b", "A", "a", "B" }.OrderBy(x => x, StringComparer.Ordinal)))"#,
            "A,B,a,b",
        ),
        (
            r#"@(string.Join(",", new[] { "bb", "a", "cc", "d" }.OrderByDescending(x => x.Length).ThenBy(x => x)))"#,
            "bb,cc,a,d",
        ),
        (
            r#"@(string.Join(",", new[] { 3, 1, 2 }.OrderByDescending(x => x).ThenByDescending(x => -x)))"#,
            "3,2,1",
        ),
        // stable: equal keys keep their order
        (
            r#"@(string.Join(",", new[] { "b1", "a1", "b2", "a2" }.OrderBy(x => x[0]).Select(x => x[1])))"#,
            "1,2,1,2",
        ),
        (
            r#"@(string.Join("&", context.Request.Headers.OrderBy(h => h.Key).Select(h => h.Key + "=" + h.Value[0])))"#,
            "x-a=1&X-B=2",
        ),
        (
            r#"@(string.Join("&", context.Request.Url.Query.OrderByDescending(q => q.Key).Skip(1).Take(1).Select(q => q.Key)))"#,
            "b",
        ),
        (
            r#"@(new[] { 1, 2, 3 }.Sum() + new[] { 1, 2 }.Sum(x => x * 10) + new[] { 5, 3 }.Min() * 100 + new[] { 5, 3 }.Max(x => -x))"#,
            "333",
        ),
        (r#"@(new[] { 1.5, 2.25 }.Sum())"#, "3.75"),
        (
            r#"@(new[] { "b", "a", "c" }.Max() + new[] { "b", null, "a" }.Min())"#,
            "ca",
        ),
        (r#"@(new string[0].Max() == null)"#, "True"),
        (
            r#"@(new[] { "x" }.Single() + new[] { "a", "b" }.SingleOrDefault(x => x == "c") + new int[0].SingleOrDefault() + new[] { 4, 5 }.Single(x => x > 4))"#,
            "x05",
        ),
        (
            r#"@(new[] { 1, 2, 3, 4 }.Aggregate((a, b) => a * b) + new[] { "a", "b" }.Aggregate("x", (acc, s) => acc + s))"#,
            "24xab",
        ),
        (
            r#"@(new[] { 1, 2 }.Aggregate(10L, (acc, x) => acc * x))"#,
            "20",
        ),
        (
            r#"@(string.Join(";", new[] { "ab", "ac", "b" }.GroupBy(s => s[0]).Select(g => g.Key + ":" + g.Count() + "=" + string.Join(",", g))))"#,
            "a:2=ab,ac;b:1=b",
        ),
        (
            r#"@{ var r = ""; foreach (var g in new[] { 1, 2, 3, 4 }.GroupBy(x => x % 2, x => x * 10)) { r += g.Key + "=" + g.Sum() + ";"; } return r; }"#,
            "1=40;0=60;",
        ),
        (
            r#"@{ var d = new[] { "a=1", "b=2" }.ToDictionary(s => s.Split('=')[0], s => s.Substring(2)); return d["b"] + d.Count; }"#,
            "22",
        ),
        (
            r#"@(context.Request.Headers.ToDictionary(h => h.Key.ToLower(), h => h.Value.Length)["x-b"])"#,
            "1",
        ),
        (
            r#"@(string.Join(",", new[] { "a", "b", "a" }.Distinct().ToList()) + new[] { 2, 1 }.ToArray().Length)"#,
            "a,b2",
        ),
        (
            r#"@{ List<string> l = new[] { "x" }.ToList(); l.Add("y"); return l.Count; }"#,
            "2",
        ),
        (
            r#"@(JArray.Parse("[{\"n\":\"x\",\"v\":3},{\"n\":\"y\",\"v\":1},{\"n\":\"z\",\"v\":2}]").OrderBy(t => (int)t["v"]).Select(t => (string)t["n"]).Aggregate((a, b) => a + b))"#,
            "yzx",
        ),
        (r#"@(JArray.Parse("[1, 2, 3]").Sum(t => (int)t))"#, "6"),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match compile(src).eval(&c) {
            Ok(v) if v.to_string() == want => {}
            Ok(v) => failures.push(format!("{src}\n  want {want}\n  got  {v}")),
            Err(e) => failures.push(format!("{src}\n  {}", e.render())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // .NET's exceptions: InvalidOperationException, OverflowException (Sum is checked),
    // ArgumentException for a duplicate key
    assert!(
        run_err("@(new[] { 1, 2 }.Single())").ends_with("sequence contains more than one element")
    );
    assert!(
        run_err("@(new[] { 1, 2 }.SingleOrDefault(x => x > 0))")
            .ends_with("more than one matching element")
    );
    assert!(run_err("@(new int[0].Single())").ends_with("sequence contains no elements"));
    assert!(run_err("@(new int[0].Max())").ends_with("sequence contains no elements"));
    assert!(
        run_err("@(new int[0].Aggregate((a, b) => a + b))")
            .ends_with("sequence contains no elements")
    );
    assert!(run_err("@(new[] { int.MaxValue, 1 }.Sum())").ends_with("overflow"));
    assert!(run_err(r#"@(new[] { "a", "a" }.ToDictionary(x => x))"#).ends_with("Key: a"));
    for (src, want) in [
        (
            "@(new[] { 1 }.ThenBy(x => x))",
            "'ThenBy' follows 'OrderBy' or 'OrderByDescending'",
        ),
        (
            r#"@(new[] { "a" }.Sum())"#,
            "cannot convert string to a sequence of int, long or double",
        ),
        (
            r#"@(new[] { 1 }.Aggregate((a, b) => "x"))"#,
            "cannot convert string to int",
        ),
    ] {
        let e = load_err(src);
        assert!(e.contains(want), "{src}: {e}");
    }
}

/// WebUtility (https://learn.microsoft.com/dotnet/api/system.net.webutility: UrlEncode
/// keeps `-_.!*()`, writes `+` for a space and upper-case `%XX`; HtmlEncode writes
/// U+00A0..U+00FF and characters beyond the BMP as decimal references), Uri's RFC 3986
/// escaping, Guid's text forms, TryParse with `out`, and string.Compare (culture order
/// by default: "a" < "B"; ordinal: the difference of the first differing chars).
#[test]
fn web_guid_and_string_statics() {
    check_values(&[
        (
            r#"@(System.Net.WebUtility.UrlEncode("a b&c=d/é~*()"))"#,
            "a+b%26c%3Dd%2F%C3%A9%7E*()",
        ),
        (
            r#"@(WebUtility.UrlDecode("a+b%26c%3Dd%2F%C3%A9%zz"))"#,
            "a b&c=d/é%zz",
        ),
        (r#"@(WebUtility.UrlEncode(null) == null)"#, "True"),
        (
            r#"@(WebUtility.HtmlEncode("<a href=\"x\">'é&ü😀"))"#,
            "&lt;a href=&quot;x&quot;&gt;&#39;&#233;&amp;&#252;&#128512;",
        ),
        (
            r#"@(WebUtility.HtmlDecode("&lt;&#65;&#x42;&amp;&quot;&apos;&bogus"))"#,
            "<AB&\"'&bogus",
        ),
        (
            r#"@(Uri.EscapeDataString("a b+c/é~") + "|" + Uri.UnescapeDataString("a%20b+c%2F%C3%A9"))"#,
            "a%20b%2Bc%2F%C3%A9~|a b+c/é",
        ),
        (
            r#"@{ var g = Guid.Parse("{0F8FAD5B-D9CB-469F-A165-70867728950E}"); return g.ToString("N") + "|" + g.ToString("B") + "|" + g.ToString("P") + "|" + g; }"#,
            "0f8fad5bd9cb469fa16570867728950e|{0f8fad5b-d9cb-469f-a165-70867728950e}|(0f8fad5b-d9cb-469f-a165-70867728950e)|0f8fad5b-d9cb-469f-a165-70867728950e",
        ),
        (
            r#"@(Guid.TryParse("x", out var h) + h.ToString() + Guid.TryParse("0f8fad5bd9cb469fa16570867728950e", out var k) + (k == Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E")))"#,
            "False00000000-0000-0000-0000-000000000000TrueTrue",
        ),
        (r#"@(int.TryParse("12", out var n) ? n * 2 : -1)"#, "24"),
        (
            r#"@{ int n = 5; return int.TryParse("zz", out n) + "" + n; }"#,
            "False0",
        ),
        (r#"@(long.TryParse(null, out long l) || l != 0)"#, "False"),
        (
            r#"@(double.TryParse("1.5", out var d) && bool.TryParse("true", out var b) && b ? d : 0)"#,
            "1.5",
        ),
        (
            r#"@(string.Compare("a", "B") + "," + string.Compare("a", "B", StringComparison.Ordinal) + "," + string.Compare("abc", "ABC", true) + "," + string.Compare(null, "a") + "," + string.Compare("a", "c", StringComparison.Ordinal) + "," + "b".CompareTo("A"))"#,
            "-1,31,0,-1,-2,1",
        ),
        (
            r#"@(string.Format("{0}-{1}", "a", 2) + string.Concat("x", 1, true) + string.Join("/", new List<string> { "p", "q" }))"#,
            "a-2x1Truep/q",
        ),
    ]);
    assert!(run_err(r#"@(Guid.Parse("nope"))"#).contains("Guid should contain 32 digits"));
    assert!(run_err("@(Uri.EscapeDataString(null))").contains("is null"));
    assert!(run_err("@(Guid.NewGuid().ToString(\"X\"))").contains("'X' is not a Guid format"));
}

/// The hash and HMAC types of the allowed list, with the published test vectors (FIPS
/// 180 "abc", RFC 1321's empty MD5, the HMAC examples of
/// https://en.wikipedia.org/wiki/HMAC for "The quick brown fox ...").
#[test]
fn hashes_and_hmacs() {
    check_values(&[
        (
            r#"@{ using (var sha = SHA256.Create()) { return BitConverter.ToString(sha.ComputeHash(Encoding.UTF8.GetBytes("abc"))).Replace("-", "").ToLower(); } }"#,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            r#"@(BitConverter.ToString(MD5.Create().ComputeHash(Encoding.UTF8.GetBytes(""))))"#,
            "D4-1D-8C-D9-8F-00-B2-04-E9-80-09-98-EC-F8-42-7E",
        ),
        (
            r#"@(BitConverter.ToString(new System.Security.Cryptography.SHA1Managed().ComputeHash(new byte[0])))"#,
            "DA-39-A3-EE-5E-6B-4B-0D-32-55-BF-EF-95-60-18-90-AF-D8-07-09",
        ),
        (
            r#"@(SHA512.Create().ComputeHash(new byte[0]).Length + "/" + SHA384.Create().ComputeHash(new byte[0]).Length)"#,
            "64/48",
        ),
        (
            r#"@{ var key = Encoding.UTF8.GetBytes("key"); var msg = Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"); using (var h = new HMACSHA256(key)) { return Convert.ToBase64String(h.ComputeHash(msg)); } }"#,
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
        ),
        (
            r#"@(BitConverter.ToString(new HMACSHA1(Encoding.UTF8.GetBytes("key")).ComputeHash(Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"))).Replace("-", "").ToLowerInvariant())"#,
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
        ),
        (
            r#"@(Convert.ToBase64String(new HMACMD5(Encoding.UTF8.GetBytes("key")).ComputeHash(Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"))))"#,
            "gAcHE0Y+d0m5DC3CSRHidQ==",
        ),
        (
            r#"@(new HMACSHA512(new byte[0]).ComputeHash(new byte[0]).Length + new HMACSHA384(new byte[1]).ComputeHash(new byte[0]).Length)"#,
            "112",
        ),
        (
            r#"@(Encoding.UTF8.GetString(Convert.FromBase64String(Convert.ToBase64String(Encoding.UTF8.GetBytes("é€")))))"#,
            "é€",
        ),
    ]);
    let e = load_err("@(new HMACSHA256().ComputeHash(new byte[0]))");
    assert!(e.contains("'new HMACSHA256' without a key"), "{e}");
    let e = load_err(r#"@(SHA256.Create().ComputeHash("text"))"#);
    assert!(e.contains("byte[]"), "{e}");
}

/// certgate has no users, subscriptions or products: `context.User`, `Subscription` and
/// `Product` are null, as on APIM for a request without a subscription
/// (https://learn.microsoft.com/azure/api-management/api-management-policy-expressions#ContextVariables).
#[test]
fn context_model_without_subscriptions() {
    check_values(&[
        ("@(context.Subscription?.Key == null)", "True"),
        (
            r#"@(context.Subscription?.Name ?? "anonymous")"#,
            "anonymous",
        ),
        ("@(context.Product == null && context.User == null)", "True"),
        (r#"@(context.User?.Email ?? "none")"#, "none"),
        ("@(context.Product?.SubscriptionRequired ?? false)", "False"),
        // C# infers T of GetValueOrDefault<T> from the default value
        (
            r#"@(context.Variables.GetValueOrDefault("name", "").Length)"#,
            "5",
        ),
        (
            r#"@(context.Variables.GetValueOrDefault("missing", "x").ToUpper())"#,
            "X",
        ),
        (
            r#"@(context.Variables.GetValueOrDefault("count", 0) + 1)"#,
            "4",
        ),
    ]);
    assert!(run_err("@(context.Subscription.Key)").contains("'Key' was read on null"));
    assert!(
        run_err(r#"@(context.Variables.GetValueOrDefault("count", "").Length)"#)
            .contains("holds a value of type Int32, not string")
    );
    // a named value left in expression code (no deployment defines it here)
    let e = load_err("@({{backend-key}})");
    assert_eq!(
        e,
        "policies/test.xml:3:22: error: '{{backend-key}}' is a named value: certgate replaces it with its text before compiling the expression, and no named value 'backend-key' is defined here; add `\"backend-key\" = \"...\"` to [named_values] in gateway.toml"
    );
}

#[test]
fn namespace_qualified_names() {
    check_values(&[
        (r#"@(System.String.Join("-", new[] { "a", "b" }))"#, "a-b"),
        (r#"@(System.DateTime.UtcNow.Year)"#, "2026"),
        (r#"@(System.Text.Encoding.UTF8.GetBytes("hé").Length)"#, "3"),
        (r#"@(System.Math.Max(1, 2))"#, "2"),
        (r#"@(new System.TimeSpan(0, 1, 0).TotalSeconds)"#, "60"),
        (
            r#"@{ System.DateTime d = new System.DateTime(2020, 5, 6); return d.Day; }"#,
            "6",
        ),
        // Hash and HMAC types as a local's declared type.
        (
            "@{ HMACSHA256 h = new HMACSHA256(new byte[] { 1 }); return h.ComputeHash(new byte[] { 2 }).Length; }",
            "32",
        ),
        (
            "@{ System.Security.Cryptography.SHA256 h = SHA256.Create(); return h.ComputeHash(new byte[0]).Length; }",
            "32",
        ),
        // Guid.ToByteArray: the first three fields little-endian (the example of .NET's
        // Guid.ToByteArray documentation).
        (
            r#"@(BitConverter.ToString(Guid.Parse("00112233-4455-6677-8899-aabbccddeeff").ToByteArray()))"#,
            "33-22-11-00-55-44-77-66-88-99-AA-BB-CC-DD-EE-FF",
        ),
        // JObject.GetValue(name): the property's value, null when missing.
        (
            r#"@(JObject.Parse("{\"a\": 1}").GetValue("a").ToString())"#,
            "1",
        ),
        (r#"@(JObject.Parse("{}").GetValue("b") == null)"#, "True"),
    ]);
}

#[test]
fn refusals_name_the_construct_and_position() {
    let cases = [
        (
            r#"@(new Uri("http://h") { })"#,
            "3:42: error: certgate does not implement initializers of 'Uri' ('new T { ... }') yet",
        ),
        (
            "@(new List<string> { Capacity = 4 })",
            "3:41: error: certgate does not implement object initializers ('Capacity = ...' on List<string>) yet",
        ),
        (
            "@{ var b = new byte[2]; b[0] = 1; return b[0]; }",
            "3:44: error: certgate does not implement assigning to a byte[] element yet",
        ),
        (
            "@{ var d = new Dictionary<string, int>(); return d.TryGetValue(\"a\", out string v); }",
            "3:92: error: cannot convert string to int",
        ),
        (
            "@(new Dictionary<DateTime, int>())",
            "3:26: error: certgate does not implement 'new Dictionary<DateTime,int>' yet",
        ),
        (
            r#"@(int.TryParse("1", 2))"#,
            "3:40: error: expected an 'out' argument ('out var name'), found a value",
        ),
        (
            "@(new { a = 1 })",
            "3:22: error: certgate does not implement anonymous types yet",
        ),
        (
            r#"@(new Guid("00000000-0000-0000-0000-000000000000"))"#,
            "3:26: error: certgate does not implement 'new Guid' yet",
        ),
        (
            "@{ void Log() { return 1; } return 1; }",
            "3:43: error: a void local function returns no value: write 'return;'",
        ),
        (
            "@{ int F() { return; } return F(); }",
            "3:33: error: expected a value after 'return', found ';'",
        ),
        (
            r#"@{ int F(int a) => a; return F("x"); }"#,
            "3:51: error: cannot convert string to int",
        ),
        (
            "@{ int F(int a) { if (a > 0) { return 1; } } return F(1); }",
            "3:27: error: not all code paths of 'F' return a value: end every path with 'return'",
        ),
        // APIM's extension methods and allowed members certgate lacks are named as such,
        // before their arguments are looked at.
        (
            r#"@(context.Trace("x"))"#,
            "3:30: error: certgate does not implement IProxyRequestContext.Trace yet",
        ),
        (
            r#"@(Convert.FromBase64String("AA==").Encrypt("DES", new byte[8], new byte[8]))"#,
            "3:55: error: certgate does not implement the cipher 'DES' of Encrypt/Decrypt (certgate has 'Aes') yet",
        ),
        (
            r#"@(JObject.Parse("{}").PropertyValues())"#,
            "3:42: error: certgate does not implement JObject.PropertyValues yet",
        ),
        (
            r#"@(XDocument.Parse("<a/>").Root.Nodes())"#,
            "3:51: error: certgate does not implement XElement.Nodes yet",
        ),
        (
            r#"@(new XComment("c"))"#,
            "3:26: error: certgate does not implement 'new XComment' yet",
        ),
        (
            r#"@(XNamespace.Xml)"#,
            "3:33: error: certgate does not implement XNamespace.Xml yet",
        ),
        (
            "@{ lock (context) { } return 1; }",
            "3:23: error: certgate does not implement the 'lock' statement yet",
        ),
        (
            r#"@(System.IO.File.ReadAllText("x"))"#,
            "3:32: error: the type 'System.IO.File' is not available: APIM does not allow this type in policy expressions",
        ),
        (
            "@(new System.Diagnostics.Process())",
            "3:26: error: the type 'System.Diagnostics.Process' is not available: APIM does not allow this type in policy expressions",
        ),
        (
            r#"@($"{1,5}")"#,
            "3:26: error: certgate does not implement alignment in an interpolated string yet",
        ),
        (
            "@(1.5m)",
            "3:22: error: certgate does not implement the decimal type (suffix 'm') yet",
        ),
        (
            "@{ break; }",
            "3:23: error: 'break' must be inside a loop or a switch",
        ),
        (
            "@{ switch (1) { case 1: int x = 1; default: return 2; } }",
            "3:36: error: control cannot fall through from one case label to another: end the section with 'break;'",
        ),
        (
            "@{ try { return 1; } finally { return 2; } }",
            "3:51: error: control cannot leave the body of a finally clause",
        ),
        (
            "@{ const int x = 1; x = 2; return x; }",
            "3:40: error: cannot assign to 'x': it is a const; declare it without 'const'",
        ),
        (
            r#"@{ throw "text"; }"#,
            "3:29: error: cannot convert string to Exception",
        ),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = load_err(src);
        let want = format!("policies/test.xml:{want}");
        if got != want {
            failures.push(format!("{src}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn local_functions() {
    check_values(&[
        // expression and block bodies; a function may be called before its declaration
        (
            r#"@{ string F(string x) => x.ToUpper(); return F("a") + G(4); int G(int n) { if (n <= 1) { return 1; } return n * G(n - 1); } }"#,
            "A24",
        ),
        (
            "@{ int Fact(int n) => n <= 1 ? 1 : n * Fact(n - 1); return Fact(10); }",
            "3628800",
        ),
        // a local function reads the enclosing variables as they are when it runs
        (
            "@{ int k = 5; int AddK(int x) => x + k; k = 7; return AddK(1); }",
            "8",
        ),
        // each call has its own locals: the recursive call does not overwrite `local`
        (
            "@{ int F(int n) { int local = n; if (n > 0) { F(n - 1); } return local; } return F(3); }",
            "3",
        ),
        // `return 1;` in a long function gives a long: long arithmetic, no int overflow
        (
            "@{ long L() { return 1; } return L() * 2147483647 * 2; }",
            "4294967294",
        ),
        // void functions, block and `=>` bodies: `return;` ends one early, the end of its
        // body returns, a call is a statement
        (
            r#"@{ var o = new JObject(); void Put(string k, int v) { if (v < 0) { return; } o.Add(k, v); } Put("a", 1); Put("b", -1); Put("c", 3); return o.ToString(Newtonsoft.Json.Formatting.None); }"#,
            r#"{"a":1,"c":3}"#,
        ),
        (
            r#"@{ var l = new List<string>(); void Note(string s) => l.Add(s); Note("x"); Note("y"); return string.Join(",", l); }"#,
            "x,y",
        ),
    ]);
    // endless recursion ends with an error, never a stack overflow (the test thread has
    // the default 2 MiB stack, as the gateway's threads)
    let err = run_err("@{ int Loop(int n) => Loop(n + 1); return Loop(0); }");
    assert!(
        err.ends_with(
            "the nesting of local function calls and expressions would be longer than the limit of 50"
        ),
        "{err}"
    );
}

/// Loops charge the step budget: an endless loop ends with the step-limit error, and a
/// catch cannot swallow it.
#[test]
fn loops_are_bounded_by_steps() {
    let limits = Limits {
        max_steps: 10_000,
        ..Limits::default()
    };
    for src in [
        "@{ while (true) { } }",
        "@{ for (;;) { } }",
        "@{ for (;;) ; }",
        "@{ try { while (true) { } } catch { return 1; } }",
        "@{ int i = 0; while (true) { try { i++; } finally { } } }",
    ] {
        let c = expr::compile_with(src, origin(), &limits).unwrap();
        let err = c.eval(&ctx()).unwrap_err();
        assert!(
            matches!(err.kind, expr::EvalErrorKind::StepLimit(10_000)),
            "{src}: {err}"
        );
    }
    // a counted loop costs a bounded number of steps per iteration (11 here: the
    // iteration, the condition's three nodes, the block, `s += i` and `i++` three each):
    // 500 iterations fit in 10 000 steps, 1000 do not
    let count = |n: u32| {
        let src =
            format!("@{{ int s = 0; for (int i = 0; i < {n}; i++) {{ s += i; }} return s; }}");
        expr::compile_with(&src, origin(), &limits)
            .unwrap()
            .eval(&ctx())
            .is_ok()
    };
    assert!(count(500));
    assert!(!count(1000));
}

/// A catch does not hide that the body was streamed past the policy: that stays an error.
#[test]
fn a_catch_cannot_swallow_a_streamed_body() {
    let mut c = ctx();
    let stream = http_body_util::Empty::<bytes::Bytes>::new();
    c.request.body = Some(expr::Body::payload(certgate::body::Payload::streamed(
        stream,
    )));
    let error = compile(
        r#"@{ try { return context.Request.Body.As<string>(preserveContent: true).Length > 0; } catch { return true; } }"#,
    )
    .eval(&c)
    .unwrap_err();
    assert_eq!(error.kind, expr::EvalErrorKind::StreamedBody);
}

/// `certgate eval` runs the new constructs and reports what is not implemented.
#[test]
fn certgate_eval_runs_new_syntax() {
    let eval = |src: &str| {
        Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["eval", "--now", "2026-11-28T16:00:00Z", src])
            .output()
            .expect("run certgate")
    };
    let out = eval(
        r#"@{ var parts = new[] { "a", "b", "c" }; string r = ""; for (int i = parts.Length - 1; i >= 0; i--) { r += parts[i]; } switch (r) { case "cba": return r + "!"; default: return "?"; } }"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#""cba!""#);

    let out = eval(
        r#"@{ try { throw new Exception("x"); } catch (Exception e) { return e.Message.Length; } }"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    let out = eval(
        r#"@{ var d = new Dictionary<string, List<int>> { ["a"] = new List<int> { 1 } }; d["a"].Add(2); return d["a"]; }"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: String = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect();
    assert_eq!(printed, "[1,2]");

    let out = eval(r#"@(new Uri("http://h") { })"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("certgate does not implement initializers of 'Uri'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
