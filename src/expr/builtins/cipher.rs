//! APIM's `byte[].Encrypt` / `Decrypt` and the `Aes` object they may take: AES in CBC
//! mode, .NET's default, with PKCS#7 padding (or none), through RustCrypto's `aes` and
//! `cbc`. .NET's exceptions are `CryptographicException`s with the messages below.

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use super::super::diagnostic::EvalErrorKind as E;

/// `CipherMode.CBC` and `PaddingMode.PKCS7` / `None`, the values of .NET's enums.
pub(crate) const MODE_CBC: i32 = 1;
pub(crate) const PADDING_NONE: i32 = 1;
pub(crate) const PADDING_PKCS7: i32 = 2;
const BLOCK: usize = 16;

/// The state of a `SymmetricAlgorithm` object (`Aes.Create()`): what `Encrypt` uses.
#[derive(Debug, Clone)]
pub(crate) struct Symmetric {
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub mode: i32,
    pub padding: i32,
}

impl Symmetric {
    /// `Aes.Create()`: a random 256-bit key and IV, CBC, PKCS#7.
    pub(crate) fn new_aes() -> Result<Symmetric, E> {
        Ok(Symmetric {
            key: random(32)?,
            iv: random(BLOCK)?,
            mode: MODE_CBC,
            padding: PADDING_PKCS7,
        })
    }

    /// The `Key` setter: 128, 192 or 256 bits.
    pub(crate) fn set_key(&mut self, key: &[u8]) -> Result<(), E> {
        check_key(key)?;
        self.key = key.to_vec();
        Ok(())
    }

    /// The `IV` setter: one block.
    pub(crate) fn set_iv(&mut self, iv: &[u8]) -> Result<(), E> {
        check_iv(iv)?;
        self.iv = iv.to_vec();
        Ok(())
    }

    /// The `KeySize` setter: a new random key of that many bits.
    pub(crate) fn set_key_size(&mut self, bits: i64) -> Result<(), E> {
        match bits {
            128 | 192 | 256 => {
                self.key = random(bits as usize / 8)?;
                Ok(())
            }
            _ => Err(E::Cryptographic(
                "Specified key size is not valid for this algorithm.".into(),
            )),
        }
    }
}

/// Whether `name` is one .NET's `SymmetricAlgorithm.Create(name)` makes AES of
/// (CryptoConfig's names, which it compares ignoring case).
pub(crate) fn is_aes_name(name: &str) -> bool {
    [
        "Aes",
        "AesManaged",
        "AesCryptoServiceProvider",
        "System.Security.Cryptography.Aes",
        "System.Security.Cryptography.AesManaged",
        "System.Security.Cryptography.AesCryptoServiceProvider",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

fn check_key(key: &[u8]) -> Result<(), E> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        _ => Err(E::Cryptographic(
            "Specified key is not a valid size for this algorithm.".into(),
        )),
    }
}

fn check_iv(iv: &[u8]) -> Result<(), E> {
    if iv.len() == BLOCK {
        Ok(())
    } else {
        Err(E::Cryptographic(
            "Specified initialization vector (IV) does not match the block size for this algorithm."
                .into(),
        ))
    }
}

/// `Encrypt` (`encrypt`) or `Decrypt` of `data` with AES-CBC.
pub(crate) fn cbc(encrypt: bool, data: &[u8], s: &Symmetric) -> Result<Vec<u8>, E> {
    check_key(&s.key)?;
    check_iv(&s.iv)?;
    if s.mode != MODE_CBC {
        return Err(E::Cryptographic(
            "certgate encrypts in CipherMode.CBC only".into(),
        ));
    }
    let padded = match s.padding {
        PADDING_PKCS7 => true,
        PADDING_NONE => false,
        _ => {
            return Err(E::Cryptographic(
                "certgate pads with PaddingMode.PKCS7 or None only".into(),
            ));
        }
    };
    if !padded && !data.len().is_multiple_of(BLOCK) {
        return Err(E::Cryptographic(
            "The input data is not a complete block.".into(),
        ));
    }
    macro_rules! run {
        ($aes:ty) => {{
            let (key, iv) = (&s.key[..], &s.iv[..]);
            let bad = || E::Internal("AES key or IV length".into());
            if encrypt {
                let c = cbc::Encryptor::<$aes>::new_from_slices(key, iv).map_err(|_| bad())?;
                Ok(if padded {
                    c.encrypt_padded_vec_mut::<Pkcs7>(data)
                } else {
                    c.encrypt_padded_vec_mut::<NoPadding>(data)
                })
            } else {
                let c = cbc::Decryptor::<$aes>::new_from_slices(key, iv).map_err(|_| bad())?;
                let r = if padded {
                    c.decrypt_padded_vec_mut::<Pkcs7>(data)
                } else {
                    c.decrypt_padded_vec_mut::<NoPadding>(data)
                };
                // a ciphertext that is not whole blocks fails the same way in .NET
                r.map_err(|_| E::Cryptographic("Padding is invalid and cannot be removed.".into()))
            }
        }};
    }
    match s.key.len() {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    }
}

fn random(n: usize) -> Result<Vec<u8>, E> {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| E::Internal("the system's random generator failed".into()))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn aes(key: &str, iv: &str, padding: i32) -> Symmetric {
        Symmetric {
            key: hex(key),
            iv: hex(iv),
            mode: MODE_CBC,
            padding,
        }
    }

    /// NIST SP 800-38A, F.2.1 and F.2.2 (CBC-AES128), the four blocks without padding.
    #[test]
    fn nist_sp800_38a_cbc_aes128() {
        let s = aes(
            "2b7e151628aed2a6abf7158809cf4f3c",
            "000102030405060708090a0b0c0d0e0f",
            PADDING_NONE,
        );
        let plain = hex(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ));
        let cipher = hex(concat!(
            "7649abac8119b246cee98e9b12e9197d",
            "5086cb9b507219ee95db113a917678b2",
            "73bed6b8e3c1743b7116e69e22229516",
            "3ff1caa1681fac09120eca307586e1a7"
        ));
        assert_eq!(cbc(true, &plain, &s).unwrap(), cipher);
        assert_eq!(cbc(false, &cipher, &s).unwrap(), plain);
    }

    /// NIST SP 800-38A, F.2.5 (CBC-AES256), the first block.
    #[test]
    fn nist_sp800_38a_cbc_aes256() {
        let s = aes(
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "000102030405060708090a0b0c0d0e0f",
            PADDING_NONE,
        );
        let plain = hex("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(
            cbc(true, &plain, &s).unwrap(),
            hex("f58c4c04d6e5f1ba779eabfb5f7bfbd6")
        );
    }

    #[test]
    fn pkcs7_adds_a_whole_block_to_whole_blocks_and_checks_it() {
        let s = aes(
            "2b7e151628aed2a6abf7158809cf4f3c",
            "000102030405060708090a0b0c0d0e0f",
            PADDING_PKCS7,
        );
        let plain = hex("6bc1bee22e409f96e93d7e117393172a");
        let c = cbc(true, &plain, &s).unwrap();
        assert_eq!(c.len(), 32);
        // the first block is NIST's, the second the encrypted padding block
        assert_eq!(&c[..16], &hex("7649abac8119b246cee98e9b12e9197d")[..]);
        assert_eq!(cbc(false, &c, &s).unwrap(), plain);
        // CBC: a bit flipped in the first block flips it in the second's plaintext, whose
        // last byte, the padding length 0x10, becomes 0x11
        let mut bad = c.clone();
        bad[15] ^= 1;
        assert!(matches!(cbc(false, &bad, &s), Err(E::Cryptographic(_))));
        assert!(matches!(cbc(false, &c[..20], &s), Err(E::Cryptographic(_))));
    }
}
