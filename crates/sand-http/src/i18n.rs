//! The pages that also speak English — the verification space, its help, the error pages
//! and the API's error messages — take their texts from Fluent files (`i18n/fr.ftl`,
//! `i18n/en.ftl`), built into the binary. French is the default and the reference; the
//! graduate's pages are French only.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// A language the verification space speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// The BCP 47 code, for `lang` attributes and `Content-Language`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    /// `fr` or `en`, as the switch and the cookie write it.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among French and English
    /// (weights honoured; French when neither is asked for, or the header is malformed).
    #[must_use]
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else {
            return Self::Fr;
        };
        let mut asked: Vec<(f32, LanguageIdentifier)> = header
            .split(',')
            .take(20)
            .filter_map(|item| {
                let mut parts = item.trim().split(';');
                let tag = parts.next()?.trim();
                let weight = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                let tag = if tag == "*" { "fr" } else { tag };
                Some((weight, tag.parse().ok()?))
            })
            .filter(|(weight, _)| *weight > 0.0)
            .collect();
        // stable: among equal weights, the header's order
        asked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let requested: Vec<LanguageIdentifier> = asked.into_iter().map(|(_, l)| l).collect();
        let available: [LanguageIdentifier; 2] = [bundle_id("fr"), bundle_id("en")];
        let default = bundle_id("fr");
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            Some(&default),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        match chosen.first().map(|l| l.language.as_str()) {
            Some("en") => Self::En,
            _ => Self::Fr,
        }
    }

    /// The text of message `id`.
    #[must_use]
    pub fn t(self, id: &str) -> String {
        TEXTS.format(self, id, None)
    }

    /// The text of message `id` with its variables.
    #[must_use]
    pub fn t_with(self, id: &str, args: &[(&str, &str)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(*name, FluentValue::from(*value));
        }
        TEXTS.format(self, id, Some(&fluent))
    }

    /// A date as this language writes it in prose: `5 juillet 2021`, `5 July 2021`.
    #[must_use]
    pub fn date(self, date: time::Date) -> String {
        match self {
            Self::Fr => sand_domain::text::french_date(date),
            Self::En => format!("{} {} {}", date.day(), date.month(), date.year()),
        }
    }
}

fn bundle_id(code: &str) -> LanguageIdentifier {
    code.parse().unwrap_or_default()
}

struct Texts {
    fr: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

const FRENCH: &str = include_str!("../i18n/fr.ftl");
const ENGLISH: &str = include_str!("../i18n/en.ftl");

static TEXTS: LazyLock<Texts> = LazyLock::new(|| Texts {
    fr: bundle("fr", FRENCH),
    en: bundle("en", ENGLISH),
});

fn bundle(code: &str, source: &str) -> FluentBundle<FluentResource> {
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(partial, errors)| {
            // the files are built in and checked by the tests: this is a build defect
            tracing::error!(language = code, ?errors, "a Fluent file does not parse");
            partial
        });
    let mut bundle = FluentBundle::new_concurrent(vec![bundle_id(code)]);
    // no Unicode isolation marks around variables: the texts go into HTML and JSON
    bundle.set_use_isolating(false);
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(language = code, ?errors, "a Fluent file repeats a message");
    }
    bundle
}

impl Texts {
    fn format(&self, lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        };
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::error!(language = lang.code(), id, "a text is missing");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::error!(
                language = lang.code(),
                id,
                ?errors,
                "a text could not be formatted"
            );
        }
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast;

    /// Every message of a file, with the variables it uses.
    fn messages(source: &str) -> std::collections::BTreeMap<String, Vec<String>> {
        let resource = fluent_syntax::parser::parse(source).expect("the file parses");
        let mut out = std::collections::BTreeMap::new();
        for entry in resource.body {
            if let ast::Entry::Message(m) = entry {
                let mut variables = Vec::new();
                if let Some(value) = &m.value {
                    for element in &value.elements {
                        if let ast::PatternElement::Placeable {
                            expression:
                                ast::Expression::Inline(ast::InlineExpression::VariableReference { id }),
                        } = element
                        {
                            variables.push(id.name.to_owned());
                        }
                    }
                }
                variables.sort();
                assert!(
                    out.insert(m.id.name.to_owned(), variables).is_none(),
                    "{} twice",
                    m.id.name
                );
            }
        }
        out
    }

    #[test]
    fn both_languages_have_the_same_messages_with_the_same_variables() {
        let french = messages(FRENCH);
        let english = messages(ENGLISH);
        assert!(french.len() > 100, "{}", french.len());
        assert_eq!(
            french.keys().collect::<Vec<_>>(),
            english.keys().collect::<Vec<_>>()
        );
        for (id, variables) in &french {
            assert_eq!(variables, &english[id], "{id}");
        }
        // and every message formats without error
        for id in french.keys() {
            for lang in [Lang::Fr, Lang::En] {
                assert_ne!(&lang.t(id), id, "{id} in {lang:?}");
            }
        }
    }

    #[test]
    fn accept_language_picks_english_only_when_preferred() {
        assert_eq!(Lang::negotiate(None), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de-DE,de;q=0.9,en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("fr;q=0.2, en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de, es")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("*")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en;q=0")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some(";;;,,q=x,\u{0}")), Lang::Fr);
    }

    #[test]
    fn variables_are_filled_and_dates_written_per_language() {
        assert_eq!(
            Lang::En.t_with("errors-many", &[("count", "3")]),
            "The form contains 3 errors"
        );
        assert_eq!(
            Lang::Fr.date(time::macros::date!(2021 - 07 - 05)),
            "5 juillet 2021"
        );
        assert_eq!(
            Lang::En.date(time::macros::date!(2021 - 07 - 05)),
            "5 July 2021"
        );
    }
}
