//! The remaining expression types of issue 15: DateTimeOffset, APIM's BasicAuthCredentials,
//! form bodies and Encrypt/Decrypt, bitwise operators and smaller gaps of public APIM
//! samples. Expected values are what .NET gives for the same code (the docs cited where
//! the value may surprise).

#[path = "common/expr.rs"]
mod common_expr;

use certgate::expr::{self, Context, Origin, Url, Value};
use time::macros::datetime;

fn ctx() -> Context {
    let mut c = Context::new(datetime!(2026-11-28 16:00:00.5 UTC));
    c.request.method = "POST".into();
    c.request.url = Url::parse("https://api.contoso.com/orders/42?a=1")
        .unwrap()
        .into();
    c
}

fn origin() -> Origin {
    Origin::new("policies/test.xml", 3, 20)
}

fn run_in(src: &str, c: &Context) -> Value {
    common_expr::run(src, origin(), c)
}

fn run_err(src: &str) -> String {
    common_expr::run_err(src, origin(), &ctx()).to_string()
}

fn load_err(src: &str) -> String {
    common_expr::load_err(src, origin())
}

/// Each source with the C# `ToString()` of its value.
fn check_values(cases: &[(&str, &str)]) {
    check_values_in(cases, &ctx());
}

fn check_values_in(cases: &[(&str, &str)], c: &Context) {
    common_expr::assert_each(cases, |src| run_in(src, c).to_string());
}

#[test]
fn datetimeoffset_clock_unix_time_and_offsets() {
    check_values(&[
        // Now is UTC on Lambda, as UtcNow; ToString() is "G zzz" in the invariant culture
        (
            "@(DateTimeOffset.UtcNow.ToString())",
            "11/28/2026 16:00:00 +00:00",
        ),
        ("@(DateTimeOffset.Now.Offset)", "00:00:00"),
        ("@(DateTimeOffset.UtcNow.ToUnixTimeSeconds())", "1795881600"),
        (
            "@(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())",
            "1795881600500",
        ),
        (
            "@(DateTimeOffset.FromUnixTimeSeconds(1795881600).ToString(\"o\"))",
            "2026-11-28T16:00:00.0000000+00:00",
        ),
        (
            "@(DateTimeOffset.FromUnixTimeMilliseconds(-1).ToString(\"o\"))",
            "1969-12-31T23:59:59.9990000+00:00",
        ),
        // ToUnixTimeSeconds rounds down before 1970 (docs: "Unix time ... seconds that
        // have elapsed", computed from the ticks)
        (
            "@(DateTimeOffset.FromUnixTimeMilliseconds(-1).ToUnixTimeSeconds())",
            "-1",
        ),
        ("@(DateTimeOffset.UnixEpoch.ToUnixTimeSeconds())", "0"),
        // Parse keeps the written offset; the clock time and the UTC time differ
        (
            "@{ var d = DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\"); return d.Hour + \"|\" + d.UtcDateTime.Hour + \"|\" + d.Offset + \"|\" + d.DateTime; }",
            "18|16|02:00:00|11/28/2026 18:30:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToString())",
            "11/28/2026 18:30:00 +02:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00-05:30\").ToString(\"o\"))",
            "2026-11-28T18:30:00.0000000-05:30",
        ),
        // "u" and "r" are written in UTC (docs: standard date and time format strings)
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToString(\"u\"))",
            "2026-11-28 16:30:00Z",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToString(\"r\"))",
            "Sat, 28 Nov 2026 16:30:00 GMT",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToString(\"yyyy-MM-dd HH:mm z zz zzz K\"))",
            "2026-11-28 18:30 +2 +02 +02:00 +02:00",
        ),
        // without an offset, Parse takes the local one (UTC here)
        (
            "@(DateTimeOffset.Parse(\"2026-11-28 10:00:00\").ToString())",
            "11/28/2026 10:00:00 +00:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToUnixTimeSeconds())",
            "1795883400",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\").ToOffset(TimeSpan.FromHours(-1)).ToString())",
            "11/28/2026 15:30:00 -01:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T23:30:00+02:00\").Date)",
            "11/28/2026 00:00:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T23:30:00+02:00\").UtcTicks - DateTimeOffset.Parse(\"2026-11-28T23:30:00+02:00\").Ticks)",
            "-72000000000",
        ),
    ]);
}

#[test]
fn datetimeoffset_arithmetic_comparison_and_construction() {
    check_values(&[
        // Add* keep the offset
        (
            "@(DateTimeOffset.Parse(\"2026-01-31T10:00:00+02:00\").AddMonths(1).ToString())",
            "02/28/2026 10:00:00 +02:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T10:00:00+02:00\").AddHours(-12).AddMinutes(30).ToString())",
            "11/27/2026 22:30:00 +02:00",
        ),
        (
            "@((DateTimeOffset.Parse(\"2026-11-28T10:00:00+02:00\") + TimeSpan.FromDays(1)).ToString())",
            "11/29/2026 10:00:00 +02:00",
        ),
        // the same instant in two offsets: equal, and the difference is zero
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T10:00:00+02:00\") == DateTimeOffset.Parse(\"2026-11-28T08:00:00Z\"))",
            "True",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T10:00:00+02:00\") - DateTimeOffset.Parse(\"2026-11-28T07:00:00Z\"))",
            "01:00:00",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-28T10:00:00+02:00\") < DateTimeOffset.Parse(\"2026-11-28T08:00:01Z\"))",
            "True",
        ),
        (
            "@(DateTimeOffset.UtcNow.Subtract(DateTimeOffset.UnixEpoch).Days)",
            "20785",
        ),
        (
            "@(DateTimeOffset.UtcNow.CompareTo(DateTimeOffset.MaxValue))",
            "-1",
        ),
        (
            "@(new DateTimeOffset(new DateTime(2026, 11, 28, 16, 0, 0)).ToString())",
            "11/28/2026 16:00:00 +00:00",
        ),
        (
            "@(new DateTimeOffset(2026, 11, 28, 16, 0, 0, TimeSpan.FromHours(5.5)).ToString(\"o\"))",
            "2026-11-28T16:00:00.0000000+05:30",
        ),
        (
            "@{ DateTimeOffset d; if (DateTimeOffset.TryParse(\"nope\", out d)) { return \"parsed\"; } return d.ToString(); }",
            "01/01/0001 00:00:00 +00:00",
        ),
        (
            "@(DateTimeOffset.TryParse(\"2026-11-28T10:00:00+02:00\", out var d) ? d.Offset.Hours : -1)",
            "2",
        ),
        // a DateTime converts to a DateTimeOffset (C#'s implicit conversion)
        (
            "@(DateTimeOffset.UtcNow - DateTime.UtcNow.AddHours(-1))",
            "01:00:00",
        ),
        ("@(DateTimeOffset.UtcNow == DateTime.UtcNow)", "True"),
        (
            "@(DateTime.UtcNow.AddSeconds(1) > DateTimeOffset.UtcNow)",
            "True",
        ),
    ]);
    assert!(
        run_err("@(DateTimeOffset.FromUnixTimeSeconds(253402300800))")
            .contains("seconds must be between -62135596800 and 253402300799"),
    );
    assert!(
        run_err("@(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(15)))")
            .contains("Offset must be within plus or minus 14 hours."),
    );
    assert!(
        run_err("@(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromSeconds(30)))")
            .contains("Offset must be specified in whole minutes."),
    );
    assert!(run_err("@(DateTimeOffset.Parse(\"soon\"))").contains("is not a valid DateTimeOffset"));
    // a DateTime at offset zero is the same instant whatever its Kind
    check_values(&[(
        "@(new DateTimeOffset(DateTime.UtcNow, TimeSpan.Zero).ToString(\"o\"))",
        "2026-11-28T16:00:00.5000000+00:00",
    )]);
    // at another offset .NET's answer depends on the DateTime's Kind, which certgate does
    // not keep: refused at load when the offset is known, else when it runs
    assert!(
        load_err("@(new DateTimeOffset(DateTime.UtcNow, TimeSpan.FromHours(2)))")
            .contains("'new DateTimeOffset(DateTime, TimeSpan)' at an offset other than zero"),
    );
    assert!(
        run_err("@{ var h = DateTime.UtcNow.Hour; return new DateTimeOffset(DateTime.UtcNow, TimeSpan.FromHours(h - 10)); }")
            .contains("takes only TimeSpan.Zero; write new DateTimeOffset(year, month, day"),
    );
}

fn with_authorization(value: &str) -> Context {
    let mut c = ctx();
    c.request.headers.append("Authorization", value);
    c
}

#[test]
fn basic_credentials_of_an_authorization_header() {
    // "alice:s3cr:et" in base64; the toolkit's parser splits at the last ':'
    // (Azure/azure-api-management-policy-toolkit, BasicAuthCredentialsParser)
    let c = with_authorization("Basic YWxpY2U6czNjcjpldA==");
    check_values_in(
        &[
            (
                r#"@(context.Request.Headers.GetValueOrDefault("Authorization", "").AsBasic().UserId)"#,
                "alice:s3cr",
            ),
            (
                r#"@(context.Request.Headers.GetValueOrDefault("Authorization", "").AsBasic().Password)"#,
                "et",
            ),
            (
                r#"@{ BasicAuthCredentials creds; if (context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseBasic(out creds)) { return creds.UserId + "/" + creds.Password; } return "none"; }"#,
                "alice:s3cr/et",
            ),
            (
                r#"@(context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseBasic(out var b) && b.Password == "et")"#,
                "True",
            ),
        ],
        &c,
    );
    // "Aladdin:open sesame" of RFC 7617, ISO-8859-1 bytes kept as characters
    check_values(&[
        (
            r#"@("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".AsBasic().Password)"#,
            "open sesame",
        ),
        (r#"@("Basic 6Ww6dA==".AsBasic().UserId)"#, "él"),
    ]);
    // extension methods take a null string: no header gives null and false
    check_values(&[
        (
            r#"@(context.Request.Headers.GetValueOrDefault("Authorization").AsBasic() == null)"#,
            "True",
        ),
        (
            r#"@(context.Request.Headers.GetValueOrDefault("Authorization").TryParseBasic(out var b) || b != null)"#,
            "False",
        ),
        (
            r#"@(context.Request.Headers.GetValueOrDefault("Authorization").AsJwt() == null)"#,
            "True",
        ),
    ]);
    // malformed: null from AsBasic, false and null from TryParseBasic
    for header in [
        "",
        "   ",
        "Bearer YWxpY2U6eA==",
        "basic YWxpY2U6eA==",
        "Basic ",
        "Basic notBase64!",
        "Basic YWxpY2U=",
        "Basic OnB3",
    ] {
        let c = with_authorization(header);
        check_values_in(
            &[
                (
                    r#"@(context.Request.Headers.GetValueOrDefault("Authorization", "").AsBasic() == null)"#,
                    "True",
                ),
                (
                    r#"@(context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseBasic(out var b) + "|" + (b == null))"#,
                    "False|True",
                ),
            ],
            &c,
        );
    }
}

fn with_body(body: &str) -> Context {
    let mut c = ctx();
    c.request.body = Some(expr::Body::new(body.as_bytes().to_vec()));
    c
}

#[test]
fn form_bodies_read_as_dictionaries_and_written_back() {
    // the policy toolkit's own case (Azure/azure-api-management-policy-toolkit, MockBody
    // tests): repeated names keep every value, `+` is a space, a name alone is ""
    let c = with_body("a=1&a=2&b=x+y&c=%26%3D&d&&e=caf%C3%A9");
    check_values_in(
        &[
            (
                "@(context.Request.Body.AsFormUrlEncodedContent(preserveContent: true).Count)",
                "5",
            ),
            (
                r#"@{ var form = context.Request.Body.AsFormUrlEncodedContent(true); return string.Join("|", form["a"]) + ";" + form["b"][0] + ";" + form["c"][0] + ";" + form["d"][0].Length + ";" + form["e"][0]; }"#,
                "1|2;x y;&=;0;café",
            ),
            (
                r#"@{ IDictionary<string, IList<string>> form = context.Request.Body.AsFormUrlEncodedContent(preserveContent: true); return string.Join(",", form.Keys) + " " + form.ContainsKey("A"); }"#,
                "a,b,c,d,e False",
            ),
            // written back as the toolkit's UrlContentEncoder does: name=value pairs in
            // order, percent-encoded
            (
                "@(context.Request.Body.AsFormUrlEncodedContent(preserveContent: true).ToQueryString())",
                "a=1&a=2&b=x%20y&c=%26%3D&d=&e=caf%C3%A9",
            ),
            (
                r#"@{ var form = context.Request.Body.AsFormUrlEncodedContent(true); form.Remove("a"); form["b"] = new List<string> { "z" }; return form.ToFormUrlEncodedContent(); }"#,
                "b=z&c=%26%3D&d=&e=caf%C3%A9",
            ),
            // preserveContent kept the body for As<string>
            ("@(context.Request.Body.As<string>().Length)", "37"),
        ],
        &c,
    );
    // without preserveContent the body is consumed, as As<string>() does
    let c = with_body("a=1");
    check_values_in(
        &[(
            "@(context.Request.Body.AsFormUrlEncodedContent()[\"a\"][0])",
            "1",
        )],
        &c,
    );
    assert!(c.request.body.as_ref().unwrap().is_consumed());
    let c = with_body("");
    check_values_in(
        &[(
            "@(context.Request.Body.AsFormUrlEncodedContent().ToQueryString() == null)",
            "True",
        )],
        &c,
    );
    assert!(
        load_err("@(context.Request.Body.AsFormUrlEncodedContent(1))")
            .contains("cannot convert int to bool"),
    );
}

/// NIST SP 800-38A, F.2.1: CBC-AES128 key, IV, and the first plaintext block with its
/// ciphertext.
const NIST_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const NIST_IV: &str = "000102030405060708090a0b0c0d0e0f";

fn hex_bytes(hex: &str) -> String {
    let bytes: Vec<String> = (0..hex.len())
        .step_by(2)
        .map(|i| format!("0x{}", &hex[i..i + 2]))
        .collect();
    format!("new byte[] {{ {} }}", bytes.join(", "))
}

#[test]
fn encrypt_and_decrypt_with_aes_cbc() {
    let key = hex_bytes(NIST_KEY);
    let iv = hex_bytes(NIST_IV);
    let block = hex_bytes("6bc1bee22e409f96e93d7e117393172a");
    let cases = [
        // the NIST block, then PKCS#7's whole padding block (.NET's default padding)
        (
            format!("@(BitConverter.ToString({block}.Encrypt(\"Aes\", {key}, {iv})))"),
            "76-49-AB-AC-81-19-B2-46-CE-E9-8E-9B-12-E9-19-7D-89-64-E0-B1-49-C1-0B-7B-68-2E-6E-39-AA-EB-73-1C"
                .to_owned(),
        ),
        // without padding, exactly NIST's ciphertext
        (
            format!(
                "@{{ var aes = System.Security.Cryptography.Aes.Create(); aes.Key = {key}; aes.IV = {iv}; aes.Padding = PaddingMode.None; return BitConverter.ToString({block}.Encrypt(aes)); }}"
            ),
            "76-49-AB-AC-81-19-B2-46-CE-E9-8E-9B-12-E9-19-7D".to_owned(),
        ),
        // a round trip: the algorithm object's own random key, and the name overload
        (
            "@{ var aes = Aes.Create(); var secret = Encoding.UTF8.GetBytes(\"client-cert:CN=alice\"); var c = secret.Encrypt(aes); return c.Length + \"|\" + Encoding.UTF8.GetString(c.Decrypt(aes)) + \"|\" + Encoding.UTF8.GetString(c.Decrypt(\"AES\", aes.Key, aes.IV)); }".to_owned(),
            "32|client-cert:CN=alice|client-cert:CN=alice".to_owned(),
        ),
        (
            format!(
                "@{{ SymmetricAlgorithm aes = new AesManaged(); var c = new byte[0].Encrypt(aes, {key}, {iv}); return c.Length + \"|\" + c.Decrypt(aes, {key}, {iv}).Length + \"|\" + aes.KeySize + \"|\" + aes.Mode + \"|\" + aes.Padding + \"|\" + aes.BlockSize; }}"
            ),
            // the object's own key (256 bits) is left as it was
            "16|0|256|CBC|PKCS7|128".to_owned(),
        ),
        (
            "@{ var aes = Aes.Create(); aes.KeySize = 128; var k = aes.Key; aes.GenerateKey(); return k.Length + \"|\" + aes.Key.Length + \"|\" + aes.IV.Length; }".to_owned(),
            "16|16|16".to_owned(),
        ),
    ];
    let mut failures = Vec::new();
    for (src, want) in &cases {
        let got = run_in(src, &ctx()).to_string();
        if got != *want {
            failures.push(format!("{src}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // wrong sizes and bad padding throw (CryptographicException), so the request fails
    let short_key = "new byte[] { 1, 2, 3 }";
    assert!(
        run_err(&format!("@({block}.Encrypt(\"Aes\", {short_key}, {iv}))"))
            .contains("Specified key is not a valid size for this algorithm.")
    );
    assert!(
        run_err(&format!("@({block}.Encrypt(\"Aes\", {key}, new byte[8]))"))
            .contains("Specified initialization vector (IV) does not match the block size")
    );
    assert!(
        run_err(&format!("@({block}.Decrypt(\"Aes\", {key}, {iv}))"))
            .contains("Padding is invalid and cannot be removed.")
    );
    assert!(
        run_err(
            "@{ var aes = Aes.Create(); aes.Padding = PaddingMode.None; return new byte[3].Encrypt(aes); }"
        )
        .contains("The input data is not a complete block.")
    );
    assert!(
        run_err("@{ var aes = Aes.Create(); aes.KeySize = 100; return 1; }")
            .contains("Specified key size is not valid for this algorithm.")
    );
    // a catch sees it, as C# code catching CryptographicException
    assert_eq!(
        run_in(
            &format!("@{{ try {{ return {block}.Decrypt(\"Aes\", {key}, {iv}).Length; }} catch (Exception e) {{ return -1; }} }}"),
            &ctx()
        )
        .to_string(),
        "-1"
    );
    // a cipher certgate lacks, named at load
    assert!(
        load_err(&format!("@({block}.Encrypt(\"TripleDES\", {key}, {iv}))"))
            .contains("certgate does not implement the cipher 'TripleDES' of Encrypt/Decrypt")
    );
    assert!(load_err("@(new Aes())").contains("abstract type 'Aes'"));
    assert!(
        load_err("@{ var aes = Aes.Create(); aes.BlockSize = 64; return 1; }")
            .contains("SymmetricAlgorithm.BlockSize")
    );
}

#[test]
fn bitwise_shift_and_unchecked_operators() {
    check_values(&[
        ("@(12 & 10)", "8"),
        ("@(12 | 3)", "15"),
        ("@(12 ^ 10)", "6"),
        ("@(~5)", "-6"),
        ("@(~5L)", "-6"),
        ("@(1 << 10)", "1024"),
        ("@(-16 >> 2)", "-4"),
        // the count is taken modulo 32 for int, 64 for long (C# spec, shift operators)
        ("@(1 << 33)", "2"),
        ("@(1L << 33)", "8589934592"),
        ("@(0x7fffffff << 1)", "-2"),
        ("@(0xFF & 0x0F | 0x30)", "63"),
        // precedence: `&` binds tighter than `^`, `^` than `|`, equality tighter than `&`
        ("@(1 | 2 ^ 3 & 1)", "3"),
        ("@((5 & 4) == 4)", "True"),
        ("@(1 + 2 << 1)", "6"),
        ("@(3 > 2 == true)", "True"),
        ("@(true & false | true ^ true)", "False"),
        ("@{ int z = 0; return false && 1 / z == 0; }", "False"),
        (
            "@{ int flags = 1; flags |= 4; flags &= ~1; flags <<= 1; return flags; }",
            "8",
        ),
        ("@{ var h = 17; h ^= 5; h >>= 1; return h; }", "10"),
        ("@{ long x = 1L << 40; return (int)(x >> 38); }", "4"),
        ("@(new List<List<int>>().Count >> 1)", "0"),
        // unchecked wraps, checked (certgate's default) throws
        ("@(unchecked(int.MaxValue + 1))", "-2147483648"),
        (
            "@{ int h = 17; foreach (var c in \"client-certificate\") { h = unchecked(h * 31 + c); } return h; }",
            "-1676776346",
        ),
        ("@(unchecked((int)4294967297L))", "1"),
        ("@(unchecked(-int.MinValue))", "-2147483648"),
        ("@(checked(2 + 3))", "5"),
    ]);
    // `&` on bool evaluates both sides, `&&` does not
    assert!(run_err("@{ int z = 0; return false & 1 / z == 0; }").contains("divide by zero"));
    assert!(run_err("@{ int z = 0; return true | 1 / z == 0; }").contains("divide by zero"));
    assert!(run_err("@{ int x = int.MaxValue; return checked(x + 1); }").contains("overflow"));
    assert!(
        run_err("@{ int h = 17; foreach (var c in \"client-certificate\") { h = h * 31 + c; } return h; }")
            .contains("overflow")
    );
    assert!(run_err("@{ long x = long.MaxValue; return (int)x; }").contains("overflow"));
    assert!(load_err("@(1.5 & 1)").contains("'&'"));
    assert!(load_err("@(1 << 2L)").contains("'<<'"));
    // Blocks: the same rule for every statement in them, restored after.
    check_values(&[(
        "@{ int h = 17; unchecked { foreach (var c in \"client-certificate\") { h = h * 31 + c; } } return h; }",
        "-1676776346",
    )]);
    assert!(
        run_err(
            "@{ int x = int.MaxValue; unchecked { x = x + 1; } checked { x = x - 1; } return x; }"
        )
        .contains("overflow")
    );
    assert!(load_err("@{ unchecked return 1; }").contains("expected"));
}

#[test]
fn smaller_gaps_of_public_samples() {
    check_values(&[
        // Array's static helpers
        (
            r#"@(Array.Exists(new[] { "a", "bb" }, s => s.Length == 2))"#,
            "True",
        ),
        (r#"@(Array.Exists(new string[0], s => true))"#, "False"),
        (r#"@(Array.IndexOf(new[] { "a", "bb", "c" }, "c"))"#, "2"),
        (r#"@(Array.IndexOf(new[] { 1, 2, 3 }, 4))"#, "-1"),
        (
            r#"@(Array.TrueForAll("a,b".Split(','), s => s.Length == 1))"#,
            "True",
        ),
        (
            r#"@(Array.Find(new[] { "x", "yy" }, s => s.Length > 1))"#,
            "yy",
        ),
        (
            r#"@(System.Array.FindAll(new[] { 1, 2, 3, 4 }, n => n % 2 == 0).Length)"#,
            "2",
        ),
        // Contains with a comparer, on arrays and sequences
        (
            r#"@(new[] { "Admin", "User" }.Contains("admin", StringComparer.OrdinalIgnoreCase))"#,
            "True",
        ),
        (
            r#"@(new[] { "Admin", "User" }.Contains("admin", StringComparer.Ordinal))"#,
            "False",
        ),
        (
            r#"@("a,B,c".Split(',').Where(s => s != "c").Contains("b", StringComparer.InvariantCultureIgnoreCase))"#,
            "True",
        ),
        // .NET's seeded sequence (Knuth's subtractive generator, Random.Net5CompatImpl):
        // new Random(0).Next() is 1559595546 on every .NET
        ("@(new Random(0).Next())", "1559595546"),
        ("@(new Random(42).Next())", "1434747710"),
        (
            "@{ var r = new Random(42); return r.Next(100) + \",\" + r.Next(100) + \",\" + r.Next(100); }",
            "66,14,12",
        ),
        ("@(new Random(7).Next(5, 5))", "5"),
    ]);
    assert_eq!(
        load_err("@(new { a = 1, b = \"x\" })"),
        "policies/test.xml:3:22: error: certgate does not implement anonymous types yet"
    );
    // the element type by name, not "the element type"
    assert_eq!(
        load_err(r#"@(new[] { "a" }.Contains(1))"#),
        "policies/test.xml:3:45: error: cannot convert int to string"
    );
    assert_eq!(
        load_err(r#"@(new[] { "a" }.Contains())"#),
        "policies/test.xml:3:36: error: 'string[].Contains' expects (string) or (string, StringComparer)"
    );
    assert!(
        load_err("@(Array.Sort(new[] { 1 }))")
            .contains("certgate does not implement Array.Sort yet")
    );
}

#[test]
fn certgate_eval_runs_the_new_types() {
    let eval = |src: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["eval", "--now", "2026-11-28T16:00:00Z", src])
            .output()
            .expect("run certgate");
        assert!(
            out.status.success(),
            "{src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        eval("@(DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds())"),
        "1795885200"
    );
    assert_eq!(
        eval("@(DateTimeOffset.Parse(\"2026-11-28T18:30:00+02:00\"))"),
        r#""2026-11-28T18:30:00+02:00""#
    );
    assert_eq!(
        eval(r#"@("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".AsBasic().UserId)"#),
        r#""Aladdin""#
    );
    assert_eq!(
        eval(
            r#"@{ var aes = Aes.Create(); return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes("x").Encrypt(aes).Decrypt(aes)); }"#
        ),
        r#""x""#
    );
    assert_eq!(eval("@(0xF0 >> 4 | 1 << 8)"), "271");
}

/// `Guid.Empty`, and "did you mean" hints for static members that name only the class's
/// own (a name of another class's static property is no hint).
#[test]
fn guid_empty_and_static_member_hints() {
    check_values(&[
        (
            "@(Guid.Empty.ToString())",
            "00000000-0000-0000-0000-000000000000",
        ),
        ("@(Guid.NewGuid() != Guid.Empty)", "True"),
    ]);
    let guid = load_err("@(Guid.MaxValue)");
    assert!(
        guid.contains("'MaxValue' is not a member of Guid") && !guid.contains("did you mean"),
        "{guid}"
    );
    let now = load_err("@(DateTime.UtcNo)");
    assert!(now.contains("did you mean 'UtcNow'?"), "{now}");
}

/// `context.RequestId` is a Guid (APIM's context table: "RequestId: Guid"), so Guid's
/// members and formats apply, and string members do not.
#[test]
fn request_id_is_a_guid() {
    let mut c = ctx();
    // API Gateway REST's request ids are GUIDs
    c.request_id = "c0ffee00-1111-2222-3333-444455556666".into();
    check_values_in(
        &[
            (
                "@(context.RequestId.ToString(\"N\"))",
                "c0ffee00111122223333444455556666",
            ),
            (
                "@(context.RequestId.ToString(\"B\"))",
                "{c0ffee00-1111-2222-3333-444455556666}",
            ),
            ("@(context.RequestId != Guid.Empty)", "True"),
            (
                "@(\"id-\" + context.RequestId)",
                "id-c0ffee00-1111-2222-3333-444455556666",
            ),
            (
                "@{ Guid id = context.RequestId; return id.ToByteArray()[0]; }",
                "0",
            ),
        ],
        &c,
    );
    // the local listener's: 32 hex digits
    c.request_id = "0123456789abcdef0123456789abcdef".into();
    check_values_in(
        &[(
            "@(context.RequestId.ToString())",
            "01234567-89ab-cdef-0123-456789abcdef",
        )],
        &c,
    );
    // an HTTP API's id is no GUID: the UUIDv8 of its SHA-256 (version 8, RFC 9562 variant)
    c.request_id = "JKJaXmPLvHcESHA=".into();
    check_values_in(
        &[(
            "@(context.RequestId.ToString())",
            "7e4ddb06-0a17-81af-bf2b-7f9aa7acf4f0",
        )],
        &c,
    );
    let substring = load_err("@(context.RequestId.Substring(0, 8))");
    assert!(
        substring.contains("'Substring' is not a member of Guid"),
        "{substring}"
    );
}

/// What APIM's allowed-types table leaves out is refused as not allowed, by its name,
/// also unqualified; what it allows and certgate lacks says "not implement ... yet".
#[test]
fn types_outside_the_table_are_named_as_not_allowed() {
    for (src, name) in [
        (
            "@{ var r = XmlReader.Create(new StringReader(\"<a/>\")); return \"\"; }",
            "XmlReader",
        ),
        ("@(new XmlDocument())", "XmlDocument"),
        ("@{ UriBuilder b = null; return \"\"; }", "UriBuilder"),
        ("@(new UriBuilder(\"https://a/\").Host)", "UriBuilder"),
        ("@(Environment.MachineName)", "Environment"),
        (
            "@(System.Xml.XmlReader.Create(\"x\"))",
            "System.Xml.XmlReader",
        ),
    ] {
        let e = load_err(src);
        assert!(
            e.contains(&format!(
                "the type '{name}' is not available: APIM does not allow this type"
            )),
            "{src}: {e}"
        );
    }
    let ip = load_err("@(IPAddress.Parse(\"10.0.0.1\"))");
    assert!(
        ip.contains("certgate does not implement") && ip.contains("IPAddress"),
        "{ip}"
    );
}

/// `new HMACSHA256 { Key = key }` is `new HMACSHA256(key)`: the same MAC as the
/// constructor's test in tests/expr_syntax.rs.
#[test]
fn hmac_takes_its_key_by_initializer() {
    check_values(&[(
        r#"@{ var h = new HMACSHA256 { Key = Encoding.UTF8.GetBytes("key") }; return Convert.ToBase64String(h.ComputeHash(Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog"))); }"#,
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
    )]);
    let other = load_err("@(new HMACSHA256 { Name = \"x\" })");
    assert!(
        other.contains("certgate does not implement initializers of 'HMACSHA256'"),
        "{other}"
    );
}

/// DateTime's members in APIM's table: `DayOfWeek` (an enum, as `(int)` too),
/// `DaysInMonth`, `IsLeapYear`. 2026-11-28 is a Saturday.
#[test]
fn day_of_week_days_in_month_and_leap_years() {
    check_values(&[
        ("@(DateTime.UtcNow.DayOfWeek)", "Saturday"),
        ("@((int)DateTime.UtcNow.DayOfWeek)", "6"),
        (
            "@(DateTime.UtcNow.DayOfWeek == DayOfWeek.Saturday || DateTime.UtcNow.DayOfWeek == DayOfWeek.Sunday ? \"closed\" : \"open\")",
            "closed",
        ),
        (
            "@(DateTime.UtcNow.AddDays(2).DayOfWeek.ToString())",
            "Monday",
        ),
        (
            "@(DateTimeOffset.Parse(\"2026-11-29T23:30:00-02:00\").DayOfWeek)",
            "Sunday",
        ),
        ("@((int)StringComparison.OrdinalIgnoreCase)", "5"),
        ("@(DateTime.DaysInMonth(2024, 2))", "29"),
        ("@(DateTime.DaysInMonth(2026, 2))", "28"),
        ("@(DateTime.IsLeapYear(1900))", "False"),
        ("@(DateTime.IsLeapYear(2000))", "True"),
    ]);
    assert!(
        run_err("@(DateTime.DaysInMonth(2026, 13))")
            .contains("Month must be between one and twelve.")
    );
    assert!(run_err("@(DateTime.IsLeapYear(0))").contains("Year must be between 1 and 9999."));
}

/// List<T>'s predicate methods, `Sort` (the default comparer: the culture's order for
/// strings) and `Reverse`; `FirstOrDefault` and `Find` give default(T) for a value
/// type (0, not null), and a KeyValuePair's default has null Key and Value.
#[test]
fn list_predicates_and_defaults_of_value_types() {
    check_values(&[
        ("@(new List<int> { 1, 2, 3 }.Exists(x => x > 2))", "True"),
        (
            "@(new List<int> { 1, 2, 3 }.TrueForAll(x => x > 1))",
            "False",
        ),
        (
            "@(new List<string> { \"a\", \"bb\" }.Find(s => s.Length == 2))",
            "bb",
        ),
        (
            "@(new List<int> { 1, 2, 3 }.FindAll(x => x > 1).Count)",
            "2",
        ),
        ("@(new List<int> { 1, 2, 3 }.Find(x => x > 5) + 1)", "1"),
        // Sort and Reverse change the list itself (another reference sees it)
        (
            "@{ var l = new List<string> { \"b\", \"A\", \"a\", \"B\" }; var same = l; l.Sort(); return string.Join(\",\", same); }",
            "a,A,b,B",
        ),
        (
            "@{ var l = new List<int> { 3, 1, 2 }; l.Sort(); l.Reverse(); return string.Join(\",\", l); }",
            "3,2,1",
        ),
        ("@(new[] { 1, 2 }.FirstOrDefault(x => x > 5))", "0"),
        ("@(new int[0].LastOrDefault())", "0"),
        (
            "@(new[] { \"a\" }.FirstOrDefault(x => x == \"b\") == null)",
            "True",
        ),
        (
            "@(context.Request.Headers.FirstOrDefault(h => h.Key == \"X-None\").Value == null)",
            "True",
        ),
    ]);
}

/// `string.Remove` and `Insert`, in UTF-16 units; `Remove(Length)` is the whole string
/// (.NET Core's bound).
#[test]
fn string_remove_and_insert() {
    check_values(&[
        ("@(\"Hello World\".Remove(5))", "Hello"),
        ("@(\"Hello World\".Remove(5, 1))", "HelloWorld"),
        ("@(\"abc\".Remove(3))", "abc"),
        ("@(\"Hello\".Insert(5, \" World\"))", "Hello World"),
        ("@(\"h😀llo\".Remove(1, 2))", "hllo"),
        ("@(\"h😀llo\".Insert(3, \"e\"))", "h😀ello"),
    ]);
    assert!(
        run_err("@(\"abc\".Remove(4))").contains("startIndex 4 is outside the string of length 3")
    );
    assert!(
        run_err("@(\"abc\".Remove(1, 5))")
            .contains("startIndex 1 + count 5 exceeds the string length 3")
    );
    assert!(run_err("@(\"abc\".Insert(1, null))").contains("'value' is null"));
}

/// `System.Uri` keeps its fragment and the text it was made from; `AbsoluteUri` and
/// `ToString()` write scheme and host in lower case and leave out a default port (the
/// values of .NET's Uri documentation for the same parts).
#[test]
fn uri_parts_fragment_and_authority() {
    let uri = "new Uri(\"HTTPS://Api.Contoso.com:8443/orders/7?x=1&y=2#top\")";
    check_values(&[
        (
            &format!("@({uri}.AbsoluteUri)"),
            "https://api.contoso.com:8443/orders/7?x=1&y=2#top",
        ),
        (
            &format!("@({uri}.ToString())"),
            "https://api.contoso.com:8443/orders/7?x=1&y=2#top",
        ),
        (&format!("@({uri}.Fragment)"), "#top"),
        (&format!("@({uri}.Authority)"), "api.contoso.com:8443"),
        (&format!("@({uri}.IsDefaultPort)"), "False"),
        (
            &format!("@({uri}.OriginalString)"),
            "HTTPS://Api.Contoso.com:8443/orders/7?x=1&y=2#top",
        ),
        (&format!("@({uri}.PathAndQuery)"), "/orders/7?x=1&y=2"),
        (
            "@(new Uri(\"https://a.example:443/p\").AbsoluteUri)",
            "https://a.example/p",
        ),
        (
            "@(new Uri(\"https://a.example:443/p\").IsDefaultPort)",
            "True",
        ),
        ("@(new Uri(\"http://a.example/\").Fragment == \"\")", "True"),
    ]);
}

/// A .NET member certgate lacks is named as such: "not implemented yet" for what APIM
/// allows, "not supported" for DateTime members its table leaves out, and only a typo is
/// "not a member".
#[test]
fn members_dotnet_has_and_certgate_lacks_are_named() {
    for (src, said) in [
        (
            "@(\"abc\".Normalize())",
            "certgate does not implement string.Normalize yet",
        ),
        (
            "@(new List<int>().BinarySearch(1))",
            "certgate does not implement List<int>.BinarySearch yet",
        ),
        (
            "@(TimeSpan.Zero.Multiply(2))",
            "certgate does not implement TimeSpan.Multiply yet",
        ),
        (
            "@(Math.Cbrt(8))",
            "certgate does not implement Math.Cbrt yet",
        ),
        (
            "@(context.RequestId.GetHashCode())",
            "certgate does not implement Guid.GetHashCode yet",
        ),
        (
            "@(DateTime.UtcNow.ToShortDateString())",
            "'DateTime.ToShortDateString' is not supported in policy expressions",
        ),
        (
            "@(DateTime.FromOADate(1))",
            "'DateTime.FromOADate' is not supported in policy expressions",
        ),
        (
            "@{ short s = 1; return s; }",
            "certgate does not implement the type 'short' yet",
        ),
        (
            "@(\"abc\".Lenght)",
            "'Lenght' is not a member of string; did you mean 'Length'?",
        ),
    ] {
        let e = load_err(src);
        assert!(e.contains(said), "{src}: {e}");
    }
}
