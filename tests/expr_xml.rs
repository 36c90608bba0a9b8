//! System.Xml.Linq in policy expressions: expected strings are what .NET's `XNode.ToString()`
//! writes (https://learn.microsoft.com/dotnet/api/system.xml.linq.xnode.tostring):
//! indented by two spaces, no XML declaration, `<a />` for an element without content;
//! `ToString(SaveOptions.DisableFormatting)` writes no whitespace. Line breaks are `\n`
//! (the Linux gateway's `Environment.NewLine`).

#[path = "common/expr.rs"]
mod common_expr;

use std::process::Command;

use certgate::expr::{self, Compiled, Context, EvalErrorKind, Limits, Origin, Value};
use time::macros::datetime;

const ORDER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<order id="42">
  <customer>Ada</customer>
  <items>
    <item sku="a">2</item>
    <item sku="b">3</item>
  </items>
</order>"#;

const SOAP: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetPrice xmlns="urn:shop"><Item>Apple</Item></GetPrice></s:Body></s:Envelope>"#;

fn ctx(body: &str) -> Context {
    let mut c = Context::new(datetime!(2026-11-28 16:00:00 UTC));
    c.request.method = "POST".into();
    c.request.body = Some(expr::Body::new(body.as_bytes().to_vec()));
    c.response.body = Some(expr::Body::new(SOAP.as_bytes().to_vec()));
    c
}

fn at() -> Origin {
    Origin::new("policies/xml.xml", 7, 12)
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

fn eval_err_on(body: &str, src: &str) -> EvalErrorKind {
    common_expr::run_err(src, at(), &ctx(body)).kind
}

fn load_err(src: &str) -> String {
    common_expr::load_err(src, at())
}

#[test]
fn body_as_xdocument_reads_elements_attributes_and_values() {
    let doc = "context.Request.Body.As<XDocument>(preserveContent: true)";
    assert_eq!(
        text(&format!("@({doc}.Root.Element(\"customer\").Value)")),
        "Ada"
    );
    assert_eq!(
        text(&format!("@({doc}.Root.Attribute(\"id\").Value)")),
        "42"
    );
    assert_eq!(
        text(&format!("@((int){doc}.Root.Attribute(\"id\") + 1)")),
        "43"
    );
    assert_eq!(text(&format!("@({doc}.Root.Name.LocalName)")), "order");
    assert_eq!(text(&format!("@({doc}.Root.Name.ToString())")), "order");
    assert_eq!(text(&format!("@({doc}.Root.Name == \"order\")")), "True");
    assert_eq!(text(&format!("@({doc}.Root.HasElements)")), "True");
    // the element's Value is all the text below it
    assert_eq!(
        text(&format!("@({doc}.Root.Element(\"items\").Value)")),
        "23"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Root.Element(\"items\").Element(\"item\").Parent.Name.LocalName)"
        )),
        "items"
    );
    assert_eq!(text(&format!("@({doc}.Root.Parent == null)")), "True");
    assert_eq!(
        text(&format!(
            "@({doc}.Element(\"order\").Attribute(\"id\").Value)"
        )),
        "42"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Root.Element(\"items\").Attribute(\"sku\") == null)"
        )),
        "True"
    );
}

#[test]
fn missing_elements_are_null_as_in_dotnet() {
    let doc = "context.Request.Body.As<XDocument>()";
    assert_eq!(
        text(&format!("@({doc}.Root.Element(\"missing\") == null)")),
        "True"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Root.Element(\"missing\")?.Value ?? \"none\")"
        )),
        "none"
    );
    assert_eq!(
        text(&format!(
            "@((string){doc}.Root.Element(\"missing\") ?? \"cast null\")"
        )),
        "cast null"
    );
    assert!(matches!(
        eval_err_on(ORDER, &format!("@({doc}.Root.Element(\"missing\").Value)")),
        EvalErrorKind::NullReference(_)
    ));
    // (int) of a null element throws ArgumentNullException in .NET
    assert!(
        eval_err_on(ORDER, &format!("@((int){doc}.Root.Element(\"missing\"))"))
            .to_string()
            .contains("null")
    );
}

#[test]
fn linq_over_elements_and_descendants() {
    let doc = "context.Request.Body.As<XDocument>()";
    assert_eq!(text(&format!("@({doc}.Root.Descendants().Count())")), "4");
    assert_eq!(text(&format!("@({doc}.Descendants().Count())")), "5");
    assert_eq!(
        text(&format!("@({doc}.Descendants(\"item\").Sum(i => (int)i))")),
        "5"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Descendants(\"item\").Where(i => i.Attribute(\"sku\").Value == \"b\").First().Value)"
        )),
        "3"
    );
    assert_eq!(
        text(&format!(
            "@(string.Join(\",\", {doc}.Root.Elements().Select(e => e.Name.LocalName)))"
        )),
        "customer,items"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Descendants(\"item\").Any(i => (string)i.Attribute(\"sku\") == \"c\"))"
        )),
        "False"
    );
    assert_eq!(
        text(&format!(
            "@({doc}.Descendants(\"nope\").FirstOrDefault() == null)"
        )),
        "True"
    );
    assert_eq!(
        text(&format!(
            "@{{ var n = 0; foreach (var a in {doc}.Root.Element(\"items\").Elements(\"item\")) {{ n += a.Attributes().Count(); }} return n; }}"
        )),
        "2"
    );
}

#[test]
fn set_body_rewrites_a_document_and_writes_it_indented() {
    let out = text(
        r#"@{
            var doc = context.Request.Body.As<XDocument>(preserveContent: true);
            var customer = doc.Root.Element("customer");
            customer.Value = "Bob & Co";
            doc.Root.Attribute("id").Value = "43";
            doc.Root.SetAttributeValue("status", "paid");
            doc.Root.Element("items").Add(new XElement("item", new XAttribute("sku", "c"), 1));
            doc.Root.SetElementValue("note", true);
            return doc.ToString();
        }"#,
    );
    assert_eq!(
        out,
        "<order id=\"43\" status=\"paid\">\n  <customer>Bob &amp; Co</customer>\n  <items>\n    <item sku=\"a\">2</item>\n    <item sku=\"b\">3</item>\n    <item sku=\"c\">1</item>\n  </items>\n  <note>true</note>\n</order>"
    );
}

#[test]
fn remove_and_set_null_take_nodes_out() {
    let out = text(
        r#"@{
            var doc = context.Request.Body.As<XDocument>();
            doc.Descendants("item").Remove();
            doc.Root.SetAttributeValue("id", null);
            doc.Root.SetElementValue("customer", null);
            return doc.ToString(SaveOptions.DisableFormatting);
        }"#,
    );
    // the last node removed leaves no content: <items /> (XContainer.RemoveNode)
    assert_eq!(out, "<order><items /></order>");
    assert_eq!(
        text(
            r#"@{ var e = XElement.Parse("<r a='1'><x/></r>"); e.Attribute("a").Remove(); e.Element("x").Remove(); return e.ToString(); }"#
        ),
        "<r />"
    );
    assert!(
        eval_err_on(
            ORDER,
            r#"@{ var e = new XElement("a"); e.Remove(); return ""; }"#
        )
        .to_string()
        .contains("The parent is missing")
    );
}

#[test]
fn tostring_as_the_dotnet_documentation_shows() {
    // XNode.ToString(): new XElement("Root", new XElement("Child1", 1))
    assert_eq!(
        text(r#"@(new XElement("Root", new XElement("Child1", 1)).ToString())"#),
        "<Root>\n  <Child1>1</Child1>\n</Root>"
    );
    // XNode.ToString(SaveOptions): XElement.Parse("<Root><Child/></Root>")
    assert_eq!(
        text(
            r#"@(XElement.Parse("<Root><Child/></Root>").ToString(SaveOptions.DisableFormatting))"#
        ),
        "<Root><Child /></Root>"
    );
    assert_eq!(
        text(r#"@(XElement.Parse("<Root><Child/></Root>").ToString(SaveOptions.None))"#),
        "<Root>\n  <Child />\n</Root>"
    );
    // an element with empty text is not empty
    assert_eq!(
        text(r#"@(XElement.Parse("<a></a>").ToString())"#),
        "<a></a>"
    );
    assert_eq!(text(r#"@(XElement.Parse("<a></a>").IsEmpty)"#), "False");
    assert_eq!(text(r#"@(XElement.Parse("<a/>").IsEmpty)"#), "True");
    // string concatenation writes the element as ToString() does
    assert_eq!(text(r#"@("x" + new XElement("a", "b"))"#), "x<a>b</a>");
}

#[test]
fn mixed_content_is_not_indented() {
    assert_eq!(
        text(r#"@(XElement.Parse("<p>Hello <b>world</b><i/><q><r/></q></p>").ToString())"#),
        "<p>Hello <b>world</b><i /><q><r /></q></p>"
    );
    assert_eq!(
        text(
            r#"@{ var e = XElement.Parse("<r a='1'><x>1</x></r>"); e.SetElementValue("y", 2.5); e.Add(new XElement("z"), "t"); return e.ToString(); }"#
        ),
        "<r a=\"1\">\n  <x>1</x>\n  <y>2.5</y>\n  <z />t</r>"
    );
    assert_eq!(
        text(
            r#"@(XDocument.Parse("<?xml version='1.0'?><!--c--><r><!--d--><a>1</a><![CDATA[x]]></r>").ToString())"#
        ),
        "<!--c-->\n<r>\n  <!--d-->\n  <a>1</a><![CDATA[x]]></r>"
    );
}

#[test]
fn text_and_attributes_are_escaped_as_xmlwriter_does() {
    assert_eq!(
        text(
            r#"@(new XElement("a", new XAttribute("q", "x\"<&>\t\n"), "1 < 2 & 3 > 2 \"'").ToString())"#
        ),
        "<a q=\"x&quot;&lt;&amp;&gt;&#x9;&#xA;\">1 &lt; 2 &amp; 3 &gt; 2 \"'</a>"
    );
    assert_eq!(
        text(r#"@(new XAttribute("a", "x\"y").ToString())"#),
        "a=\"x&quot;y\""
    );
    assert_eq!(
        text(r#"@(XElement.Parse("<a b='&lt;&#65;'>&amp;&#x42;</a>").Value)"#),
        "&B"
    );
    // XML cannot hold U+0001: .NET's writer throws
    assert!(
        eval_err_on(ORDER, "@(new XElement(\"a\", \"\\u0001\").ToString())")
            .to_string()
            .contains("invalid character")
    );
}

#[test]
fn values_become_text_as_xmlconvert_writes_them() {
    assert_eq!(
        text(r#"@(new XElement("a", true, 1.5, " ", 7L, 'c').ToString())"#),
        "<a>true1.5 7c</a>"
    );
    assert_eq!(
        text(
            r#"@{ var e = new XElement("a"); e.SetValue(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc)); return e.Value; }"#
        ),
        "2024-01-02T03:04:05Z"
    );
    assert_eq!(text(r#"@((bool)XElement.Parse("<a> 1 </a>"))"#), "True");
    assert_eq!(text(r#"@((double)XElement.Parse("<a>INF</a>"))"#), "∞");
    assert!(matches!(
        eval_err_on(ORDER, r#"@((int)XElement.Parse("<a>x</a>"))"#),
        EvalErrorKind::Format(_)
    ));
}

#[test]
fn elements_are_shared_and_copied_when_added_elsewhere() {
    assert_eq!(
        text(
            r#"@{ var doc = context.Request.Body.As<XDocument>(); var c = doc.Root.Element("customer"); c.Value = "Bob"; return doc.Root.Element("customer").Value; }"#
        ),
        "Bob"
    );
    // an element that has a parent is copied by Add and the constructors
    assert_eq!(
        text(
            r#"@{ var d = XElement.Parse("<r><a/></r>"); var c = new XElement("c", d.Element("a")); d.Element("a").SetValue("v"); return c.ToString() + d.ToString(SaveOptions.DisableFormatting); }"#
        ),
        "<c>\n  <a />\n</c><r><a>v</a></r>"
    );
    assert_eq!(
        text(
            r#"@{ var a = new XElement("a"); a.Add(a); return a.ToString(SaveOptions.DisableFormatting); }"#
        ),
        "<a><a /></a>"
    );
    assert_eq!(
        text(
            r#"@(new XDocument(new XElement("r", new XElement(XElement.Parse("<x>1</x>")))).ToString())"#
        ),
        "<r>\n  <x>1</x>\n</r>"
    );
    assert!(
        eval_err_on(ORDER, r#"@{ var e = new XElement("a", new XAttribute("k", 1)); e.Add(new XAttribute("k", 2)); return ""; }"#)
            .to_string()
            .contains("Duplicate attribute")
    );
}

#[test]
fn namespaces_are_names_and_written_back_with_their_prefixes() {
    let soap = "context.Response.Body.As<XDocument>()";
    assert_eq!(
        text(&format!(
            "@({soap}.Root.Element(\"{{http://schemas.xmlsoap.org/soap/envelope/}}Body\").Elements().First().Name.NamespaceName)"
        )),
        "urn:shop"
    );
    assert_eq!(
        text(&format!(
            "@({soap}.Descendants(\"{{urn:shop}}Item\").First().Value)"
        )),
        "Apple"
    );
    assert_eq!(
        text(&format!("@({soap}.Descendants(\"Item\").Count())")),
        "0"
    );
    assert_eq!(
        text(&format!("@({soap}.Root.Name.ToString())")),
        "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    );
    assert_eq!(
        text(&format!("@({soap}.ToString())")),
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <s:Body>\n    <GetPrice xmlns=\"urn:shop\">\n      <Item>Apple</Item>\n    </GetPrice>\n  </s:Body>\n</s:Envelope>"
    );
    // an element written alone declares the prefixes its ancestors declared
    assert_eq!(
        text(&format!(
            "@({soap}.Root.Element(\"{{http://schemas.xmlsoap.org/soap/envelope/}}Body\").ToString())"
        )),
        "<s:Body xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <GetPrice xmlns=\"urn:shop\">\n    <Item>Apple</Item>\n  </GetPrice>\n</s:Body>"
    );
    // a namespace without a declaration is declared where it is first used
    assert_eq!(
        text(
            r#"@(new XElement("{urn:x}a", new XElement("{urn:x}b"), new XElement("c")).ToString())"#
        ),
        "<a xmlns=\"urn:x\">\n  <b />\n  <c xmlns=\"\" />\n</a>"
    );
    assert_eq!(
        text(r#"@(XElement.Parse("<p:a xmlns:p='urn:p'/>").Element("{urn:p}b") == null)"#),
        "True"
    );
}

#[test]
fn xnamespace_plus_a_local_name_is_a_name() {
    let soap = "context.Response.Body.As<XDocument>()";
    assert_eq!(
        text(&format!(
            r#"@{{ XNamespace s = "http://schemas.xmlsoap.org/soap/envelope/"; XNamespace shop = "urn:shop"; var d = {soap}; return d.Root.Element(s + "Body").Element(shop + "GetPrice").Element(shop + "Item").Value; }}"#
        )),
        "Apple"
    );
    assert_eq!(
        text(&format!(
            r#"@({soap}.Root.Name.Namespace == XNamespace.Get("http://schemas.xmlsoap.org/soap/envelope/"))"#
        )),
        "True"
    );
    assert_eq!(
        text(&format!("@({soap}.Root.Name.Namespace.NamespaceName)")),
        "http://schemas.xmlsoap.org/soap/envelope/"
    );
    assert_eq!(
        text(
            r#"@{ XNamespace ns = "urn:x"; return new XElement(ns + "a", new XAttribute(ns + "b", 1)).ToString(); }"#
        ),
        "<a p1:b=\"1\" xmlns:p1=\"urn:x\" xmlns=\"urn:x\" />"
    );
    assert_eq!(text(r#"@((XNamespace.None + "a").ToString())"#), "a");
}

#[test]
fn body_as_xelement_and_invalid_bodies_fail_closed() {
    assert_eq!(
        text("@(context.Request.Body.As<XElement>().Element(\"customer\").Value)"),
        "Ada"
    );
    for bad in [
        "{\"json\": 1}",
        "<a><b></a>",
        "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
        "<p:a/>",
    ] {
        assert!(
            matches!(
                eval_err_on(
                    bad,
                    "@(context.Request.Body.As<XDocument>().Root.Name.LocalName)"
                ),
                EvalErrorKind::Xml(_)
            ),
            "{bad}"
        );
    }
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert!(
        eval_err_on(
            &deep,
            "@(context.Request.Body.As<XDocument>().Root.Name.LocalName)"
        )
        .to_string()
        .contains("nested more than 64")
    );
    // an invalid name is XName.Get's error: at run time when it is computed
    assert!(matches!(
        eval_err_on(
            ORDER,
            r#"@(new XElement(context.Request.Method + " b").ToString())"#
        ),
        EvalErrorKind::Xml(_)
    ));
}

#[test]
fn what_certgate_lacks_is_refused_at_load_by_name() {
    assert!(
        load_err("@(XNamespace.Xml)").contains("certgate does not implement XNamespace.Xml yet"),
    );
    assert!(
        load_err("@(context.Request.Body.As<XDocument>().Root.Nodes().Count())")
            .contains("certgate does not implement XElement.Nodes yet"),
    );
    assert!(load_err(r#"@(XDocument.Load("a.xml"))"#).contains("not supported"));
    assert!(
        load_err("@(context.Request.Body.As<XNode>())")
            .contains("certgate does not implement Body.As<XNode>"),
    );
    // content that is neither XML nor a value is refused at load
    assert!(load_err(r#"@(new XElement("a", context.Request.Headers))"#).contains("XML content"));
    assert!(
        load_err(r#"@{ var e = new XElement("a"); e.Name = "b"; return ""; }"#)
            .contains("cannot assign to 'XElement.Name'")
    );
    assert!(
        load_err(r#"@{ var e = new XElement("a"); e.Value = 1; return ""; }"#).contains("string")
    );
    // a name written in the policy is checked at load
    assert_eq!(
        load_err(r#"@(new XElement("a b"))"#),
        "policies/xml.xml:7:27: error: expected an XML name ('local' or '{namespace}local'), found the name 'a b' is not a valid XML name"
    );
    assert!(
        load_err(r#"@(XElement.Parse("<a/>").Element("{urn:x"))"#).contains("not a valid XML name")
    );
}

#[test]
fn certgate_eval_rewrites_an_xml_body() {
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args([
            "eval",
            "--method",
            "POST",
            "--body",
            "<a><b>1</b></a>",
            r#"@{ var d = context.Request.Body.As<XDocument>(); d.Root.Element("b").Value = "2"; return d.ToString(SaveOptions.DisableFormatting); }"#,
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
        r#""<a><b>2</b></a>""#
    );
}

#[test]
fn the_fuzz_seed_runs() {
    // fuzz/make_seeds.py's "xml" seed of expr_compile
    let seed = r#"@{ XNamespace ns = "urn:x"; var d = context.Request.Body.As<XDocument>(preserveContent: true); var r = d.Root; r.Element("a")?.SetValue(1); r.SetAttributeValue("id", "2"); r.Add(new XElement(ns + "b", new XAttribute("k", "v"), "t")); d.Descendants("c").Remove(); return (string)r.Attribute("id") + r.Elements().Count(e => e.Name.LocalName == "b") + XElement.Parse("<x/>").ToString(SaveOptions.DisableFormatting) + d.ToString(); }"#;
    assert_eq!(
        run_on("<r><a>0</a><c/></r>", seed).to_string(),
        "21<x /><r id=\"2\">\n  <a>1</a>\n  <b k=\"v\" xmlns=\"urn:x\">t</b>\n</r>"
    );
}

#[test]
fn a_stored_iresponse_body_reads_as_xml() {
    let mut c = ctx(ORDER);
    let stored = expr::Response {
        status_code: 200,
        status_reason: "OK".into(),
        headers: expr::Headers::new(),
        body: Some(expr::Body::new(SOAP.as_bytes().to_vec())),
    };
    c.variables.insert("price".into(), Value::response(stored));
    let src = r#"@(((IResponse)context.Variables["price"]).Body.As<XDocument>().Descendants("{urn:shop}Item").First().Value)"#;
    match compile(src).eval(&c) {
        Ok(v) => assert_eq!(v.to_string(), "Apple"),
        Err(e) => panic!("{}", e.render()),
    }
}

#[test]
fn building_and_writing_are_bounded_by_steps_and_depth() {
    // an endless loop of nesting ends at the step limit (and the deep tree is dropped
    // without recursion)
    assert!(matches!(
        eval_err_on(
            ORDER,
            r#"@{ var e = new XElement("a"); while (true) { e = new XElement("a", e); } return ""; }"#
        ),
        EvalErrorKind::StepLimit(_)
    ));
    // writing a tree deeper than the writer's limit is an error, not a stack overflow
    assert!(
        eval_err_on(
            ORDER,
            r#"@{ var e = new XElement("a"); for (int i = 0; i < 300; i++) { e = new XElement("a", e); } return e.ToString(); }"#
        )
        .to_string()
        .contains("nested more than 256")
    );
    // a body is charged by its size and nodes: 5,000 elements are over 20,000 steps
    let limits = Limits {
        max_steps: 20_000,
        ..Limits::default()
    };
    let src = "@(context.Request.Body.As<XDocument>().ToString())";
    let c = expr::compile_with(src, Origin::new("p.xml", 1, 1), &limits).unwrap();
    assert!(c.eval(&ctx(ORDER)).is_ok());
    let many = format!("<r>{}</r>", "<a>1</a>".repeat(5_000));
    match c.eval(&ctx(&many)) {
        Ok(_) => panic!("5,000 elements within 20,000 steps"),
        Err(e) => assert!(matches!(e.kind, EvalErrorKind::StepLimit(_)), "{e}"),
    }
}

#[test]
fn every_cut_of_the_seed_and_the_body_is_an_error_or_a_value() {
    // the fuzz target's property on its seed, deterministically: no panic at load or at
    // run time, whatever the expression or body is cut to
    let seed = r#"@{ XNamespace ns = "urn:x"; var d = context.Request.Body.As<XDocument>(); d.Root.Add(new XElement(ns + "b", new XAttribute("k", "v"), "t")); return d.Root.Element("a")?.Value + d.ToString(); }"#;
    let body = "<r><a x='1'>0<![CDATA[c]]></a><!--n--><c/></r>";
    for (i, _) in seed.char_indices() {
        if let Ok(c) = expr::compile(&seed[..i], Origin::new("p.xml", 1, 1)) {
            let _ = c.eval(&ctx(body));
        }
    }
    let full = compile(seed);
    for (i, _) in body.char_indices() {
        let cut = format!("{}{}", &body[..i], &body[i + 1..]);
        let _ = full.eval(&ctx(&cut));
        let _ = full.eval(&ctx(&body[..i]));
    }
}
