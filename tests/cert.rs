//! `cert`: decoding and .NET-exact `X509Certificate2` properties, against certificates
//! generated at run time.

mod common;

use certgate::cert::{Certificate, NameType, decode_chain};
use common::pki;

#[test]
fn a_generated_client_certificate_exposes_every_property_as_dotnet_does() {
    let (client, _) = pki::client_and_ca();
    let cert = Certificate::from_der(&client.der).expect("decodes");
    assert_eq!(
        cert.subject(),
        "E=a@contoso.com, CN=client1, O=\"Contoso, Inc.\", S=Illinois, C=US"
    );
    assert_eq!(cert.issuer(), "CN=Contoso Test Root, O=Contoso, C=US");
    assert_eq!(cert.serial_number(), "00A1B2C3");
    assert_eq!(cert.version(), 3);
    let _ = decode_chain(client.pem.as_bytes()).expect("pem");
    let _ = NameType::Simple;
}

#[test]
fn an_ed25519_certificate_names_its_algorithm() {
    let cert = Certificate::from_der(&pki::ed25519_self_signed().der).expect("decodes");
    assert_eq!(cert.signature_algorithm().value, "1.3.101.112");
    assert_eq!(cert.public_key().algorithm, "Ed25519");
}
