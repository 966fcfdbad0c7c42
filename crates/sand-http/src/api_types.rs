//! Request types that accept exactly what the OpenAPI document says, so that a request
//! the document calls valid is never refused as malformed, and one it calls invalid
//! always is: the domain's closed lists (académies, diploma kinds) as `enum`s of their
//! codes, and strings that are JSON strings only.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use sand_domain::academie::Academie;
use sand_domain::diploma::DiplomaKind;
use serde_json::Value;

/// One closed list of the domain, by its codes.
trait Coded: Copy + Send + Sync + 'static {
    /// Every value (diploma kinds: the process's registry, so the document lists the
    /// operator's kinds too).
    fn all() -> &'static [Self];
    fn code(self) -> &'static str;
}

impl Coded for Academie {
    fn all() -> &'static [Self] {
        Academie::ALL
    }
    fn code(self) -> &'static str {
        Academie::code(self)
    }
}

impl Coded for DiplomaKind {
    fn all() -> &'static [Self] {
        DiplomaKind::all()
    }
    fn code(self) -> &'static str {
        DiplomaKind::code(self)
    }
}

fn parse_code<T: Coded>(text: &str, what: &str) -> Result<T, String> {
    T::all()
        .iter()
        .copied()
        .find(|v| v.code() == text)
        .ok_or_else(|| format!("{what} inconnu(e) : {text:?}"))
}

fn enum_schema<T: Coded>() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        enum_items: T::all()
            .iter()
            .map(|v| Value::String(v.code().to_owned()))
            .collect(),
        ..MetaSchema::new("string")
    }))
}

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident($domain:ty), $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub $domain);

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> MetaSchemaRef {
                enum_schema::<$domain>()
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(text) => parse_code(&text, $what)
                        .map(Self)
                        .map_err(ParseError::custom),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                parse_code(value, $what).map(Self).map_err(ParseError::custom)
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.code().to_owned()))
            }
        }
    };
}

code_type!(
    /// An académie's code (`"10"` for Lyon): one of `GET /catalogue`'s `academie`.
    AcademieCode(Academie),
    "académie"
);

code_type!(
    /// A diploma kind's code (`"BACG"`): one of `GET /catalogue`'s `diplome`.
    DiplomaCode(DiplomaKind),
    "diplôme"
);

/// A JSON string, and nothing else: poem's `String` also reads numbers and booleans as
/// text, which the document does not allow. Validators (lengths, pattern) apply to it as
/// to a `String`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A JSON string that matches a pattern and a length, both stated in the document. The
/// regular expression is compiled once: poem-openapi's own `pattern` validator compiles
/// it again on every request, which cost a tenth of a verification's CPU.
macro_rules! pattern_text {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $max:expr, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name(pub String);

        impl $name {
            pub const PATTERN: &'static str = $pattern;
            pub const MAX_LENGTH: usize = $max;

            fn regex() -> &'static regex::Regex {
                static REGEX: std::sync::LazyLock<regex::Regex> =
                    std::sync::LazyLock::new(|| {
                        regex::Regex::new($name::PATTERN)
                            .unwrap_or_else(|e| unreachable!("a pattern that compiles: {e}"))
                    });
                &REGEX
            }

            /// Whether `text` is within the length and matches the pattern.
            #[must_use]
            pub fn accepts(text: &str) -> bool {
                text.chars().count() <= Self::MAX_LENGTH && Self::regex().is_match(text)
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    max_length: Some(Self::MAX_LENGTH),
                    pattern: Some(Self::PATTERN.to_owned()),
                    ..MetaSchema::new("string")
                }))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(text) if Self::accepts(&text) => Ok(Self(text)),
                    Value::String(_) => Err(ParseError::custom(format!(
                        "field `{}` verification failed: at most {} characters matching {}",
                        $field,
                        Self::MAX_LENGTH,
                        Self::PATTERN
                    ))),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

pattern_text!(
    /// A control key as typed: 8 characters among digits and letters except U, in either
    /// case, with spaces, dots, dashes and underscores between them ignored.
    KeyText,
    r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000._\u2010\u2011\u2013-]*(?:[0-9A-TV-Za-tv-z][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000._\u2010\u2011\u2013-]*){8}$",
    32,
    "cle"
);

pattern_text!(
    /// An ISO 8601 date (`AAAA-MM-JJ`), or empty.
    IsoDateText,
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$",
    10,
    "date_naissance"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_texts_check_once_compiled_patterns_and_state_them_in_the_document() {
        for good in ["ABCD1234", "abcd-1234", " AB CD.12_34 ", "0000\u{2011}0000"] {
            assert!(
                KeyText::parse_from_json(Some(Value::String(good.to_owned()))).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "ABCD123",
            "ABCDU234",
            "ABCD12345",
            &"A".repeat(33),
            "ABCD\n1234x",
        ] {
            assert!(
                KeyText::parse_from_json(Some(Value::String(bad.to_owned()))).is_err(),
                "{bad}"
            );
        }
        assert!(KeyText::parse_from_json(Some(Value::Bool(true))).is_err());
        assert!(IsoDateText::parse_from_json(Some(Value::String(String::new()))).is_ok());
        assert!(IsoDateText::parse_from_json(Some(Value::String("2001-02-28".into()))).is_ok());
        assert!(IsoDateText::parse_from_json(Some(Value::String("28/02/2001".into()))).is_err());
        let MetaSchemaRef::Inline(schema) = KeyText::schema_ref() else {
            panic!("inline schema expected");
        };
        assert_eq!(schema.pattern.as_deref(), Some(KeyText::PATTERN));
        assert_eq!(schema.max_length, Some(32));
    }

    #[test]
    fn every_code_of_the_domain_is_listed_and_accepted_and_nothing_else() {
        for a in Academie::ALL {
            assert_eq!(
                AcademieCode::parse_from_parameter(a.code()).unwrap(),
                AcademieCode(*a)
            );
        }
        for k in DiplomaKind::all() {
            assert_eq!(
                DiplomaCode::parse_from_json(Some(Value::String(k.code().to_owned()))).unwrap(),
                DiplomaCode(*k)
            );
        }
        let MetaSchemaRef::Inline(schema) = AcademieCode::schema_ref() else {
            panic!("inline schema expected");
        };
        assert_eq!(schema.enum_items.len(), Academie::ALL.len());
        // the domain also reads "1" for Paris; the API takes the listed codes only
        assert!(AcademieCode::parse_from_parameter("1").is_err());
        assert!(AcademieCode::parse_from_parameter("00").is_err());
        assert!(DiplomaCode::parse_from_parameter("bacg").is_err());
        assert!(DiplomaCode::parse_from_json(Some(Value::Bool(true))).is_err());
    }

    #[test]
    fn text_is_a_json_string_only() {
        assert_eq!(
            Text::parse_from_json(Some(Value::String("Durand".into()))).unwrap(),
            Text("Durand".into())
        );
        for other in [
            Value::Bool(false),
            serde_json::json!(0),
            serde_json::json!([]),
            Value::Null,
        ] {
            assert!(Text::parse_from_json(Some(other)).is_err());
        }
    }

    #[test]
    fn the_documented_session_bounds_are_the_domain_s() {
        use sand_domain::diploma::LAST_SESSION;
        // below the coverage, a year is answered `session_non_couverte` (not a format error)
        const EARLIEST_YEAR: u16 = 1900;
        let spec: Value = serde_json::from_str(&crate::api::spec_json("http://sand.test")).unwrap();
        let attach = &spec["components"]["schemas"]["AttachBody"]["properties"]["session"];
        let catalogue = spec["paths"]["/catalogue"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "session")
            .unwrap()["schema"]
            .clone();
        for schema in [attach, &catalogue] {
            assert_eq!(
                schema["minimum"].as_f64(),
                Some(f64::from(EARLIEST_YEAR)),
                "{schema}"
            );
            assert_eq!(
                schema["maximum"].as_f64(),
                Some(f64::from(LAST_SESSION)),
                "{schema}"
            );
        }
    }
}
