#!/usr/bin/env python3
"""Writes seed corpora from examples/ and events/: bundle_decode, trust_files,
lambda_event, decode_chain and gateway_toml; and expr_compile's from the C# syntax below.

    python3 fuzz/make_seeds.py      # then: cargo +nightly fuzz run trust_files

corpus/ is git-ignored: the seeds are rebuilt from the sample deployment by this script.
"""
import base64, hashlib, json, os, re, struct

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "apigateway")
SPLIT = b"--8<--"


def read(rel):
    with open(os.path.join(EXAMPLE, rel), "rb") as f:
        return f.read()


def der(pem):
    """The DER of each PEM block, concatenated."""
    blocks = re.findall(rb"-----BEGIN [^-]+-----(.*?)-----END", pem, re.S)
    return b"".join(base64.b64decode(b"".join(b.split())) for b in blocks)


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def content_version(files):
    h = hashlib.sha256()
    for path, data in sorted(files.items()):
        p = path.encode()
        h.update(struct.pack(">Q", len(p)) + p + struct.pack(">Q", len(data)) + data)
    return h.digest()[:8].hex()


def bundle(files):
    return json.dumps({
        "format": "certgate-deployment",
        "format_version": 1,
        "version": content_version(files),
        "pushed_at": "2026-05-01T12:00:00Z",
        "files": [
            {"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest(),
             "content": base64.b64encode(d).decode()}
            for p, d in sorted(files.items())
        ],
    }, indent=2).encode()


def bundle_bin(files):
    """Format 2, as `trust push` writes it (src/source/bundle.rs)."""
    def text(t):
        b = t.encode()
        return struct.pack(">H", len(b)) + b
    items = sorted(files.items())
    out = b"certgate-deployment\n" + struct.pack(">I", 2)
    out += text(content_version(files)) + text("2026-05-01T12:00:00Z")
    out += struct.pack(">I", len(items))
    for p, d in items:
        out += text(p) + struct.pack(">Q", len(d)) + hashlib.sha256(d).digest()
    return out + b"".join(d for _, d in items)


root = read("ca/root/contoso-root.pem")
issuing = read("ca/intermediate/contoso-issuing.pem")
crl_issuing = read("crl/contoso-issuing.crl")
crl_root = read("crl/contoso-root.crl")
client = read("certificates/client1.pem")

# trust_files: root, intermediate, CRL, uploaded certificate[, more CRLs].
seeds = {
    "pem_issuing_crl": [root, issuing, crl_issuing, client],
    "pem_both_crls": [root, issuing, crl_issuing, client, crl_root],
    "der_issuing_crl": [der(root), der(issuing), der(crl_issuing), der(client)],
    "der_root_crl": [der(root), der(issuing), der(crl_root), der(client)],
    "der_both_crls": [der(root), der(issuing), der(crl_root), der(client), der(crl_issuing)],
    "der_crl_only": [b"", b"", der(crl_issuing)],
}
for name, parts in seeds.items():
    write("trust_files", name, SPLIT.join(parts))

# bundle_decode: the whole sample deployment, and the smallest one that loads.
everything = {}
for dirpath, _, names in os.walk(EXAMPLE):
    for n in names:
        full = os.path.join(dirpath, n)
        everything[os.path.relpath(full, EXAMPLE).replace(os.sep, "/")] = read(full)
minimal = {"gateway.toml": b"[deployment]\ncertificate_source = \"apigateway\"\n"}
write("bundle_decode", "sample_deployment", bundle(everything))
write("bundle_decode", "sample_deployment_bin", bundle_bin(everything))
write("bundle_decode", "minimal", bundle(minimal))
write("bundle_decode", "trust_der", bundle({
    "gateway.toml": minimal["gateway.toml"],
    "ca/root/r.der": der(root), "ca/intermediate/i.der": der(issuing),
    "crl/i.crl": der(crl_issuing), "crl/r.crl": der(crl_root), "certificates/c.der": der(client),
}))

# lambda_event: the sample events (all three shapes), but the 64 KiB bodies.
EVENTS = os.path.join(HERE, "..", "events")
for shape in sorted(os.listdir(EVENTS)):
    folder = os.path.join(EVENTS, shape)
    if not os.path.isdir(folder):
        continue
    for n in sorted(os.listdir(folder)):
        if n.endswith(".json") and not n.startswith("post-64k"):
            with open(os.path.join(folder, n), "rb") as f:
                write("lambda_event", f"{shape}_{n}", f.read())

# decode_chain: a chain in PEM and DER, and the TLS chain.
write("decode_chain", "client_chain_pem", client + issuing)
write("decode_chain", "client_der", der(client))
write("decode_chain", "chain_der", der(client) + der(issuing) + der(root))
write("decode_chain", "tls_pem", read("tls/api.pem"))

# gateway_toml: the examples' configs.
for example in ("apigateway", "alb"):
    with open(os.path.join(HERE, "..", "examples", example, "gateway.toml"), "rb") as f:
        write("gateway_toml", example, f.read())

# expr_compile: one seed per construct of the expression language, so that the fuzzer
# starts from every statement and expression form (tests/expr_syntax.rs runs them).
EXPRESSIONS = {
    "condition": '@(context.Request.Certificate != null && context.Request.Certificate.Verify())',
    "lambda": '@(context.Request.Headers.Any(h => h.Key.StartsWith("X-")))',
    "interpolation": '@($"{context.Request.Method}:{3.14159:F2}|{42:D5}")',
    "verbatim": '@(@"C:\\dir\\""q""")',
    "declarations": '@{ string[] parts; parts = "a,b".Split(\',\'); const string sep = "-"; int a = 1, b = 2; return parts[0] + sep + (a + b); }',
    "for": '@{ int t = 0; for (int i = 0, k = 10; i < k; i++, k--) { if (i == 2) { continue; } t += i; } return t; }',
    "while": '@{ int n = 0; while (true) { n += 7; if (n > 100) { break; } } return n; }',
    "foreach_break": '@{ foreach (var p in "x;y".Split(\';\')) { return p; } return ""; }',
    "try": '@{ string log = ""; try { throw new Exception("x"); } catch (Exception e) { log += e.Message; try { throw; } catch { } } finally { log += "f"; } return log; }',
    "switch": '@{ switch (context.Request.Method) { case "GET": case "HEAD": return "r"; case "POST": return "w"; default: return "o"; } }',
    "patterns": '@{ object o = context.Variables["x"]; if (o is string s) { return s; } return (o as string) ?? context.Variables.GetValueOrDefault<string>("y")?.ToUpper() ?? "none"; }',
    "new_arrays": '@(string.Join(",", new[] { "x", "y" }) + new byte[16].Length + new string[] { "a" }[0] + new int[3].Length)',
    "new_objects": '@(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).Add(new TimeSpan(1, 2, 3)).ToString("o"))',
    "qualified": '@(System.String.Join("-", System.Text.Encoding.UTF8.GetBytes("a")) + System.DateTime.UtcNow.Year + System.Net.WebUtility.UrlEncode("a b"))',
    "collections": '@{ var l = new List<string> { "a" }; var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { { "k", "v" }, ["a"] = "b" }; l[0] += "x"; if (d.TryGetValue("K", out var v)) { l.Add(v); } string F(string x) => x; return F(l[0]); }',
    "linq": '@(string.Join(",", context.Request.Headers.OrderBy(h => h.Key).ThenByDescending(h => h.Value.Length).GroupBy(h => h.Key[0]).Select(g => g.Key + ":" + g.Count())) + new[] { 1, 2 }.Aggregate(0L, (a, x) => a + x) + new[] { 3 }.Sum(x => x * 2) + new[] { "b" }.ToDictionary(x => x, x => 1).Count)',
    "xml": '@{ XNamespace ns = "urn:x"; var d = context.Request.Body.As<XDocument>(preserveContent: true); var r = d.Root; r.Element("a")?.SetValue(1); r.SetAttributeValue("id", "2"); r.Add(new XElement(ns + "b", new XAttribute("k", "v"), "t")); d.Descendants("c").Remove(); return (string)r.Attribute("id") + r.Elements().Count(e => e.Name.LocalName == "b") + XElement.Parse("<x/>").ToString(SaveOptions.DisableFormatting) + d.ToString(); }',
    "library": '@{ using (var h = new HMACSHA256(Encoding.UTF8.GetBytes("k"))) { return BitConverter.ToString(h.ComputeHash(new byte[1])) + Uri.EscapeDataString("a b") + WebUtility.HtmlDecode("&lt;") + (int.TryParse("1", out int n) ? n : 0) + Guid.Parse("{0f8fad5b-d9cb-469f-a165-70867728950e}").ToString("N") + string.Compare("a", "B", StringComparison.Ordinal) + context.Subscription?.Key + context.Variables.GetValueOrDefault("v", ""); } }',
    "datetimeoffset": '@{ var d = DateTimeOffset.Parse("2026-11-28T18:30:00+02:00"); DateTimeOffset e; DateTimeOffset.TryParse("x", out e); return d.ToOffset(TimeSpan.FromHours(-1)).AddDays(1).ToString("o") + d.ToUnixTimeSeconds() + (DateTimeOffset.UtcNow - d).TotalHours + (d > DateTimeOffset.FromUnixTimeMilliseconds(0)) + d.UtcDateTime + new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).Offset; }',
    "basic_and_form": '@{ BasicAuthCredentials c; var ok = context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseBasic(out c); var form = context.Request.Body.AsFormUrlEncodedContent(preserveContent: true); form["u"] = new List<string> { c?.UserId ?? "" }; return ok + form.ToQueryString() + "Basic YTpi".AsBasic()?.Password; }',
    "encrypt": '@{ var aes = System.Security.Cryptography.Aes.Create(); aes.Key = new byte[16]; aes.IV = new byte[16]; aes.Mode = CipherMode.CBC; aes.Padding = PaddingMode.PKCS7; var c = Encoding.UTF8.GetBytes("x").Encrypt(aes); return Convert.ToBase64String(c.Decrypt("Aes", aes.Key, aes.IV)); }',
    "bitwise": '@{ int f = 0x0F & ~1 | 2 ^ 3; f <<= 2; f >>= 1; f |= 1 << 3; long g = 1L << 40 >> 2; bool b = true & false | true ^ false; return unchecked(f * 31 + (int)g) + checked(f + 1) + (b ? 1 : 0); }',
    "gaps": '@("" + Array.Exists(new[] { "a" }, s => s == "a") + Array.IndexOf(new[] { 1, 2 }, 2) + new Random(42).Next(10) + new[] { "A" }.Contains("a", StringComparer.OrdinalIgnoreCase).ToString())',
    "blocks": '@{ int h = 17; unchecked { foreach (var c in "ab") { h = h * 31 + c; } } checked { h = h / 2; } void Log(string m) { if (m == null) { return; } } Log("x"); return h; }',
    "dates_and_ids": '@{ var w = DateTime.UtcNow.DayOfWeek; var o = JObject.Parse("{\\"a\\":1,\\"b\\":2}"); foreach (var p in o.Properties().Where(p => p.Name == "a").ToList()) { p.Remove(); } new List<int> { 1 }.Exists(x => x > 0); return context.RequestId.ToString("N") + (int)w + DateTime.DaysInMonth(2024, 2) + new HMACSHA256 { Key = new byte[1] }.ComputeHash(new byte[0]).Length + new DateTimeOffset(DateTime.UtcNow, TimeSpan.Zero) + o; }',
}
for name, text in EXPRESSIONS.items():
    write("expr_compile", name, text.encode())
