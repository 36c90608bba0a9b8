//! The public members .NET gives the types certgate implements, by name: a member certgate
//! lacks is then refused as "not implemented yet" (or, where APIM's table lists only some
//! members, as not allowed), never as a name that does not exist, which is kept for typos.
//! Only consulted once a member was not found, so the lists may include what certgate has.

use super::super::types::{Class, Obj, Ty};

/// What certgate says of a .NET member it does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lack {
    /// APIM allows it; certgate does not implement it yet.
    NotYet,
    /// APIM's allowed-types table leaves it out (it lists DateTime's members one by one).
    NotAllowed,
}

/// Whether `name` is a public member of `ty` in .NET, and what certgate says of it.
pub(super) fn lack(ty: &Ty, name: &str) -> Option<Lack> {
    let has = |names: &str| names.split_whitespace().any(|n| n == name);
    let instance = !matches!(ty, Ty::Static(_));
    let (allowed, other): (&[&str], &str) = match ty {
        Ty::Static(Class::DateTime) => (&[DATETIME_STATIC_ALLOWED], DATETIME_STATIC_OTHER),
        Ty::DateTime => (&[DATETIME_ALLOWED], DATETIME_OTHER),
        Ty::String => (&[STRING], ""),
        Ty::Static(Class::String) => (&[STRING_STATIC], ""),
        Ty::List(_) => (&[LIST], ""),
        Ty::Map(..) => (&[DICTIONARY], ""),
        Ty::Array(_) | Ty::Bytes => (&[ARRAY], ""),
        Ty::TimeSpan => (&[TIMESPAN], ""),
        Ty::Static(Class::TimeSpan) => (&[TIMESPAN_STATIC], ""),
        Ty::DateTimeOffset => (&[DATETIME_ALLOWED, DATETIMEOFFSET], ""),
        Ty::Static(Class::DateTimeOffset) => (&[DATETIMEOFFSET_STATIC], ""),
        Ty::Obj(Obj::Guid) => (&[GUID], ""),
        Ty::Static(Class::Guid) => (&[GUID_STATIC], ""),
        Ty::Obj(Obj::StringBuilder) => (&[STRINGBUILDER], ""),
        Ty::Obj(Obj::Random) => (&[RANDOM], ""),
        Ty::Obj(Obj::Uri) => (&[URI], ""),
        Ty::Static(Class::Uri) => (&[URI_STATIC], ""),
        Ty::Obj(Obj::Encoding) => (&[ENCODING], ""),
        Ty::Static(Class::Encoding) => (&[ENCODING_STATIC], ""),
        Ty::Int | Ty::Long | Ty::Double | Ty::Bool | Ty::Char => (&[NUMBER], ""),
        Ty::Static(Class::Int | Class::Long) => (&[INTEGER_STATIC], ""),
        Ty::Static(Class::Double) => (&[DOUBLE_STATIC], ""),
        Ty::Static(Class::Char) => (&[CHAR_STATIC], ""),
        Ty::Static(Class::Math) => (&[MATH], ""),
        Ty::Static(Class::Convert) => (&[CONVERT], ""),
        _ => (&[], ""),
    };
    if allowed.iter().any(|names| has(names)) || instance && has(OBJECT) {
        Some(Lack::NotYet)
    } else {
        has(other).then_some(Lack::NotAllowed)
    }
}

/// `System.Object`'s, on every instance.
const OBJECT: &str = "Equals GetHashCode GetType ToString";

const STRING: &str = "\
     Chars Clone CompareTo Contains CopyTo EndsWith EnumerateRunes GetEnumerator \
     GetTypeCode IndexOf IndexOfAny Insert IsNormalized LastIndexOf LastIndexOfAny Length \
     Normalize PadLeft PadRight Remove Replace ReplaceLineEndings Split StartsWith \
     Substring ToCharArray ToLower ToLowerInvariant ToUpper ToUpperInvariant Trim TrimEnd \
     TrimStart TryCopyTo";

const STRING_STATIC: &str = "\
     Compare CompareOrdinal Concat Copy Create Empty Equals Format Intern IsInterned \
     IsNullOrEmpty IsNullOrWhiteSpace Join";

const LIST: &str = "\
     Add AddRange AsReadOnly BinarySearch Capacity Clear Contains ConvertAll CopyTo Count \
     EnsureCapacity Exists Find FindAll FindIndex FindLast FindLastIndex ForEach \
     GetEnumerator GetRange IndexOf Insert InsertRange LastIndexOf Remove RemoveAll \
     RemoveAt RemoveRange Reverse Slice Sort ToArray TrimExcess TrueForAll";

const DICTIONARY: &str = "\
     Add Clear Comparer ContainsKey ContainsValue Count EnsureCapacity GetEnumerator \
     GetValueOrDefault Keys Remove TrimExcess TryAdd TryGetValue Values";

const ARRAY: &str = "\
     Clone CopyTo GetEnumerator GetLength GetLongLength GetLowerBound GetUpperBound \
     GetValue Initialize IsFixedSize IsReadOnly IsSynchronized Length LongLength Rank \
     SetValue SyncRoot";

/// DateTime's instance members in APIM's table ("ToString" and the rest are listed).
const DATETIME_ALLOWED: &str = "\
     Add AddDays AddHours AddMilliseconds AddMinutes AddMonths AddSeconds AddTicks \
     AddYears Date Day DayOfWeek DayOfYear Hour IsDaylightSavingTime Millisecond Minute \
     Month Second Subtract Ticks TimeOfDay Year";

const DATETIME_OTHER: &str = "\
     AddMicroseconds CompareTo Deconstruct GetDateTimeFormats GetTypeCode Kind \
     Microsecond Nanosecond ToBinary ToFileTime ToFileTimeUtc ToLocalTime \
     ToLongDateString ToLongTimeString ToOADate ToShortDateString ToShortTimeString \
     ToUniversalTime TryFormat";

const DATETIME_STATIC_ALLOWED: &str =
    "DaysInMonth IsLeapYear MaxValue MinValue Now Parse Today UtcNow";

const DATETIME_STATIC_OTHER: &str = "\
     Compare Equals FromBinary FromFileTime FromFileTimeUtc FromOADate ParseExact \
     SpecifyKind TryParse TryParseExact UnixEpoch";

const TIMESPAN: &str = "\
     Add CompareTo Days Divide Duration Hours Microseconds Milliseconds Minutes Multiply \
     Nanoseconds Negate Seconds Subtract Ticks TotalDays TotalHours TotalMicroseconds \
     TotalMilliseconds TotalMinutes TotalNanoseconds TotalSeconds TryFormat";

const TIMESPAN_STATIC: &str = "\
     Compare Equals FromDays FromHours FromMicroseconds FromMilliseconds FromMinutes \
     FromSeconds FromTicks MaxValue MinValue Parse ParseExact TicksPerDay TicksPerHour \
     TicksPerMillisecond TicksPerMinute TicksPerSecond TryParse TryParseExact Zero";

/// DateTimeOffset's own, next to DateTime's (it has all of them).
const DATETIMEOFFSET: &str = "\
     CompareTo DateTime EqualsExact LocalDateTime Offset ToFileTime ToLocalTime ToOffset \
     ToUniversalTime ToUnixTimeMilliseconds ToUnixTimeSeconds TotalOffsetMinutes \
     UtcDateTime UtcTicks";

const DATETIMEOFFSET_STATIC: &str = "\
     Compare Equals FromFileTime FromUnixTimeMilliseconds FromUnixTimeSeconds MaxValue \
     MinValue Now Parse ParseExact TryParse TryParseExact UnixEpoch UtcNow";

const GUID: &str = "CompareTo ToByteArray TryFormat TryWriteBytes";

const GUID_STATIC: &str = "CreateVersion7 Empty NewGuid Parse ParseExact TryParse TryParseExact";

const STRINGBUILDER: &str = "\
     Append AppendFormat AppendJoin AppendLine Capacity Chars Clear CopyTo EnsureCapacity \
     GetChunks Insert Length MaxCapacity Remove Replace";

const RANDOM: &str = "GetItems Next NextBytes NextDouble NextInt64 NextSingle Shuffle";

const URI: &str = "\
     AbsolutePath AbsoluteUri Authority DnsSafeHost Fragment GetComponents GetLeftPart \
     Host HostNameType IdnHost IsAbsoluteUri IsBaseOf IsDefaultPort IsFile IsLoopback \
     IsUnc IsWellFormedOriginalString LocalPath MakeRelativeUri OriginalString \
     PathAndQuery Port Query Scheme Segments UserEscaped UserInfo";

const URI_STATIC: &str = "\
     CheckHostName CheckSchemeName Compare EscapeDataString EscapeUriString FromHex \
     HexEscape HexUnescape IsHexDigit IsHexEncoding IsWellFormedUriString SchemeDelimiter \
     TryCreate UnescapeDataString UriSchemeHttp UriSchemeHttps";

const ENCODING: &str = "\
     BodyName CodePage EncodingName GetByteCount GetBytes GetCharCount GetChars \
     GetDecoder GetEncoder GetMaxByteCount GetMaxCharCount GetPreamble GetString \
     HeaderName IsSingleByte Preamble WebName WindowsCodePage";

const ENCODING_STATIC: &str = "\
     ASCII BigEndianUnicode Convert Default GetEncoding GetEncodings Latin1 Unicode UTF32 \
     UTF7 UTF8";

/// Of `int`, `long`, `double`, `bool` and `char` values.
const NUMBER: &str = "CompareTo GetTypeCode TryFormat";

const INTEGER_STATIC: &str = "\
     Abs Clamp CopySign DivRem IsEvenInteger IsNegative IsOddInteger IsPow2 \
     LeadingZeroCount Log2 Max MaxValue Min MinValue Parse PopCount RotateLeft \
     RotateRight Sign TrailingZeroCount TryParse";

const DOUBLE_STATIC: &str = "\
     Epsilon IsFinite IsInfinity IsNaN IsNegative IsNegativeInfinity IsNormal \
     IsPositiveInfinity IsSubnormal MaxValue MinValue NaN NegativeInfinity Parse \
     PositiveInfinity TryParse";

const CHAR_STATIC: &str = "\
     ConvertFromUtf32 ConvertToUtf32 GetNumericValue GetUnicodeCategory IsAscii IsControl \
     IsDigit IsHighSurrogate IsLetter IsLetterOrDigit IsLower IsLowSurrogate IsNumber \
     IsPunctuation IsSeparator IsSurrogate IsSymbol IsUpper IsWhiteSpace MaxValue \
     MinValue Parse ToLower ToLowerInvariant ToString ToUpper ToUpperInvariant TryParse";

const MATH: &str = "\
     Abs Acos Acosh Asin Asinh Atan Atan2 Atanh BigMul BitDecrement BitIncrement Cbrt \
     Ceiling Clamp CopySign Cos Cosh DivRem E Exp Floor FusedMultiplyAdd IEEERemainder \
     ILogB Log Log10 Log2 Max MaxMagnitude Min MinMagnitude PI Pow ReciprocalEstimate \
     Round ScaleB Sign Sin SinCos Sinh Sqrt Tan Tanh Tau Truncate";

const CONVERT: &str = "\
     ChangeType FromBase64CharArray FromBase64String FromHexString GetTypeCode IsDBNull \
     ToBase64CharArray ToBase64String ToBoolean ToByte ToChar ToDateTime ToDecimal \
     ToDouble ToHexString ToInt16 ToInt32 ToInt64 ToSByte ToSingle ToString ToUInt16 \
     ToUInt32 ToUInt64 TryFromBase64String TryToBase64Chars";
